"""Outbox rows the broker refuses for good: moved aside, so that one row can never stop the relay.

A refusal is permanent when retrying the same row can never succeed: a topic name Kafka does not allow,
a topic the broker does not have (auto-creation is off), a record larger than a batch, headers that
cannot be read, or a broker error of that kind (RecordTooLarge, InvalidTopic, ...). Such a row moves to
`outbox_dead` with the reason, is counted (`privacy_outbox_dead_lettered_total`, an alert) and shown in the
console. The rows of the same key wait behind it, their order kept, until a privacy officer requeues it
(after a fix, with a corrected topic if need be: recorded in the ledger). A transient refusal (the broker
down, not the leader, a timeout) is retried as before and never dead-lettered."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from aiokafka import errors
from pydantic import Field
from sqlalchemy import delete, func, insert, select

from services.common.db import Database
from services.common.errors import FieldError, ServiceError
from services.common.events import EventData
from services.common.models import OutboxDead, OutboxMessage, table_of

if TYPE_CHECKING:
    from services.common.runtime import Runtime

DEAD = table_of(OutboxDead)
OUTBOX = table_of(OutboxMessage)
TOPIC_NAME = re.compile(r"^[A-Za-z0-9._-]{1,249}$")  # Kafka's own rule for a topic name
PERMANENT = (
    errors.RecordTooLargeError,
    errors.MessageSizeTooLargeError,
    errors.RecordListTooLargeError,
    errors.InvalidTopicError,
    errors.TopicAuthorizationFailedError,
    errors.InvalidMessageError,
    errors.UnsupportedVersionError,
)


def topic_problem(topic: str) -> str | None:
    """Why Kafka can never take a record on `topic` (None when the name is one Kafka allows)."""
    if not TOPIC_NAME.match(topic) or topic in (".", ".."):
        return f"{topic!r} is not a valid topic name (letters, digits, '.', '_', '-'; 1 to 249)"
    return None


def permanent(exc: BaseException) -> bool:
    """Whether the broker's refusal of a record would be the same every time (else: retry it)."""
    return isinstance(exc, PERMANENT)


async def move_aside(db: Database, reasons: dict[int, str]) -> int:
    """Move the rows `reasons` names from the outbox to `outbox_dead`, each with its reason, in one
    transaction. Returns how many moved (a row already published or moved is left alone)."""
    if not reasons:
        return 0
    now = datetime.now(UTC)
    async with db.transaction(span=None) as s:
        rows = (
            await s.execute(
                select(OUTBOX.c.id, OUTBOX.c.topic, OUTBOX.c.key, OUTBOX.c.headers, OUTBOX.c.value, OUTBOX.c.created_at)
                .where(OUTBOX.c.id.in_(list(reasons)))
                .where(OUTBOX.c.published_at.is_(None))
            )
        ).all()
        if not rows:
            return 0
        await s.execute(
            insert(DEAD),
            [{**row._asdict(), "dead_at": now, "reason": reasons[row.id][:2000]} for row in rows],
        )
        await s.execute(delete(OUTBOX).where(OUTBOX.c.id.in_([row.id for row in rows])))
    return len(rows)


@dataclass(frozen=True)
class DeadFigures:
    dead: int
    held: int  # unpublished rows waiting behind a dead row of their key


async def figures(s: Any) -> DeadFigures:
    dead = (await s.execute(select(func.count()).select_from(DEAD))).scalar_one()
    held = 0
    if dead:
        held = (
            await s.execute(
                select(func.count())
                .select_from(OUTBOX)
                .where(OUTBOX.c.published_at.is_(None))
                .where(OUTBOX.c.key.in_(select(DEAD.c.key).where(DEAD.c.key.is_not(None))))
            )
        ).scalar_one()
    return DeadFigures(int(dead), int(held))


async def listing(runtime: Runtime, limit: int = 200) -> list[dict[str, Any]]:
    """The dead rows, oldest first, with how many rows of their key wait behind each."""
    async with runtime.db.read() as s:
        rows = (await s.execute(select(DEAD).order_by(DEAD.c.id).limit(limit))).all()
        keys = {row.key for row in rows if row.key is not None}
        waiting: dict[str, int] = dict(
            (
                await s.execute(
                    select(OUTBOX.c.key, func.count())
                    .where(OUTBOX.c.key.in_(keys))
                    .where(OUTBOX.c.published_at.is_(None))
                    .group_by(OUTBOX.c.key)
                )
            ).all()
        )
    return [
        {
            "id": row.id,
            "topic": row.topic,
            "reason": row.reason,
            "created_at": row.created_at,
            "dead_at": row.dead_at,
            "waiting_behind": int(waiting.get(row.key, 0)) if row.key is not None else 0,
        }
        for row in rows
    ]


class OutboxRowRequeued(EventData):
    """A privacy officer put a dead outbox row back in the outbox (after a fix; the topic corrected or not).
    A ledger entry only: who did what to which row."""

    event_type = "outbox.requeued"
    topic = None
    row_id: int = Field(ge=1, le=2**63 - 1)
    old_topic: str = Field(max_length=200)
    new_topic: str = Field(max_length=200)
    reason: str = Field(max_length=2000, description="Why it had been moved aside")
    by: str = Field(max_length=200)


async def requeue(runtime: Runtime, row_id: int, *, topic: str | None, by: str) -> dict[str, Any]:
    """Put a dead row back in its place in the outbox (its id: the rows of its key still follow it), on
    `topic` if given (a topic this service publishes on); recorded in the ledger."""
    from services.common import registry

    prefix = runtime.settings.kafka_topic_prefix
    known = {prefix + t.name for t in registry.service(runtime.name).topics}
    if topic is not None and topic not in known:
        raise FieldError(("topic",), f"not a topic this service publishes on; one of {', '.join(sorted(known))}")
    async with runtime.db.transaction() as s:
        row = (await s.execute(select(DEAD).where(DEAD.c.id == row_id))).first()
        if row is None:
            raise ServiceError(404, f"no dead outbox row {row_id}")
        new_topic = topic or row.topic
        if topic_problem(new_topic):
            raise FieldError(("topic",), f"the row's topic {row.topic!r} cannot be published on: give a topic")
        await s.execute(
            insert(OUTBOX),
            [
                {
                    "id": row.id,
                    "topic": new_topic,
                    "key": row.key,
                    "headers": row.headers,
                    "value": row.value,
                    "created_at": row.created_at,
                }
            ],
        )
        await s.execute(delete(DEAD).where(DEAD.c.id == row_id))
        entry = OutboxRowRequeued(row_id=row.id, old_topic=row.topic, new_topic=new_topic, reason=row.reason, by=by)
        await runtime.recorder.record(s, entry, publish=False)
    runtime.relay.wake()
    return {"id": row.id, "topic": new_topic, "requeued": True}
