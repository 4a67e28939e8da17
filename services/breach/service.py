"""Use-cases of the breach service; one transaction each."""

from __future__ import annotations

import base64
import json
import secrets
import uuid
from datetime import UTC, datetime
from typing import Any

from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from sqlalchemy import bindparam, func, insert, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col, select

from services.breach import apform, domain
from services.breach.events import (
    ApNotificationPrepared,
    ApNotificationSubmitted,
    BreachRegistered,
    BreachUpdated,
    PublicCommunicationRecorded,
    RiskAssessed,
    SubjectsNotified,
)
from services.breach.models import AffectedQuery, ApNotification, Breach, PublicCommunication, Recipient
from services.breach.schemas import (
    AffectedQueryIn,
    AssessmentIn,
    BreachIn,
    BreachUpdate,
    NotifyIn,
    PublicCommunicationIn,
)
from services.common.contracts import AffectedSubjectsFound, AffectedSubjectsRequested, open_fragment
from services.common.db import insert_ignoring_duplicates
from services.common.errors import FieldError, ServiceError
from services.common.mail import MailMessage
from services.common.models import table_of
from services.common.runtime import Runtime

# What the AP form's categories mean in the consent records' vocabulary (statement Art. 3.2).
CONSENT_CATEGORIES = {
    "name_address": ["name", "address"],
    "phone": ["phone"],
    "email": ["email"],
    "financial": ["iban", "vat_number"],
    "gender_birthdate_age": ["date_of_birth"],
    "other": [],
}


async def _record(rt: Runtime, s: AsyncSession, payload: Any) -> None:
    """Breach events are keyed by the breach: its steps stay in order on the topic."""
    await rt.recorder.record(s, payload, key=payload.breach_id)


