"""The console's pages: sign-in, the overview, data-subject requests, people, processors and ledgers.
Each route parses, calls one use-case (service.py) and answers with a page; the breach pages are in
breach_routes.py."""

from __future__ import annotations

import time
from pathlib import Path as FilePath
from typing import Annotated, Any

from fastapi import APIRouter, Form, Path, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response, StreamingResponse

from services.console import charts, service
from services.console.breach_routes import router as breach_router
from services.console.clients import SERVICES, Calls, Refused, ServiceDown
from services.console.web import (
    CSRF,
    act,
    back_to,
    calls_for,
    checked,
    end,
    lang_of,
    page_from,
    refusal_page,
    same_origin_path,
    session_of,
    sessions,
    show,
)

router = APIRouter()
router.include_router(breach_router)
RequestId = Annotated[str, Path(max_length=64)]
Service = Annotated[str, Path(pattern="^(consent|dsar|breach)$")]


STYLESHEET = (FilePath(__file__).parent / "static" / "console.css").read_bytes()


@router.get("/healthz")
async def healthz() -> dict[str, str]:
    """The console is up (the services it needs are shown per page)."""
    return {"status": "ok"}


@router.get("/assets/console.css")
async def stylesheet() -> Response:
    return Response(STYLESHEET, media_type="text/css", headers={"cache-control": "public, max-age=3600"})


@router.get("/sign-in", response_class=HTMLResponse)
async def sign_in_page(request: Request, next: Annotated[str, Query(max_length=500)] = "/") -> HTMLResponse:
    return show(
        request, "console/sign_in.html", {"next": next, "error": None, "ended": "ended" in request.query_params}
    )


@router.post("/sign-in", response_class=HTMLResponse)
async def sign_in(
    request: Request,
    token: Annotated[str, Form(max_length=500)] = "",
    next: Annotated[str, Form(max_length=500)] = "/",
    lang: Annotated[str, Form(pattern="^(nl|en|)$")] = "nl",
) -> Response:
    """The person's own token (privacyctl token create); kept only sealed in the session cookie."""
    settings = request.app.state.settings
    calls = Calls(request.app.state.http, settings.urls(), token.strip(), timeout=settings.timeout_seconds)
    person: service.Person | None = None
    error: Exception | None = None
    try:
        person = await service.sign_in(calls) if token.strip() else None
    except (Refused, ServiceDown) as exc:
        error = exc
    if person is None:
        down = isinstance(error, ServiceDown)
        context = {"next": next, "error": "down" if down else str(error) if error else "empty", "ended": False}
        return show(request, "console/sign_in.html", context, status=503 if down else 401 if token.strip() else 422)
    target = same_origin_path(next)
    response = RedirectResponse(target, status_code=303)
    data = {"token": token.strip(), "name": person.name, "scopes": sorted(person.scopes), "lang": lang or "nl"}
    sessions(request).start(response, request, data)
    return response


@router.post("/sign-out")
async def sign_out(request: Request, csrf: CSRF = "") -> Response:
    session = await session_of(request)
    checked(session, csrf)
    response = RedirectResponse("/sign-in?ended=1", status_code=303)
    await end(request, session)
    sessions(request).end(response, request)
    return response


@router.get("/", response_class=HTMLResponse)
async def overview(request: Request) -> HTMLResponse:
    session = await session_of(request)
    started = time.perf_counter()
    parts = await service.overview(calls_for(request, session))
    lang = lang_of(request, session)
    requests = parts["requests"]
    context: dict[str, Any] = {
        "parts": parts,
        "requests": service.requests_sorted(requests.value) if requests.ok else [],
        "clocks": service.clocks(parts["breaches"].value) if parts["breaches"].ok else [],
        "charts": charts.consent_charts(parts["stats"].value, lang) if parts["stats"].ok else [],
        "ops": {s: parts[f"ops_{s}"] for s in SERVICES},
        "services": SERVICES,
    }
    context["gathered_ms"] = round((time.perf_counter() - started) * 1000)
    return show(request, "console/overview.html", context, session=session)


