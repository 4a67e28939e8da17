"""Group-committed captures: the common case (no double opt-in, no parent, no browser to link) written
for many requests at once with a few bulk statements. Same records, ledger entries and events as the
one-by-one path in service.py, which handles every other case."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from services.common.bulk import Writes
from services.common.db import Tx
from services.common.events import CONSENT_EVENTS, CONSENT_STATE, CloudEvent
from services.common.ids import uuid4_hex
from services.common.ledger.store import LedgerRecord
from services.common.models import table_of
from services.common.outbox import enqueue_many
from services.consent import domain
from services.consent.context import ConsentContext
from services.consent.decisions import Recorded, RecordView
from services.consent.domain import State
from services.consent.events import DECISION_EVENTS, ConsentStateSnapshot
from services.consent.models import ConsentRecord, ConsentState, ConsentSubject
from services.consent.schemas import LedgerRef

SUBJECTS = table_of(ConsentSubject)
RECORDS = table_of(ConsentRecord)
STATES = table_of(ConsentState)


@dataclass(frozen=True)
class Decision:
    purpose: domain.Purpose
    third_party: str
    state: State
    reason: str | None


@dataclass(frozen=True)
class CaptureItem:
    subject: str
    kind: str
    channel: str
    categories: list[str]
    notice_version: str
    notice_hash: str
    personal: dict[str, Any]
    actor: str | None
    decisions: list[Decision]
    at: datetime
    traceparent: str | None = None  # the request's span: its events carry it on (the flush runs elsewhere)


def _key(purpose: str, third_party: str) -> str:
    return f"{purpose}:{third_party}" if third_party else purpose


async def flush(ctx: ConsentContext, tx: Tx, items: Sequence[CaptureItem]) -> list[list[Any]]:
    subjects = {i.subject for i in items}
    writes = Writes()  # everything below is sent as one statement at the end (see services/common/bulk.py)
    keys = await ctx.rt.vault.keys_for_many(tx, subjects, writes)
    new_subjects = {
        i.subject: {"subject": i.subject, "kind": i.kind, "person": None, "created_at": i.at} for i in items
    }
    writes.insert(SUBJECTS, list(new_subjects.values()), on_conflict=("subject",))
    current: dict[str, dict[str, str]] = {subject: {} for subject in subjects}
    known = await tx.rows_in(STATES, ("subject", "purpose", "third_party", "state"), "subject", subjects)
    for subject, purpose, third_party, state in known:
        current[subject][_key(purpose, third_party)] = state

    ledger: list[LedgerRecord] = []
    events: list[tuple[str, CloudEvent]] = []
    records: list[dict[str, Any]] = []
    states: dict[tuple[str, str, str], dict[str, Any]] = {}
    prefix = ctx.settings.kafka_topic_prefix
    for item in items:
        key_id, key = keys[item.subject]
        ciphertext = ctx.rt.vault.seal(item.subject, key_id, key, item.personal)
        for d in item.decisions:
            record_id = "cr_" + uuid4_hex()
            state = domain.recorded_as(current[item.subject].get(_key(d.purpose.id, d.third_party)), d.state)
            payload = DECISION_EVENTS[state.value](
                subject=item.subject,
                purpose=d.purpose.id,
                third_party=d.third_party,
                record_id=record_id,
                legal_basis=d.purpose.legal_basis.value,
                channel=item.channel,
                categories=item.categories,
                notice_version=item.notice_version,
                notice_hash=item.notice_hash,
                reason=d.reason,
            )
            event = CloudEvent.of(
                payload, source=ctx.rt.recorder.source, subject=item.subject, time=item.at, traceparent=item.traceparent
            )
            ledger.append(
                LedgerRecord(
                    event_id=event.id,
                    event_type=event.type,
                    subject=item.subject,
                    data=event.data or {},
                    key_id=key_id,
                    ciphertext=ciphertext,
                    time=item.at,
                )
            )
            events.append((prefix + CONSENT_EVENTS.name, event))
            records.append(
                {
                    "id": record_id,
                    "subject": item.subject,
                    "purpose": d.purpose.id,
                    "third_party": d.third_party,
                    "state": state.value,
                    "legal_basis": d.purpose.legal_basis.value,
                    "channel": item.channel,
                    "categories": json.dumps(item.categories),
                    "notice_version": item.notice_version,
                    "notice_hash": item.notice_hash,
                    "reason": d.reason,
                    "event_id": event.id,
                    "ledger_seq": -1,
                    "actor": item.actor,
                    "created_at": item.at,
                }
            )
            states[(item.subject, d.purpose.id, d.third_party)] = {
                "subject": item.subject,
                "purpose": d.purpose.id,
                "third_party": d.third_party,
                "state": state.value,
                "record_id": record_id,
                "changed_at": item.at,
                "expires_at": domain.retention_end(d.purpose, state, item.at),
            }
            current[item.subject][_key(d.purpose.id, d.third_party)] = state.value
    seqs = await ctx.rt.ledger.append(tx, ledger, writes)
    for record, seq in zip(records, seqs, strict=True):
        record["ledger_seq"] = seq
    writes.insert(RECORDS, records)
    writes.insert(
        STATES,
        list(states.values()),
        on_conflict=("subject", "purpose", "third_party"),
        update=("state", "record_id", "changed_at", "expires_at"),
    )
    traced = {i.subject: i.traceparent for i in items}
    for subject in sorted(subjects):
        snapshot = ConsentStateSnapshot(subject=subject, purposes=current[subject], updated_at=items[-1].at)
        state_event = CloudEvent.of(
            snapshot, source=ctx.rt.recorder.source, subject=subject, traceparent=traced.get(subject)
        )
        events.append((prefix + CONSENT_STATE.name, state_event))
    await enqueue_many(tx, events, writes)
    await writes.execute(tx)

    out: list[list[Any]] = []
    position = 0
    for item in items:
        done = []
        for _ in item.decisions:
            r = records[position]
            position += 1
            model = RecordView(
                id=r["id"],
                purpose=r["purpose"],
                third_party=r["third_party"],
                state=r["state"],
                categories=r["categories"],
            )
            ref = LedgerRef(
                record_id=r["id"],
                purpose=_key(r["purpose"], r["third_party"]),
                state=r["state"],
                event_id=r["event_id"],
                seq=r["ledger_seq"],
                inclusion_proof=ctx.url(f"/ledger/proof/inclusion?event_id={r['event_id']}"),
            )
            done.append(Recorded(model, ref))
        out.append(done)
    return out
