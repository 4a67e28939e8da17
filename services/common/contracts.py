"""Events that cross service boundaries: data-subject requests and every holder's answer.

DSAR publishes `DataSubjectRequestStarted` on dsar.events.v1; every holder (our services and
external systems) answers with `HolderAnswered` on its own topic, keyed by the subject's pseudonym.
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from pydantic import Field

from services.common.events import DSAR_EVENTS, EventData, event_type


class RequestKind(StrEnum):
    ACCESS = "access"
    ERASURE = "erasure"
    RECTIFICATION = "rectification"
    RESTRICTION = "restriction"
    OBJECTION = "objection"


class Outcome(StrEnum):
    ERASED = "erased"  # the holder destroyed (crypto-shredded) the subject's data
    NOTHING_HELD = "nothing_held"
    REFUSED = "refused"  # with a legal reason (GDPR 17(3), statement Art. 11.3)


@event_type
class DataSubjectRequestStarted(EventData):
    """A verified request that every holder must answer."""

    event_type = "dsar.request.started"
    topic = DSAR_EVENTS.name
    request_id: str = Field(min_length=8, max_length=64)
    kind: RequestKind
    subject: str = Field(
        description="The subject's pseudonym (HMAC-SHA256 of the normalised email).", min_length=64, max_length=64
    )
    deadline: datetime = Field(description="When the answer is due (GDPR 12(3)).")


@event_type
class HolderAnswered(EventData):
    """A holder's answer to a data-subject request (published on the holder's own topic)."""

    event_type = "dsar.holder.answered"
    topic = ""  # each holder publishes on its own topic (Recorder.record(..., topic=...))
    request_id: str = Field(min_length=8, max_length=64)
    holder: str = Field(min_length=1, max_length=100)
    kind: RequestKind
    subject: str = Field(min_length=64, max_length=64)
    outcome: Outcome
    reason: str | None = Field(None, max_length=2000, description="Legal reason, required when refused.")


@event_type
class SubjectShredded(EventData):
    """A service destroyed a subject's key: its personal data in that service is unreadable for good."""

    event_type = "subject.shredded"
    topic = ""  # published on the shredding service's own topic
    subject: str = Field(min_length=64, max_length=64)
    key_id: str | None = Field(None, description="The destroyed key; None when the service held no key.")
    reason: str = Field(max_length=200)
