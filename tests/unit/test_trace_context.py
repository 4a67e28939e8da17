"""The W3C trace context on events (CloudEvents distributed-tracing extension, `ce_traceparent`)."""

from __future__ import annotations

from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from services.common.contracts import SubjectShredded
from services.common.events import CloudEvent
from services.common.telemetry import Tracing, current_traceparent, span_context_of

PAYLOAD = SubjectShredded(subject="a" * 64, key_id="k_1", reason="test")


def test_an_event_carries_the_current_span_and_a_consumer_continues_it() -> None:
    exporter = InMemorySpanExporter()
    tracing = Tracing("test", processor=SimpleSpanProcessor(exporter))
    assert CloudEvent.of(PAYLOAD, source="urn:test").traceparent is None, "outside any span: none"
    with tracing.span("writer") as writer:
        event = CloudEvent.of(PAYLOAD, source="urn:test")
    _key, value, headers = event.to_kafka()
    assert ("ce_traceparent", current_or(writer).encode()) in headers
    received = CloudEvent.from_kafka(value, headers)
    assert received.traceparent == event.traceparent
    with tracing.span("consume", parent=received.traceparent) as consumer:
        assert current_traceparent() is not None
    finished = {s.name: s for s in exporter.get_finished_spans()}
    assert finished["consume"].context.trace_id == finished["writer"].context.trace_id
    assert finished["consume"].parent is not None
    assert finished["consume"].parent.span_id == finished["writer"].context.span_id
    assert consumer.get_span_context().trace_id == writer.get_span_context().trace_id


def current_or(span: object) -> str:
    c = span.get_span_context()  # type: ignore[attr-defined]
    return f"00-{c.trace_id:032x}-{c.span_id:016x}-{int(c.trace_flags):02x}"


def test_a_malformed_context_is_dropped_not_an_error() -> None:
    event = CloudEvent.of(PAYLOAD, source="urn:test")
    _, value, headers = event.to_kafka()
    for bad in (
        b"garbage",
        b"00-" + b"0" * 32 + b"-" + b"0" * 16 + b"-01",
        b"01-" + b"a" * 32 + b"-" + b"b" * 16 + b"-01",
    ):
        received = CloudEvent.from_kafka(value, [*headers, ("ce_traceparent", bad)])
        assert span_context_of(received.traceparent) is None
    assert span_context_of("00-" + "a" * 32 + "-" + "b" * 16 + "-01") is not None


def test_without_an_exporter_spans_carry_ids_but_are_not_recorded() -> None:
    tracing = Tracing("test")
    with tracing.span("request") as span:
        assert not span.is_recording() and current_traceparent() is not None, "ids for logs and events"


def test_the_relay_finds_the_traceparent_in_rows_stored_either_way() -> None:
    """The outbox stores headers as orjson writes them; rows written before (json.dumps, a space after each
    comma) may still wait for the relay at an upgrade, and keep their trace."""
    import json

    from services.common.outbox import _headers, _stored, _traceparent

    parent = "00-" + "a" * 32 + "-" + "b" * 16 + "-01"
    headers = [("ce_id", "1"), ("ce_traceparent", parent), ("content-type", "application/json")]
    for stored in (_stored(headers), json.dumps(headers)):
        assert _traceparent(stored) == parent
        assert _headers(stored) == [(k, v.encode()) for k, v in headers]
    assert _traceparent(_stored([("ce_id", "1")])) is None
