"""On start, before a single request: the database's ledger against what the service published.

A restored (or lost and rebuilt) database is behind what Kafka saw. Every entry travels on ledger.entries.v1
(journal.py), so the entries after the backup are rebuilt exactly, the root of the largest checkpoint the
service published on ledger.checkpoints.v1 is reached again (or the start says why not), and what the rebuilt
entries record is done again: keys destroyed again, consents withdrawn again (each service's `reapply`
handlers, by event type). Consumer groups that must see their records again (`ConsumerSpec.replay`) are moved
back to the backup's time. Where the ledger cannot be rebuilt, the service refuses writes (`/readyz` 503, why)
until an operator acknowledges the break (`privacyctl ledger acknowledge`): a signed entry names the last
published checkpoint, the restored size and the entries lost, and a new log epoch (a new origin) begins."""

from __future__ import annotations

import asyncio
import base64
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from aiokafka import AIOKafkaConsumer, TopicPartition
from pydantic import Field
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col, select

from services.common.contracts import SubjectShredded
from services.common.events import LEDGER_CHECKPOINTS, EventData, event_type
from services.common.ledger.journal import Journal, JournalGap, Lost, partitions_of, reader
from services.common.ledger.tables import LedgerRecovery
from services.common.models import LedgerEntry

log = logging.getLogger(__name__)
MARGIN = timedelta(minutes=5)  # records are read from this long before the last entry the database holds
BATCH = 5000  # entries rebuilt and re-applied per transaction
# A service's handler for one event type: the batch's rebuilt entries of that type, in ledger order, done again
# in the batch's transaction; returns how many it did again. Handlers run in the order of the `reapply` dict.
Reapply = Callable[[Any, AsyncSession, list[Lost]], Awaitable[int]]


@event_type
class LedgerEpochStarted(EventData):
    """A break in a ledger's history, acknowledged by an operator: what was lost, and the new origin after it."""

    event_type = "ledger.epoch.started"
    topic = LEDGER_CHECKPOINTS.name
    origin: str = Field(description="The new epoch's origin (its checkpoints are signed under this name).")
    previous_origin: str
    epoch: int = Field(ge=2, le=2**31 - 1)
    published_size: int = Field(ge=0, le=2**63 - 1, description="The largest checkpoint published before the break.")
    published_root: str | None = Field(None, description="Its root, base64.")
    restored_size: int = Field(ge=0, le=2**63 - 1, description="The size the database held after the restore.")
    lost: int = Field(
        ge=0, le=2**63 - 1, description="Entries published but not rebuilt (published_size - restored_size)."
    )
    reason: str = Field(max_length=2000)
    acknowledged_by: str = Field(max_length=200)


@dataclass
class Integrity:
    """Whether the service may write: `sound` once compared (or the check is switched off), `checking`
    before, `broken` when the ledger could not be rebuilt and nobody acknowledged it yet."""

    state: str = "checking"
    reason: str = "the ledger is being compared with what was published on Kafka"

    @property
    def writable(self) -> bool:
        return self.state == "sound"

    def describe(self) -> str:
        return f"{self.state} ({self.reason})"


async def shred_again(rt: Any, s: AsyncSession, lost: list[Lost]) -> int:
    """subject.shredded, in any service: the keys the restore brought back are destroyed again."""
    subjects = {entry.subject for entry in lost if entry.subject is not None}
    return await rt.vault.shred_many(s, subjects) if subjects else 0


COMMON_REAPPLY: dict[str, Reapply] = {SubjectShredded.type_name(): shred_again}


def origin_of(base: str, epoch: int) -> str:
    return base if epoch <= 1 else f"{base}/epoch{epoch}"


async def epoch_of(s: AsyncSession) -> int:
    found = (await s.execute(select(LedgerRecovery.epoch).order_by(col(LedgerRecovery.id).desc()).limit(1))).first()
    return int(found[0]) if found else 1


async def latest(s: AsyncSession) -> LedgerRecovery | None:
    return (
        await s.execute(select(LedgerRecovery).order_by(col(LedgerRecovery.id).desc()).limit(1))
    ).scalar_one_or_none()


async def check(rt: Any) -> Integrity:
    """Compare, rebuild, re-apply; the service's integrity as found. Kafka must answer (the caller retries)."""
    bootstrap = rt.settings.kafka_bootstrap_servers
    journal: Journal = rt.journal
    async with rt.db.read() as s:
        size, _root = await rt.ledger.head(s)
        last = (await s.execute(select(LedgerEntry.created_at).where(col(LedgerEntry.seq) == size - 1))).scalar()
        marker = await latest(s)
    if marker is not None and marker.outcome == "broken":
        return Integrity("broken", marker.detail)
    since = last - MARGIN if last is not None else datetime.fromtimestamp(0, UTC)
    restored, recovered, reapplied = size, 0, 0
    async with reader(bootstrap) as consumer:  # one Kafka client for both reads
        published = await journal.published(consumer, since, rt.signer.verifier_key)
        try:
            pending: list[Lost] = []
            async for lost in journal.read(consumer, since, size):
                pending.append(lost)
                if len(pending) >= BATCH:
                    reapplied += await _rebuild(rt, pending)
                    recovered, pending = recovered + len(pending), []
            if pending:
                reapplied += await _rebuild(rt, pending)
                recovered += len(pending)
        except JournalGap as gap:
            return await _broken(rt, restored, published, f"{gap}: the ledger cannot be rebuilt exactly")
    size += recovered
    if published is not None:
        p_size, p_root = published
        if p_size > size:
            why = f"checkpoint {p_size} was published, and the journal rebuilds the ledger only to {size}"
            return await _broken(rt, restored, published, why)
        async with rt.db.read() as s:
            root = await rt.ledger.root_at(s, p_size)
        if base64.b64encode(root).decode() != p_root:
            why = f"the ledger's root at {p_size} is not the root published for that size: the history was rewritten"
            return await _broken(rt, restored, published, why)
    if recovered or (marker is not None and marker.outcome == "restored"):  # a restore is shown with its outcome
        detail = f"restored at {restored} entries; {recovered} rebuilt from the journal and {reapplied} re-applied"
        detail += f"; the published checkpoint {published[0]} verifies" if published else ""
        await _note(rt, "recovered", restored, published, recovered, reapplied, detail)
        if recovered:
            await rewind(rt, since)
        log.warning("ledger of %s: %s", rt.name, detail)
    return Integrity("sound", "")


