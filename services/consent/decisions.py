"""The consent decision as a unit of work, one code for every path.

A capture, a confirmation, a withdrawal and an expiry all come here: `know` reads what the decisions are
made against (the subjects' current states and, for evidence, their keys), `write` turns one item into
rows, ledger entries and outbox events in its own `Unit`, and `services/common/unit.py: flush` sends the
units. The group commit (`flush_captures`, many requests at once) and a use-case alone (`decide`) are these
same three steps; only how many items share a transaction differs."""

from __future__ import annotations

import functools
import hashlib
import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col, select

from services.common.contracts import seal_fragment
from services.common.db import Tx
from services.common.events import CONSENT_EVENTS, CONSENT_STATE, CloudEvent
from services.common.ids import uuid4_hex
from services.common.ledger.store import LedgerRecord
from services.common.models import table_of
from services.common.unit import Unit, flush
from services.consent import domain, pushes
from services.consent.domain import State
from services.consent.events import DECISION_EVENTS, ConsentStateSnapshot
from services.consent.models import ConsentRecord, ConsentState, ConsentSubject
from services.consent.schemas import LedgerRef

if TYPE_CHECKING:  # the context builds the group commit around `flush_captures`
    from services.consent.context import ConsentContext

SUBJECTS = table_of(ConsentSubject)
RECORDS = table_of(ConsentRecord)
STATES = table_of(ConsentState)


@dataclass(frozen=True)
class Evidence:
    """What the server itself observed about a request (never taken from the body)."""

    ip: str | None
    user_agent: str | None
    page: str | None
    gpc: bool
    site: str | None
    at: datetime = field(default_factory=lambda: datetime.now(UTC))

    def personal(self) -> dict[str, Any]:
        return {
            "ip": self.ip,
            "user_agent": self.user_agent,
            "page": self.page,
            "gpc": self.gpc,
            "site": self.site,
            "at": self.at.isoformat(),
        }


@dataclass(frozen=True)
class RecordView:
    """What callers read of a written record (no path builds ORM objects for them any more)."""

    id: str
    purpose: str
    third_party: str
    state: str
    categories: str


@dataclass
class Recorded:
    record: RecordView
    ref: LedgerRef


@dataclass(frozen=True)
class Decision:
    purpose: domain.Purpose
    third_party: str
    state: State
    reason: str | None


@dataclass(frozen=True)
class Item:
    """Decisions for one subject, with what they rest on. `kind` (email, browser) makes the subject known
    if it is new; `personal` is the evidence, kept only encrypted for the subject."""

    subject: str
    channel: str
    categories: list[str]
    notice_version: str
    notice_hash: str
    personal: dict[str, Any] | None
    actor: str | None
    decisions: list[Decision]
    at: datetime
    kind: str | None = None
    public: bool = False  # a person's address through a public route: it may not lower what they gave
    traceparent: str | None = None  # the request's span: its events carry it on (a group commit runs elsewhere)
    address: str | None = None  # the person's, read back (contacts.py) for a change carried to the processors


@dataclass
class Known:
    """What a unit's decisions are made against: each subject's current states (updated as items are
    written, so that later items of the same subject see earlier ones) and the keys for their evidence."""

    states: dict[str, dict[str, str]]
    keys: dict[str, tuple[str, bytes]]
    before: dict[str, dict[str, str]] | None = None  # the states as read, before the unit: what changed
    targets: tuple[pushes.Target, ...] = ()  # the webhook endpoints told of changes


key_of = domain.key_of  # purpose, or purpose:third party: how states are keyed


async def know(ctx: ConsentContext, tx: Tx, items: Sequence[Item], unit: Unit) -> Known:
    """Two reads for any number of items; the keys still missing are created in `unit`."""
    states = await states_of(tx, {i.subject for i in items})
    sealed = {i.subject for i in items if i.personal}
    keys = await ctx.rt.vault.keys_for_many(tx, sealed, unit.writes) if sealed else {}
    targets = await ctx.pushes.fresh(tx)
    before = {subject: dict(held) for subject, held in states.items()} if targets else None
    return Known(states, keys, before, targets)


async def states_of(tx: Tx, subjects: set[str]) -> dict[str, dict[str, str]]:
    states: dict[str, dict[str, str]] = {subject: {} for subject in subjects}
    for subject, purpose, third_party, state in await tx.rows_in(
        STATES, ("subject", "purpose", "third_party", "state"), "subject", subjects
    ):
        states[subject][key_of(purpose, third_party)] = state
    return states


