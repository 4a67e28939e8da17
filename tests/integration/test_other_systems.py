"""Other systems (issue 35): the lookup ("may I mail this person?") with a `lookup` token, and consent changes
pushed to webhook endpoints (Standard Webhooks): signed, retried after a 500 and after a timeout, taken once
by a receiver that drops repeats by webhook-id, dead-lettered and sent again, erasures told."""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import AsyncIterator, Callable
from typing import Any

import httpx
import pytest
from sqlalchemy import text
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from examples.webhook_receiver import Receiver
from services.common.auth import create_token
from tests.conftest import build_app, eventually, running, serve
from tests.notices import NOTICE


class Consent:
    def __init__(self, app: Any, client: httpx.AsyncClient, staff: str, lookup: str) -> None:
        self.app, self.client, self.staff, self.lookup_token = app, client, staff, lookup
        self.rt = app.state.runtime

    @property
    def ctx(self) -> Any:
        from services.consent.context import ConsentContext

        return ConsentContext.of(self.rt)

    def as_staff(self) -> dict[str, str]:
        return {"authorization": f"Bearer {self.staff}"}

    async def give(self, email: str, purpose: str = "newsletter", granted: bool = True) -> None:
        body = {
            "email": email,
            "channel": "email",
            "notice": NOTICE,
            "purposes": [{"purpose": purpose, "granted": granted}],
        }
        r = await self.client.post("/admin/consents", json=body, headers=self.as_staff())
        assert r.status_code == 201, r.text

    async def lookup(self, **body: Any) -> httpx.Response:
        return await self.client.post("/v1/lookup", json=body, headers={"authorization": f"Bearer {self.lookup_token}"})

    async def erase(self, email: str) -> None:
        from services.consent import subjects

        async with self.rt.db.transaction() as s:
            await subjects.erase_in(self.ctx, s, self.rt.recorder.pseudonym(email), "erasure request (test)")


@contextlib.asynccontextmanager
async def consent_service(make_settings: Callable[..., Any], url: str, **overrides: Any) -> AsyncIterator[Consent]:
    app = build_app("consent", make_settings("consent", url, **overrides))
    async with running(app) as client:
        staff = await create_token(app.state.runtime.db, "staff", ["admin"])
        lookup = await create_token(app.state.runtime.db, "crm", ["lookup"])
        yield Consent(app, client, staff, lookup)


async def test_the_lookup_answers_what_consent_allows_and_nothing_else(
    make_settings: Callable[..., Any], db_url: str
) -> None:
    async with consent_service(make_settings, db_url, lookup_addresses_per_minute=1000) as c:
        await c.give("given@example.nl")
        await c.give("refused@example.nl", granted=False)
        await c.give("withdrawn@example.nl")
        r = await c.client.post(
            "/admin/consents",
            json={
                "email": "withdrawn@example.nl",
                "channel": "email",
                "notice": NOTICE,
                "purposes": [{"purpose": "newsletter", "granted": False}],
            },
            headers=c.as_staff(),
        )
        assert r.status_code == 201
        asked = ["given@example.nl", "refused@example.nl", "withdrawn@example.nl", "stranger@example.nl"]
        r = await c.lookup(emails=asked, browser_ids=["browser-0001"])
        assert r.status_code == 200, r.text
        results = r.json()["results"]
        assert [x.get("email") for x in results] == [*asked, None] and results[-1]["browser_id"] == "browser-0001"
        assert results[0]["pseudonym"] == c.rt.recorder.pseudonym("given@example.nl")
        assert results[0]["may"] == {"mail": True, "track": False, "call": False}
        assert results[0]["purposes"]["newsletter"] is True and results[0]["purposes"]["leads"] is False
        # refused, withdrawn, unknown: the same answer, but for the address and its pseudonym
        alike = [{k: v for k, v in x.items() if k not in ("email", "pseudonym", "browser_id")} for x in results[1:]]
        assert all(a == alike[0] for a in alike) and not any(alike[0]["may"].values())
        assert "invoicing" not in alike[0]["purposes"], "only consents: a legal obligation is no one's to allow"

        # recorded as processing: who, how many; the addresses are not in the ledger
        async with c.rt.db.read() as s:
            rows = (await s.execute(text("SELECT event_type, entry FROM ledger_entries"))).all()
        lookups = [json.loads(entry) for kind, entry in rows if kind.endswith("consent.lookup.performed")]
        assert len(lookups) == 1 and lookups[0]["data"] | {} == {"system": "crm", "addresses": 4, "browser_ids": 1}
        assert not any(b"stranger@example.nl" in entry for _, entry in rows)

        # bad input: a bad address, too many, nothing
        bad = await c.lookup(emails=["not an address"])
        assert bad.status_code == 422 and "emails" in bad.text
        many = await c.lookup(
            emails=[f"p{i}@example.nl" for i in range(600)], browser_ids=[f"b{i:07d}" for i in range(401)]
        )
        assert many.status_code == 422 and "at most 1000" in many.text
        assert (await c.lookup()).status_code == 422

        # limited per token: 1,000 addresses a minute here (5 used above)
        full = await c.lookup(emails=[f"p{i}@example.nl" for i in range(995)])
        assert full.status_code == 200
        limited = await c.lookup(emails=[f"q{i}@example.nl" for i in range(100)])  # refills ~17 a second
        assert limited.status_code == 429 and int(limited.headers["retry-after"]) >= 1
        assert "a minute" in limited.json()["detail"]

        # the token opens nothing else; staff tokens and site keys do not look up
        for path in ("/admin/subjects/history", "/admin/consents"):
            r = await c.client.post(
                path, json={"email": "given@example.nl"}, headers={"authorization": f"Bearer {c.lookup_token}"}
            )
            assert r.status_code == 403, path
        r = await c.client.post("/v1/lookup", json={"emails": ["given@example.nl"]}, headers=c.as_staff())
        assert r.status_code == 403


