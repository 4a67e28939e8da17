"""Routes of the breach service (scopes dpo and admin): the register, the clock, the AP, the people."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path as FilePath
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Path, Query, Request
from fastapi.encoders import jsonable_encoder
from fastapi.responses import HTMLResponse

from services.breach import apform, domain, people, service
from services.breach.models import ApNotification, Breach, PublicCommunication
from services.breach.schemas import (
    AffectedQueryIn,
    AssessmentIn,
    BreachIn,
    BreachUpdate,
    FactorsIn,
    NotifyIn,
    PrepareIn,
    PublicCommunicationIn,
    SubmissionIn,
)
from services.common import pages
from services.common.auth import Principal, Scope, Scoped
from services.common.contract import refusals
from services.common.moments import Tally
from services.common.runtime import Runtime

router = APIRouter(prefix="/admin/breaches", tags=["breaches"])
suggestions = APIRouter(prefix="/admin", tags=["breaches"])  # not under /admin/breaches/{breach_id}
Staff = Annotated[Principal, Depends(Scoped(Scope.DPO, Scope.ADMIN))]
BreachId = Annotated[str, Path(max_length=40)]
TEMPLATES = pages.templates(FilePath(__file__).parent)


def rt_of(request: Request) -> Runtime:
    runtime: Runtime = request.app.state.runtime
    return runtime


Ctx = Annotated[Runtime, Depends(rt_of)]  # breach's use-cases work on the runtime itself


def view(breach: Breach, notes: list[ApNotification], public: list[PublicCommunication]) -> dict[str, Any]:
    now = datetime.now(UTC)
    risk = json.loads(breach.risk) if breach.risk else None
    submitted = [n for n in notes if n.submitted_at is not None and n.phase == "initial"]
    encoded: dict[str, Any] = jsonable_encoder(
        {
            "id": breach.id,
            "title": breach.title,
            "description": breach.description,
            "state": breach.state,
            "awareness_at": breach.awareness_at,
            "started_at": breach.started_at,
            "ended_at": breach.ended_at,
            "ongoing": breach.ongoing,
            "ap_deadline": breach.ap_deadline,
            "hours_left": round((breach.ap_deadline - now).total_seconds() / 3600, 1) if not submitted else None,
            "ap_overdue": not submitted
            and now > breach.ap_deadline
            and bool((risk or {}).get("required", {}).get("ap_notification", True)),
            "details": json.loads(breach.details),
            "risk": risk,
            "required": (risk or {}).get("required"),
            "notifications": [
                {
                    "id": n.id,
                    "phase": n.phase,
                    "prepared_at": n.prepared_at,
                    "submitted_at": n.submitted_at,
                    "ap_reference": n.ap_reference,
                    "late_reason": n.late_reason,
                }
                for n in notes
            ],
            "public_communications": [
                {"channel": p.channel, "url": p.url, "published_at": p.published_at} for p in public
            ],
        }
    )
    return encoded


async def _load(rt: Runtime, breach_id: str) -> dict[str, Any]:
    return view(*await service.one(rt, breach_id))


@router.post("", status_code=201)
async def register(body: BreachIn, rt: Ctx, staff: Staff) -> dict[str, Any]:
    """Register a breach (GDPR 33(5): every breach, notified or not). The clock starts at awareness."""
    breach = await service.register(rt, body, staff=staff.name)
    return await _load(rt, breach.id)


@router.get("")
async def register_list(
    rt: Ctx,
    _: Staff,
    awaiting_ap: Annotated[
        bool | None, Query(description="true: only breaches not yet notified to the AP (registered or assessed)")
    ] = None,
) -> list[dict[str, Any]]:
    """The whole register, newest first (exportable: GDPR 33(5)); three queries whatever its size."""
    listed = await service.listed(rt, awaiting_ap=awaiting_ap)
    return [view(breach, notes, public) for breach, notes, public in listed]


@suggestions.post("/risk-suggestion")
async def risk_suggestion(body: FactorsIn, _: Staff) -> dict[str, Any]:
    """What the system suggests for these factors, before a person decides (statement Art. 6): shown beside
    the decision, never taking it. Records nothing."""
    return service.suggestion(body)


@router.get("/{breach_id}", responses=refusals(404))
async def read(breach_id: BreachId, rt: Ctx, _: Staff) -> dict[str, Any]:
    return await _load(rt, breach_id)


@router.patch("/{breach_id}", responses=refusals(404))
async def update(breach_id: BreachId, body: BreachUpdate, rt: Ctx, staff: Staff) -> dict[str, Any]:
    """The IT expert's findings and measures, the end of the breach, better numbers."""
    await service.change(rt, breach_id, body, staff=staff.name)
    return await _load(rt, breach_id)


