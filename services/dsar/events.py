"""Events of the dsar service, on dsar.events.v1 (see also services/common/contracts.py)."""

from __future__ import annotations

from datetime import datetime

from pydantic import Field

from services.common.contracts import RequestKind
from services.common.events import DSAR_EVENTS, EventData, event_type


@event_type
class DsarRequestReceived(EventData):
    event_type = "dsar.request.received"
    topic = DSAR_EVENTS.name
    request_id: str
    kind: RequestKind
    subject: str = Field(min_length=64, max_length=64)
    channel: str
    received_at: datetime
    deadline: datetime


@event_type
class DsarAnswerRecorded(EventData):
    event_type = "dsar.answer.recorded"
    topic = DSAR_EVENTS.name
    request_id: str
    holder: str
    outcome: str


@event_type
class DsarRequestCompleted(EventData):
    event_type = "dsar.request.completed"
    topic = DSAR_EVENTS.name
    request_id: str
    kind: RequestKind
    subject: str = Field(min_length=64, max_length=64)
    completed_at: datetime
