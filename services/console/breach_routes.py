"""The console's breach pages: the register (GDPR 33(5)), registering one with the AP form's fields, the
expert's findings, the risk decision beside the system's suggestion, the AP notification to print and its
submission, the people affected and telling them."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Form, Path, Request
from fastapi.responses import HTMLResponse, Response

from services.console import service
from services.console.clients import Calls, Refused, ServiceDown
from services.console.web import CSRF, act, back_to, calls_for, checked, page_from, refusal_page, session_of, show

router = APIRouter(prefix="/breaches")
AMSTERDAM = ZoneInfo("Europe/Amsterdam")
BreachId = Annotated[str, Path(max_length=40)]
NoteId = Annotated[str, Path(max_length=40)]
Text = Annotated[str, Form(max_length=10000)]
NATURES = ("confidentiality", "integrity", "availability")
ACTS = ("reading", "copying", "changing", "deleting", "theft")
CATEGORIES = (
    "name_address",
    "phone",
    "email",
    "login_data",
    "financial",
    "bsn",
    "passport_copies",
    "gender_birthdate_age",
    "special_categories",
    "criminal_data",
    "other",
)
LEVELS = ("low", "medium", "high")


def moment(local: str) -> str | None:
    """A `datetime-local` field (Amsterdam time, as the person reads the clock) as ISO 8601 with its offset."""
    if not local.strip():
        return None
    try:
        return datetime.fromisoformat(local.strip()).replace(tzinfo=AMSTERDAM).isoformat()
    except ValueError:
        return local  # the service names the field and why


def number(text: str) -> int | str:
    return int(text) if text.strip().isdigit() else text


@router.get("", response_class=HTMLResponse)
async def register_page(request: Request) -> Response:
    async def load(calls: Calls) -> dict[str, Any]:
        return {"breaches": await service.breach_register(calls)}

    return await page_from(request, "console/breaches.html", load)


def _form_context(form: dict[str, Any], errors: dict[str, str]) -> dict[str, Any]:
    return {"form": form, "errors": errors, "natures": NATURES, "acts": ACTS, "categories": CATEGORIES}


@router.get("/new", response_class=HTMLResponse)
async def new_page(request: Request) -> HTMLResponse:
    session = await session_of(request)
    form = {"reporter_name": session.get("name", ""), "nature": [], "acts": [], "categories": []}
    return show(request, "console/breach_new.html", _form_context(form, {}), session=session)


@router.post("", response_class=HTMLResponse)
async def register(request: Request) -> Response:
    """Register a breach; a refusal comes back with the person's input kept and the field named."""
    session = await session_of(request)
    data = await request.form()
    checked(session, str(data.get("csrf", "")))
    form: dict[str, Any] = {k: str(v) for k, v in data.items() if k not in ("nature", "acts", "categories")}
    for many in ("nature", "acts", "categories"):
        form[many] = [str(v) for v in data.getlist(many)]
    body = {
        "title": form.get("title", ""),
        "description": form.get("description", ""),
        "awareness_at": moment(form.get("awareness_at", "")),
        "started_at": moment(form.get("started_at", "")),
        "ongoing": form.get("ongoing") == "on",
        "nature": form["nature"],
        "acts": form["acts"],
        "categories": form["categories"],
        "subjects_min": number(form.get("subjects_min", "")),
        "subjects_max": number(form.get("subjects_max", "")),
        "subject_categories": [c.strip() for c in form.get("subject_categories", "").split(",") if c.strip()],
        "encrypted": form.get("encrypted") == "on",
        "consequences": form.get("consequences") or None,
        "measures": form.get("measures") or None,
        "reporter": {"name": form.get("reporter_name", ""), "email": form.get("reporter_email") or None},
    }
    try:
        created = await service.register_breach(calls_for(request, session), body)
    except Refused as exc:
        if exc.status == 403:
            return refusal_page(request, session, exc)
        errors = exc.field_errors() or {"form": exc.detail}
        return show(request, "console/breach_new.html", _form_context(form, errors), session=session, status=422)
    except ServiceDown as exc:
        return refusal_page(request, session, exc)
    return back_to(f"/breaches/{created['id']}", "registered")


async def _page(
    request: Request, session: dict[str, Any], breach_id: str, extra: dict[str, Any], *, status: int = 200
) -> Response:
    try:
        breach = await service.breach_detail(calls_for(request, session), breach_id)
    except (Refused, ServiceDown) as exc:
        return refusal_page(request, session, exc)
    context = {"b": breach, "done": request.query_params.get("done"), "levels": LEVELS, "natures": NATURES}
    context.update({"errors": {}, "form": {}, "suggested": None, **extra})
    return show(request, "console/breach.html", context, session=session, status=status)


@router.get("/{breach_id}", response_class=HTMLResponse)
async def breach_page(request: Request, breach_id: BreachId) -> Response:
    return await _page(request, await session_of(request), breach_id, {})


async def _act(request: Request, breach_id: str, form: dict[str, Any], call: Any, done: str) -> Response:
    async def redraw(session: dict[str, Any], errors: dict[str, str], status: int) -> Response:
        return await _page(request, session, breach_id, {"form": form, "errors": errors}, status=status)

    return await act(request, str(form.get("csrf", "")), call, back=(f"/breaches/{breach_id}", done), redraw=redraw)