@router.post("/{breach_id}/assessment", responses=refusals(404))
async def assess(breach_id: BreachId, body: AssessmentIn, rt: Ctx, staff: Staff) -> dict[str, Any]:
    """A person decides the risk with reasons; the system's suggestion is recorded beside it."""
    return await service.assess(rt, breach_id, body, staff=staff.name)


@router.post("/{breach_id}/ap-notifications", status_code=201, responses=refusals(404, 409))
async def prepare(breach_id: BreachId, body: PrepareIn, rt: Ctx, staff: Staff) -> dict[str, Any]:
    """Prepare the AP form's content for a phase: initial, supplement or withdrawal (GDPR 33(4))."""
    note = await service.prepare_notification(
        rt, breach_id, body.phase, body.reason, staff=staff.name, delay_reason=body.delay_reason
    )
    return {"id": note.id, "phase": note.phase, "content": json.loads(note.content)}


@router.get("/{breach_id}/ap-notifications/{notification_id}", response_class=HTMLResponse, responses=refusals(404))
async def printable(
    breach_id: BreachId, notification_id: Annotated[str, Path(max_length=40)], request: Request, rt: Ctx, _: Staff
) -> HTMLResponse:
    """The prepared notification as a printable page laid out like the Meldformulier's sections 0-9."""
    note = await service.notification(rt, breach_id, notification_id)
    breach = await _load(rt, breach_id)
    context = {
        "breach_id": breach_id,
        "title": breach["title"],
        "labels": apform.LABELS,
        "values": apform.VALUES,
        "times": apform.TIMES,
        "prepared": json.loads(note.content),
        "prepared_at": note.prepared_at,
        "sections": apform.SECTIONS,
        "controller": "Je zaak voor Elkaar B.V.",
    }
    return pages.page(TEMPLATES, request, "apform.html", context, personal=True)


@router.post("/{breach_id}/ap-notifications/{notification_id}/submission", responses=refusals(404, 409))
async def submitted(
    breach_id: BreachId,
    notification_id: Annotated[str, Path(max_length=40)],
    body: SubmissionIn,
    rt: Ctx,
    staff: Staff,
) -> dict[str, Any]:
    """Record that the form was submitted to the AP: time and AP reference; after 72 h, the reasons."""
    await service.submit_notification(
        rt,
        breach_id,
        notification_id,
        submitted_at=body.submitted_at,
        ap_reference=body.ap_reference,
        late_reason=body.late_reason,
        staff=staff.name,
    )
    return await _load(rt, breach_id)


@router.post("/{breach_id}/affected-queries", status_code=202, responses=refusals(404))
async def ask(breach_id: BreachId, body: AffectedQueryIn, rt: Ctx, _: Staff) -> dict[str, str]:
    """Ask the consent service and registered systems, over Kafka, who is affected and how to reach them."""
    query = await people.ask_affected(rt, breach_id, body)
    return {"query_id": query.id}


@router.get("/{breach_id}/recipients", responses=refusals(404))
async def recipients(breach_id: BreachId, rt: Ctx, _: Staff) -> dict[str, Tally]:
    return await people.recipients_summary(rt, breach_id)


@router.post("/{breach_id}/subject-notifications", status_code=202, responses=refusals(404))
async def notify(breach_id: BreachId, body: NotifyIn, rt: Ctx, staff: Staff) -> dict[str, Tally]:
    """GDPR 34: mail every person found, in plain language (34(2) content)."""
    return {"queued": await people.notify_subjects(rt, breach_id, body, staff=staff.name)}


@router.post("/{breach_id}/public-communications", status_code=201, responses=refusals(404))
async def public(breach_id: BreachId, body: PublicCommunicationIn, rt: Ctx, staff: Staff) -> dict[str, Any]:
    """GDPR 34(3)(c): record a public communication made instead of individual notices."""
    await people.public_communication(rt, breach_id, body, staff=staff.name)
    return await _load(rt, breach_id)


__all__ = ["domain", "router", "suggestions"]
