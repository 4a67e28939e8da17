"""schemathesis over each live service, as a new user's tooling would run it: every default check, a
fixed seed, a bounded number of examples (`make fuzz` runs it deeper: FUZZ_SEED, random unless given and
printed first, and FUZZ_EXAMPLES, 100, per operation). The service runs as production serves it (privacy-serve,
real Kafka); schemathesis runs as its own process against it, and any failure fails this test. The
full report of each run is kept in var/test-reports/schemathesis-<service>.txt."""

from __future__ import annotations

import asyncio
import json
import os
import re
import sys
import time
from pathlib import Path
from typing import Any

import httpx
import pytest

from services.common.auth import create_site_key, create_token
from tests.conftest import build_app, serve_production
from tests.integration.test_breach import breach_body

ROOT = Path(__file__).resolve().parents[2]
REPORTS = ROOT / "var" / "test-reports"
SEED = int(os.environ.get("FUZZ_SEED") or 20261202)
EXAMPLES = int(os.environ.get("FUZZ_EXAMPLES") or 12)

# What the schema cannot say, per operation: a request valid by the schema that a rule beyond it
# refuses (positive_data_acceptance otherwise expects it to be taken). Each with the rule.
BEYOND_THE_SCHEMA: dict[str, dict[str, tuple[str, str]]] = {
    "consent": {
        "POST /v1/consents": (
            "422",
            "email or browser_id; kvk_number needs company_name; under 16, a parent; a notice served or on file",
        ),
        "POST /admin/consents": ("422", "the same rules as a capture, and staff channels only"),
        "POST /v1/cookies": ("422", "tracking_over_gpc only with gpc, and only with tracking; a notice served"),
        "POST /v1/withdrawals": ("422", "email or browser_id; purposes or all"),
        "POST /v1/minor-reports": ("422", "an address at a special-use domain (format: email allows it) is none"),
        "POST /admin/subjects/history": ("422", "an address at a special-use domain is none"),
        "POST /privacy/sign-in": ("422", "an address at a special-use domain is none (the form shows it)"),
        "POST /privacy/sign-in/{token}": ("410", "a link we never mailed is refused like a used one"),
        "POST /webhooks/activecampaign/{secret}": ("400", "subscribe, update and unsubscribe need contact[email]"),
        "POST /admin/mail/bounces": ("422 400", "a body that is no DSN (RFC 3464); a NUL is in no message (RFC 5322)"),
        "POST /admin/outbox/{row_id}/requeue": ("422", "a topic this service publishes on; a dead row's own is none"),
        "GET /ledger/proof/inclusion": ("422", "exactly one of seq or event_id"),
        "GET /ledger/proof/consistency": ("422", "old_size <= new_size <= the latest checkpoint's size"),
        "PUT /admin/webhooks/{name}": ("422", "an https URL of a public host; purposes of purposes.json"),
        "POST /v1/lookup": ("422", "1 to 1,000 addresses and browser ids in all; a special-use domain is none"),
        "POST /admin/subjects/restriction/lift": ("422", "an address at a special-use domain is none"),
        "POST /admin/subjects/objection/weigh": (
            "422",
            "a purpose on legitimate interest; a special-use domain is none",
        ),
    },
    "dsar": {
        "POST /v1/requests": ("422", "an address at a special-use domain is none; received_at not in the future"),
        "POST /admin/requests": ("422", "the same, and a rectification needs its corrections"),
        "POST /admin/requests/{request_id}/answers": ("422", "only a manual holder answers; a refusal has a reason"),
        "PUT /admin/holders/{name}": ("422", "the name in the path and in the body are the same"),
        "POST /v1/centre/requests": ("422", "a rectification needs its corrections"),
        "POST /admin/mail/bounces": ("422 400", "a body that is no DSN (RFC 3464); a NUL is in no message (RFC 5322)"),
        "POST /admin/outbox/{row_id}/requeue": ("422", "a topic this service publishes on; a dead row's own is none"),
        "GET /ledger/proof/inclusion": ("422", "exactly one of seq or event_id"),
        "GET /ledger/proof/consistency": ("422", "old_size <= new_size <= the latest checkpoint's size"),
    },
    "breach": {
        "POST /admin/breaches": ("422", "subjects_max >= subjects_min; times in order and not in the future"),
        "PATCH /admin/breaches/{breach_id}": ("422", "the same rules as a registration"),
        "POST /admin/breaches/{breach_id}/assessment": ("422", "an exemption (GDPR 34(3)) needs its reason"),
        "POST /admin/breaches/{breach_id}/ap-notifications": ("422", "a withdrawal needs its reason (GDPR 33(4))"),
        "POST /admin/breaches/{breach_id}/ap-notifications/{notification_id}/submission": (
            "422",
            "not in the future; after 72 hours the delay's reason (GDPR 33(1))",
        ),
        "POST /admin/breaches/{breach_id}/affected-queries": ("422", "the window ends after it starts"),
        "POST /admin/mail/bounces": ("422 400", "a body that is no DSN (RFC 3464); a NUL is in no message (RFC 5322)"),
        "POST /admin/outbox/{row_id}/requeue": ("422", "a topic this service publishes on; a dead row's own is none"),
        "GET /ledger/proof/inclusion": ("422", "exactly one of seq or event_id"),
        "GET /ledger/proof/consistency": ("422", "old_size <= new_size <= the latest checkpoint's size"),
    },
    "processors": {
        "POST /v1/instructions/{token}": ("422", "a refusal says why"),
        "POST /admin/tasks/{task_id}/close": ("422", "a refusal says why"),
        "POST /admin/mail/bounces": ("422 400", "a body that is no DSN (RFC 3464); a NUL is in no message (RFC 5322)"),
        "POST /admin/outbox/{row_id}/requeue": ("422", "a topic this service publishes on; a dead row's own is none"),
        "GET /ledger/proof/inclusion": ("422", "exactly one of seq or event_id"),
        "GET /ledger/proof/consistency": ("422", "old_size <= new_size <= the latest checkpoint's size"),
    },
}
ACCEPTED = ["2xx", "3xx", "401", "403", "404", "409", "429"]
REJECTED = ["400", "401", "403", "404", "405", "406", "409", "413", "415", "422", "428", "429", "431"]


