"""The console's use-cases: each gathers what one page shows, or takes one action, through the services'
admin APIs with the signed-in person's token. No database: the services own the data."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import httpx

from services.common.ledger.verify import VerificationError, verify_live
from services.console.clients import SERVICES, Calls, Outcome, Refused, ServiceDown, each


@dataclass(frozen=True)
class Person:
    name: str
    scopes: frozenset[str]
    services: tuple[str, ...]  # where the token is known


async def sign_in(calls: Calls) -> Person:
    """Who the token belongs to, on each service; Refused(401) when no service knows it."""
    found = await each({s: (lambda s=s: calls.get(s, "/admin/me")) for s in SERVICES})  # type: ignore[misc]
    known = {s: o.value for s, o in found.items() if o.ok}
    if not known:
        down = [s for s, o in found.items() if o.down]
        if len(down) == len(SERVICES):
            raise ServiceDown("all", "no service answered")
        raise Refused("console", 401, "no service knows this token (privacyctl token create gives one)")
    names = {v["name"] for v in known.values()}
    scopes = frozenset(x for v in known.values() for x in v["scopes"])
    return Person(sorted(names)[0], scopes, tuple(known))


async def overview(calls: Calls) -> dict[str, Outcome]:
    """What the officer sees first: the legal clocks, the consent trend, the machinery."""
    parts = {
        "requests": lambda: calls.get("dsar", "/admin/requests"),
        "breaches": lambda: calls.get("breach", "/admin/breaches", awaiting_ap="true"),
        "stats": lambda: calls.get("consent", "/admin/stats/consents", days=30),
        **{f"ops_{s}": (lambda s=s: calls.get(s, "/admin/operations")) for s in SERVICES},  # type: ignore[misc]
    }
    return await each(parts)


def requests_sorted(requests: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return sorted(requests, key=lambda r: (r["days_left"], r["received_at"]))


def clocks(breaches: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Breaches the AP has not been told of yet, the nearest deadline first (an unrequired one last)."""
    waiting = [b for b in breaches if b.get("hours_left") is not None]
    return sorted(waiting, key=lambda b: (not (b.get("required") or {}).get("ap_notification", True), b["hours_left"]))


async def request_queue(calls: Calls, *, kind: str | None, state: str | None, overdue: bool | None) -> Outcome:
    params: dict[str, Any] = {k: v for k, v in {"kind": kind, "state": state}.items() if v}
    if overdue is not None:
        params["overdue"] = "true" if overdue else "false"
    return (await each({"q": lambda: calls.get("dsar", "/admin/requests", **params)}))["q"]


async def request_detail(calls: Calls, request_id: str) -> Any:
    found, tasks = await asyncio.gather(
        calls.get("dsar", f"/admin/requests/{request_id}"), processor_tasks(calls, request_id)
    )
    found["processor_tasks"] = tasks
    return found


async def processor_tasks(calls: Calls, request_id: str) -> list[dict[str, Any]] | None:
    """Each processor's part of the request ([] when none was asked; None when the service cannot say)."""
    try:
        found: dict[str, Any] = await calls.get("processors", f"/admin/requests/{request_id}")
    except Refused as exc:
        return [] if exc.status == 404 else None
    except ServiceDown:
        return None
    tasks: list[dict[str, Any]] = found["tasks"]
    return tasks


async def close_processor_task(calls: Calls, task_id: str, outcome: str, evidence: str) -> Any:
    body = {"outcome": outcome, "evidence": evidence}
    return await calls.post("processors", f"/admin/tasks/{task_id}/close", body)


async def connector(calls: Calls, key: str) -> dict[str, Any]:
    found: dict[str, Any] = await calls.get("processors", f"/admin/connectors/{key}")
    return found


async def close_task(calls: Calls, request_id: str, holder: str, outcome: str, reason: str | None) -> Any:
    body = {"holder": holder, "outcome": outcome, "reason": reason or None}
    return await calls.post("dsar", f"/admin/requests/{request_id}/answers", body)


async def extend(calls: Calls, request_id: str, months: int, reason: str) -> Any:
    return await calls.post("dsar", f"/admin/requests/{request_id}/extend", {"months": months, "reason": reason})


async def refuse(calls: Calls, request_id: str, reason: str) -> Any:
    return await calls.post("dsar", f"/admin/requests/{request_id}/refuse", {"reason": reason})


async def breach_register(calls: Calls) -> list[dict[str, Any]]:
    result: list[dict[str, Any]] = await calls.get("breach", "/admin/breaches")
    return result


async def breach_detail(calls: Calls, breach_id: str) -> dict[str, Any]:
    breach, people = await asyncio.gather(
        calls.get("breach", f"/admin/breaches/{breach_id}"),
        calls.get("breach", f"/admin/breaches/{breach_id}/recipients"),
    )
    return {**breach, "people": people}


