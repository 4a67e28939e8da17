"""Public, read-only HTTP access to a service's ledger: checkpoint, key, proofs, export."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, HTTPException, Query, Request
from fastapi.responses import PlainTextResponse, StreamingResponse
from pydantic import BaseModel

from services.common.auth import Open
from services.common.contract import refusals
from services.common.ledger import proofs
from services.common.ledger.proofs import LEDGER_MAX, ConsistencyProof, InclusionProof, b64

MAX_INDEX = LEDGER_MAX
router = APIRouter(
    prefix="/ledger", tags=["ledger"], dependencies=[Depends(Open("the ledger is public so that anyone can audit it"))]
)


def _runtime(request: Request) -> Any:
    return request.app.state.runtime


Rt = Annotated[Any, Depends(_runtime)]  # the service's runtime (its ledger, signer and database)


class PublicKey(BaseModel):
    origin: str
    algorithm: str = "ed25519"
    public_key: str
    vkey: str


@router.get("/checkpoint", response_class=PlainTextResponse, responses=refusals(404))
async def checkpoint(rt: Rt) -> PlainTextResponse:
    """The latest signed tree head as a C2SP tlog-checkpoint signed note, with the cosignature lines
    (C2SP tlog-cosignature) of the witnesses that cosigned it."""
    note = await proofs.served_checkpoint(rt)
    if note is None:
        raise HTTPException(404, "the ledger is empty: no checkpoint yet")
    return PlainTextResponse(note, media_type="text/plain; charset=utf-8")


@router.get("/public-key")
async def public_key(rt: Rt) -> PublicKey:
    signer = rt.signer
    return PublicKey(origin=signer.name, public_key=b64(signer.public), vkey=signer.verifier_key)


@router.get("/proof/inclusion", responses=refusals(404, 409))
async def inclusion(
    rt: Rt,
    seq: Annotated[int | None, Query(ge=0, le=MAX_INDEX, description="Entry sequence number")] = None,
    event_id: Annotated[str | None, Query(max_length=100, description="Or the entry's event id")] = None,
    tree_size: Annotated[
        int | None, Query(ge=1, le=MAX_INDEX, description="A checkpointed size; default the latest")
    ] = None,
) -> InclusionProof:
    """An entry's audit path to a signed checkpoint (RFC 9162), with the entry and the checkpoint."""
    return await proofs.inclusion(rt, seq=seq, event_id=event_id, tree_size=tree_size)


@router.get("/proof/consistency")
async def consistency(
    rt: Rt,
    old_size: Annotated[int, Query(ge=0, le=MAX_INDEX)],
    new_size: Annotated[int | None, Query(ge=0, le=MAX_INDEX, description="Default: the latest checkpoint")] = None,
) -> ConsistencyProof:
    """That the log at `old_size` is a prefix of the log at `new_size` (RFC 9162)."""
    return await proofs.consistency(rt, old_size, new_size)


@router.get(
    "/entries",
    response_class=PlainTextResponse,
    responses={200: {"content": {"text/plain": {"schema": {"type": "string"}}}, "description": "The export"}},
)
async def entries(
    rt: Rt,
    start: Annotated[int, Query(ge=0, le=MAX_INDEX)] = 0,
    end: Annotated[int | None, Query(ge=0, le=MAX_INDEX, description="Default: the latest checkpoint's size")] = None,
) -> StreamingResponse:
    """Streaming export (format privacy-ledger-export/1): a JSON header line with the signing key and
    every signed checkpoint up to `end`, then one line per entry: `<hex leaf hash> <entry>`, the entry
    being the leaf's canonical JSON exactly as hashed (it holds no newline)."""
    return StreamingResponse(await proofs.export(rt, start, end), media_type="text/plain; charset=utf-8")
