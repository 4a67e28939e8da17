"""The processors service's use-cases: a data-subject request becomes one task per processor (rows: a
restart loses and doubles nothing); each task's outcome is recorded (ledger and topic, no personal data);
when every processor has an outcome, the processors answer dsar as one holder, with a part per processor."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import delete
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col, select

from services.common.contracts import (
    AnalyticsIdRecorded,
    ConsentDecision,
    ConsentWithdrawn,
    DataSubjectRequestStarted,
    HolderAnswered,
    Outcome,
    RequestKind,
    SubjectShredded,
    open_fragment,
    seal_fragment,
)
from services.common.crypto import ShreddedError
from services.common.db import Tx, insert_ignoring_duplicates
from services.common.events import DSAR_ANSWERS
from services.common.models import table_of
from services.processors import domain
from services.processors.connectors import Mode
from services.processors.context import ProcessorsContext
from services.processors.domain import SETTLED, TaskState
from services.processors.engine import Result
from services.processors.events import PROCESSORS_EVENTS, ProcessorActed
from services.processors.models import Identifier, ProcessorTask, SeenPurpose
from services.processors.oauth import locked_status

HOLDER = "processors"
NOT_CONNECTED = "not connected yet, so not asked (it has no connector definition)"


async def open_request(ctx: ProcessorsContext, s: AsyncSession, request: DataSubjectRequestStarted) -> int:
    """A task per processor for the request (once: a replay adds nothing). Returns the tasks made."""
    if request.kind not in domain.ACTION_OF:  # portability: what the person gave us, not what processors copied
        await _answer(ctx, s, request.request_id, request.subject, request.kind, [], "not asked of processors")
        return 0
    contact = open_fragment(ctx.rt.sealing, request.request_id, request.contact) if request.contact else {}
    if not contact.get("email"):
        why = "no address came with the request, so no processor could be asked"
        await _answer(ctx, s, request.request_id, request.subject, request.kind, [], why)
        return 0
    corrections = {}
    if request.kind is RequestKind.RECTIFICATION and request.details:
        corrections = open_fragment(ctx.rt.sealing, request.request_id, request.details)
    ids = await identifiers_of(ctx, s, request.subject)
    person = {"email": contact["email"], "new": corrections, "ids": ids}
    key_id, sealed = await ctx.rt.vault.encrypt(s, request.subject, person)
    seen = set(
        (await s.execute(select(col(SeenPurpose.purpose)).where(col(SeenPurpose.subject) == request.subject))).scalars()
    )
    now = datetime.now(UTC)
    made = 0
    for c in sorted(ctx.connectors.values(), key=lambda x: x.key):
        reaches = bool(seen & set(ctx.purposes.purposes_of(c.name)))
        identified = not c.identifier or bool(ids.get(c.identifier))
        p = domain.plan(request.kind, c, ctx.purposes.direct_marketing, seen=reaches, identified=identified)
        settled = p.state in SETTLED
        row = {
            "id": "pt_" + uuid.uuid4().hex[:24],
            "dedupe": f"{request.request_id}:{c.key}",
            "request_id": request.request_id,
            "kind": request.kind.value,
            "action": p.action,
            "processor": c.key,
            "subject": request.subject,
            "key_id": key_id,
            "sealed": json.dumps({"sealed": sealed, "lists": list(p.lists)}),
            "state": p.state.value,
            "attempts": 0,
            "next_attempt_at": None if settled else now,
            "claimed_until": None,
            "deadline": request.deadline,
            "outcome": domain.said(p.state, c.name, p.action, p.outcome),
            "calls": "[]",
            "answer": None,
            "created_at": now,
            "settled_at": now if settled else None,
        }
        result = await s.execute(insert_ignoring_duplicates(s, table_of(ProcessorTask), row))
        if result.rowcount and settled:  # type: ignore[attr-defined]
            await record_acted(ctx, s, row)
        made += result.rowcount  # type: ignore[attr-defined]
    await s.flush()
    await answer_if_complete(ctx, s, request.request_id)
    if made:
        Tx.of(s).after_commit(ctx.wake)
    return made


async def keep_identifier(ctx: ProcessorsContext, s: AsyncSession, recorded: AnalyticsIdRecorded) -> bool:
    """A Google Analytics client id consent recorded for the person: kept sealed for them, once (a replay, or
    the same id carried again when a browser is linked, adds nothing), for an erasure to name it."""
    value = str(open_fragment(ctx.rt.sealing, recorded.record_id, recorded.contact).get("ga_client_id") or "")
    if not value:
        return False
    key_id, sealed = await ctx.rt.vault.encrypt(s, recorded.subject, {"value": value})
    row = {
        "subject": recorded.subject,
        "digest": ctx.rt.recorder.pseudonym("ga_client_id:" + value),
        "kind": "ga_client_id",
        "key_id": key_id,
        "sealed": sealed,
        "recorded_at": datetime.now(UTC),
    }
    return bool((await s.execute(insert_ignoring_duplicates(s, table_of(Identifier), row))).rowcount)  # type: ignore[attr-defined]


async def identifiers_of(ctx: ProcessorsContext, s: AsyncSession, subject: str) -> dict[str, list[str]]:
    """The person's identifiers by kind (opened), oldest first."""
    rows = await s.execute(
        select(Identifier).where(col(Identifier.subject) == subject).order_by(col(Identifier.recorded_at))
    )
    found: dict[str, list[str]] = {}
    for row in rows.scalars():
        try:
            found.setdefault(row.kind, []).append(
                str((await ctx.rt.vault.decrypt(s, subject, row.key_id, row.sealed))["value"])
            )
        except ShreddedError:
            continue
    return found


