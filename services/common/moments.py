"""Times and counts that become legal facts (a request's receipt, a breach's awareness): ISO 8601 with an offset and
nothing else. A time without its offset is ambiguous (which 10:00?) and an epoch number is no date a
person wrote down; both are refused with the field named, never guessed."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from pydantic import AwareDatetime, BeforeValidator, WithJsonSchema


def _iso_text(value: Any) -> Any:
    if isinstance(value, datetime):
        return value
    if not isinstance(value, str):
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
