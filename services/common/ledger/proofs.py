"""What the ledger's public routes answer: the latest checkpoint, proofs against a signed checkpoint, the
export. Each reads in a session of its own; a refusal is a ServiceError with the status to answer."""

from __future__ import annotations

import base64
import json
from collections.abc import AsyncIterator
from typing import Any

from pydantic import BaseModel, Field
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from services.common.errors import ServiceError
from services.common.ledger import merkle
from services.common.ledger.cosign import with_cosignatures
from services.common.ledger.tables import LedgerCosignature
from services.common.ledger.witness import cosignatures

LEDGER_MAX = 2**63 - 1  # sequence numbers and sizes are BIGINT in the database

EXPORT_FORMAT = "privacy-ledger-export/1"


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


class InclusionProof(BaseModel):
    seq: int = Field(ge=0, le=LEDGER_MAX)
    event_id: str
    tree_size: int = Field(ge=1, le=LEDGER_MAX)
    leaf_hash: str
    entry: str
    proof: list[str]
    checkpoint: str


class ConsistencyProof(BaseModel):
    old_size: int = Field(ge=0, le=LEDGER_MAX)
    new_size: int = Field(ge=0, le=LEDGER_MAX)
    old_root: str
    new_root: str
    proof: list[str]


async def current_checkpoint(runtime: Any) -> Any:
    """The latest signed checkpoint, signing one first when the log has grown past it."""
    await runtime.checkpoint_now()
    async with runtime.db.read() as session:
        return await runtime.ledger.latest_checkpoint(session)


async def served_checkpoint(runtime: Any) -> str | None:
    """The latest checkpoint's note as served (None while the ledger is empty)."""
    cp = await current_checkpoint(runtime)
    if cp is None:
        return None
    async with runtime.db.read() as session:
        return await served_note(session, cp)


async def served_note(session: AsyncSession, cp: Any) -> str:
    """A checkpoint's note as served: the service's signature, then each witness's cosignature line."""
    return with_cosignatures(cp.note, await cosignatures(session, cp.size))


async def _cosigned_covering(runtime: Any, session: AsyncSession, seq: int) -> Any:
    """The largest checkpoint a witness cosigned that covers entry `seq` (None when none does yet)."""
    size = (
        await session.execute(select(func.max(LedgerCosignature.size)).where(LedgerCosignature.size > seq))  # type: ignore[arg-type]
    ).scalar()
    return await runtime.ledger.checkpoint_at(session, size) if size is not None else None


async def inclusion(runtime: Any, *, seq: int | None, event_id: str | None, tree_size: int | None) -> InclusionProof:
    """An entry (by seq or event id) and its audit path to a signed checkpoint (default the latest)."""
    if (seq is None) == (event_id is None):
        raise ServiceError(422, "give exactly one of seq or event_id")
    cp = await current_checkpoint(runtime)
    async with runtime.db.read() as session:
        if tree_size is not None:
            cp = await runtime.ledger.checkpoint_at(session, tree_size)
            if cp is None:
                raise ServiceError(404, f"no signed checkpoint at tree_size {tree_size}")
        entry = await runtime.ledger.entry(session, seq=seq, event_id=event_id)
        if entry is None:
            raise ServiceError(404, "no such ledger entry")
        if tree_size is None:  # a checkpoint a witness also signed, where there is one
            cp = await _cosigned_covering(runtime, session, entry.seq) or cp
        if cp is None or entry.seq >= cp.size:
            raise ServiceError(409, f"entry {entry.seq} is not covered by checkpoint size {cp.size if cp else 0}")
        proof = await runtime.ledger.inclusion_proof(session, entry.seq, cp.size)
        note = await served_note(session, cp)
    return InclusionProof(
        seq=entry.seq,
        event_id=entry.event_id,
        tree_size=cp.size,
        leaf_hash=b64(merkle.leaf_hash(entry.entry)),
        entry=b64(entry.entry),
        proof=[b64(p) for p in proof],
        checkpoint=note,
    )


async def checkpoint_time(runtime: Any, size: int) -> Any:
    """When the checkpoint of `size` was signed (as the ledger kept it; the note itself carries no time)."""
    async with runtime.db.read() as session:
        cp = await runtime.ledger.checkpoint_at(session, size)
    return getattr(cp, "created_at", None) if cp is not None else None


async def consistency(runtime: Any, old_size: int, new_size: int | None) -> ConsistencyProof:
    """That the log at `old_size` is a prefix of the log at `new_size` (default the latest checkpoint)."""
    cp = await current_checkpoint(runtime)
    latest = cp.size if cp else 0
    new = latest if new_size is None else new_size
    if not old_size <= new <= latest:
        raise ServiceError(422, f"need old_size <= new_size <= {latest} (the latest checkpoint)")
    async with runtime.db.read() as session:
        proof = await runtime.ledger.consistency_proof(session, old_size, new)
        old_root = await runtime.ledger.root_at(session, old_size)
        new_root = await runtime.ledger.root_at(session, new)
    return ConsistencyProof(
        old_size=old_size, new_size=new, old_root=b64(old_root), new_root=b64(new_root), proof=[b64(p) for p in proof]
    )


async def export(runtime: Any, start: int, end: int | None) -> AsyncIterator[bytes]:
    """The export (format privacy-ledger-export/1): a JSON header line with the signing key and every signed
    checkpoint up to `end`, then one line per entry, `<hex leaf hash> <entry>`, the entry being the leaf's
    canonical JSON exactly as hashed (it holds no newline). The header is read before the first byte goes."""
    cp = await current_checkpoint(runtime)
    size = cp.size if cp else 0
    stop = size if end is None else min(end, size)
    async with runtime.db.read() as session:
        cosigned: dict[int, list[str]] = {}
        rows = await session.execute(
            select(col(LedgerCosignature.size), col(LedgerCosignature.line))
            .where(col(LedgerCosignature.size) <= stop)
            .order_by(col(LedgerCosignature.witness))
        )
        for size_of, line in rows:
            cosigned.setdefault(size_of, []).append(line)
        kept = await runtime.ledger.checkpoints(session, stop)
        notes = [with_cosignatures(c.note, cosigned.get(c.size, [])) for c in kept]
    header = {
        "format": EXPORT_FORMAT,
        "origin": runtime.signer.name,
        "vkey": runtime.signer.verifier_key,
        "start": start,
        "end": stop,
        "checkpoints": notes,
    }

    async def lines() -> AsyncIterator[bytes]:
        yield json.dumps(header).encode() + b"\n"
        async with runtime.db.read() as session:
            chunk: list[bytes] = []
            async for _seq, leaf, entry in runtime.ledger.stream_entries(session, start, stop):
                chunk.append(b"%s %s\n" % (leaf.hex().encode(), entry))
                if len(chunk) >= 1000:
                    yield b"".join(chunk)
                    chunk = []
            if chunk:
                yield b"".join(chunk)

    return lines()
