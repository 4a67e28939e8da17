"""Processors without a usable API (statement Art. 8: they act on the controller's instruction): their privacy
contact is mailed the instruction, with the request's reference and a signed link; through it they answer
"done" (for an access request: what they hold) or "refused, because ...". Reminders follow on a schedule
(domain.REMINDER_DAYS) until they answer, and the task shows in the console until it is closed. A privacy
officer may close it with the evidence they have (a reply by mail, a call)."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

from services.common.errors import ServiceError
from services.common.links import LinkError, LinkSigner
from services.common.mail import Mail, queue_mail
from services.processors import domain, service
from services.processors.context import ProcessorsContext
from services.processors.domain import TaskState
from services.processors.models import ProcessorTask

ACTION = "processor-instruction"
WHAT = {
    "erasure": (
        "Verwijder alle persoonsgegevens van deze persoon, ook uit back-ups zodra die worden ververst.",
        "Erase all personal data of this person, from backups too as they are renewed.",
    ),
    "access": (
        "Laat ons weten welke persoonsgegevens u van deze persoon heeft (via de link hieronder).",
        "Tell us which personal data of this person you hold (through the link below).",
    ),
    "rectification": (
        "Verbeter de gegevens van deze persoon zoals hieronder staat.",
        "Correct this person's data as set out below.",
    ),
    "restriction": (
        "Gebruik de gegevens van deze persoon niet meer, maar bewaar ze (AVG art. 18), tot wij anders laten weten.",
        "Stop using this person's data but keep it (GDPR Art. 18) until we tell you otherwise.",
    ),
    "objection": (
        "Stop met direct marketing aan deze persoon (AVG art. 21 lid 3).",
        "Stop all direct marketing to this person (GDPR Art. 21(3)).",
    ),
}


def signer(ctx: ProcessorsContext) -> LinkSigner:
    return LinkSigner(ctx.settings.secret_bytes("link_signing_key"))


def link(ctx: ProcessorsContext, task_id: str) -> str:
    token = signer(ctx).sign(ACTION, ctx.settings.instruction_link_days * 86400, t=task_id)
    return ctx.settings.public_base_url.rstrip("/") + f"/v1/instructions/{token}"


async def send(ctx: ProcessorsContext, task: ProcessorTask) -> None:
    """The instruction (or its next reminder), mailed to the processor's privacy contact; the task is due
    again at the next reminder. Without a contact configured it waits, saying so."""
    c = ctx.connectors[task.processor]
    now = datetime.now(UTC)
    to = ctx.settings.contact(c.key)
    async with ctx.rt.db.transaction() as s:
        row = await s.get(ProcessorTask, task.id, with_for_update=True)  # a close meanwhile wins
        if row is None or row.state != TaskState.INSTRUCTED.value:
            return
        row.claimed_until = None
        if not to:
            row.next_attempt_at = now + timedelta(hours=1)
            row.outcome = domain.said(
                TaskState.INSTRUCTED, c.name, row.action, f"no contact: PROCESSORS_{c.key.upper()}_CONTACT"
            )
            s.add(row)
            return
        held = json.loads(row.sealed or "{}")
        person = await ctx.rt.vault.decrypt(s, row.subject, row.key_id or "", held["sealed"])
        mail = _mail(ctx, row, c.name, to, person, reminder=row.attempts)
        await queue_mail(s, ctx.rt.vault, subject=row.subject, purpose=f"{ACTION}:{row.id}", mail=mail)
        row.attempts += 1
        wait = domain.REMINDER_DAYS[min(row.attempts - 1, len(domain.REMINDER_DAYS) - 1)]
        row.next_attempt_at = now + timedelta(days=wait)
        sent = "instructed" if row.attempts == 1 else f"reminded ({row.attempts - 1})"
        row.outcome = domain.said(TaskState.INSTRUCTED, c.name, row.action, f"{sent} {now.date().isoformat()}")
        row.calls = json.dumps(
            [*json.loads(row.calls), ["MAIL", "instruction" if row.attempts == 1 else "reminder", 0]]
        )
        s.add(row)
        await service.record_acted(ctx, s, row)


def _mail(
    ctx: ProcessorsContext, task: ProcessorTask, name: str, to: str, person: dict[str, Any], *, reminder: int
) -> Mail:
    nl, en = WHAT.get(task.action, WHAT["erasure"])
    corrections = person.get("new") or {}
    fixed = "\n".join(f"  {k}: {v}" for k, v in sorted(corrections.items()))
    deadline = task.deadline.date().isoformat() if task.deadline else "-"
    again = f"Herinnering {reminder} / Reminder {reminder}: " if reminder else ""
    controller = ctx.purposes.controller or "the controller"
    text = f"""{again}instructie van de verwerkingsverantwoordelijke / instruction from the controller