@router.get("/requests", response_class=HTMLResponse)
async def requests(
    request: Request,
    kind: Annotated[str | None, Query(pattern="^(access|erasure|rectification|restriction|objection|)$")] = None,
    state: Annotated[str | None, Query(max_length=30)] = None,
    overdue: Annotated[str | None, Query(pattern="^(yes|no|)$")] = None,
) -> HTMLResponse:
    session = await session_of(request)
    late = {"yes": True, "no": False}.get(overdue or "")
    found = await service.request_queue(calls_for(request, session), kind=kind, state=state, overdue=late)
    context = {"found": found, "kind": kind or "", "state": state or "", "overdue": overdue or ""}
    return show(request, "console/requests.html", context, session=session)


@router.get("/requests/{request_id}", response_class=HTMLResponse)
async def request_page(request: Request, request_id: RequestId) -> Response:
    session = await session_of(request)
    return await _request_page(request, session, request_id, {})


async def _request_page(
    request: Request, session: dict[str, Any], request_id: str, form: dict[str, Any], *, status: int = 200
) -> Response:
    try:
        found = await service.request_detail(calls_for(request, session), request_id)
    except (Refused, ServiceDown) as exc:
        return refusal_page(request, session, exc)
    context = {"r": found, "form": form, "errors": form.get("errors", {}), "done": request.query_params.get("done")}
    return show(request, "console/request.html", context, session=session, status=status)


async def _request_action(request: Request, request_id: str, csrf: str, form: dict[str, Any], call: Any) -> Response:
    async def redraw(session: dict[str, Any], errors: dict[str, str], status: int) -> Response:
        return await _request_page(request, session, request_id, {**form, "errors": errors}, status=status)

    back = (f"/requests/{request_id}", str(form.get("action", "saved")))
    return await act(request, csrf, call, back=back, redraw=redraw)


@router.post("/requests/{request_id}/answers")
async def close_task(
    request: Request,
    request_id: RequestId,
    csrf: CSRF = "",
    holder: Annotated[str, Form(max_length=100)] = "",
    outcome: Annotated[str, Form(max_length=30)] = "",
    reason: Annotated[str, Form(max_length=2000)] = "",
) -> Response:
    """Close a manual holder's task; a refusal needs its GDPR 17(3) or statement Art. 11.3 reason."""
    form = {"action": "answered", "holder": holder, "outcome": outcome, "reason": reason}
    return await _request_action(
        request, request_id, csrf, form, lambda c: service.close_task(c, request_id, holder, outcome, reason)
    )


@router.post("/requests/{request_id}/extend")
async def extend(
    request: Request,
    request_id: RequestId,
    csrf: CSRF = "",
    months: Annotated[int, Form(ge=1, le=2)] = 1,
    reason: Annotated[str, Form(max_length=2000)] = "",
) -> Response:
    form = {"action": "extended", "months": months, "extend_reason": reason}
    return await _request_action(
        request, request_id, csrf, form, lambda c: service.extend(c, request_id, months, reason)
    )


@router.post("/requests/{request_id}/refuse")
async def refuse(
    request: Request, request_id: RequestId, csrf: CSRF = "", reason: Annotated[str, Form(max_length=2000)] = ""
) -> Response:
    form = {"action": "refused", "refuse_reason": reason}
    return await _request_action(request, request_id, csrf, form, lambda c: service.refuse(c, request_id, reason))


@router.get("/people", response_class=HTMLResponse)
async def people_page(request: Request) -> HTMLResponse:
    session = await session_of(request)
    return show(request, "console/people.html", {"email": "", "found": None, "error": None}, session=session)


