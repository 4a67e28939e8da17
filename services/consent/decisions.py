"""The building blocks every consent use-case shares: the evidence a request carries, one decision
appended (ledger entry, record, current state), the state snapshot published, the signed links."""

from __future__ import annotations

import functools
import json
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col, select

from services.common.events import CONSENT_STATE, CloudEvent
from services.common.ids import uuid4_hex
from services.common.outbox import enqueue
from services.consent import domain
from services.consent.context import ConsentContext
from services.consent.domain import Channel, State
from services.consent.events import DECISION_EVENTS, ConsentStateSnapshot
from services.consent.models import ConsentRecord, ConsentState
from services.consent.schemas import LedgerRef


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
    """What callers read of a written record (the group-commit path builds no ORM objects)."""

    id: str
    purpose: str
    third_party: str
    state: str
    categories: str


@dataclass
class Recorded:
    record: ConsentRecord | RecordView
    ref: LedgerRef


async def decide(
    ctx: ConsentContext,
    s: AsyncSession,
    subject: str,
    purpose: domain.Purpose,
    third_party: str,
    state: State,
    reason: str | None,
    channel: Channel | str,
    categories: list[str],
    notice_version: str,
    notice_hash: str,
    personal: dict[str, Any] | None,
    actor: str | None,
) -> Recorded:
    """Append one decision: ledger entry (evidence encrypted for the subject), record, current state."""
    record_id = "cr_" + uuid4_hex()
    current = await s.get(ConsentState, (subject, purpose.id, third_party))
    state = domain.recorded_as(current.state if current else None, state)
    channel_value = channel.value if isinstance(channel, Channel) else channel
    payload = DECISION_EVENTS[state.value](
        subject=subject,
        purpose=purpose.id,
        third_party=third_party,
        record_id=record_id,
        legal_basis=purpose.legal_basis.value,
        channel=channel_value,
        categories=categories,
        notice_version=notice_version,
        notice_hash=notice_hash,
        reason=reason,
    )
    event, seq = await ctx.rt.recorder.record(s, payload, subject=subject, personal=personal)
    s.info.setdefault("after_commit", []).append(functools.partial(ctx.metrics.decided, purpose.id, state, reason))
    record = ConsentRecord(
        id=record_id,
        subject=subject,
        purpose=purpose.id,
        third_party=third_party,
        state=state.value,
        legal_basis=purpose.legal_basis.value,
        channel=channel_value,
        categories=json.dumps(categories),
        notice_version=notice_version,
        notice_hash=notice_hash,
        reason=reason,
        event_id=event.id,
        ledger_seq=seq,
        actor=actor,
        created_at=event.time,
    )
    s.add(record)
    if current is None:
        current = ConsentState(
            subject=subject,
            purpose=purpose.id,
            third_party=third_party,
            state=state.value,
            record_id=record_id,
            changed_at=event.time,
        )
    current.state, current.record_id, current.changed_at = state.value, record_id, event.time
    current.expires_at = domain.retention_end(purpose, state, event.time)
    s.add(current)
    ref = LedgerRef(
        record_id=record_id,
        purpose=purpose.id if not third_party else f"{purpose.id}:{third_party}",
        state=state.value,
        event_id=event.id,
        seq=seq,
        inclusion_proof=ctx.url(f"/ledger/proof/inclusion?event_id={event.id}"),
    )
    return Recorded(record, ref)


# --- state, history ----------------------------------------------------------------------------------------


async def current_states(s: AsyncSession, subject: str) -> dict[str, str]:
    rows = (await s.execute(select(ConsentState).where(col(ConsentState.subject) == subject))).scalars().all()
    return {(f"{r.purpose}:{r.third_party}" if r.third_party else r.purpose): r.state for r in rows}


async def publish_state(ctx: ConsentContext, s: AsyncSession, subject: str) -> None:
    """The compacted consent.state.v1 record: everything the subject currently allows."""
    await s.flush()
    states = await current_states(s, subject)
    snapshot = ConsentStateSnapshot(subject=subject, purposes=states, updated_at=datetime.now(UTC))
    event = CloudEvent.of(snapshot, source=ctx.rt.recorder.source, subject=subject)
    await enqueue(s, ctx.settings.kafka_topic_prefix + CONSENT_STATE.name, event)


# --- links ----------------------------------------------------------------------------------------------


def unsubscribe_link(ctx: ConsentContext, subject: str, purposes: list[str]) -> str:
    """A signed one-click link (and RFC 8058 POST target) that withdraws `purposes` ("*" = everything)."""
    return ctx.url("/v1/unsubscribe/" + ctx.links.sign("unsubscribe", None, s=subject, p=sorted(set(purposes))))


def history_link(ctx: ConsentContext, subject: str) -> str:
    return ctx.url("/v1/history/" + ctx.links.sign("history", ctx.settings.history_link_days * 86400, s=subject))
