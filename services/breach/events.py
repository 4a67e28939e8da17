"""Events of the breach service on breach.events.v1: every step of the register (no personal data)."""

from __future__ import annotations

from datetime import datetime

from pydantic import Field

from services.common.events import BREACH_EVENTS, EventData, event_type
from services.common.moments import PEOPLE_MAX


class _BreachEvent(EventData):
    topic = BREACH_EVENTS.name
    breach_id: str


@event_type
class BreachRegistered(_BreachEvent):
    """A breach entered the register (GDPR 33(5)); the 72-hour clock runs from awareness."""

    event_type = "breach.registered"
    awareness_at: datetime
    ap_deadline: datetime
    nature: list[str]
    categories: list[str]
    subjects_min: int = Field(ge=0, le=PEOPLE_MAX)
    subjects_max: int = Field(ge=0, le=PEOPLE_MAX)


@event_type
class BreachUpdated(_BreachEvent):
    """Findings, measures, numbers or the end of the breach were recorded."""

    event_type = "breach.updated"
    fields: list[str]


@event_type
class RiskAssessed(_BreachEvent):
    """A person chose the outcome, with reasons; the suggestion is kept beside it."""

    event_type = "breach.risk.assessed"
    outcome: str
    suggestion: str
    exemption: str | None = None
    ap_notification_required: bool
    subject_notification_required: bool


@event_type
class ApNotificationPrepared(_BreachEvent):
    event_type = "breach.ap.prepared"
    notification_id: str
    phase: str


@event_type
class ApNotificationSubmitted(_BreachEvent):
    """The DPO recorded that the AP's form was submitted (time, reference)."""

    event_type = "breach.ap.submitted"
    notification_id: str
    phase: str
    submitted_at: datetime
    late: bool


@event_type
class SubjectsNotified(_BreachEvent):
    """Notifications to the people affected were queued (GDPR 34)."""

    event_type = "breach.subjects.notified"
    queued: int = Field(ge=0, le=PEOPLE_MAX)


@event_type
class PublicCommunicationRecorded(_BreachEvent):
    """GDPR 34(3)(c): the public was informed instead."""

    event_type = "breach.public.communicated"
    channel: str
    published_at: datetime