async def _rebuild(rt: Any, lost: list[Lost]) -> int:
    """Append a batch exactly, and do again what it records, in one transaction."""
    done = 0
    by_type: dict[str, list[Lost]] = {}
    for entry in lost:
        kind = entry.event_type
        if kind in rt.reapply:
            by_type.setdefault(kind, []).append(entry)
    async with rt.db.transaction() as s:
        await rt.ledger.append_exact(s, lost)
        for kind, handler in rt.reapply.items():
            if kind in by_type:
                done += await handler(rt, s, by_type[kind])
    return done


async def _broken(rt: Any, restored: int, published: tuple[int, str] | None, why: str) -> Integrity:
    await _note(rt, "broken", restored, published, 0, 0, why)
    log.error("ledger of %s is broken, writes refused until acknowledged: %s", rt.name, why)
    return Integrity("broken", why)


async def _note(
    rt: Any,
    outcome: str,
    restored: int,
    published: tuple[int, str] | None,
    recovered: int,
    reapplied: int,
    detail: str,
) -> None:
    async with rt.db.transaction() as s:
        s.add(
            LedgerRecovery(
                outcome=outcome,
                restored_size=restored,
                published_size=published[0] if published else 0,
                recovered=recovered,
                reapplied=reapplied,
                epoch=await epoch_of(s),
                detail=detail,
            )
        )


async def rewind(rt: Any, since: datetime) -> None:
    """Consumer groups that replay after a restore start again from `since` (their handlers are idempotent:
    what was done before the restore and survived it is not done twice)."""
    for spec, consumer in zip(rt.consumer_specs, rt.consumers, strict=True):
        if not spec.replay:
            continue
        client = AIOKafkaConsumer(
            bootstrap_servers=rt.settings.kafka_bootstrap_servers, group_id=consumer.group, enable_auto_commit=False
        )
        try:
            await client.start()
            wanted = {}
            for topic in consumer.topics:
                for partition in await partitions_of(client, topic):
                    wanted[TopicPartition(topic, partition)] = int(since.timestamp() * 1000)
            if not wanted:
                continue
            found = await client.offsets_for_times(wanted)
            ends = await client.end_offsets(list(wanted))
            client.assign(list(wanted))
            offsets = {tp: (f.offset if f is not None else ends[tp]) for tp, f in found.items()}
            committed = {tp: await client.committed(tp) for tp in wanted}
            earlier = {tp: o for tp, o in offsets.items() if committed[tp] is None or o < committed[tp]}
            if earlier:
                await client.commit(earlier)
                log.warning("consumer group %s moved back to %s for a restore", consumer.group, since.isoformat())
        finally:
            await client.stop()


async def acknowledge(rt: Any, by: str) -> str:
    """An operator accepts a break: a signed entry names what was lost, and the next epoch begins."""
    async with rt.db.transaction() as s:
        marker = await latest(s)
        if marker is None or marker.outcome != "broken":
            raise ValueError(f"{rt.name}: the ledger is not broken; there is nothing to acknowledge")
        epoch = marker.epoch + 1
        previous, origin = rt.signer.name, origin_of(rt.settings.ledger_origin, epoch)
        published = await rt.ledger.latest_checkpoint(s)
        rt.use_epoch(epoch)
        payload = LedgerEpochStarted(
            origin=origin,
            previous_origin=previous,
            epoch=epoch,
            published_size=marker.published_size,
            published_root=base64.b64encode(published.root).decode() if published is not None else None,
            restored_size=marker.restored_size,
            lost=max(0, marker.published_size - marker.restored_size),
            reason=marker.detail[:2000],
            acknowledged_by=by[:200],
        )
        _event, seq = await rt.recorder.record(s, payload, key=origin)
        s.add(
            LedgerRecovery(
                outcome="acknowledged",
                restored_size=marker.restored_size,
                published_size=marker.published_size,
                epoch=epoch,
                detail=f"acknowledged by {by}: entry {seq} records the break; epoch {epoch} is {origin}",
            )
        )
    return f"{rt.name}: break recorded as entry {seq}; new epoch {epoch}, origin {origin}"


async def watch(rt: Any) -> None:
    """While broken: look for the operator's acknowledgement (privacyctl writes it to the database)."""
    while rt.integrity.state == "broken":
        await asyncio.sleep(2.0)
        async with rt.db.read() as s:
            marker = await latest(s)
        if marker is not None and marker.outcome == "acknowledged":
            rt.use_epoch(marker.epoch)
            rt.integrity = Integrity("sound", "")
            rt.after_sound()
            log.warning("ledger of %s acknowledged: %s", rt.name, marker.detail)
