"""Events of the dsar service, on dsar.events.v1 (see also services/common/contracts.py). Every state
change of a request is one of these, in the ledger and on the topic."""

from __future__ import annotations

from datetime import datetime

from pydantic import Field

from services.common.contracts import RequestKind
from services.common.events import DSAR_EVENTS, EventData, event_type

PSEUDONYM = Field(min_length=64, max_length=64)


@event_type
class DsarRequestReceived(EventData):
    """A request arrived; the clock starts (GDPR 12(3))."""

    event_type = "dsar.request.received"
    topic = DSAR_EVENTS.name
    request_id: str
    kind: RequestKind
    subject: str = PSEUDONYM
    channel: str
    received_at: datetime
    deadline: datetime


@event_type
class DsarRequestLinked(EventData):
    """A second open request of the same kind for the same subject, linked to the first."""

    event_type = "dsar.request.linked"
    topic = DSAR_EVENTS.name
    request_id: str
    subject: str = PSEUDONYM
    channel: str


@event_type
class DsarIdentityVerified(EventData):
    """The person proved control of the address (single-use link), or staff verified them."""

    event_type = "dsar.identity.verified"
    topic = DSAR_EVENTS.name
    request_id: str
    subject: str = PSEUDONYM
    verified_at: datetime
    method: str


@event_type
class DsarRequestExtended(EventData):
    """GDPR 12(3): the deadline moved by up to two months, with the reason told to the person."""

    event_type = "dsar.request.extended"
    topic = DSAR_EVENTS.name
    request_id: str
    subject: str = PSEUDONYM
    deadline: datetime
    months: int = Field(ge=1, le=2, description="GDPR 12(3): at most two more months")


@event_type
class DsarRequestRefused(EventData):
    """GDPR 12(4): refused, with reasons and the right to complain to the Autoriteit Persoonsgegevens."""

    event_type = "dsar.request.refused"
    topic = DSAR_EVENTS.name
    request_id: str
    subject: str = PSEUDONYM
    late: bool = Field(False, description="Refused after the first month (GDPR 12(4) asks the reasons within it)")


@event_type
class DsarRequestExpired(EventData):
    """The identity check was never completed within its 7 days."""

    event_type = "dsar.request.expired"
    topic = DSAR_EVENTS.name
    request_id: str
    subject: str = PSEUDONYM


@event_type
class DsarAnswerRecorded(EventData):
    """A holder's answer reached the request."""

    event_type = "dsar.answer.recorded"
    topic = DSAR_EVENTS.name
    request_id: str
    holder: str
    outcome: str


@event_type
class DsarRequestCompleted(EventData):
    """Every holder answered; the person was told the outcome."""

    event_type = "dsar.request.completed"
    topic = DSAR_EVENTS.name
    request_id: str
    kind: RequestKind
    subject: str = PSEUDONYM
    completed_at: datetime
