"""Public, read-only HTTP access to a service's ledger: checkpoint, key, proofs, export."""

from __future__ import annotations

import base64
import json
from collections.abc import AsyncIterator
from typing import Annotated, Any

from fastapi import APIRouter, Depends, HTTPException, Query, Request
from fastapi.responses import PlainTextResponse, StreamingResponse
from pydantic import BaseModel

from services.common.auth import Open
from services.common.contract import refusals
from services.common.ledger import merkle

MAX_INDEX = 2**63 - 1  # sequence numbers and sizes are BIGINT in the database
router = APIRouter(
    prefix="/ledger", tags=["ledger"], dependencies=[Depends(Open("the ledger is public so that anyone can audit it"))]
)
EXPORT_FORMAT = "privacy-ledger-export/1"


def _runtime(request: Request) -> Any:
    return request.app.state.runtime


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


class PublicKey(BaseModel):
    origin: str
    algorithm: str = "ed25519"
    public_key: str
    vkey: str


class InclusionProof(BaseModel):
    seq: int
    event_id: str
    tree_size: int
    leaf_hash: str
    entry: str
    proof: list[str]
    checkpoint: str


class ConsistencyProof(BaseModel):
    old_size: int
    new_size: int
    old_root: str
    new_root: str
    proof: list[str]


async def _current_checkpoint(runtime: Any) -> Any:
    """The latest signed checkpoint, signing one first when the log has grown past it."""
    await runtime.checkpoint_now()
    async with runtime.db.read() as session:
        return await runtime.ledger.latest_checkpoint(session)


@router.get("/checkpoint", response_class=PlainTextResponse, responses=refusals(404))
async def checkpoint(request: Request) -> PlainTextResponse:
    """The latest signed tree head as a C2SP tlog-checkpoint signed note."""
    cp = await _current_checkpoint(_runtime(request))
    if cp is None:
        raise HTTPException(404, "the ledger is empty: no checkpoint yet")
    return PlainTextResponse(cp.note, media_type="text/plain; charset=utf-8")


@router.get("/public-key")
async def public_key(request: Request) -> PublicKey:
    signer = _runtime(request).signer
    return PublicKey(origin=signer.name, public_key=b64(signer.public), vkey=signer.verifier_key)


@router.get("/proof/inclusion", responses=refusals(404, 409))
async def inclusion(
    request: Request,
    seq: Annotated[int | None, Query(ge=0, le=MAX_INDEX, description="Entry sequence number")] = None,
    event_id: Annotated[str | None, Query(max_length=100, description="Or the entry's event id")] = None,
    tree_size: Annotated[
        int | None, Query(ge=1, le=MAX_INDEX, description="A checkpointed size; default the latest")
    ] = None,
) -> InclusionProof:
    runtime = _runtime(request)
    if (seq is None) == (event_id is None):
        raise HTTPException(422, "give exactly one of seq or event_id")
    cp = await _current_checkpoint(runtime)
    async with runtime.db.read() as session:
        if tree_size is not None:
            cp = await runtime.ledger.checkpoint_at(session, tree_size)
            if cp is None:
                raise HTTPException(404, f"no signed checkpoint at tree_size {tree_size}")
        entry = await runtime.ledger.entry(session, seq=seq, event_id=event_id)
        if entry is None:
            raise HTTPException(404, "no such ledger entry")
        if cp is None or entry.seq >= cp.size:
            raise HTTPException(409, f"entry {entry.seq} is not covered by checkpoint size {cp.size if cp else 0}")
        proof = await runtime.ledger.inclusion_proof(session, entry.seq, cp.size)
    return InclusionProof(
        seq=entry.seq,
        event_id=entry.event_id,
        tree_size=cp.size,
        leaf_hash=b64(merkle.leaf_hash(entry.entry)),
        entry=b64(entry.entry),
        proof=[b64(p) for p in proof],
        checkpoint=cp.note,
    )


@router.get("/proof/consistency")
async def consistency(
    request: Request,
    old_size: Annotated[int, Query(ge=0, le=MAX_INDEX)],
    new_size: Annotated[int | None, Query(ge=0, le=MAX_INDEX, description="Default: the latest checkpoint")] = None,
) -> ConsistencyProof:
    runtime = _runtime(request)
    cp = await _current_checkpoint(runtime)
    latest = cp.size if cp else 0
    new = latest if new_size is None else new_size
    if not old_size <= new <= latest:
        raise HTTPException(422, f"need old_size <= new_size <= {latest} (the latest checkpoint)")
    async with runtime.db.read() as session:
        proof = await runtime.ledger.consistency_proof(session, old_size, new)
        old_root = await runtime.ledger.root_at(session, old_size)
        new_root = await runtime.ledger.root_at(session, new)
    return ConsistencyProof(
        old_size=old_size, new_size=new, old_root=b64(old_root), new_root=b64(new_root), proof=[b64(p) for p in proof]
    )


@router.get(
    "/entries",
    response_class=PlainTextResponse,
    responses={200: {"content": {"text/plain": {"schema": {"type": "string"}}}, "description": "The export"}},
)
async def entries(
    request: Request,
    start: Annotated[int, Query(ge=0, le=MAX_INDEX)] = 0,
    end: Annotated[int | None, Query(ge=0, le=MAX_INDEX, description="Default: the latest checkpoint's size")] = None,
) -> StreamingResponse:
    """Streaming export (format privacy-ledger-export/1): a JSON header line with the signing key and
    every signed checkpoint up to `end`, then one line per entry: `<hex leaf hash> <entry>`, the entry
    being the leaf's canonical JSON exactly as hashed (it holds no newline)."""
    runtime = _runtime(request)
    cp = await _current_checkpoint(runtime)
    size = cp.size if cp else 0
    stop = size if end is None else min(end, size)
    async with runtime.db.read() as session:
        notes = [c.note for c in await runtime.ledger.checkpoints(session, stop)]
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

    return StreamingResponse(lines(), media_type="text/plain; charset=utf-8")