async def saw(s: AsyncSession, change: ConsentDecision) -> None:
    """Consent saw the person with this purpose: an instructed processor working on it is asked about them."""
    row = {"subject": change.subject, "purpose": change.purpose, "first_seen_at": datetime.now(UTC)}
    await s.execute(insert_ignoring_duplicates(s, table_of(SeenPurpose), row))


async def open_sync(ctx: ProcessorsContext, s: AsyncSession, event_id: str, change: ConsentDecision) -> int:
    """A withdrawal (unsubscribe) or a grant confirmed by mail (subscribe) carried to each processor with a
    list of that purpose: a task each, once per event (a replay adds nothing). Returns the tasks made."""
    if not change.contact:
        return 0  # a browser's, or a change processors do not act on (consent seals an address only for these)
    action = "unsubscribe" if isinstance(change, ConsentWithdrawn) else "subscribe"
    email = open_fragment(ctx.rt.sealing, change.record_id, change.contact).get("email")
    plans = {k: domain.sync_plan(action, change.purpose, change.channel, c) for k, c in ctx.connectors.items()}
    wanted = {k: p for k, p in plans.items() if p is not None}
    if not email or not wanted:
        return 0
    key_id, sealed = await ctx.rt.vault.encrypt(s, change.subject, {"email": email})
    now = datetime.now(UTC)
    made = 0
    for key, p in sorted(wanted.items()):
        row = {
            "id": "pt_" + uuid.uuid4().hex[:24],
            "dedupe": f"{event_id}:{key}",
            "request_id": None,
            "kind": "sync",
            "action": p.action,
            "processor": key,
            "subject": change.subject,
            "key_id": key_id,
            "sealed": json.dumps({"sealed": sealed, "lists": list(p.lists)}),
            "state": TaskState.WAITING.value,
            "attempts": 0,
            "next_attempt_at": now,
            "claimed_until": None,
            "deadline": None,
            "outcome": domain.said(TaskState.WAITING, ctx.connectors[key].name, p.action),
            "calls": "[]",
            "answer": None,
            "created_at": now,
            "settled_at": None,
        }
        result = await s.execute(insert_ignoring_duplicates(s, table_of(ProcessorTask), row))
        made += result.rowcount  # type: ignore[attr-defined]
    if made:
        Tx.of(s).after_commit(ctx.wake)  # the worker looks at once, once the tasks are there to see
    return made


