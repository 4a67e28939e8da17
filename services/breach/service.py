"""Use-cases of the breach service; one transaction each."""

from __future__ import annotations

import json
import secrets
import uuid
from datetime import UTC, datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col, select

from services.breach import apform, domain, told
from services.breach.events import (
    ApNotificationPrepared,
    ApNotificationSubmitted,
    BreachRegistered,
    BreachUpdated,
    RiskAssessed,
)
from services.breach.models import ApNotification, Breach, PublicCommunication
from services.breach.schemas import (
    AssessmentIn,
    BreachIn,
    BreachUpdate,
    FactorsIn,
)
from services.common.errors import FieldError, ServiceError
from services.common.runtime import Runtime


async def record_event(rt: Runtime, s: AsyncSession, payload: Any) -> None:
    """Breach events are keyed by the breach: its steps stay in order on the topic."""
    await rt.recorder.record(s, payload, key=payload.breach_id)


async def get_breach(s: AsyncSession, breach_id: str) -> Breach:
    breach = await s.get(Breach, breach_id)
    if breach is None:
        raise ServiceError(404, "no such breach")
    return breach


async def notification(rt: Runtime, breach_id: str, notification_id: str) -> ApNotification:
    """One prepared AP notification of this breach (404 when it is another breach's, or none)."""
    async with rt.db.read() as s:
        note = await s.get(ApNotification, notification_id)
    if note is None or note.breach_id != breach_id:
        raise ServiceError(404, "no such notification")
    return note


def _rule(exc: domain.RuleError) -> FieldError:
    return FieldError((exc.field,), str(exc))


async def register(rt: Runtime, body: BreachIn, *, staff: str) -> Breach:
    now = datetime.now(UTC)
    try:
        domain.check_timeline(awareness=body.awareness_at, started=body.started_at, ended=body.ended_at, now=now)
    except domain.RuleError as exc:
        raise _rule(exc) from exc
    details = body.model_dump(
        mode="json", exclude={"title", "description", "awareness_at", "started_at", "ended_at", "ongoing"}
    )
    details["registered_by"] = staff
    breach = Breach(
        id="brc_" + secrets.token_urlsafe(12),
        title=body.title,
        description=body.description,
        awareness_at=body.awareness_at,
        started_at=body.started_at,
        ended_at=body.ended_at,
        ongoing=body.ongoing,
        ap_deadline=domain.ap_deadline(body.awareness_at),
        details=json.dumps(details),
        state="registered",
    )
    async with rt.db.transaction() as s:
        s.add(breach)
        await record_event(
            rt,
            s,
            BreachRegistered(
                breach_id=breach.id,
                awareness_at=breach.awareness_at,
                ap_deadline=breach.ap_deadline,
                nature=[n.value for n in body.nature],
                categories=[c.value for c in body.categories],
                subjects_min=body.subjects_min,
                subjects_max=body.subjects_max,
            ),
        )
    return breach


async def change(rt: Runtime, breach_id: str, body: BreachUpdate, *, staff: str) -> Breach:
    fields = body.model_dump(exclude_unset=True, mode="json")
    async with rt.db.transaction() as s:
        breach = await get_breach(s, breach_id)
        details = json.loads(breach.details)
        for name in ("description", "ongoing"):
            if name in fields:
                setattr(breach, name, fields.pop(name))
        if "ended_at" in fields:
            breach.ended_at = body.ended_at
            fields.pop("ended_at")
            try:
                domain.check_timeline(
                    awareness=breach.awareness_at,
                    started=breach.started_at,
                    ended=breach.ended_at,
                    now=datetime.now(UTC),
                )
            except domain.RuleError as exc:
                raise _rule(exc) from exc
        details.update(fields)
        if details["subjects_max"] < details["subjects_min"]:
            raise FieldError(("subjects_max",), "subjects_max is below subjects_min")
        details.setdefault("changes", []).append(
            {"by": staff, "at": datetime.now(UTC).isoformat(), "fields": sorted(body.model_fields_set)}
        )
        breach.details, breach.updated_at = json.dumps(details), datetime.now(UTC)
        s.add(breach)
        await record_event(rt, s, BreachUpdated(breach_id=breach.id, fields=sorted(body.model_fields_set)))
    return breach


def suggestion(factors: FactorsIn) -> dict[str, Any]:
    suggested = domain.suggest(domain.Factors(**factors.model_dump()))
    return {"suggestion": suggested.value, "required": domain.required(suggested, None)}


async def assess(rt: Runtime, breach_id: str, body: AssessmentIn, *, staff: str) -> dict[str, Any]:
    factors = domain.Factors(**body.factors.model_dump())
    suggestion = domain.suggest(factors)
    needed = domain.required(body.outcome, body.exemption)
    risk = {
        "factors": body.factors.model_dump(mode="json"),
        "suggestion": suggestion.value,
        "outcome": body.outcome.value,
        "reasons": body.reasons,
        "decided_by": staff,
        "decided_at": datetime.now(UTC).isoformat(),
        "exemption": body.exemption.value if body.exemption else None,
        "exemption_reason": body.exemption_reason,
        "required": needed,
    }
    async with rt.db.transaction() as s:
        breach = await get_breach(s, breach_id)
        breach.risk, breach.state, breach.updated_at = json.dumps(risk), "assessed", datetime.now(UTC)
        s.add(breach)
        await record_event(
            rt,
            s,
            RiskAssessed(
                breach_id=breach.id,
                outcome=body.outcome.value,
                suggestion=suggestion.value,
                exemption=risk["exemption"],
                ap_notification_required=needed["ap_notification"],
                subject_notification_required=needed["subject_notification"],
            ),
        )
    return risk