def write(ctx: ConsentContext, known: Known, item: Item, unit: Unit) -> list[dict[str, Any]]:
    """One item's decisions into `unit`: a ledger entry each (the evidence encrypted for the subject), a
    record each, the current states. Returns the records' rows (their `ledger_seq` is set by the flush)."""
    if item.kind is not None:
        unit.insert(
            SUBJECTS,
            [{"subject": item.subject, "kind": item.kind, "person": None, "created_at": item.at}],
            on_conflict=("subject",),
        )
    key_id = ciphertext = None
    if item.personal:
        key_id, key = known.keys[item.subject]
        refusing = all(d.state == State.DENIED for d in item.decisions)
        personal = domain.refusal_evidence(item.personal) if refusing else item.personal
        ciphertext = ctx.rt.vault.seal(item.subject, key_id, key, personal)
    current = known.states[item.subject]
    link_lifetime = timedelta(hours=ctx.settings.optin_token_hours)
    records: list[dict[str, Any]] = []
    states: list[dict[str, Any]] = []
    for d in item.decisions:
        record_id = "cr_" + uuid4_hex()
        previous = current.get(key_of(d.purpose.id, d.third_party))
        # held: what the form said is in the ledger (as any refusal or sign-up is), the person's state is not
        # changed and nothing is published; the person is asked by mail (see service.capture)
        held = item.public and domain.held_for_person(previous, d.state)
        state = d.state if held else domain.recorded_as(previous, d.state)
        contact = None
        if not held and d.purpose.processors and domain.carried_to_processors(state, d.reason):
            address = (item.personal or {}).get("email") or item.address
            contact = seal_fragment(ctx.rt.sealing, record_id, {"email": address}) if address else None
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
            contact=contact,
        )
        event = CloudEvent.of(
            payload, source=ctx.rt.recorder.source, subject=item.subject, time=item.at, traceparent=item.traceparent
        )
        record = {
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
        unit.append(
            LedgerRecord(
                event_id=event.id,
                event_type=event.type,
                subject=item.subject,
                data=_digested(event.data or {}),
                key_id=key_id,
                ciphertext=ciphertext,
                time=item.at,
            ),
            seq_into=record,
        )
        records.append(record)
        if held:
            continue
        unit.publish(ctx.settings.kafka_topic_prefix + CONSENT_EVENTS.name, event)
        states.append(
            {
                "subject": item.subject,
                "purpose": d.purpose.id,
                "third_party": d.third_party,
                "state": state.value,
                "record_id": record_id,
                "changed_at": item.at,
                "expires_at": domain.retention_end(d.purpose, state, item.at, link_lifetime=link_lifetime),
            }
        )
        unit.after_commit(functools.partial(ctx.metrics.decided, d.purpose.id, state, d.reason))
        current[key_of(d.purpose.id, d.third_party)] = state.value
    unit.insert(RECORDS, records)
    if not states:
        return records
    unit.insert(
        STATES,
        states,
        on_conflict=("subject", "purpose", "third_party"),
        update=("state", "record_id", "changed_at", "expires_at"),
    )
    return records


def _digested(data: dict[str, Any]) -> dict[str, Any]:
    """The ledger keeps a sealed contact as its digest: an erasure must not leave it readable in the log."""
    if data.get("contact") is None:
        return data
    return {**data, "contact": "sha256:" + hashlib.sha256(str(data["contact"]).encode()).hexdigest()}


def snapshot(
    ctx: ConsentContext,
    known: Known,
    subject: str,
    unit: Unit,
    *,
    at: datetime | None = None,
    traceparent: str | None = None,
    address: str | None = None,
) -> None:
    """The compacted consent.state.v1 record: everything the subject allows once the unit is written, and the
    webhook deliveries of the change (`address`: the person's, where the change carried it)."""
    state = ConsentStateSnapshot(
        subject=subject, purposes=dict(known.states[subject]), updated_at=at or datetime.now(UTC)
    )
    event = CloudEvent.of(state, source=ctx.rt.recorder.source, subject=subject, traceparent=traceparent)
    unit.publish(ctx.settings.kafka_topic_prefix + CONSENT_STATE.name, event)
    if known.targets:  # the same change for systems not on Kafka (webhooks), in the same transaction
        sealed = None
        if address and subject in known.keys:
            key_id, key = known.keys[subject]
            sealed = (key_id, ctx.rt.vault.seal(subject, key_id, key, {"email": address}))
        before = known.before.get(subject) if known.before is not None else None
        found = pushes.rows(known.targets, subject, known.states[subject], before, state.updated_at, sealed)
        if found:
            unit.insert(pushes.DELIVERIES, found)
            unit.after_commit(ctx.pushes.written.set)


def recorded(ctx: ConsentContext, records: list[dict[str, Any]]) -> list[Recorded]:
    """What the caller answers with, from the flushed rows."""
    return [
        Recorded(
            RecordView(
                id=r["id"],
                purpose=r["purpose"],
                third_party=r["third_party"],
                state=r["state"],
                categories=r["categories"],
            ),
            LedgerRef(
                record_id=r["id"],
                purpose=key_of(r["purpose"], r["third_party"]),
                state=r["state"],
                event_id=r["event_id"],
                seq=r["ledger_seq"],
                inclusion_proof=ctx.url(f"/ledger/proof/inclusion?event_id={r['event_id']}"),
            ),
        )
        for r in records
    ]


async def flush_captures(
    ctx: ConsentContext, tx: Tx, items: Sequence[Item], *, publish: bool = True
) -> list[list[Recorded]]:
    """Items in one transaction, each its own unit, then (with `publish`) one state snapshot per subject.
    The group commit calls it with many requests' items, `decide` with one use-case's."""
    if not items:
        return []
    reads = Unit()
    known = await know(ctx, tx, items, reads)
    units = [Unit() for _ in items]
    written = [write(ctx, known, item, unit) for item, unit in zip(items, units, strict=True)]
    snapshots = Unit()
    if publish:
        traced = {i.subject: i.traceparent for i in items}
        addresses = {i.subject: i.personal["email"] for i in items if i.personal and i.personal.get("email")}
        for subject in sorted(known.states):
            snapshot(
                ctx,
                known,
                subject,
                snapshots,
                at=items[-1].at,
                traceparent=traced.get(subject),
                address=addresses.get(subject),
            )
    await flush(tx, ctx.rt.ledger, [reads, *units, snapshots])
    return [recorded(ctx, records) for records in written]


async def decide(
    ctx: ConsentContext, s: AsyncSession, items: Sequence[Item], *, publish: bool = True
) -> list[Recorded]:
    """A use-case's decisions in its own transaction: `flush_captures` in the session's transaction, after
    the session's own pending rows (a subject made by the use-case, a used token)."""
    await s.flush()
    return [r for done in await flush_captures(ctx, Tx.of(s), items, publish=publish) for r in done]


# --- state, history ----------------------------------------------------------------------------------------


async def current_states(s: AsyncSession, subject: str) -> dict[str, str]:
    query = select(ConsentState).where(col(ConsentState.subject) == subject).execution_options(populate_existing=True)
    rows = (await s.execute(query)).scalars().all()  # fresh: a unit may have written them since they were read
    return {key_of(r.purpose, r.third_party): r.state for r in rows}


async def publish_state(ctx: ConsentContext, s: AsyncSession, subject: str) -> None:
    """The subject's state snapshot after a use-case that changed it by other means (an erasure, a
    withdrawal the caller gathered): read as the database has it now, published through a unit."""
    await s.flush()
    tx = Tx.of(s)
    unit = Unit()
    snapshot(ctx, Known(await states_of(tx, {subject}), {}, None, await ctx.pushes.fresh(tx)), subject, unit)
    await flush(tx, ctx.rt.ledger, [unit])


# --- links ----------------------------------------------------------------------------------------------


def unsubscribe_link(ctx: ConsentContext, subject: str, purposes: list[str]) -> str:
    """A signed one-click link (and RFC 8058 POST target) that withdraws `purposes` ("*" = everything)."""
    return ctx.url("/v1/unsubscribe/" + ctx.links.sign("unsubscribe", None, s=subject, p=sorted(set(purposes))))


def history_link(ctx: ConsentContext, subject: str) -> str:
    return ctx.url("/v1/history/" + ctx.links.sign("history", ctx.settings.history_link_days * 86400, s=subject))
