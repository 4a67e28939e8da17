"""Operations: `/metrics` scraped after real flows (three services, PostgreSQL, the real broker), and one
erasure request traced across dsar, consent and breach with an in-memory span exporter."""

from __future__ import annotations

import io
import json
import logging
from typing import Any

from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from prometheus_client.parser import text_string_to_metric_families

from services.common.auth import create_site_key, create_token
from services.common.contracts import DataSubjectRequestStarted, HolderAnswered
from services.common.logs import JsonFormatter
from tests.conftest import eventually, system
from tests.notices import NOTICE

EMAIL = "Daan.Smit@example.nl"


async def scrape(client: Any, token: str) -> dict[tuple[str, frozenset[tuple[str, str]]], float]:
    r = await client.get("/metrics", headers={"authorization": f"Bearer {token}"})
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/plain; version=0.0.4")
    out = {}
    for family in text_string_to_metric_families(r.text):
        for sample in family.samples:
            out[(sample.name, frozenset(sample.labels.items()))] = sample.value
    return out


def value(samples: dict[Any, float], name: str, **labels: str) -> float | None:
    return samples.get((name, frozenset(labels.items())))


async def test_metrics_follow_a_request_and_count_a_withdrawal_once(kafka: str, make_settings: Any) -> None:
    async with system(make_settings, ("consent", "dsar", "breach")) as (apps, c):
        consent_rt, dsar_rt = apps["consent"].state.runtime, apps["dsar"].state.runtime
        ctoken = await create_token(consent_rt.db, "prometheus", ["system"])
        dtoken = await create_token(dsar_rt.db, "prometheus", ["system"])
        staff = await create_token(dsar_rt.db, "dpo", ["dpo"])
        assert (await c["dsar"].get("/metrics")).status_code == 401, "a token, unless METRICS_OPEN"
        assert (await c["dsar"].get("/metrics", headers={"authorization": f"Bearer {staff}"})).status_code == 403

        # an access request raises dsar's gauge; its completion lowers it
        before = await scrape(c["dsar"], dtoken)
        assert value(before, "privacy_dsar_overdue_requests", service="dsar") == 0
        r = await c["dsar"].post(
            "/admin/requests",
            headers={"authorization": f"Bearer {staff}"},
            json={"kind": "access", "email": EMAIL, "channel": "letter", "identity_verified": True},
        )
        assert r.status_code == 201, r.text
        during = await scrape(c["dsar"], dtoken)
        assert value(during, "privacy_dsar_open_requests", service="dsar", kind="access", state="in_progress") == 1
        assert 30 <= (value(during, "privacy_dsar_nearest_deadline_days", service="dsar") or 0) <= 31
        request_id = r.json()["id"]

        async def completed() -> bool:
            got = await c["dsar"].get(f"/admin/requests/{request_id}", headers={"authorization": f"Bearer {staff}"})
            return bool(got.json()["state"] == "completed")

        await eventually(completed, within=60)
        after = await scrape(c["dsar"], dtoken)
        assert value(after, "privacy_dsar_open_requests", service="dsar", kind="access", state="in_progress") == 0
        assert value(after, "privacy_dsar_nearest_deadline_days", service="dsar") is None, "no open request"
        assert (
            value(
                after,
                "privacy_consumer_records_total",
                service="dsar",
                group=dsar_rt.consumers[0].group,
                outcome="applied",
            )
            or 0
        ) >= 2
        http = value(
            after, "privacy_http_requests_total", service="dsar", method="POST", route="/admin/requests", status="201"
        )
        assert http == 1
        assert (value(after, "privacy_ledger_entries", service="dsar") or 0) >= 3
        assert value(after, "privacy_outbox_unpublished_rows", service="dsar") is not None

        # a withdrawal counts once, also when the same withdrawal comes again
        key = await create_site_key(consent_rt.db, "website", ["https://www.example.nl"])
        site = {"x-site-key": key}
        consent = {
            "browser_id": "b_operations01",
            "channel": "contact_form",
            "notice": NOTICE,
            "purposes": [{"purpose": "contact", "granted": True}],
        }
        assert (await c["consent"].post("/v1/consents", headers=site, json=consent)).status_code == 201
        withdraw = {"browser_id": "b_operations01", "purposes": ["contact"]}
        for _ in range(2):
            assert (await c["consent"].post("/v1/withdrawals", headers=site, json=withdraw)).status_code == 200
        samples = await scrape(c["consent"], ctoken)
        assert value(samples, "privacy_consent_withdrawals_total", service="consent", purpose="contact") == 1
        assert (
            value(samples, "privacy_consent_captures_total", service="consent", purpose="contact", state="granted") == 1
        )
        gpc = {
            **consent,
            "purposes": [{"purpose": "tracking_cookies", "granted": True}],
            "email": None,
            "browser_id": "browser-123456",
        }
        r = await c["consent"].post("/v1/consents", headers={**site, "sec-gpc": "1"}, json=gpc)
        assert r.status_code == 201
        samples = await scrape(c["consent"], ctoken)
        assert value(samples, "privacy_consent_gpc_refusals_total", service="consent", purpose="tracking_cookies") == 1

    # METRICS_OPEN: the scrape network needs no token
    async with system(make_settings, ("breach",), {"breach": {"metrics_open": True}}) as (_apps, c):
        r = await c["breach"].get("/metrics")
        assert r.status_code == 200 and "privacy_breach_open" in r.text and 'service="breach"' in r.text