@router.post("/{breach_id}/findings")
async def findings(
    request: Request,
    breach_id: BreachId,
    csrf: CSRF = "",
    expert_findings: Text = "",
    measures: Text = "",
    ended_at: Annotated[str, Form(max_length=40)] = "",
) -> Response:
    """The IT expert's findings and the measures (statement Art. 13), and when it ended."""
    body: dict[str, Any] = {"expert_findings": expert_findings, "measures": measures}
    if ended_at:
        body.update(ended_at=moment(ended_at), ongoing=False)
    form = {"csrf": csrf, "expert_findings": expert_findings, "measures": measures, "ended_at": ended_at}
    return await _act(request, breach_id, form, lambda c: service.change_breach(c, breach_id, body), "findings")


def _factors(form: dict[str, Any]) -> dict[str, Any]:
    return {
        "breach_type": form.get("breach_type", ""),
        "sensitivity": form.get("sensitivity", ""),
        "volume": form.get("volume", ""),
        "ease_of_identification": form.get("ease_of_identification", ""),
        "severity": form.get("severity", ""),
        "special_people": form.get("special_people") == "on",
        "people": number(str(form.get("people", ""))),
    }


@router.post("/{breach_id}/assessment", response_class=HTMLResponse)
async def assessment(request: Request, breach_id: BreachId) -> Response:
    """First the system's suggestion for the factors, shown beside the decision; then a person decides with
    reasons (statement Art. 6). One form, two buttons: `step=suggest` or `step=decide`."""
    session = await session_of(request)
    form = {k: str(v) for k, v in (await request.form()).items()}
    checked(session, form.get("csrf"))
    calls = calls_for(request, session)
    if form.get("step") != "decide":
        try:
            suggested = await service.suggestion(calls, _factors(form))
        except Refused as exc:
            errors = exc.field_errors() or {"form": exc.detail}
            return await _page(request, session, breach_id, {"form": form, "errors": errors}, status=422)
        except ServiceDown as exc:
            return refusal_page(request, session, exc)
        return await _page(request, session, breach_id, {"form": form, "suggested": suggested})
    body = {
        "factors": _factors(form),
        "outcome": form.get("outcome", ""),
        "reasons": form.get("reasons", ""),
        "exemption": form.get("exemption") or None,
        "exemption_reason": form.get("exemption_reason") or None,
    }
    return await _act(request, breach_id, form, lambda c: service.assess(c, breach_id, body), "assessed")


@router.post("/{breach_id}/notifications")
async def prepare(
    request: Request,
    breach_id: BreachId,
    csrf: CSRF = "",
    phase: Annotated[str, Form(pattern="^(initial|supplement|withdrawal)$")] = "initial",
    reason: Text = "",
    delay_reason: Text = "",
) -> Response:
    form = {"csrf": csrf, "phase": phase, "reason": reason, "delay_reason": delay_reason}
    act = lambda c: service.prepare_notification(c, breach_id, phase, reason, delay_reason)  # noqa: E731
    return await _act(request, breach_id, form, act, "prepared")


@router.get("/{breach_id}/notifications/{notification_id}", response_class=HTMLResponse)
async def printable(request: Request, breach_id: BreachId, notification_id: NoteId) -> Response:
    """The AP notification laid out like the Meldformulier's sections 0-9, as the breach service prints it."""
    session = await session_of(request)
    try:
        html = await service.printable(calls_for(request, session), breach_id, notification_id)
    except (Refused, ServiceDown) as exc:
        return refusal_page(request, session, exc)
    return HTMLResponse(html, headers={"cache-control": "no-store", "referrer-policy": "no-referrer"})


@router.post("/{breach_id}/notifications/{notification_id}/submission")
async def submission(
    request: Request,
    breach_id: BreachId,
    notification_id: NoteId,
    csrf: CSRF = "",
    ap_reference: Annotated[str, Form(max_length=100)] = "",
    submitted_at: Annotated[str, Form(max_length=40)] = "",
    late_reason: Text = "",
) -> Response:
    """Record that the form went to the AP; after the 72 hours the service requires the delay's reasons."""
    body = {"ap_reference": ap_reference, "submitted_at": moment(submitted_at), "late_reason": late_reason or None}
    form = {"csrf": csrf, "ap_reference": ap_reference, "submitted_at": submitted_at, "late_reason": late_reason}
    act = lambda c: service.record_submission(c, breach_id, notification_id, body)  # noqa: E731
    return await _act(request, breach_id, form, act, "submitted")


@router.post("/{breach_id}/affected")
async def affected(request: Request, breach_id: BreachId, csrf: CSRF = "") -> Response:
    """Ask every system who is affected and how to reach them (answers arrive over Kafka)."""
    return await _act(request, breach_id, {"csrf": csrf}, lambda c: service.ask_affected(c, breach_id), "asked")


@router.post("/{breach_id}/people")
async def notify(
    request: Request,
    breach_id: BreachId,
    csrf: CSRF = "",
    likely_consequences: Text = "",
    measures: Text = "",
    advice: Text = "",
) -> Response:
    """GDPR 34: tell every person found, in plain language."""
    body = {"likely_consequences": likely_consequences, "measures": measures, "advice": advice or None}
    form = {"csrf": csrf, **body}
    return await _act(request, breach_id, form, lambda c: service.notify_people(c, breach_id, body), "told")


@router.post("/{breach_id}/public")
async def public(
    request: Request,
    breach_id: BreachId,
    csrf: CSRF = "",
    channel: Annotated[str, Form(max_length=100)] = "",
    url: Annotated[str, Form(max_length=2000)] = "",
    text: Text = "",
) -> Response:
    """GDPR 34(3)(c): a public communication instead of individual notices."""
    body = {"channel": channel, "url": url or None, "text": text}
    form = {"csrf": csrf, **body}
    return await _act(request, breach_id, form, lambda c: service.public_communication(c, breach_id, body), "public")
