"""Events of the processors service on processors.events.v1 (non-personal: pseudonyms, path templates)."""

from __future__ import annotations

from pydantic import Field

from services.common.events import EventData, Topic, event_type

PROCESSORS_EVENTS = Topic("processors.events.v1", description="What each processor was asked, and its answer.")


@event_type
class ProcessorActed(EventData):
    """One processor's outcome for one task: what was sent (method and path template, never a value) and
    the answers' statuses. A withdrawal's sync, or one processor's part of a data-subject request."""

    event_type = "processors.task.settled"
    topic = PROCESSORS_EVENTS.name
    task_id: str = Field(max_length=40)
    request_id: str | None = Field(None, max_length=64)
    subject: str = Field(min_length=64, max_length=64)
    processor: str = Field(max_length=60)
    action: str = Field(max_length=20)
    state: str = Field(max_length=30, description="done, nothing_held, exempt, failed, needs_authorisation, ...")
    outcome: str = Field(max_length=2000, description="in words, no personal data")
    calls: list[str] = Field(
        default_factory=list, max_length=50, description='what was sent and answered: "DELETE /api/3/contacts/{id} 404"'
    )
