"""Routes of the processors service: staff's (bearer tokens, scopes dpo and admin), and the page an instructed
processor answers on (its signed link)."""

from __future__ import annotations

from pathlib import Path as FilePath
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Form, HTTPException, Path, Query, Request
from fastapi.encoders import jsonable_encoder
from fastapi.responses import HTMLResponse

from services.common import pages
from services.common.auth import Open, Principal, Scope, Scoped
from services.common.contract import refusals
from services.processors import instructions, views
from services.processors.context import ProcessorsContext
from services.processors.schemas import AuthoriseIn, CloseIn

router = APIRouter(prefix="/admin", tags=["processors"])
Staff = Annotated[Principal, Depends(Scoped(Scope.DPO, Scope.ADMIN))]
Admin = Annotated[Principal, Depends(Scoped(Scope.ADMIN))]
GONE = refusals(404, 410)  # a link we never made (404), or an instruction answered already (410)


def context(request: Request) -> ProcessorsContext:
    return ProcessorsContext.of(request.app.state.runtime)


Ctx = Annotated[ProcessorsContext, Depends(context)]


@router.get("/connectors")
async def connectors(ctx: Ctx, _: Staff) -> list[dict[str, Any]]:
    """Every processor of statement Art. 8 with a connector: automated, submitted, instructed or exempt;
    connected, needs authorisation, failing, rate-limited or not configured; open tasks; last success."""
    found: list[dict[str, Any]] = jsonable_encoder(await views.connectors(ctx))
    return found


@router.get("/connectors/{key}", responses=refusals(404))
async def connector(key: Annotated[str, Path(max_length=60)], ctx: Ctx, _: Staff) -> dict[str, Any]:
    """One connector: how it stands, and its open tasks with their deadlines (no personal data)."""
    found = await views.connector(ctx, key)
    if found is None:
        raise HTTPException(404, "no connector with this key")
    shown: dict[str, Any] = jsonable_encoder(found)
    return shown


@router.put("/connectors/{key}/authorisation", responses=refusals(404))
async def authorise(key: Annotated[str, Path(max_length=60)], body: AuthoriseIn, ctx: Ctx, _: Admin) -> dict[str, str]:
    """Authorise an OAuth2 connector again (after "needs authorisation"): its new refresh token is stored
    sealed and the tasks that waited for it are due at once."""
    keeper = ctx.keeper(key)
    if keeper is None:
        raise HTTPException(404, "no OAuth2 connector with this key is configured")
    await keeper.authorise(body.refresh_token)
    return {"key": key, "state": "connected"}


@router.get("/requests/{request_id}", responses=refusals(404))
async def request_tasks(request_id: Annotated[str, Path(max_length=64)], ctx: Ctx, _: Staff) -> dict[str, Any]:
    """Each processor's part of a data-subject request: asked when, its outcome, what was sent (templates)."""
    tasks = await views.request_tasks(ctx, request_id)
    if not tasks:
        raise HTTPException(404, "no processor was asked anything for this request")
    return {"request_id": request_id, "tasks": jsonable_encoder(tasks)}


# --- an instructed processor's link (the signed token in the path is the credential) ---------------------

links = APIRouter(tags=["instructions"])
LINK = Open("the signed token in the path, mailed to the processor's privacy contact, is the credential")
TOKEN = Annotated[str, Path(min_length=10, max_length=2000)]
LANG = Annotated[str, Query(pattern="^(nl|en)$")]
TEMPLATES = pages.templates(FilePath(__file__).parent)
WHAT = {
    "nl": {"erasure": "verwijderen", "access": "inzage", "rectification": "verbeteren", "restriction": "beperken"},
    "en": {"erasure": "erasure", "access": "access", "rectification": "rectification", "restriction": "restriction"},
}


def _page(request: Request, info: dict[str, Any], lang: str, status: int = 200) -> HTMLResponse:
    what = WHAT[lang].get(info["action"], info["action"])
    context_ = {"info": info, "lang": lang, "what": what}
    return pages.page(TEMPLATES, request, "instruction.html", context_, personal=True, status=status)


@links.get("/v1/instructions/{token}", response_class=HTMLResponse, dependencies=[Depends(LINK)], responses=GONE)
async def instruction(token: TOKEN, request: Request, ctx: Ctx, lang: LANG = "nl") -> HTMLResponse:
    """The instruction as its processor reads it: whom for, what, by when; a form to answer once."""
    return _page(request, await instructions.view(ctx, token), lang)


@links.post("/v1/instructions/{token}", response_class=HTMLResponse, dependencies=[Depends(LINK)], responses=GONE)
async def answer_instruction(
    token: TOKEN,
    request: Request,
    ctx: Ctx,
    outcome: Annotated[Literal["done", "nothing_held", "refused"], Form()],
    details: Annotated[str, Form(max_length=5000)] = "",
    lang: LANG = "nl",
) -> HTMLResponse:
    """The processor's answer: done (for access: what it holds), nothing held, or refused with its reason. Once."""
    info = await instructions.answer(ctx, token, outcome=outcome, details=details)
    return _page(request, info, lang)


@router.post("/tasks/{task_id}/close", responses=refusals(404, 410, 422))
async def close_task(
    task_id: Annotated[str, Path(max_length=40)], body: CloseIn, ctx: Ctx, principal: Staff
) -> dict[str, Any]:
    """A dpo closes an instructed task with the evidence they have (the processor's reply by mail, a call)."""
    task = await instructions.close(
        ctx, task_id, outcome=body.outcome, details=body.evidence, by=f"{principal.name} (dpo)"
    )
    return {"task_id": task.id, "state": task.state, "outcome": task.outcome}
