"""Pure rules of data-subject requests (GDPR Art. 12, 15-17; statement Art. 10-11). No I/O."""

from __future__ import annotations

import calendar
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from zoneinfo import ZoneInfo

AMSTERDAM = ZoneInfo("Europe/Amsterdam")


class State(StrEnum):
    RECEIVED = "received"  # waiting for the emailed identity check
    IDENTITY_VERIFIED = "identity_verified"
    IN_PROGRESS = "in_progress"  # fanned out; holders answering
    EXTENDED = "extended"  # GDPR 12(3): up to two further months
    COMPLETED = "completed"
    REFUSED = "refused"  # GDPR 12(4)
    EXPIRED = "expired"  # identity never verified


OPEN = frozenset({State.RECEIVED, State.IDENTITY_VERIFIED, State.IN_PROGRESS, State.EXTENDED})
ANSWERING = frozenset({State.IN_PROGRESS, State.EXTENDED})

VERIFY_LINK_DAYS = 7
REMINDER_AFTER_DAYS = 3
MAX_EXTENSION_MONTHS = 2

# GDPR 17(3) exceptions and statement Art. 11.3: the only reasons a holder may keep data of an erasure request.
ERASURE_EXCEPTIONS = {
    "17(3)(a)": "freedom of expression and information",
    "17(3)(b)": "a legal obligation (e.g. 7-year fiscal retention of invoices) or a public task",
    "17(3)(c)": "public health",
    "17(3)(d)": "archiving, research or statistics in the public interest",
    "17(3)(e)": "establishing, exercising or defending legal claims",
    # not a 17(3) exception: while the contract runs, no ground of 17(1) applies (the data is still needed)
    "11.3(a)": "no ground of GDPR 17(1) applies: the data is still needed to perform the contract with the person "
    "(statement Art. 11.3 a)",
}


class RuleError(ValueError):
    """A request may not move that way; the message says which rule."""


def add_calendar_months(moment: datetime, months: int) -> datetime:
    """Same wall-clock time `months` later in Amsterdam; a day past the month's end becomes its last day."""
    local = moment.astimezone(AMSTERDAM)
    month_index = local.month - 1 + months
    year, month = local.year + month_index // 12, month_index % 12 + 1
    day = min(local.day, calendar.monthrange(year, month)[1])
    return local.replace(year=year, month=month, day=day, tzinfo=AMSTERDAM)


# GDPR Art. 12(3): answer within one calendar month of receipt.
def response_deadline(received_at: datetime) -> datetime:
    return add_calendar_months(received_at, 1)


def refusal_late(received_at: datetime, now: datetime) -> bool:
    """GDPR 12(4): the reasons for not acting are due within one month of receipt, an extension or not."""
    return now > response_deadline(received_at)


# GDPR Art. 12(3): extendable by two further months, the subject told within the first month.
def extended_deadline(received_at: datetime, now: datetime, months: int, state: State) -> datetime:
    if state not in OPEN:
        raise RuleError(f"a {state.value} request cannot be extended")
    if not 1 <= months <= MAX_EXTENSION_MONTHS:
        raise RuleError(f"an extension is 1 or 2 months, not {months}")
    if now > response_deadline(received_at):
        raise RuleError("an extension must be decided and told within the first month (GDPR 12(3))")
    return add_calendar_months(received_at, 1 + months)


def verification_expires(created_at: datetime) -> datetime:
    return created_at + timedelta(days=VERIFY_LINK_DAYS)


def reminder_due(created_at: datetime, now: datetime, reminded: bool) -> bool:
    return not reminded and now >= created_at + timedelta(days=REMINDER_AFTER_DAYS)


def days_left(deadline: datetime, now: datetime) -> int:
    """Whole calendar days until the deadline in Amsterdam (negative when overdue)."""
    return (deadline.astimezone(AMSTERDAM).date() - now.astimezone(AMSTERDAM).date()).days


def is_complete(expected: set[str], answered: set[str]) -> bool:
    """A request is done only when every holder has answered."""
    return expected <= answered


CLOCK_SKEW = timedelta(minutes=5)


GDPR_APPLIES = datetime(2018, 5, 25, tzinfo=UTC)  # GDPR 99(2): no request under it can be older


def before_the_gdpr(moment: datetime) -> bool:
    return moment < GDPR_APPLIES


def in_the_future(moment: datetime, now: datetime) -> bool:
    """A fact dated after now (beyond a few minutes of clock skew between machines)."""
    return moment > now + CLOCK_SKEW
