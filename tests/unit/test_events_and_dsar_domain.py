"""CloudEvents binary mode and the calendar-month clock (pure)."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from services.common.catalog import load_all
from services.common.contracts import DataSubjectRequestStarted, RequestKind
from services.common.events import CloudEvent, EventError
from services.dsar.domain import AMSTERDAM, add_calendar_months, response_deadline

SUBJECT = "ab" * 32


def started() -> DataSubjectRequestStarted:
    return DataSubjectRequestStarted(
        request_id="dsr_12345678",
        kind=RequestKind.ERASURE,
        subject=SUBJECT,
        deadline=datetime(2026, 12, 24, tzinfo=UTC),
    )


def test_binary_mode_round_trip() -> None:
    load_all()
    event = CloudEvent.of(started(), source="urn:test", subject=SUBJECT)
    key, value, headers = event.to_kafka()
    names = dict(headers)
    assert key == SUBJECT.encode()
    assert names["ce_specversion"] == b"1.0" and names["content-type"] == b"application/json"
    assert names["ce_type"] == b"nl.jzve.privacy.dsar.request.started"
    assert names["ce_partitionkey"] == SUBJECT.encode()
    back = CloudEvent.from_kafka(value, headers)
    assert back.id == event.id and back.type == event.type and back.subject == SUBJECT
    assert back.payload() == started()


@pytest.mark.parametrize(
    ("value", "headers", "reason"),
    [
        (b"{}", [], "not a CloudEvent 1.0"),
        (b"{}", [("ce_specversion", b"1.0"), ("ce_id", b"1")], "missing required attributes"),
        (
            b"{not json",
            [("ce_specversion", b"1.0"), ("ce_id", b"1"), ("ce_source", b"s"), ("ce_type", b"t")],
            "not JSON",
        ),
        (
            b"[1]",
            [("ce_specversion", b"1.0"), ("ce_id", b"1"), ("ce_source", b"s"), ("ce_type", b"t")],
            "not a JSON object",
        ),
        (b"{}", [("ce_specversion", b"\xff"), ("ce_id", b"1")], "not UTF-8"),
    ],
)
def test_malformed_records_are_refused_with_a_reason(
    value: bytes, headers: list[tuple[str, bytes]], reason: str
) -> None:
    with pytest.raises(EventError, match=reason):
        CloudEvent.from_kafka(value, headers)


def test_unknown_type_and_schema_violation() -> None:
    load_all()
    base = [("ce_specversion", b"1.0"), ("ce_id", b"1"), ("ce_source", b"s")]
    with pytest.raises(EventError, match="unknown event type"):
        CloudEvent.from_kafka(b"{}", [*base, ("ce_type", b"nl.jzve.privacy.nope")]).payload()
    with pytest.raises(EventError, match="does not match the schema"):
        CloudEvent.from_kafka(
            b'{"request_id": "x"}', [*base, ("ce_type", b"nl.jzve.privacy.dsar.request.started")]
        ).payload()


@pytest.mark.parametrize(
    ("received", "due"),
    [
        ((2026, 1, 31, 10), (2026, 2, 28, 10)),  # month end, common year
        ((2028, 1, 31, 10), (2028, 2, 29, 10)),  # leap year
        ((2028, 2, 29, 10), (2028, 3, 29, 10)),
        ((2026, 3, 31, 12), (2026, 4, 30, 12)),
        ((2026, 12, 15, 9), (2027, 1, 15, 9)),  # year end
        ((2026, 3, 1, 12), (2026, 4, 1, 12)),  # across the spring DST change: same wall-clock time
        ((2026, 10, 10, 12), (2026, 11, 10, 12)),  # across the autumn DST change
    ],
)
def test_deadline_is_one_calendar_month_in_amsterdam(received: tuple[int, ...], due: tuple[int, ...]) -> None:
    start = datetime(*received, tzinfo=AMSTERDAM)
    assert response_deadline(start) == datetime(*due, tzinfo=AMSTERDAM)


def test_deadline_uses_amsterdam_date_not_utc() -> None:
    # 31 Jan 23:30 UTC is already 1 Feb in Amsterdam: due 1 March, not 28 Feb.
    assert response_deadline(datetime(2026, 1, 31, 23, 30, tzinfo=UTC)).date() == datetime(2026, 3, 1).date()
    assert add_calendar_months(datetime(2026, 8, 31, tzinfo=AMSTERDAM), 3).day == 30
