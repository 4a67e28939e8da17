"""What each processor is asked for a request, and what its answer means (pure rules, no I/O)."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from services.common.contracts import Outcome, RequestKind
from services.processors.connectors import Connector, Mode
from services.processors.engine import Status


class TaskState(StrEnum):
    WAITING = "waiting"  # due at next_attempt_at
    NEEDS_AUTHORISATION = "needs_authorisation"  # waits for a person to authorise the connector again
    DONE = "done"
    NOTHING_HELD = "nothing_held"
    EXEMPT = "exempt"  # a legal reason not to act (the definition's)
    NO_API = "no_api"  # the processor's API cannot do this; said so in the answer
    FAILED = "failed"  # the processor refused what was sent
    INSTRUCTED = "instructed"  # its privacy contact was mailed the instruction; reminded until they answer
    CONFIRMED = "confirmed"  # the processor confirmed it did what it was instructed (or a dpo closed it so)
    REFUSED = "refused"  # the processor refused the instruction, saying why
    SUBMITTED = "submitted"  # the processor accepted it and does it later (`due_at`)
    UNIDENTIFIED = "unidentified"  # it names people only by an identifier we never recorded for this person


SETTLED = frozenset(
    {
        TaskState.DONE,
        TaskState.NOTHING_HELD,
        TaskState.EXEMPT,
        TaskState.NO_API,
        TaskState.FAILED,
        TaskState.CONFIRMED,
        TaskState.REFUSED,
        TaskState.SUBMITTED,
        TaskState.UNIDENTIFIED,
    }
)
DUE = (TaskState.WAITING, TaskState.NEEDS_AUTHORISATION, TaskState.INSTRUCTED)  # what the worker looks at
REMINDER_DAYS = (3, 7, 14, 21, 28)  # after the instruction: reminders, then weekly until answered
STATE_OF = {
    Status.DONE: TaskState.DONE,
    Status.NOTHING_HELD: TaskState.NOTHING_HELD,
    Status.RETRY: TaskState.WAITING,
    Status.NEEDS_AUTHORISATION: TaskState.NEEDS_AUTHORISATION,
    Status.FAILED: TaskState.FAILED,
}
ACTION_OF = {
    RequestKind.ACCESS: "access",
    RequestKind.ERASURE: "erasure",
    RequestKind.RECTIFICATION: "rectification",
    RequestKind.RESTRICTION: "restriction",
    RequestKind.OBJECTION: "objection",
}
CHANGES = frozenset({RequestKind.ERASURE, RequestKind.RECTIFICATION, RequestKind.RESTRICTION, RequestKind.OBJECTION})


@dataclass(frozen=True)
class Plan:
    state: TaskState
    action: str = ""
    lists: tuple[str, ...] = ()  # the processor's lists the action concerns (unsubscribe)
    outcome: str = ""


def plan(
    kind: RequestKind, c: Connector, direct_marketing: frozenset[str], *, seen: bool = True, identified: bool = True
) -> Plan:
    """What `c` is asked for a request of `kind` (`seen`: consent saw the person with one of its purposes). A
    restriction (GDPR 18) or an objection to direct marketing (21(3)) at a processor without a call of its
    own stops its mail: unsubscribed from the lists of the purposes concerned (every purpose for a
    restriction; direct marketing for an objection). A processor without an API is instructed by mail. One that
    names people only by an identifier (`identified`: one was recorded for the person) cannot be asked without it."""
    action = ACTION_OF[kind]
    if c.ask == "when_seen" and not seen:
        return Plan(TaskState.NOTHING_HELD, action, outcome="no purpose of this person reaches it, as far as we know")
    if c.mode is Mode.EXEMPT and kind in CHANGES:
        return Plan(TaskState.EXEMPT, action, outcome=c.reason)
    if c.mode is Mode.EXEMPT:
        return Plan(TaskState.NO_API, action, outcome=f"not readable through its API ({c.reason})")
    if c.mode is Mode.INSTRUCTED:
        return Plan(TaskState.INSTRUCTED, action, outcome=c.reason)
    lists: tuple[str, ...] = ()
    if kind in (RequestKind.RESTRICTION, RequestKind.OBJECTION) and not c.can(action) and c.can("unsubscribe"):
        concerned = [p for p in c.lists if kind is RequestKind.RESTRICTION or p in direct_marketing]
        lists = tuple(x for p in sorted(concerned) for x in c.lists[p])
        if not lists:
            return Plan(TaskState.NOTHING_HELD, action, outcome="no list of the purposes concerned")
        action = "unsubscribe"
    if not c.can(action):
        return Plan(TaskState.NO_API, action, outcome=f"{c.name}'s API offers no {action}")
    if c.identifier and not identified:
        why = f"no {c.identifier_words} was recorded for this person, and {c.name} finds no one by an address"
        return Plan(TaskState.UNIDENTIFIED, action, outcome=why)
    return Plan(TaskState.WAITING, action, lists)


def sync_plan(action: str, purpose: str, channel: str, c: Connector) -> Plan | None:
    """A consent change carried to `c` (unsubscribe on a withdrawal, subscribe on a grant confirmed by mail):
    for the processor's lists of that purpose; None when `c` has none, or the change came from `c` itself (an
    unsubscribe made in ActiveCampaign is not sent back to it)."""
    lists = c.lists.get(purpose, ())
    if not lists or not c.can(action) or channel == c.key:
        return None
    return Plan(TaskState.WAITING, action, lists)


def holder_outcome(kind: RequestKind, states: list[TaskState], data: bool) -> Outcome:
    """The processors' answer to dsar, from every processor's task."""
    acted = any(s in (TaskState.DONE, TaskState.CONFIRMED, TaskState.SUBMITTED) for s in states)
    if kind is RequestKind.ACCESS:
        return Outcome.PROVIDED if data else Outcome.NOTHING_HELD
    if not acted:
        return Outcome.NOTHING_HELD
    return {
        RequestKind.ERASURE: Outcome.ERASED,
        RequestKind.RECTIFICATION: Outcome.RECTIFIED,
        RequestKind.RESTRICTION: Outcome.RESTRICTED,
        RequestKind.OBJECTION: Outcome.APPLIED,
    }.get(kind, Outcome.NOTHING_HELD)


def said(state: TaskState, name: str, action: str, why: str = "") -> str:
    """A task's outcome in words (no personal data)."""
    words = {
        TaskState.DONE: f"{action} done",
        TaskState.NOTHING_HELD: "holds nothing of this person",
        TaskState.EXEMPT: f"not done: {why}",
        TaskState.NO_API: why,
        TaskState.FAILED: f"refused: {why}",
        TaskState.NEEDS_AUTHORISATION: "waiting: the connector must be authorised again",
        TaskState.WAITING: f"waiting: {why}" if why else "waiting",
        TaskState.INSTRUCTED: f"instructed by mail, waiting for its confirmation ({why})" if why else "instructed",
        TaskState.CONFIRMED: f"{action} confirmed by the processor" + (f" ({why})" if why else ""),
        TaskState.REFUSED: "refused by the processor, its reason kept with the request",
        TaskState.SUBMITTED: f"{action} submitted" + (f" ({why})" if why else ""),
        TaskState.UNIDENTIFIED: f"not asked: {why}",
    }
    return f"{name}: {words[state]}"
