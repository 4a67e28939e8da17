"""Times and counts that become legal facts (a request's receipt, a breach's awareness): ISO 8601 with an offset and
nothing else. A time without its offset is ambiguous (which 10:00?) and an epoch number is no date a
person wrote down; both are refused with the field named, never guessed."""

from __future__ import annotations

import re
from datetime import datetime
from typing import Annotated, Any

from pydantic import AwareDatetime, BeforeValidator, Field, WithJsonSchema

ISO_START = re.compile(r"^\d{4}-\d{2}-\d{2}[Tt ]\d{2}:\d{2}")


def _iso_text(value: Any) -> Any:
    if isinstance(value, datetime):
        return value
    # text that is not an ISO 8601 date and time ("00", "1733390000") pydantic would read as epoch seconds
    if not isinstance(value, str) or not ISO_START.match(value):
        raise ValueError("give the time as ISO 8601 text with an offset, e.g. 2026-12-01T09:30:00+01:00")
    return value


Moment = Annotated[
    AwareDatetime,
    BeforeValidator(_iso_text),
    WithJsonSchema({"type": "string", "format": "date-time", "description": "ISO 8601 with an offset"}),
]


def _a_number(value: Any) -> Any:
    if isinstance(value, bool | str):
        raise ValueError("give a JSON number: true, false or text is no count")
    return value


# A count that becomes a legal fact (people affected, months of extension): a JSON integer (2.0 too, as
# JSON Schema's "integer" has it), never `true` (which lax parsing would read as 1) or "12".
Count = Annotated[int, BeforeValidator(_a_number)]
# bounds that follow from what a count means, and that every database column and the JSON encoder hold
# (a larger value is a 422 naming the field, never a 500 in the encoder)
PEOPLE_MAX = 10_000_000_000  # more people than are alive
RECORDS_MAX = 1_000_000_000_000_000  # 10^15 records: far past any register, well inside 64 bits
# the bounds inside the type, before the validator: so they stay JSON Schema's minimum and maximum, also
# where the field is optional (after it, pydantic writes them as unknown keywords that fuzzers ignore)
People = Annotated[int, Field(ge=0, le=PEOPLE_MAX), BeforeValidator(_a_number)]
Records = Annotated[int, Field(ge=0, le=RECORDS_MAX), BeforeValidator(_a_number)]
Age = Annotated[int, Field(ge=0, le=130), BeforeValidator(_a_number)]
Tally = Annotated[
    int, Field(ge=0, le=RECORDS_MAX)
]  # what a job or a round did: rows, mails, people  # years: nobody has lived longer