async def register_breach(calls: Calls, body: dict[str, Any]) -> dict[str, Any]:
    created: dict[str, Any] = await calls.post("breach", "/admin/breaches", body)
    return created


async def change_breach(calls: Calls, breach_id: str, body: dict[str, Any]) -> Any:
    return await calls.patch("breach", f"/admin/breaches/{breach_id}", body)


async def suggestion(calls: Calls, factors: dict[str, Any]) -> dict[str, Any]:
    found: dict[str, Any] = await calls.post("breach", "/admin/risk-suggestion", factors)
    return found


async def assess(calls: Calls, breach_id: str, body: dict[str, Any]) -> Any:
    return await calls.post("breach", f"/admin/breaches/{breach_id}/assessment", body)


async def prepare_notification(
    calls: Calls, breach_id: str, phase: str, reason: str | None, delay_reason: str | None = None
) -> dict[str, Any]:
    body = {"phase": phase, "reason": reason or None, "delay_reason": delay_reason or None}
    made: dict[str, Any] = await calls.post("breach", f"/admin/breaches/{breach_id}/ap-notifications", body)
    return made


async def printable(calls: Calls, breach_id: str, notification_id: str) -> str:
    return await calls.text("breach", f"/admin/breaches/{breach_id}/ap-notifications/{notification_id}")


async def record_submission(calls: Calls, breach_id: str, notification_id: str, body: dict[str, Any]) -> Any:
    path = f"/admin/breaches/{breach_id}/ap-notifications/{notification_id}/submission"
    return await calls.post("breach", path, body)


async def ask_affected(calls: Calls, breach_id: str) -> Any:
    return await calls.post("breach", f"/admin/breaches/{breach_id}/affected-queries", {})


async def notify_people(calls: Calls, breach_id: str, body: dict[str, Any]) -> Any:
    return await calls.post("breach", f"/admin/breaches/{breach_id}/subject-notifications", body)


async def public_communication(calls: Calls, breach_id: str, body: dict[str, Any]) -> Any:
    return await calls.post("breach", f"/admin/breaches/{breach_id}/public-communications", body)


async def person_history(calls: Calls, email: str) -> dict[str, Any]:
    """A person's history with evidence, and each purpose's description (BROWSER.md: never an id)."""
    found, purposes = await asyncio.gather(
        calls.post("consent", "/admin/subjects/history", {"email": email}), calls.get("consent", "/v1/purposes")
    )
    names = {p["id"]: {"nl": p["description_nl"], "en": p["description_en"]} for p in purposes["purposes"]}
    return {**found, "names": names}


async def processors(calls: Calls) -> list[dict[str, Any]]:
    """Statement Art. 8's processors with their agreement (consent), and how each is reached (processors):
    its connector's mode and standing, its open tasks and last success; `connector` None when unknown."""
    found: list[dict[str, Any]] = await calls.get("consent", "/admin/processors")
    connectors = (await each({"c": lambda: calls.get("processors", "/admin/connectors")}))["c"]
    by_name = {c["name"]: c for c in connectors.value} if connectors.ok else {}
    for p in found:
        p["connector"] = by_name.get(p["name"])
        p["connectors_known"] = connectors.ok
    return found


async def set_agreement(calls: Calls, processor_id: str, agreement: str) -> Any:
    return await calls.put("consent", f"/admin/processors/{processor_id}", {"agreement": agreement})


async def ledgers(calls: Calls) -> dict[str, Outcome]:
    return await each({s: (lambda s=s: calls.get(s, "/admin/operations")) for s in SERVICES})  # type: ignore[misc]


async def webhooks(calls: Calls) -> Outcome:
    """The systems consent pushes changes to, and their deliveries waiting, delivered and given up on."""
    return (await each({"webhooks": lambda: calls.get("consent", "/admin/webhooks")}))["webhooks"]


@dataclass(frozen=True)
class Verdict:
    service: str
    ok: bool
    entries: int
    checkpoints: int
    message: str
    at: datetime


async def verify(calls: Calls, service: str) -> Verdict:
    """Run the project's verifier (ledger-verify --url) against the service, as anyone could offline."""
    url = calls.urls[service]
    try:
        report = await asyncio.to_thread(verify_live, url, vkey=None, earlier=[], save=None, progress=None)
    except VerificationError as exc:
        return Verdict(service, False, 0, 0, str(exc), datetime.now(UTC))
    except httpx.HTTPError as exc:
        raise ServiceDown(service, f"{exc.__class__.__name__}: {exc}"[:200]) from exc
    message = f"{report.entries} entries, {len(report.checkpoints_checked)} signed checkpoints checked"
    return Verdict(service, True, report.entries, len(report.checkpoints_checked), message, datetime.now(UTC))