@router.post("/people", response_class=HTMLResponse)
async def people(request: Request, csrf: CSRF = "", email: Annotated[str, Form(max_length=320)] = "") -> Response:
    """A person's consent history with its evidence (dpo scope); the address travels in bodies only."""
    session = await session_of(request)
    checked(session, csrf)
    try:
        found = await service.person_history(calls_for(request, session), email.strip())
    except Refused as exc:
        if exc.status == 403:
            return refusal_page(request, session, exc)
        context = {"email": email, "found": None, "error": exc.field_errors().get("email", exc.detail)}
        return show(request, "console/people.html", context, session=session, status=422)
    except ServiceDown as exc:
        return refusal_page(request, session, exc)
    return show(request, "console/people.html", {"email": email, "found": found, "error": None}, session=session)


@router.get("/processors", response_class=HTMLResponse)
async def processors(request: Request) -> Response:
    async def load(calls: Calls) -> dict[str, Any]:
        return {"processors": await service.processors(calls)}

    return await page_from(request, "console/processors.html", load)


@router.get("/processors/connectors/{key}", response_class=HTMLResponse)
async def connector_page(request: Request, key: Annotated[str, Path(max_length=60)]) -> Response:
    """One processor's connector: connected, needs authorisation, failing or rate-limited; its open tasks."""

    async def load(calls: Calls) -> dict[str, Any]:
        return {"c": await service.connector(calls, key)}

    return await page_from(request, "console/connector.html", load)


@router.post("/requests/{request_id}/processor-tasks/{task_id}")
async def close_processor_task(
    request: Request,
    request_id: RequestId,
    task_id: Annotated[str, Path(max_length=40)],
    csrf: CSRF = "",
    outcome: Annotated[str, Form(pattern="^(done|nothing_held|refused)$")] = "done",
    evidence: Annotated[str, Form(max_length=5000)] = "",
) -> Response:
    """A dpo closes an instructed processor's task with the evidence they have."""
    form = {"action": "processor_closed", "task": task_id, "p_outcome": outcome, "evidence": evidence}
    return await _request_action(
        request, request_id, csrf, form, lambda c: service.close_processor_task(c, task_id, outcome, evidence)
    )


@router.post("/processors/{processor_id}")
async def set_agreement(
    request: Request,
    processor_id: Annotated[str, Path(max_length=100)],
    csrf: CSRF = "",
    agreement: Annotated[str, Form(pattern="^(unknown|requested|signed|ended)$")] = "unknown",
) -> Response:
    session = await session_of(request)
    checked(session, csrf)
    try:
        await service.set_agreement(calls_for(request, session), processor_id, agreement)
    except (Refused, ServiceDown) as exc:
        return refusal_page(request, session, exc)
    return back_to("/processors", processor_id)


@router.get("/ledgers", response_class=HTMLResponse)
async def ledgers(request: Request) -> HTMLResponse:
    session = await session_of(request)
    calls = calls_for(request, session)
    found, hooks = await service.ledgers(calls), await service.webhooks(calls)
    urls = request.app.state.settings.urls()
    context = {"found": found, "hooks": hooks, "verdict": None, "urls": urls}
    return show(request, "console/ledgers.html", context, session=session)


@router.post("/ledgers/{name}/verify", response_class=HTMLResponse)
async def verify(request: Request, name: Service, csrf: CSRF = "") -> Response:
    session = await session_of(request)
    checked(session, csrf)
    calls = calls_for(request, session)
    try:
        verdict = await service.verify(calls, name)
    except ServiceDown as exc:
        return refusal_page(request, session, exc)
    found, hooks = await service.ledgers(calls), await service.webhooks(calls)
    urls = request.app.state.settings.urls()
    context = {"found": found, "hooks": hooks, "verdict": verdict, "urls": urls}
    return show(request, "console/ledgers.html", context, session=session, status=200 if verdict.ok else 409)


@router.get("/ledgers/{name}/export")
async def export(request: Request, name: Service) -> Response:
    """The service's ledger export, to verify offline with `ledger-verify <file>`."""
    session = await session_of(request)
    stream = calls_for(request, session).stream(name, "/ledger/entries")
    headers = {"content-disposition": f'attachment; filename="{name}-ledger.txt"', "cache-control": "no-store"}
    return StreamingResponse(stream, media_type="text/plain; charset=utf-8", headers=headers)