class Endpoint:
    """A receiver on a real HTTP server: it answers 500 first, then takes the next delivery but answers too
    late (the sender retries what was taken), then answers at once; every request is kept as received."""

    def __init__(self, script: list[str]) -> None:
        self.script = script
        self.requests: list[tuple[dict[str, str], bytes]] = []
        self.receiver: Receiver | None = None

    def app(self) -> Starlette:
        async def hook(request: Request) -> Response:
            body = await request.body()
            self.requests.append((dict(request.headers), body))
            step = self.script.pop(0) if self.script else "ok"
            if step == "500":
                return Response("down for maintenance", status_code=500)
            assert self.receiver is not None
            status, _ = self.receiver.take(dict(request.headers), body)
            if step == "slow":
                await asyncio.sleep(2.0)
            return Response(status_code=status)

        return Starlette(routes=[Route("/hooks/consent", hook, methods=["POST"])])


async def test_webhooks_are_signed_retried_taken_once_and_told_of_erasures(
    make_settings: Callable[..., Any], db_url: str
) -> None:
    endpoint = Endpoint(["500", "slow"])
    fast = {"webhook_private_targets": True, "webhook_backoff_seconds": 0.2, "webhook_timeout_seconds": 0.5}
    async with serve(endpoint.app()) as base, consent_service(make_settings, db_url, **fast) as c:
        url = base + "/hooks/consent"
        r = await c.client.put(
            "/admin/webhooks/crm", json={"url": url, "purposes": ["newsletter"]}, headers=c.as_staff()
        )
        assert r.status_code == 200, r.text
        secret = r.json()["secret"]
        assert secret.startswith("whsec_")
        endpoint.receiver = Receiver(secret)
        listed = await c.client.get("/admin/webhooks", headers=c.as_staff())
        assert listed.json()[0]["secret"] is None and secret not in listed.text, "the secret is shown once"

        await c.give("noor@example.nl")
        await c.give("noor@example.nl", purpose="analytics_cookies")  # not followed: no delivery
        await eventually(lambda: len(endpoint.receiver.taken) == 1 and len(endpoint.requests) == 3, within=20)
        ids = {headers["webhook-id"] for headers, _ in endpoint.requests}
        assert len(ids) == 1, "the same webhook-id on every attempt"
        taken = endpoint.receiver.taken[0]
        pseudonym = c.rt.recorder.pseudonym("noor@example.nl")
        assert taken["type"] == "consent.state.changed"
        assert taken["data"] == {"pseudonym": pseudonym, "purposes": {"newsletter": "granted"}, "erased": False}
        assert all(b"noor@example.nl" not in body for _, body in endpoint.requests), "no address unless registered"
        headers = endpoint.requests[-1][0]
        assert headers["webhook-signature"].startswith("v1,") and headers["content-type"] == "application/json"
        async with c.rt.db.read() as s:
            row = (await s.execute(text("SELECT attempts, last_status, delivered_at FROM push_deliveries"))).one()
        assert row[0] == 3 and row[1] == 204 and row[2] is not None
        # a signature made with another secret is refused by the receiver
        forged = dict(headers) | {"webhook-id": "msg_forged"}
        assert Receiver("whsec_" + "A" * 43 + "=").take(forged, endpoint.requests[-1][1])[0] == 401

        # an endpoint that may hold the address gets it where the change carried it
        r = await c.client.put(
            "/admin/webhooks/crm",
            json={"url": url, "purposes": ["newsletter"], "include_email": True},
            headers=c.as_staff(),
        )
        assert r.json()["secret"] is None, "no new secret unless rotated"
        c.ctx.pushes.forget()
        await c.give("sam@example.nl")
        await eventually(lambda: len(endpoint.receiver.taken) == 2, within=20)
        assert endpoint.receiver.taken[1]["data"]["email"] == "sam@example.nl"

        # an erasure is told to every endpoint: the receiver forgets the person
        assert endpoint.receiver.may_mail(pseudonym)
        await c.erase("noor@example.nl")
        await eventually(lambda: len(endpoint.receiver.taken) == 3, within=20)
        assert endpoint.receiver.taken[2]["type"] == "consent.state.erased"
        assert not endpoint.receiver.may_mail(pseudonym) and endpoint.receiver.states[pseudonym][1] is None


