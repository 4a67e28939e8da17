"""CloudEvents 1.0 in Kafka binary mode, the topic catalogue and the event-type registry."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, ClassVar

import orjson
from pydantic import BaseModel, ConfigDict, ValidationError

from services.common.ids import uuid4_str
from services.common.telemetry import current_traceparent

TRACEPARENT = re.compile(r"^00-[0-9a-f]{32}-[0-9a-f]{16}-[0-9a-f]{2}$")

SPECVERSION = "1.0"
CONTENT_TYPE = "application/json"
TYPE_PREFIX = "nl.jzve.privacy."
SCHEMA_BASE = "urn:jzve:privacy:schema:"


class EventError(ValueError):
    """A Kafka record is not a valid CloudEvent of a known type; the reason goes to the dead-letter topic."""


class EventData(BaseModel):
    """Base of every event payload. Subclasses set `event_type` and `topic`; payloads hold no plaintext
    personal data beyond what the receiving side needs to act (see the README's data notes)."""

    model_config = ConfigDict(frozen=True, extra="forbid")
    event_type: ClassVar[str]
    # the topic it travels on; None for an event with no topic of its own (a holder's answer, a shredding:
    # each service names its own with Recorder.record(..., topic=), which refuses to record one without)
    topic: ClassVar[str | None]
    schema_version: ClassVar[int] = 1

    @classmethod
    def type_name(cls) -> str:
        return TYPE_PREFIX + cls.event_type

    @classmethod
    def schema_uri(cls) -> str:
        return f"{SCHEMA_BASE}{cls.event_type}:v{cls.schema_version}"


REGISTRY: dict[str, type[EventData]] = {}


def event_type(cls: type[EventData]) -> type[EventData]:
    """Class decorator: register an event payload model under its CloudEvents type."""
    name = cls.type_name()
    if name in REGISTRY and REGISTRY[name] is not cls:
        raise ValueError(f"event type {name} registered twice")
    REGISTRY[name] = cls
    return cls


@dataclass(frozen=True)
class Topic:
    name: str
    compacted: bool = False
    description: str = ""
    retention_ms: int | None = None

    def prefixed(self, prefix: str) -> Topic:
        return Topic(prefix + self.name, self.compacted, self.description, self.retention_ms)

    def configs(self) -> dict[str, str]:
        cfg = {"cleanup.policy": "compact" if self.compacted else "delete"}
        if self.retention_ms is not None:
            cfg["retention.ms"] = str(self.retention_ms)
        return cfg


CONSENT_EVENTS = Topic("consent.events.v1", description="Consent given, denied, withdrawn, expired, erased.")
CONSENT_STATE = Topic(
    "consent.state.v1",
    compacted=True,
    description="Each subject's current consent per purpose (compacted, keyed by pseudonym).",
)
DSAR_EVENTS = Topic("dsar.events.v1", description="Data-subject requests and the holders' answers.")
DSAR_ANSWERS = Topic(
    "dsar.answers.v1",
    description="External holders' answers: HolderAnswered for requests, AffectedSubjectsFound for breaches.",
)
BREACH_EVENTS = Topic("breach.events.v1", description="Breach register steps.")
LEDGER_CHECKPOINTS = Topic("ledger.checkpoints.v1", description="Signed tree heads of every service's ledger.")
LEDGER_ENTRIES = Topic(
    "ledger.entries.v1",
    retention_ms=-1,  # kept as long as the ledgers: a restore of any backup rebuilds what came after it
    description="Every ledger entry of every service, as hashed (keyed by origin): what a restore rebuilds from.",
)
# The topics above are contracts: every service may read them. Each service registers the ones it publishes on
# (services/common/registry.py); these are common's own: answers from any holder, every ledger's checkpoints and
# entries.
COMMON_TOPICS = (DSAR_ANSWERS, LEDGER_CHECKPOINTS, LEDGER_ENTRIES)


def dead_letter_topic(group: str) -> Topic:
    return Topic(f"{group}.dlq", description=f"Records the consumer group {group} could not apply.")


@dataclass(frozen=True)
class CloudEvent:
    type: str
    source: str
    data: dict[str, Any] | None
    subject: str | None = None
    id: str = field(default_factory=uuid4_str)
    time: datetime = field(default_factory=lambda: datetime.now(UTC))
    dataschema: str | None = None
    partitionkey: str | None = None
    # CloudEvents distributed-tracing extension: the W3C trace context of the span that wrote the event
    traceparent: str | None = None

    @classmethod
    def of(
        cls,
        payload: EventData,
        *,
        source: str,
        subject: str | None = None,
        event_id: str | None = None,
        time: datetime | None = None,
        key: str | None = None,
        traceparent: str | None = None,
    ) -> CloudEvent:
        """`key` (the partition key) defaults to the subject: one person's events stay in order.
        `traceparent` defaults to the current span's (the request or consumed event being handled)."""
        return cls(
            type=payload.type_name(),
            source=source,
            data=payload.model_dump(mode="json"),
            subject=subject,
            id=event_id or uuid4_str(),
            time=time or datetime.now(UTC),
            dataschema=payload.schema_uri(),
            partitionkey=key or subject,
            traceparent=traceparent or current_traceparent(),
        )

    def to_kafka(self) -> tuple[bytes | None, bytes | None, list[tuple[str, bytes]]]:
        """Binary mode: value = data, content-type header, every other attribute as ce_<name>."""
        key, value, headers = self.to_record()
        return key.encode() if key is not None else None, value, [(k, v.encode()) for k, v in headers]

    def to_record(self) -> tuple[str | None, bytes | None, list[tuple[str, str]]]:
        """`to_kafka` with the key and header values as text (what the outbox stores)."""
        headers = [
            ("ce_specversion", SPECVERSION),
            ("ce_id", self.id),
            ("ce_source", self.source),
            ("ce_type", self.type),
            ("ce_time", self.time.astimezone(UTC).isoformat().replace("+00:00", "Z")),
        ]
        if self.subject is not None:
            headers.append(("ce_subject", self.subject))
        if self.dataschema is not None:
            headers.append(("ce_dataschema", self.dataschema))
        if self.partitionkey is not None:
            headers.append(("ce_partitionkey", self.partitionkey))
        if self.traceparent is not None:
            headers.append(("ce_traceparent", self.traceparent))
        value = None
        if self.data is not None:
            headers.append(("content-type", CONTENT_TYPE))
            value = orjson.dumps(self.data)  # compact UTF-8, as json.dumps(separators=(",", ":"), ensure_ascii=False)
        return self.partitionkey, value, headers

    @classmethod
    def from_kafka(
        cls, value: bytes | None, headers: list[tuple[str, bytes]] | tuple[tuple[str, bytes], ...]
    ) -> CloudEvent:
        try:
            h = {k: v.decode() for k, v in headers}
        except UnicodeDecodeError as exc:
            raise EventError("a header is not UTF-8") from exc
        if h.get("ce_specversion") != SPECVERSION:
            raise EventError(f"not a CloudEvent 1.0 (ce_specversion={h.get('ce_specversion')!r})")
        missing = [a for a in ("ce_id", "ce_source", "ce_type") if not h.get(a)]
        if missing:
            raise EventError(f"missing required attributes: {', '.join(missing)}")
        data: dict[str, Any] | None = None
        if value is not None:
            if h.get("content-type", CONTENT_TYPE).split(";")[0].strip() != CONTENT_TYPE:
                raise EventError(f"unsupported content-type {h.get('content-type')!r}")
            try:
                parsed = json.loads(value)
            except (UnicodeDecodeError, json.JSONDecodeError) as exc:
                raise EventError(f"data is not JSON: {exc}") from exc
            if not isinstance(parsed, dict):
                raise EventError("data is not a JSON object")
            data = parsed
        try:
            time = datetime.fromisoformat(h["ce_time"]) if "ce_time" in h else datetime.now(UTC)
        except ValueError as exc:
            raise EventError(f"ce_time is not RFC 3339: {h['ce_time']!r}") from exc
        return cls(
            type=h["ce_type"],
            source=h["ce_source"],
            data=data,
            subject=h.get("ce_subject"),
            id=h["ce_id"],
            time=time,
            dataschema=h.get("ce_dataschema"),
            partitionkey=h.get("ce_partitionkey"),
            # a context that is not W3C's is dropped (a new trace starts), never an error: tracing is advice
            traceparent=h["ce_traceparent"] if TRACEPARENT.match(h.get("ce_traceparent", "")) else None,
        )

    def payload(self) -> EventData:
        """The typed payload; EventError when the type is unknown or the data does not fit its schema."""
        model = REGISTRY.get(self.type)
        if model is None:
            raise EventError(f"unknown event type {self.type!r}")
        try:
            return model.model_validate(self.data or {})
        except ValidationError as exc:
            raise EventError(f"data does not match the schema of {self.type}: {exc.errors(include_url=False)}") from exc