def toml(value: Any) -> str:
    return json.dumps(value)  # TOML's basic strings, numbers, arrays and booleans are JSON's


def config(service: str, parameters: dict[str, str]) -> str:
    lines = [
        f"seed = {SEED}",
        # every run starts from nothing: no responses or examples kept from an earlier run (hermetic, and
        # a cached answer of another server's state cannot be replayed as this one's)
        "[cache]",
        "enabled = false",
        # ids of records made before the run, so that operations on one reach their logic, not a 404
        "[parameters]",
        *(f"{name} = {toml(value)}" for name, value in parameters.items() if name != "secret"),
        "[generation]",
        f"max-examples = {EXAMPLES}",
        'database = "none"',
        # text with U+0000 is refused with 400 before any route (limits.py: PostgreSQL cannot store it,
        # tested in test_limits.py); JSON Schema's strings allow it, so it is not generated here
        "allow-x00 = false",
        "[checks.positive_data_acceptance]",
        f"expected-statuses = {toml(ACCEPTED)}",
        # a request made invalid by a header too large for us is refused as such (431)
        "[checks.negative_data_rejection]",
        # (and one too large for us, whatever else is wrong with it, as such: 413)
        f"expected-statuses = {toml(REJECTED)}",
    ]
    for name, (status, _rule) in BEYOND_THE_SCHEMA[service].items():
        lines += [
            "[[operations]]",
            f"include-name = {toml(name)}",
            "[operations.checks.positive_data_acceptance]",
            f"expected-statuses = {toml([*ACCEPTED, *status.split()])}",
        ]
    if service == "consent":
        # the webhook's secret path segment is its credential: with a random one every call is a 404
        lines += [
            "[[operations]]",
            'include-name = "POST /webhooks/activecampaign/{secret}"',
            f"parameters = {{ secret = {toml(parameters['secret'])} }}",
        ]
    return "\n".join(lines) + "\n"


UNLIMITED = {"rate_limit_per_minute": 1_000_000, "failed_credentials_per_minute": 100_000}
OVERRIDES: dict[str, dict[str, Any]] = {
    "consent": {**UNLIMITED, "centre_mails_per_hour": 1_000_000},
    "dsar": UNLIMITED,
    "breach": UNLIMITED,
    "processors": UNLIMITED,
}


async def seed(service: str, address: str, settings: Any, token: str) -> dict[str, str]:
    """A record for the operations on one to work on (a breach and its notification, a request)."""
    async with httpx.AsyncClient(base_url=f"http://{address}", headers={"authorization": f"Bearer {token}"}) as c:
        if service == "consent":
            return {"secret": settings.activecampaign_webhook_secret.get_secret_value()}
        if service == "processors":
            return {}
        if service == "dsar":
            body = {"kind": "access", "email": "fuzz@example.nl", "channel": "email", "identity_verified": True}
            r = await c.post("/admin/requests", json=body)
            assert r.status_code == 201, r.text
            return {"request_id": r.json()["id"]}
        breach = (await c.post("/admin/breaches", json=breach_body())).json()
        note = (await c.post(f"/admin/breaches/{breach['id']}/ap-notifications", json={"phase": "initial"})).json()
        return {"breach_id": breach["id"], "notification_id": note["id"]}


@pytest.mark.parametrize("service", ["consent", "dsar", "breach", "processors"])
async def test_schemathesis_finds_no_failure(service: str, make_settings: Any, pg_url: str, tmp_path: Path) -> None:
    settings = make_settings(service, pg_url, **OVERRIDES[service])
    app = build_app(service, settings)
    async with serve_production(app, settings) as address:
        db = app.state.runtime.db
        token = await create_token(db, "schemathesis", ["admin", "dpo", "system", "lookup"])
        key = await create_site_key(db, "fuzzed site", ["https://www.example.nl"])
        parameters = await seed(service, address, settings, token)
        (tmp_path / "schemathesis.toml").write_text(config(service, parameters))
        started = time.monotonic()
        process = await asyncio.create_subprocess_exec(
            str(Path(sys.executable).with_name("st")),
            "--config-file",
            str(tmp_path / "schemathesis.toml"),
            "run",
            f"http://{address}/openapi.json",
            "-H",
            f"Authorization: Bearer {token}",
            "-H",
            f"X-Site-Key: {key}",
            "--no-color",
            cwd=ROOT,
            env={**os.environ, "SCHEMATHESIS_HOOKS": "tests.e2e.schemathesis_hooks", "PYTHONPATH": str(ROOT)},
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.STDOUT,
        )
        out, _ = await asyncio.wait_for(process.communicate(), 600 if EXAMPLES <= 12 else 3600)
        took = time.monotonic() - started
    report = out.decode(errors="replace")
    REPORTS.mkdir(parents=True, exist_ok=True)
    (REPORTS / f"schemathesis-{service}.txt").write_text(report)
    cases = re.search(r"(\d+) generated", report)
    tested = re.search(r"Tested: (\d+)", report)
    print(
        f"schemathesis {service}: seed {SEED}, {EXAMPLES} examples per operation: {tested and tested[1]} operations, "
        f"{cases and cases[1]} cases, {took:.1f} s"
    )
    assert process.returncode == 0, report[-6000:]
