"""The ledger in the service's database: appends in the caller's transaction, O(log n) proofs."""

from __future__ import annotations

import hashlib
import hmac
import json
from collections.abc import AsyncIterator, Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import tuple_
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col, select

from services.common.bulk import Writes
from services.common.crypto import canonical_json
from services.common.db import Tx, insert_ignoring_duplicates
from services.common.errors import ServiceError
from services.common.events import CloudEvent
from services.common.ledger import merkle
from services.common.ledger.note import Checkpoint, NoteSigner
from services.common.models import LedgerCheckpoint, LedgerEntry, LedgerHead, LedgerNode, table_of
from services.common.outbox import enqueue_many

ENTRY_VERSION = 2  # 1: pseudonyms in the clear; 2: every pseudonym in the entry blinded for that entry alone
PSEUDONYM_FIELDS = ("subject", "browser")  # the event data fields that hold a pseudonym


class Blinder:
    """What a public leaf says instead of a pseudonym: HMAC(key, event id, pseudonym), different for every
    entry. The public ledger still commits to who each entry is about (the service, holding the key, can
    show a person or an auditor that an entry is theirs), but nobody can tell two entries of one person
    apart from entries of two, nor find a person's entries from their pseudonym. The table keeps the real
    pseudonym in its own column, which no public route serves."""

    def __init__(self, key: bytes) -> None:
        self._mac = hmac.new(key, digestmod=hashlib.sha256)

    def __call__(self, event_id: str, pseudonym: str) -> str:
        mac = self._mac.copy()
        mac.update(event_id.encode() + b"\x00" + pseudonym.encode())
        return "b_" + mac.hexdigest()


def _pseudonym(value: Any) -> bool:
    return isinstance(value, str) and len(value) == 64 and all(c in "0123456789abcdef" for c in value)


@dataclass(frozen=True)
class LedgerRecord:
    """What a use-case commits to the log. `data` holds non-personal facts; personal data only as ciphertext."""

    event_id: str
    event_type: str
    subject: str | None = None
    data: dict[str, Any] = field(default_factory=dict)
    key_id: str | None = None
    ciphertext: str | None = None
    time: datetime = field(default_factory=lambda: datetime.now(UTC))

    def canonical(self, seq: int, blind: Blinder | None = None) -> bytes:
        """The leaf's bytes: sorted-key compact UTF-8 JSON, so anyone can recompute the hash. With `blind`,
        the subject and every pseudonym in the data are blinded for this entry (version 2)."""
        subject, data = self.subject, self.data
        if blind is not None:
            subject = blind(self.event_id, subject) if subject else subject
            hidden = [k for k in PSEUDONYM_FIELDS if _pseudonym(data.get(k))]
            if hidden:
                data = {**data, **{k: blind(self.event_id, data[k]) for k in hidden}}
        return canonical_json(
            {
                "v": ENTRY_VERSION if blind is not None else 1,
                "seq": seq,
                "event_id": self.event_id,
                "type": self.event_type,
                "time": self.time.astimezone(UTC).isoformat(timespec="microseconds").replace("+00:00", "Z"),
                "subject": subject,
                "data": data,
                "key_id": self.key_id,
                "ciphertext": self.ciphertext,
            }
        )


@dataclass
class ProofStats:
    """How much work a proof took: database round trips and nodes read."""

    queries: int = 0
    nodes: int = 0


async def _head(tx: Tx) -> tuple[int, list[bytes]]:
    """The ledger's size and frontier, the head row locked: appends are serialized, no gap, no fork."""
    size, stored = await tx.row_for_update(table_of(LedgerHead), ("size", "frontier"), "id", 1)
    return int(size), [bytes.fromhex(x) for x in json.loads(stored)]


Row = tuple[bytes, str, str, str | None, datetime]  # an entry's bytes, event id, type, subject and time