async def test_one_erasure_is_one_trace_across_the_three_services(
    kafka: str, make_settings: Any, monkeypatch: Any
) -> None:
    # recorded, as with an exporter (without one and without a sampler spans only carry the context)
    monkeypatch.setenv("OTEL_TRACES_SAMPLER", "parentbased_always_on")
    async with system(make_settings, ("consent", "dsar", "breach")) as (apps, c):
        exporters = {}
        for name, app in apps.items():
            exporters[name] = InMemorySpanExporter()
            app.state.runtime.tracing.add_processor(SimpleSpanProcessor(exporters[name]))
        consent_rt, dsar_rt = apps["consent"].state.runtime, apps["dsar"].state.runtime
        key = await create_site_key(consent_rt.db, "website", ["https://www.example.nl"])
        consent = {
            "email": EMAIL,
            "channel": "contact_form",
            "notice": NOTICE,
            "purposes": [{"purpose": "contact", "granted": True}],
        }
        assert (await c["consent"].post("/v1/consents", headers={"x-site-key": key}, json=consent)).status_code == 201
        staff = await create_token(dsar_rt.db, "dpo", ["dpo"])
        lines = io.StringIO()
        handler = logging.StreamHandler(lines)
        handler.setFormatter(JsonFormatter("test"))
        logging.getLogger().addHandler(handler)
        try:
            r = await c["dsar"].post(
                "/admin/requests",
                headers={"authorization": f"Bearer {staff}"},
                json={"kind": "erasure", "email": EMAIL, "channel": "letter", "identity_verified": True},
            )
        finally:
            logging.getLogger().removeHandler(handler)
        assert r.status_code == 201
        request_id = r.json()["id"]

        async def completed() -> bool:
            got = await c["dsar"].get(f"/admin/requests/{request_id}", headers={"authorization": f"Bearer {staff}"})
            return bool(got.json()["state"] == "completed")

        await eventually(completed, within=60)

        def spans(service: str, name: str) -> list[Any]:
            return [s for s in exporters[service].get_finished_spans() if s.name == name]

        (http,) = spans("dsar", "POST /admin/requests")
        trace_id = http.context.trace_id
        dsar_tx = [s for s in spans("dsar", "transaction") if s.parent and s.parent.span_id == http.context.span_id]
        assert dsar_tx, "the use-case's transaction is a child of the request"
        started = {s.context.span_id for s in dsar_tx}
        for holder in ("consent", "breach"):
            (consumed,) = spans(holder, f"consume {DataSubjectRequestStarted.type_name()}")
            assert consumed.context.trace_id == trace_id, f"{holder} continues dsar's trace"
            assert consumed.parent is not None and consumed.parent.span_id in started, "from the row's writer"
            answered = [
                s for s in spans(holder, "transaction") if s.parent and s.parent.span_id == consumed.context.span_id
            ]
            assert answered, f"{holder}'s answer is written inside the consumed event's span"
            back = [
                s
                for s in spans("dsar", f"consume {HolderAnswered.type_name()}")
                if s.parent and s.parent.span_id in {a.context.span_id for a in answered}
            ]
            assert back and all(s.context.trace_id == trace_id for s in back), f"{holder}'s answer back in dsar"
        publishes = spans("dsar", "outbox publish")
        assert any(link.context.trace_id == trace_id for s in publishes for link in s.links), "the publish is linked"
        logged = [json.loads(x) for x in lines.getvalue().splitlines() if x.startswith("{")]
        request_line = next(x for x in logged if x.get("message") == "POST /admin/requests 201")
        assert request_line["trace_id"] == f"{trace_id:032x}" and len(request_line["span_id"]) == 16