async def settle(ctx: ProcessorsContext, task_id: str, result: Result) -> None:
    """Record a task's outcome: settled (ledger, topic, and dsar's answer when it was the last), or due
    again (`retry_at`), or waiting for a person to authorise the connector."""
    now = datetime.now(UTC)
    async with ctx.rt.db.transaction() as s:
        task = await s.get(ProcessorTask, task_id, with_for_update=True)  # one settling at a time
        if task is None or task.state in SETTLED:
            return  # settled meanwhile (a replay, or another worker after its claim ran out)
        c = ctx.connectors[task.processor]
        state, why = domain.STATE_OF[result.status], result.why
        if state is TaskState.DONE and c.mode is Mode.SUBMITTED:  # accepted now, done by the processor later
            received = _moment(result.saved.get(c.received_at)) or now
            state, task.due_at = TaskState.SUBMITTED, received + timedelta(days=c.due_days)
            why = f"received {received:%Y-%m-%d %H:%M} UTC, due by {task.due_at:%Y-%m-%d}"
        task.state, task.claimed_until, task.attempts = state.value, None, task.attempts + 1
        task.calls = json.dumps([*json.loads(task.calls), *result.calls][-50:])
        task.outcome = domain.said(state, c.name, task.action, why)
        if state is TaskState.WAITING:
            task.next_attempt_at = datetime.fromtimestamp(result.retry_at or now.timestamp() + 60, UTC)
        elif state is TaskState.NEEDS_AUTHORISATION:
            task.next_attempt_at = now + timedelta(minutes=5)
        else:
            task.settled_at, task.next_attempt_at = now, None
            if result.data:  # what it holds, sealed for the person (an erasure of them takes it too)
                key_id, key = await ctx.rt.vault.key_for(s, task.subject)
                sealed = ctx.rt.vault.seal(task.subject, key_id, key, {"records": result.data})
                task.answer = json.dumps({"key_id": key_id, "sealed": sealed})
        s.add(task)
        await _standing(s, task.processor, result, state, now)
        if state in SETTLED:
            await record_acted(ctx, s, task)
            await s.flush()
            if task.request_id:
                await answer_if_complete(ctx, s, task.request_id)


def _moment(value: Any) -> datetime | None:
    """A time an answer gave (RFC 3339, e.g. Google's `2026-12-05T20:40:01.123456Z`)."""
    try:
        moment = datetime.fromisoformat(str(value).replace("Z", "+00:00")) if value else None
    except ValueError:
        return None
    return moment.astimezone(UTC) if moment and moment.tzinfo else None


async def _standing(s: AsyncSession, key: str, result: Result, state: TaskState, now: datetime) -> None:
    row = await locked_status(s, key, now)
    if state is TaskState.NEEDS_AUTHORISATION:
        row.state, row.last_failure_at, row.last_error = "needs_authorisation", now, result.why
    elif state is TaskState.WAITING:
        limited = any(call[2] == 429 for call in result.calls)
        row.state, row.last_failure_at, row.last_error = ("rate_limited" if limited else "failing"), now, result.why
    else:
        row.state, row.last_success_at = "connected", now
    row.updated_at = now
    s.add(row)


async def record_acted(ctx: ProcessorsContext, s: AsyncSession, row: ProcessorTask | dict[str, Any]) -> None:
    """A task's outcome (or an instruction mailed) in the ledger and on processors.events.v1: no value."""
    task = row.model_dump() if isinstance(row, ProcessorTask) else row
    await ctx.rt.recorder.record(
        s,
        ProcessorActed(
            task_id=task["id"],
            request_id=task["request_id"],
            subject=task["subject"],
            processor=task["processor"],
            action=task["action"],
            state=task["state"],
            outcome=task["outcome"] or "",
            calls=[f"{m} {path} {status}" for m, path, status in json.loads(task["calls"])][-50:],
        ),
        subject=task["subject"],
        topic=PROCESSORS_EVENTS.name,
    )


