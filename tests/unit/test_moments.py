"""Times that become legal facts are ISO 8601 text with an offset, and nothing else. `make fuzz` (seed
1462058855) found "00" taken as a breach's publication time: pydantic read it as epoch seconds (1970)."""

from __future__ import annotations

import pytest
from pydantic import BaseModel, ValidationError

from services.common.moments import Moment


class At(BaseModel):
    at: Moment | None = None


@pytest.mark.parametrize("given", ["00", "1733390000", "0", "2026-12-01T09:30:00", "2026-12-01", 1733390000, True])
def test_what_is_no_iso_time_with_an_offset_is_refused(given: object) -> None:
    with pytest.raises(ValidationError):
        At(at=given)


@pytest.mark.parametrize("given", ["2026-12-01T09:30:00+01:00", "2026-12-01T08:30:00Z", "2026-12-01 09:30:00+01:00"])
def test_an_iso_time_with_an_offset_is_taken(given: str) -> None:
    at = At(at=given).at
    assert at is not None and at.utcoffset() is not None