Aan / To: {name}
Kenmerk / Reference: {task.request_id or task.id}
Uiterlijk / By: {deadline}

Op grond van de verwerkersovereenkomst (privacyverklaring art. 8) vraagt {controller} u:
{nl}

Under the processing agreement (privacy statement Art. 8), {controller} instructs you to:
{en}

Persoon / Person: {person.get("email", "-")}
{("Verbeteringen / Corrections:" + chr(10) + fixed) if fixed else ""}

Bevestig dat het gedaan is, of laat weten waarom niet / Confirm it is done, or tell us why not:
{link(ctx, task.id)}

Deze link werkt alleen voor deze opdracht. / This link works for this instruction only.
"""
    return Mail(to=to, subject=f"{again}AVG-instructie {task.request_id or task.id} / GDPR instruction", text=text)


def _open(ctx: ProcessorsContext, token: str) -> str:
    try:
        return str(signer(ctx).open(token, ACTION)["t"])
    except (LinkError, KeyError, ValueError) as exc:
        raise ServiceError(404, "this link is not one we sent") from exc


async def view(ctx: ProcessorsContext, token: str) -> dict[str, Any]:
    """What the link's page shows: whom it is for, what is asked, by when, and whether it was answered. The
    person's address is in the mail only, not on the page."""
    task_id = _open(ctx, token)
    async with ctx.rt.db.read() as s:
        task = await s.get(ProcessorTask, task_id)
    if task is None:
        raise ServiceError(404, "this instruction no longer exists")
    return {
        "processor": ctx.connectors[task.processor].name if task.processor in ctx.connectors else task.processor,
        "reference": task.request_id or task.id,
        "controller": ctx.purposes.controller,
        "action": task.action,
        "deadline": task.deadline,
        "answered": task.state in domain.SETTLED,
        "state": task.state,
        "settled_at": task.settled_at,
    }


ANSWERS = {"done": TaskState.CONFIRMED, "nothing_held": TaskState.NOTHING_HELD, "refused": TaskState.REFUSED}


async def answer(ctx: ProcessorsContext, token: str, *, outcome: str, details: str) -> dict[str, Any]:
    """The processor's answer through the link: once (a second is 410)."""
    task_id = _open(ctx, token)
    await close(ctx, task_id, outcome=outcome, details=details, by="the processor's privacy contact")
    return await view(ctx, token)


async def close(ctx: ProcessorsContext, task_id: str, *, outcome: str, details: str, by: str) -> ProcessorTask:
    """Settle an instructed task: done (an access answer's details are what it holds), nothing held, or
    refused (with the reason). The details are kept sealed for the person; the ledger says who closed it,
    not what they wrote."""
    if outcome == "refused" and not details.strip():
        raise ServiceError(422, "say why the instruction is refused")
    now = datetime.now(UTC)
    async with ctx.rt.db.transaction() as s:
        task = await s.get(ProcessorTask, task_id, with_for_update=True)
        if task is None:
            raise ServiceError(404, "no such task")
        if task.state != TaskState.INSTRUCTED.value:
            raise ServiceError(410, f"this instruction was answered already ({task.state})")
        name = ctx.connectors[task.processor].name if task.processor in ctx.connectors else task.processor
        state = ANSWERS[outcome]
        done = state is not TaskState.REFUSED
        task.state, task.settled_at, task.next_attempt_at, task.claimed_until = state.value, now, None, None
        task.outcome = domain.said(state, name, task.action, f"closed by {by}" if done else "")
        if state is TaskState.NOTHING_HELD:
            task.outcome += f" (told by {by})"
        if details.strip():
            key_id, key = await ctx.rt.vault.key_for(s, task.subject)
            label = "told" if done else "refused"  # the export says these in the person's language
            told = {"records": [{"label": label, "records": [{"text": details.strip()[:5000]}]}]}
            task.answer = json.dumps({"key_id": key_id, "sealed": ctx.rt.vault.seal(task.subject, key_id, key, told)})
        s.add(task)
        await service.record_acted(ctx, s, task)
        await s.flush()
        if task.request_id:
            await service.answer_if_complete(ctx, s, task.request_id)
    return task
