"""Events every service publishes about its own ledger."""

from __future__ import annotations

from pydantic import Field

from services.common.events import LEDGER_CHECKPOINTS, EventData, event_type


@event_type
class CheckpointSigned(EventData):
    """A new signed tree head of a service's ledger."""

    event_type = "ledger.checkpoint.signed"
    topic = LEDGER_CHECKPOINTS.name
    origin: str = Field(description="The ledger's checkpoint origin line.")
    size: int = Field(ge=0, le=2**63 - 1)
    root: str = Field(description="Base64 SHA-256 Merkle root.")
    note: str = Field(description="The C2SP signed note text.")
