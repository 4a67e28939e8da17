"""The people affected by a breach (GDPR 34): found over Kafka, told by mail, or told publicly."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import bindparam, insert, update
from sqlalchemy import select as sa_select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import select

from services.breach import apform, told
from services.breach.events import (
    PublicCommunicationRecorded,
    SubjectsNotified,
)
from services.breach.models import AffectedQuery, Breach, PublicCommunication, Recipient
from services.breach.schemas import (
    AffectedQueryIn,
    NotifyIn,
    PublicCommunicationIn,
)
from services.breach.service import get_breach, record_event
from services.common.contracts import AffectedSubjectsFound, AffectedSubjectsRequested, open_fragment
from services.common.db import Tx, insert_ignoring_duplicates
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


async def ask_affected(rt: Runtime, breach_id: str, body: AffectedQueryIn) -> AffectedQuery:
    """Ask every holder over Kafka who is touched and how to reach them."""
    async with rt.db.transaction() as s:
        breach = await get_breach(s, breach_id)
        details = json.loads(breach.details)
        start = body.window_start or breach.started_at or breach.awareness_at
        end = body.window_end or breach.ended_at or datetime.now(UTC)
        if end < start:
            raise FieldError(("window_end",), "the window ends before it starts")
        categories = sorted({c for cat in details["categories"] for c in CONSENT_CATEGORIES.get(cat, [cat])})
        query = AffectedQuery(id="aq_" + uuid.uuid4().hex[:16], breach_id=breach_id)
        s.add(query)
        await record_event(
            rt,
            s,
            AffectedSubjectsRequested(
                breach_id=breach_id,
                query_id=query.id,
                processors=body.processors or details.get("processors", []),
                categories=categories,
                window_start=start,
                window_end=end,
                reach=body.reach,
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
    people = open_fragment(rt.sealing, found.query_id, found.sealed)["people"] if found.sealed else []
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


def _kinds(codes: list[str], lang: str) -> str:
    """The AP form's categories of data in words, in one language (apform.VALUES holds "nl / en")."""
    index = 1 if lang == "en" else 0
    return ", ".join(apform.VALUES.get(c, c).split(" / ")[index] for c in codes)


def _notice(breach: Breach, body: NotifyIn, name: str | None, centre_url: str = "") -> tuple[str, str]:
    """GDPR 34(2): in plain language, the nature of the breach, who to ask, the likely consequences and the
    measures. We do not know each person's language: Dutch first, then the same in English below; what the
    officer wrote only in Dutch is marked as such in the English part."""
    d = json.loads(breach.details)
    contact = d.get("contact") or d["reporter"]
    who = f"{contact['name']} ({contact.get('email') or 'team@jezaakvoorelkaar.nl'})"
    in_dutch = "(described in Dutch above)"
    nl = (
        f"{f'Beste {name},' if name else 'Beste,'}\n\n"
        f"Bij ons is een datalek ontstaan waarbij jouw gegevens betrokken zijn: {_kinds(d['categories'], 'nl')}.\n"
        f"Wat er gebeurde: {breach.description}\n\n"
        f"Mogelijke gevolgen: {body.likely_consequences}\nWat wij doen: {body.measures}\n"
        + (f"Wat je zelf kunt doen: {body.advice}\n" if body.advice else "")
        + f"\nVragen? {who}, of antwoord op deze mail.\n"
        "Je kunt een klacht indienen bij de Autoriteit Persoonsgegevens (autoriteitpersoonsgegevens.nl).\n"
        + (f"Wat we van je hebben, zie je in je privacycentrum: {centre_url}\n" if centre_url else "")
    )
    en = (
        f"{f'Dear {name},' if name else 'Hello,'}\n\n"
        f"A data breach at our company involved your data: {_kinds(d['categories'], 'en')}.\n"
        f"What happened: {body.description_en or in_dutch}\n\n"
        f"Likely consequences: {body.likely_consequences_en or in_dutch}\n"
        f"What we do: {body.measures_en or in_dutch}\n"
        + (f"What you can do yourself: {body.advice_en or in_dutch}\n" if body.advice else "")
        + f"\nQuestions? {who}, or reply to this mail.\n"
        "You may complain to the Dutch Data Protection Authority (autoriteitpersoonsgegevens.nl).\n"
        + (f"See what we hold about you in your privacy centre: {centre_url}?lang=en\n" if centre_url else "")
    )
    return "Belangrijk: datalek met jouw gegevens / Data breach notice", nl + "\n---\n\n" + en


async def notify_subjects(rt: Runtime, breach_id: str, body: NotifyIn, *, staff: str, chunk: int = 2000) -> int:
    """GDPR 34: tell every person found, in plain language, through the mail outbox. Idempotent: a person
    already queued is not mailed twice. Works through the list in chunks (bulk statements)."""
    queued = 0
    async with rt.db.transaction() as s:
        breach = await get_breach(s, breach_id)
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
            # read only: a person erased since they were found has no key, and gets none
            keys = await rt.vault.keys_for_many(s, {row.subject for row in rows}, create=False)
            now = datetime.now(UTC)
            mails, marks = [], []
            for row in rows:
                if row.subject not in keys or keys[row.subject][0] != row.key_id:
                    continue  # erased since it was found: the contact details are gone with the old key
                key_id, key = keys[row.subject]
                contact = rt.vault.open(row.subject, key_id, key, row.contact)
                subject_line, text = _notice(breach, body, contact.get("name"), rt.settings.privacy_centre_url)
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
                Tx.of(s).wake()
                queued += len(mails)
        await record_event(rt, s, SubjectsNotified(breach_id=breach_id, queued=queued))
    return queued


async def public_communication(
    rt: Runtime, breach_id: str, body: PublicCommunicationIn, *, staff: str
) -> PublicCommunication:
    async with rt.db.transaction() as s:
        await get_breach(s, breach_id)
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
        await record_event(
            rt, s, PublicCommunicationRecorded(breach_id=breach_id, channel=row.channel, published_at=row.published_at)
        )
    return row


async def recipients_summary(rt: Runtime, breach_id: str) -> dict[str, int]:
    """People found and how their notification stands (sent, bounced, queued ...), from the mail outbox."""
    async with rt.db.read() as s:
        return await told.tally(s, breach_id)


async def told_about(s: AsyncSession, subject: str) -> list[dict[str, Any]]:
    """The breaches this person was (or is being) told about, for their access request."""
    r, b, m = table_of(Recipient).c, table_of(Breach).c, table_of(MailMessage).c
    rows = (
        await s.execute(
            sa_select(b.id, b.title, b.description, b.awareness_at, r.status, m.sent_at)
            .select_from(table_of(Recipient).join(table_of(Breach), b.id == r.breach_id))
            .outerjoin(table_of(MailMessage), m.id == r.mail_id)
            .where(r.subject == subject, r.status != "found")
            .order_by(b.awareness_at)
        )
    ).all()
    return [
        {
            "breach_id": row.id,
            "title": row.title,
            "description": row.description,
            "found_at": row.awareness_at,
            "status": row.status,
            "sent_at": row.sent_at,
        }
        for row in rows
    ]