async def _get(s: AsyncSession, breach_id: str) -> Breach:
    breach = await s.get(Breach, breach_id)
    if breach is None:
        raise ServiceError(404, "no such breach")
    return breach


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
        await _record(
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
        breach = await _get(s, breach_id)
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
        await _record(rt, s, BreachUpdated(breach_id=breach.id, fields=sorted(body.model_fields_set)))
    return breach


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
        breach = await _get(s, breach_id)
        breach.risk, breach.state, breach.updated_at = json.dumps(risk), "assessed", datetime.now(UTC)
        s.add(breach)
        await _record(
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
    rt: Runtime, breach_id: str, phase: domain.Phase, reason: str | None, *, staff: str
) -> ApNotification:
    if phase == domain.Phase.WITHDRAWAL and not (reason or "").strip():
        raise FieldError(("reason",), "a withdrawal of a notification needs its reason (GDPR 33(4))")
    async with rt.db.transaction() as s:
        breach = await _get(s, breach_id)
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
        prepared = apform.content(breach, phase=phase.value, reason=reason, public=public)
        note = ApNotification(
            id="apn_" + uuid.uuid4().hex[:16],
            breach_id=breach_id,
            phase=phase.value,
            content=json.dumps(prepared, default=str),
            recorded_by=staff,
        )
        s.add(note)
        await _record(rt, s, ApNotificationPrepared(breach_id=breach_id, notification_id=note.id, phase=phase.value))
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
        breach = await _get(s, breach_id)
        note = await s.get(ApNotification, notification_id)
        if note is None or note.breach_id != breach_id:
            raise ServiceError(404, "no such notification for this breach")
        if note.submitted_at is not None:
            raise ServiceError(409, "this notification was already submitted")
        late = note.phase == domain.Phase.INITIAL and when > breach.ap_deadline
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
        await _record(
            rt,
            s,
            ApNotificationSubmitted(
                breach_id=breach_id, notification_id=note.id, phase=note.phase, submitted_at=when, late=late
            ),
        )
    return note


async def ask_affected(rt: Runtime, breach_id: str, body: AffectedQueryIn) -> AffectedQuery:
    """Ask every holder over Kafka who is touched and how to reach them."""
    async with rt.db.transaction() as s:
        breach = await _get(s, breach_id)
        details = json.loads(breach.details)
        start = body.window_start or breach.started_at or breach.awareness_at
        end = body.window_end or breach.ended_at or datetime.now(UTC)
        if end < start:
            raise FieldError(("window_end",), "the window ends before it starts")
        categories = sorted({c for cat in details["categories"] for c in CONSENT_CATEGORIES.get(cat, [cat])})
        query = AffectedQuery(id="aq_" + uuid.uuid4().hex[:16], breach_id=breach_id)
        s.add(query)
        await _record(
            rt,
            s,
            AffectedSubjectsRequested(
                breach_id=breach_id,
                query_id=query.id,
                processors=body.processors or details.get("processors", []),
                categories=categories,
                window_start=start,
                window_end=end,
            ),
        )
    return query


async def on_found(rt: Runtime, s: AsyncSession, found: AffectedSubjectsFound) -> int:
    """A holder's chunk of people: stored with their contact details encrypted for each of them."""
    query = await s.get(AffectedQuery, found.query_id)
    if query is None or query.breach_id != found.breach_id:
        return 0
    progress = json.loads(query.progress)
    mine = progress.setdefault(found.holder, {"chunks": found.chunks, "received": [], "people": 0})
    if found.chunk in mine["received"]:
        return 0
    mine["received"].append(found.chunk)
    people = (
        open_fragment(rt.settings.secret_bytes("pseudonym_key"), found.query_id, found.sealed)["people"]
        if found.sealed
        else []
    )
    mine["people"] += len(people)
    query.progress = json.dumps(progress)
    s.add(query)
    if people:
        keys = await rt.vault.keys_for_many(s, {p["subject"] for p in people})
        rows = []
        for p in people:
            key_id, key = keys[p["subject"]]
            rows.append(
                {
                    "breach_id": found.breach_id,
                    "subject": p["subject"],
                    "holder": found.holder,
                    "key_id": key_id,
                    "status": "found",
                    "contact": rt.vault.seal(p["subject"], key_id, key, {"email": p["email"], "name": p["name"]}),
                }
            )
        await s.execute(insert_ignoring_duplicates(s, table_of(Recipient), rows))
    return len(people)


def _notice(breach: Breach, body: NotifyIn, name: str | None) -> tuple[str, str]:
    d = json.loads(breach.details)
    contact = d.get("contact") or d["reporter"]
    greeting = f"Beste {name}," if name else "Beste,"
    text = (
        f"{greeting}\n\nBij ons is een datalek ontstaan waarbij jouw gegevens betrokken zijn "
        f"({', '.join(d['categories'])}). Wat er gebeurde: {breach.description}\n\n"
        f"Mogelijke gevolgen: {body.likely_consequences}\nWat wij doen: {body.measures}\n"
        + (f"Wat je zelf kunt doen: {body.advice}\n" if body.advice else "")
        + f"\nVragen? {contact['name']} ({contact.get('email') or 'team@jezaakvoorelkaar.nl'}).\n"
        "Je kunt ook een klacht indienen bij de Autoriteit Persoonsgegevens.\n\n"
        "A data breach at our company involved your data; details above in Dutch. Questions: reply to this mail.\n"
    )
    return "Belangrijk: datalek met jouw gegevens / Data breach notice", text


async def notify_subjects(rt: Runtime, breach_id: str, body: NotifyIn, *, staff: str, chunk: int = 2000) -> int:
    """GDPR 34: tell every person found, in plain language, through the mail outbox. Idempotent: a person
    already queued is not mailed twice. Works through the list in chunks (bulk statements)."""
    queued = 0
    async with rt.db.transaction() as s:
        breach = await _get(s, breach_id)
        risk = json.loads(breach.risk) if breach.risk else {}
        if not risk.get("required", {}).get("subject_notification"):
            raise ServiceError(
                409,
                "the risk assessment does not call for telling the people (high risk, no 34(3) "
                "exemption); record that first",
            )
        r = table_of(Recipient).c
        after = ""
        while True:
            rows = (
                await s.execute(
                    select(r.subject, r.key_id, r.contact)
                    .where(r.breach_id == breach_id, r.status == "found", r.subject > after)
                    .order_by(r.subject)
                    .limit(chunk)
                )
            ).all()
            if not rows:
                break
            after = rows[-1].subject
            keys = await rt.vault.keys_for_many(s, {row.subject for row in rows})
            now = datetime.now(UTC)
            mails, marks = [], []
            for row in rows:
                key_id, key = keys[row.subject]
                if key_id != row.key_id:
                    continue  # erased since it was found: the contact details are gone with the old key
                contact = _open(row.subject, row.key_id, key, row.contact)
                subject_line, text = _notice(breach, body, contact.get("name"))
                mail_id = "m_" + uuid.uuid4().hex
                mails.append(
                    {
                        "id": mail_id,
                        "subject": row.subject,
                        "key_id": key_id,
                        "purpose": f"breach:{breach_id}",
                        "ciphertext": rt.vault.seal(
                            row.subject,
                            key_id,
                            key,
                            {
                                "to": contact["email"],
                                "subject": subject_line,
                                "text": text,
                                "html": None,
                                "headers": {},
                            },
                        ),
                        "created_at": now,
                        "status": "queued",
                        "attempts": 0,
                    }
                )
                marks.append({"b": breach_id, "s": row.subject, "m": mail_id})
            if mails:
                await s.execute(insert(MailMessage), mails)
                await s.execute(
                    update(table_of(Recipient))
                    .where(r.breach_id == bindparam("b"), r.subject == bindparam("s"))
                    .values(status="queued", mail_id=bindparam("m")),
                    marks,
                )
                s.info["wake"] = True
                queued += len(mails)
        await _record(rt, s, SubjectsNotified(breach_id=breach_id, queued=queued))
    return queued


def _open(subject: str, key_id: str, key: bytes, contact: str) -> dict[str, Any]:
    """The recipient's contact details, with the key fetched for the whole chunk."""
    blob = base64.b64decode(contact)
    value: dict[str, Any] = json.loads(AESGCM(key).decrypt(blob[:12], blob[12:], f"{subject}:{key_id}".encode()))
    return value


async def public_communication(
    rt: Runtime, breach_id: str, body: PublicCommunicationIn, *, staff: str
) -> PublicCommunication:
    async with rt.db.transaction() as s:
        await _get(s, breach_id)
        row = PublicCommunication(
            id="pc_" + uuid.uuid4().hex[:16],
            breach_id=breach_id,
            channel=body.channel,
            url=body.url,
            text=body.text,
            published_at=body.published_at or datetime.now(UTC),
            recorded_by=staff,
        )
        s.add(row)
        await _record(
            rt, s, PublicCommunicationRecorded(breach_id=breach_id, channel=row.channel, published_at=row.published_at)
        )
    return row


async def recipients_summary(rt: Runtime, breach_id: str) -> dict[str, int]:
    """People found and how their notification stands (sent, bounced, queued ...), from the mail outbox."""
    async with rt.db.read() as s:
        rows = (
            await s.execute(
                select(col(Recipient.status), col(MailMessage.status), func.count())
                .select_from(Recipient)
                .join(MailMessage, col(MailMessage.id) == col(Recipient.mail_id), isouter=True)
                .where(col(Recipient.breach_id) == breach_id)
                .group_by(col(Recipient.status), col(MailMessage.status))
            )
        ).all()
    summary = {"found": 0, "queued": 0, "sent": 0, "bounced": 0, "failed": 0, "dropped": 0}
    for recipient_status, mail_status, n in rows:
        summary["found"] += n
        key = mail_status or recipient_status
        if key in summary and key != "found":
            summary[key] += n
    return summary
