"""Pure rules of data-subject requests. No I/O."""

from __future__ import annotations

import calendar
from datetime import datetime
from zoneinfo import ZoneInfo

AMSTERDAM = ZoneInfo("Europe/Amsterdam")


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


def is_complete(expected: set[str], answered: set[str]) -> bool:
    """A request is done only when every holder has answered."""
    return expected <= answered
