"""Traces (OpenTelemetry) for one service process, and the W3C trace context carried on events.

The context travels: an HTTP request's span -> the outbox row (as the CloudEvents distributed-tracing
extension, header `ce_traceparent`) -> the Kafka record -> the consumer's span -> the rows it writes.

Exporting is off by default. The standard variables turn it on: `OTEL_TRACES_EXPORTER=otlp`, or any
`OTEL_EXPORTER_OTLP_ENDPOINT` / `OTEL_EXPORTER_OTLP_TRACES_ENDPOINT`, sends spans with the OTLP/HTTP
exporter; `OTEL_TRACES_SAMPLER` (default parentbased_always_on), `OTEL_SERVICE_NAME` and
`OTEL_RESOURCE_ATTRIBUTES` are read by the SDK; `OTEL_SDK_DISABLED=true` makes every span a no-op.
Without an exporter spans are still made, so that log lines carry `trace_id` and `span_id` and the
context reaches the next service; they are simply not sent anywhere."""

from __future__ import annotations

import contextlib
import os
import random
from collections.abc import Iterator
from typing import Any

from opentelemetry import context as otel_context
from opentelemetry import trace
from opentelemetry.sdk.resources import SERVICE_NAME, Resource
from opentelemetry.sdk.trace import SpanProcessor, TracerProvider
from opentelemetry.sdk.trace.sampling import ALWAYS_OFF, ParentBased
from opentelemetry.trace import Link, NonRecordingSpan, Span, SpanContext, SpanKind, TraceFlags


def disabled() -> bool:
    return os.environ.get("OTEL_SDK_DISABLED", "").strip().lower() == "true"


def _exporting() -> bool:
    return os.environ.get("OTEL_TRACES_EXPORTER", "").strip().lower() == "otlp" or any(
        os.environ.get(v) for v in ("OTEL_EXPORTER_OTLP_ENDPOINT", "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT")
    )


class Tracing:
    """One service's tracer. `processor` (tests: an in-memory exporter's) is added besides OTLP."""

    def __init__(self, service: str, *, processor: SpanProcessor | None = None) -> None:
        self.service = service
        self.enabled = not disabled()
        self.provider: TracerProvider | None = None
        self.recording = False
        if not self.enabled:
            self.tracer: trace.Tracer = trace.NoOpTracer()
            return
        name = os.environ.get("OTEL_SERVICE_NAME") or f"privacy-{service}"
        resource = Resource.create({SERVICE_NAME: name, "privacy.service": service})
        # Recording spans that go nowhere is pure cost (a tenth of a consent capture): without an exporter
        # (and no sampler chosen) spans carry the context, ids for the logs and onto events, but are not
        # recorded. With an exporter the SDK's default applies (parentbased_always_on) or OTEL_TRACES_SAMPLER.
        sampler = (
            None if (_exporting() or processor or os.environ.get("OTEL_TRACES_SAMPLER")) else ParentBased(ALWAYS_OFF)
        )
        self.provider = (
            TracerProvider(resource=resource, sampler=sampler) if sampler else TracerProvider(resource=resource)
        )
        self.recording = sampler is None
        if _exporting():
            from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
            from opentelemetry.sdk.trace.export import BatchSpanProcessor

            self.provider.add_span_processor(BatchSpanProcessor(OTLPSpanExporter()))
        if processor is not None:
            self.provider.add_span_processor(processor)
        self.tracer = self.provider.get_tracer(f"services.{service}")

    def add_processor(self, processor: SpanProcessor) -> None:
        if self.provider is not None:
            self.provider.add_span_processor(processor)

    def server_span(self, method: str, traceparent: str | None) -> tuple[Span, object]:
        """An HTTP request's span, made current; `end_server_span` ends it. (The hot path: without the
        context-manager layers of `span`, a fifth cheaper.)"""
        if self.provider is not None and not self.recording:
            span: Span = self._unrecorded(traceparent, True)
        else:
            span = self.tracer.start_span(
                method,
                context=context_of(traceparent),
                kind=SpanKind.SERVER,
                attributes={"http.request.method": method},
            )
        return span, otel_context.attach(trace.set_span_in_context(span))

    @staticmethod
    def end_server_span(span: Span, token: object, name: str, route: str, status: int) -> None:
        if span.is_recording():
            span.update_name(name)
            span.set_attributes({"http.route": route, "http.response.status_code": status})
        otel_context.detach(token)  # type: ignore[arg-type]
        span.end()

    @contextlib.contextmanager
    def span(
        self,
        name: str,
        *,
        kind: SpanKind = SpanKind.INTERNAL,
        parent: str | None = None,
        links: list[str] | None = None,
        attributes: dict[str, Any] | None = None,
        root: bool = False,
    ) -> Iterator[Span]:
        """A span, current inside the block; `parent` a traceparent (an event's) to continue that trace;
        `root`: a trace of its own (work done for many requests at once links to them instead)."""
        if self.provider is not None and not self.recording:
            quiet = self._unrecorded(parent, root)
            token = otel_context.attach(trace.set_span_in_context(quiet))
            try:
                yield quiet
            finally:
                otel_context.detach(token)
            return
        ctx = context_of(parent) if parent else (otel_context.Context() if root else None)
        span_links = [Link(c) for c in (span_context_of(p) for p in links or ()) if c is not None]
        with self.tracer.start_as_current_span(
            name, context=ctx, kind=kind, links=span_links, attributes=attributes
        ) as span:
            yield span

    @staticmethod
    def _unrecorded(parent: str | None, root: bool) -> Span:
        """Not sampled: only the context (ids for logs and events), made without the SDK's machinery,
        which costs three times as much for a span nobody records."""
        if parent:
            above = span_context_of(parent)
        elif root:
            above = None
        else:
            current = trace.get_current_span().get_span_context()
            above = current if current.is_valid else None
        trace_id = above.trace_id if above is not None else random.getrandbits(128)
        return NonRecordingSpan(SpanContext(trace_id, random.getrandbits(64), False, TraceFlags(0)))

    def shutdown(self) -> None:
        if self.provider is not None:
            self.provider.shutdown()


def current_traceparent() -> str | None:
    """The W3C `traceparent` of the current span, or None outside any."""
    c = trace.get_current_span().get_span_context()
    if not c.is_valid:
        return None
    return f"00-{c.trace_id:032x}-{c.span_id:016x}-{int(c.trace_flags):02x}"


def span_context_of(traceparent: str | None) -> SpanContext | None:
    """The remote span context a W3C `traceparent` names (parsed by hand: the propagator's regular
    expressions cost ten times as much, and a group commit links dozens of them)."""
    if not traceparent or len(traceparent) != 55 or traceparent[:3] != "00-":
        return None
    try:
        trace_id, span_id, flags = int(traceparent[3:35], 16), int(traceparent[36:52], 16), int(traceparent[53:], 16)
    except ValueError:
        return None
    if not trace_id or not span_id:
        return None
    return SpanContext(trace_id, span_id, is_remote=True, trace_flags=TraceFlags(flags))


def context_of(traceparent: str | None) -> otel_context.Context | None:
    c = span_context_of(traceparent)
    if c is None:
        return None
    return trace.set_span_in_context(NonRecordingSpan(c))


def ids() -> tuple[str, str] | None:
    """(trace_id, span_id) of the current span for log lines, or None."""
    c = trace.get_current_span().get_span_context()
    if not c.is_valid:
        return None
    return f"{c.trace_id:032x}", f"{c.span_id:016x}"


__all__ = ["SpanKind", "TraceFlags", "Tracing", "context_of", "current_traceparent", "ids"]