async def answer_if_complete(ctx: ProcessorsContext, s: AsyncSession, request_id: str) -> bool:
    """When every processor's task of the request is settled: one answer to dsar, a part per processor."""
    tasks = (await s.execute(select(ProcessorTask).where(col(ProcessorTask.request_id) == request_id))).scalars().all()
    if not tasks or any(t.state not in SETTLED for t in tasks):
        return False
    first = tasks[0]
    await _answer(ctx, s, request_id, first.subject, RequestKind(first.kind), list(tasks), "")
    return True


async def _answer(
    ctx: ProcessorsContext,
    s: AsyncSession,
    request_id: str,
    subject: str,
    kind: RequestKind,
    tasks: list[ProcessorTask],
    why: str,
) -> None:
    parts = [await _part(ctx, s, t) for t in sorted(tasks, key=lambda t: t.processor)]
    connected = {c.name for c in ctx.connectors.values()}
    unconnected = sorted(ctx.purposes.processors - connected) if tasks else []  # said, never skipped in silence
    for name in unconnected:
        outcome_ = f"{name}: {NOT_CONNECTED}"
        parts.append({"processor": name, "mode": "not_connected", "state": "not_asked", "outcome": outcome_})
        parts[-1].update({"asked_at": None, "answered_at": None, "data": []})
    fragment = None
    if kind is RequestKind.ACCESS and parts:
        fragment = seal_fragment(ctx.rt.sealing, request_id, {"processors": parts})
    states = [TaskState(t.state) for t in tasks]
    outcome = domain.holder_outcome(kind, states, any(p["data"] for p in parts)) if tasks else Outcome.NOTHING_HELD
    reason = why or "; ".join(
        [
            *(t.outcome or t.processor for t in sorted(tasks, key=lambda t: t.processor)),
            *(f"{name}: {NOT_CONNECTED}" for name in unconnected),
        ]
    )
    if kind is RequestKind.ERASURE:  # what the processors service itself kept of the person goes too
        await s.execute(delete(SeenPurpose).where(col(SeenPurpose.subject) == subject))
        await s.execute(delete(Identifier).where(col(Identifier.subject) == subject))
        key_id = await ctx.rt.vault.shred(s, subject)
        await ctx.rt.recorder.record(
            s,
            SubjectShredded(subject=subject, key_id=key_id, reason=f"erasure request {request_id}"),
            subject=subject,
            topic=PROCESSORS_EVENTS.name,
        )
    await ctx.rt.recorder.record(
        s,
        HolderAnswered(
            request_id=request_id,
            holder=HOLDER,
            kind=kind,
            subject=subject,
            outcome=outcome,
            reason=reason[:2000] or None,
            fragment=fragment,
        ),
        subject=subject,
        topic=DSAR_ANSWERS.name,
        digest_only=("fragment",) if fragment else (),
    )


async def _part(ctx: ProcessorsContext, s: AsyncSession, task: ProcessorTask) -> dict[str, Any]:
    """One processor's part of an access answer: what it holds (opened), or why nothing is shown."""
    c = ctx.connectors[task.processor]
    data: list[dict[str, Any]] = []
    if task.answer:
        kept = json.loads(task.answer)
        try:
            data = (await ctx.rt.vault.decrypt(s, task.subject, kept["key_id"], kept["sealed"]))["records"]
        except ShreddedError:
            data = []
    return {
        "processor": c.name,
        "mode": c.mode.value,
        "why": {"en": c.reason, "nl": c.reason_nl or c.reason} if c.reason else None,
        "state": task.state,
        "outcome": task.outcome,
        "asked_at": task.created_at,
        "answered_at": task.settled_at,
        "data": data,
    }