def _grow(writes: Writes, size: int, frontier: list[bytes], rows: list[Row]) -> list[dict[str, Any]]:
    """Entries (bytes, event id, type, subject, time) from `size` on: their rows, the tree's new nodes and the
    new head, added to `writes`. Returns the entry rows."""
    entries: list[dict[str, Any]] = []
    nodes: list[dict[str, Any]] = []
    for entry, event_id, event_type, subject, moment in rows:
        frontier, new_nodes = merkle.append_leaf(frontier, size, merkle.leaf_hash(entry))
        entries.append(
            {
                "seq": size,
                "event_id": event_id,
                "event_type": event_type,
                "subject": subject,
                "entry": entry,
                "created_at": moment,
            }
        )
        nodes.extend({"level": lv, "index": ix, "hash": h} for lv, ix, h in new_nodes)
        size += 1
    writes.insert(table_of(LedgerEntry), entries)
    writes.insert(table_of(LedgerNode), nodes)
    writes.update(table_of(LedgerHead), {"id": 1}, {"size": size, "frontier": json.dumps([h.hex() for h in frontier])})
    return entries


class Ledger:
    def __init__(self, signer: NoteSigner, *, blind_key: bytes | None = None) -> None:
        self.signer = signer
        self.blind = Blinder(blind_key) if blind_key is not None else None
        # the outbox events that carry appended entries to Kafka (journal.py), in the same transaction
        self.journal: Callable[[list[dict[str, Any]]], list[tuple[str, CloudEvent]]] | None = None
        # why nothing may be appended now (the ledger not yet compared after a start, or broken: recovery.py)
        self.closed: Callable[[], str | None] = lambda: None

    # --- writing -----------------------------------------------------------------------------

    async def append(
        self, where: AsyncSession | Tx, records: Iterable[LedgerRecord], writes: Writes | None = None
    ) -> list[int]:
        """Append in the caller's transaction. The head row lock serializes writers: no gap, no fork.
        With `writes`, the rows are added there for the caller to send with its own (group commit)."""
        records = list(records)
        if not records:
            return []
        why = self.closed()
        if why:  # refused before anything is written: a write now would fork the history
            raise ServiceError(
                503, f"nothing can be written now: {why}; try again later", headers={"Retry-After": "30"}
            )
        tx = Tx.of(where)
        size, frontier = await _head(tx)
        rows: list[Row] = []
        for record in records:
            entry = record.canonical(size + len(rows), self.blind)
            rows.append((entry, record.event_id, record.event_type, record.subject, record.time))
        own = writes is None
        writes = Writes() if writes is None else writes
        entries = _grow(writes, size, frontier, rows)
        if self.journal is not None:
            await enqueue_many(tx, self.journal(entries), writes)
        if own:
            await writes.execute(tx)
        return [e["seq"] for e in entries]

    async def append_exact(self, where: AsyncSession | Tx, lost: list[Any]) -> int:
        """Append entries rebuilt from the journal (journal.Lost: seq, entry bytes, subject) exactly as they
        were, without sending them again; the first must be the next seq. Returns the new size."""
        tx = Tx.of(where)
        size, frontier = await _head(tx)
        rows: list[Row] = []
        for at, item in enumerate(lost, start=size):
            parsed = json.loads(item.entry)
            if item.seq != at or parsed.get("seq") != at:
                raise merkle.ProofError(f"entry {item.seq} (naming seq {parsed.get('seq')}) cannot be entry {at}")
            moment = datetime.fromisoformat(parsed["time"].replace("Z", "+00:00"))
            rows.append((item.entry, parsed["event_id"], parsed["type"], item.subject, moment))
        writes = Writes()
        _grow(writes, size, frontier, rows)
        await writes.execute(tx)
        return size + len(rows)

    async def sign_checkpoint(self, session: AsyncSession) -> LedgerCheckpoint | None:
        """Sign the current head unless the latest checkpoint already covers it; None if nothing new."""
        size, root = await self.head(session)
        latest = await self.latest_checkpoint(session)
        if latest is not None and latest.size >= size:
            return None
        note = self.signer.sign(Checkpoint(self.signer.name, size, root))
        await session.execute(
            insert_ignoring_duplicates(
                session,
                table_of(LedgerCheckpoint),
                {"size": size, "root": root, "note": note, "created_at": datetime.now(UTC)},
            )
        )
        return LedgerCheckpoint(size=size, root=root, note=note)

    # --- reading -----------------------------------------------------------------------------

    async def head(self, session: AsyncSession) -> tuple[int, bytes]:
        head = (await session.execute(select(LedgerHead).where(col(LedgerHead.id) == 1))).scalar_one()
        return head.size, merkle.frontier_root([bytes.fromhex(x) for x in json.loads(head.frontier)])

    async def latest_checkpoint(self, session: AsyncSession) -> LedgerCheckpoint | None:
        return (
            await session.execute(select(LedgerCheckpoint).order_by(col(LedgerCheckpoint.size).desc()).limit(1))
        ).scalar_one_or_none()

    async def checkpoint_at(self, session: AsyncSession, size: int) -> LedgerCheckpoint | None:
        return await session.get(LedgerCheckpoint, size)

    async def entry(
        self, session: AsyncSession, *, seq: int | None = None, event_id: str | None = None
    ) -> LedgerEntry | None:
        query = select(LedgerEntry)
        query = (
            query.where(LedgerEntry.seq == seq) if seq is not None else query.where(LedgerEntry.event_id == event_id)
        )
        return (await session.execute(query)).scalar_one_or_none()

    async def _nodes(
        self, session: AsyncSession, wanted: list[tuple[int, int]], stats: ProofStats
    ) -> dict[tuple[int, int], bytes]:
        if not wanted:
            return {}
        rows = (
            await session.execute(
                select(LedgerNode.level, LedgerNode.index, LedgerNode.hash).where(
                    tuple_(LedgerNode.level, LedgerNode.index).in_(wanted)
                )
            )
        ).all()
        stats.queries += 1
        stats.nodes += len(rows)
        found = {(lv, ix): h for lv, ix, h in rows}
        missing = [k for k in wanted if k not in found]
        if missing:
            raise merkle.ProofError(f"ledger nodes missing from the database: {missing[:5]}")
        return found

    async def inclusion_proof(
        self, session: AsyncSession, seq: int, size: int, stats: ProofStats | None = None
    ) -> list[bytes]:
        stats = stats or ProofStats()
        wanted = merkle.nodes_needed(lambda get: merkle.inclusion_proof(seq, size, get))
        nodes = await self._nodes(session, wanted, stats)
        return merkle.inclusion_proof(seq, size, lambda lv, ix: nodes[(lv, ix)])

    async def consistency_proof(
        self, session: AsyncSession, old: int, new: int, stats: ProofStats | None = None
    ) -> list[bytes]:
        stats = stats or ProofStats()
        wanted = merkle.nodes_needed(lambda get: merkle.consistency_proof(old, new, get))
        nodes = await self._nodes(session, wanted, stats)
        return merkle.consistency_proof(old, new, lambda lv, ix: nodes[(lv, ix)])

    async def root_at(self, session: AsyncSession, size: int) -> bytes:
        if size == 0:
            return merkle.EMPTY_ROOT
        wanted = merkle.nodes_needed(lambda get: merkle.subtree_hash(0, size, get))
        nodes = await self._nodes(session, wanted, ProofStats())
        return merkle.subtree_hash(0, size, lambda lv, ix: nodes[(lv, ix)])

    async def checkpoints(self, session: AsyncSession, up_to: int) -> list[LedgerCheckpoint]:
        return list(
            (
                await session.execute(
                    select(LedgerCheckpoint).where(LedgerCheckpoint.size <= up_to).order_by(LedgerCheckpoint.size)  # type: ignore[arg-type]
                )
            ).scalars()
        )

    async def stream_entries(
        self, session: AsyncSession, start: int, end: int, batch: int = 5000
    ) -> AsyncIterator[tuple[int, bytes, bytes]]:
        """(seq, leaf hash as stored in the tree, entry bytes) for [start, end), in keyset-paginated batches.
        The leaf hash comes from the node table, so an edited entry shows up as a mismatch at its seq."""
        cursor = start
        while cursor < end:
            rows = (
                await session.execute(
                    select(LedgerEntry.seq, LedgerNode.hash, LedgerEntry.entry)
                    .join(LedgerNode, (LedgerNode.level == 0) & (LedgerNode.index == LedgerEntry.seq))  # type: ignore[arg-type]
                    .where(LedgerEntry.seq >= cursor, LedgerEntry.seq < min(end, cursor + batch))
                    .order_by(LedgerEntry.seq)  # type: ignore[arg-type]
                )
            ).all()
            if not rows:
                return
            for seq, leaf, entry in rows:
                yield seq, leaf, entry
            cursor = rows[-1][0] + 1
