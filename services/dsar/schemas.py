"""API shapes of the dsar service."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from pydantic import BaseModel, EmailStr, Field

from services.common.contracts import RequestKind


class Channel(StrEnum):
    LETTER = "letter"
    EMAIL = "email"
    PHONE = "phone"
    IN_PERSON = "in_person"


class StaffRequestIn(BaseModel):
    """A request that reached staff by letter, email or phone, after staff verified the requester."""

    kind: RequestKind
    email: EmailStr
    channel: Channel
    text: str = Field("", max_length=5000)
    received_at: datetime | None = Field(None, description="When it arrived; default now. Starts the clock.")


class HolderAnswerOut(BaseModel):
    holder: str
    outcome: str
    reason: str | None
    answered_at: datetime


class RequestOut(BaseModel):
    id: str
    kind: str
    state: str
    channel: str
    received_at: datetime
    verified_at: datetime | None
    deadline: datetime
    completed_at: datetime | None
    waiting_for: list[str]
    answers: list[HolderAnswerOut]