async def test_a_delivery_that_keeps_failing_is_dead_lettered_and_sent_again(
    make_settings: Callable[..., Any], sqlite_url: str
) -> None:
    endpoint = Endpoint(["500"] * 1000)
    settings = {
        "webhook_private_targets": True,
        "webhook_backoff_seconds": 0.1,
        "webhook_timeout_seconds": 0.5,
        "webhook_retry_hours": 0.0003,  # about a second
    }
    async with serve(endpoint.app()) as base, consent_service(make_settings, sqlite_url, **settings) as c:
        r = await c.client.put(
            "/admin/webhooks/crm",
            json={"url": base + "/hooks/consent", "purposes": ["newsletter"]},
            headers=c.as_staff(),
        )
        endpoint.receiver = Receiver(r.json()["secret"])
        await c.give("noor@example.nl")

        async def dead() -> list[dict[str, Any]]:
            answer = await c.client.get("/admin/webhooks/deliveries/dead", headers=c.as_staff())
            found: list[dict[str, Any]] = answer.json()
            return found

        found = await eventually(dead, within=20)
        assert found[0]["endpoint"] == "crm" and found[0]["last_error"] == "answered 500"
        assert found[0]["attempts"] >= 2
        listed = (await c.client.get("/admin/webhooks", headers=c.as_staff())).json()
        assert listed[0]["deliveries"]["dead"] == 1
        endpoint.script.clear()  # the receiver is fixed
        r = await c.client.post(f"/admin/webhooks/deliveries/{found[0]['id']}/retry", headers=c.as_staff())
        assert r.status_code == 200
        await eventually(lambda: len(endpoint.receiver.taken) == 1, within=20)
        assert endpoint.requests[-1][0]["webhook-id"] == found[0]["message_id"]
        again = await c.client.post(f"/admin/webhooks/deliveries/{found[0]['id']}/retry", headers=c.as_staff())
        assert again.status_code == 404, "only a dead-lettered delivery is sent again"


@pytest.mark.parametrize(
    ("url", "why"),
    [
        ("http://127.0.0.1:9000/hook", "https"),
        ("https://127.0.0.1/hook", "non-public address"),
        ("https://[::1]/hook", "non-public address"),
        ("https://10.1.2.3/hook", "non-public address"),
        ("https://169.254.169.254/latest/meta-data", "non-public address"),
        ("https://localhost/hook", "localhost"),
        ("https://user:pw@hooks.example.nl/", "user or password"),
        ("ftp://hooks.example.nl/", "should match pattern"),
        ("https://2130706433/hook", "numeric form"),
        ("https://127.1/hook", "numeric form"),
        ("https://" + "0" * 300 + "/hook", "longer than 253"),
        ("https://" + "a" * 64 + ".example.nl/hook", "not a valid name"),
    ],
)
async def test_a_webhook_to_this_machine_or_its_network_is_refused_outside_dev_mode(
    make_settings: Callable[..., Any], sqlite_url: str, url: str, why: str
) -> None:
    async with consent_service(make_settings, sqlite_url) as c:
        r = await c.client.put(
            "/admin/webhooks/crm", json={"url": url, "purposes": ["newsletter"]}, headers=c.as_staff()
        )
        assert r.status_code == 422 and why in r.text, r.text
        assert (await c.client.get("/admin/webhooks", headers=c.as_staff())).json() == []