async def prepare_notification(
    rt: Runtime,
    breach_id: str,
    phase: domain.Phase,
    reason: str | None,
    *,
    staff: str,
    delay_reason: str | None = None,
) -> ApNotification:
    if phase == domain.Phase.WITHDRAWAL and not (reason or "").strip():
        raise FieldError(("reason",), "a withdrawal of a notification needs its reason (GDPR 33(4))")
    async with rt.db.transaction() as s:
        breach = await get_breach(s, breach_id)
        if phase != domain.Phase.INITIAL:
            first = (
                (
                    await s.execute(
                        select(ApNotification)
                        .where(col(ApNotification.breach_id) == breach_id)
                        .where(col(ApNotification.submitted_at).is_not(None))
                    )
                )
                .scalars()
                .first()
            )
            if first is None:
                raise ServiceError(409, f"a {phase.value} follows a submitted initial notification")
        public = [
            {"channel": p.channel, "url": p.url, "published_at": p.published_at.isoformat()}
            for p in (
                await s.execute(select(PublicCommunication).where(col(PublicCommunication.breach_id) == breach_id))
            ).scalars()
        ]
        late = phase == domain.Phase.INITIAL and datetime.now(UTC) > breach.ap_deadline
        if late and not (delay_reason or "").strip():
            raise FieldError(("delay_reason",), "the 72 hours have passed: give the reasons for the delay (GDPR 33(1))")
        risk = json.loads(breach.risk) if breach.risk else {}
        informed = told.informed(
            await told.tally(s, breach_id), public, bool(risk.get("required", {}).get("subject_notification"))
        )
        prepared = apform.content(
            breach,
            phase=phase.value,
            reason=reason,
            public=public,
            informed=informed,
            delay_reason=delay_reason if late else None,
            late=late,
        )
        note = ApNotification(
            id="apn_" + uuid.uuid4().hex[:16],
            breach_id=breach_id,
            phase=phase.value,
            content=json.dumps(prepared, default=str),
            recorded_by=staff,
        )
        s.add(note)
        await record_event(
            rt, s, ApNotificationPrepared(breach_id=breach_id, notification_id=note.id, phase=phase.value)
        )
    return note


async def submit_notification(
    rt: Runtime,
    breach_id: str,
    notification_id: str,
    *,
    submitted_at: datetime | None,
    ap_reference: str,
    late_reason: str | None,
    staff: str,
) -> ApNotification:
    now = datetime.now(UTC)
    when = submitted_at or now
    if when > now:
        raise FieldError(("submitted_at",), "the submission lies in the future")
    async with rt.db.transaction() as s:
        breach = await get_breach(s, breach_id)
        note = await s.get(ApNotification, notification_id)
        if note is None or note.breach_id != breach_id:
            raise ServiceError(404, "no such notification for this breach")
        if note.submitted_at is not None:
            raise ServiceError(409, "this notification was already submitted")
        late = note.phase == domain.Phase.INITIAL and when > breach.ap_deadline
        late_reason = late_reason or json.loads(note.content)["sections"]["2"].get("delay_reason")
        if late and not (late_reason or "").strip():
            raise FieldError(
                ("late_reason",), "submitted after the 72 hours: the reasons for the delay are required (GDPR 33(1))"
            )
        note.submitted_at, note.ap_reference, note.late_reason = when, ap_reference, late_reason
        note.recorded_by = staff
        s.add(note)
        if breach.state in ("registered", "assessed"):
            breach.state = "notified"
            s.add(breach)
        await record_event(
            rt,
            s,
            ApNotificationSubmitted(
                breach_id=breach_id, notification_id=note.id, phase=note.phase, submitted_at=when, late=late
            ),
        )
    return note


async def one(rt: Runtime, breach_id: str) -> tuple[Breach, list[ApNotification], list[PublicCommunication]]:
    """A breach with its AP notifications (oldest first) and public communications; 404 when unknown."""
    async with rt.db.read() as s:
        breach = await get_breach(s, breach_id)
        notes = await s.execute(
            select(ApNotification)
            .where(col(ApNotification.breach_id) == breach_id)
            .order_by(col(ApNotification.prepared_at))
        )
        public = await s.execute(select(PublicCommunication).where(col(PublicCommunication.breach_id) == breach_id))
        return breach, list(notes.scalars()), list(public.scalars())


async def listed(
    rt: Runtime, *, awaiting_ap: bool | None = None
) -> list[tuple[Breach, list[ApNotification], list[PublicCommunication]]]:
    """The register, newest first, each breach with its notifications and public communications: three
    queries whatever its size. `awaiting_ap`: only those not yet notified to the AP (or only the others)."""
    query = select(Breach).order_by(col(Breach.awareness_at).desc())
    if awaiting_ap is not None:
        waiting = col(Breach.state).in_(("registered", "assessed"))
        query = query.where(waiting if awaiting_ap else ~waiting)
    async with rt.db.read() as s:
        breaches = (await s.execute(query)).scalars().all()
        ids = [b.id for b in breaches]
        notes = await s.execute(
            select(ApNotification)
            .where(col(ApNotification.breach_id).in_(ids))
            .order_by(col(ApNotification.prepared_at))
        )
        public = await s.execute(select(PublicCommunication).where(col(PublicCommunication.breach_id).in_(ids)))
        notes_of: dict[str, list[ApNotification]] = {}
        for note in notes.scalars():
            notes_of.setdefault(note.breach_id, []).append(note)
        public_of: dict[str, list[PublicCommunication]] = {}
        for item in public.scalars():
            public_of.setdefault(item.breach_id, []).append(item)
    return [(b, notes_of.get(b.id, []), public_of.get(b.id, [])) for b in breaches]
