"""API shapes of the dsar service."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from pydantic import BaseModel, ConfigDict, EmailStr, Field, StrictBool, model_validator

from services.common.contracts import Outcome, RequestKind
from services.common.moments import Count, Moment


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class Channel(StrEnum):
    WEBSITE = "website"
    LETTER = "letter"
    EMAIL = "email"
    PHONE = "phone"
    IN_PERSON = "in_person"


class RequestIn(Strict):
    """A person's own request (statement Art. 10, 11; GDPR 15-21)."""

    kind: RequestKind
    email: EmailStr
    text: str = Field("", max_length=5000)
    language: str = Field("nl", pattern="^(nl|en)$")
    corrections: dict[str, str] | None = Field(None, max_length=20, description="Rectification: field -> new value")

    @model_validator(mode="after")
    def _corrections(self) -> RequestIn:
        if self.kind == RequestKind.RECTIFICATION and not self.corrections:
            raise ValueError('a rectification needs corrections: {"field": "new value"}')
        return self


class CentreRequestIn(Strict):
    """A request made in the privacy centre: the address is the one the centre's assertion names."""

    kind: RequestKind
    text: str = Field("", max_length=5000)
    language: str = Field("nl", pattern="^(nl|en)$")
    corrections: dict[str, str] | None = Field(None, max_length=20, description="Rectification: field -> new value")

    @model_validator(mode="after")
    def _corrections(self) -> CentreRequestIn:
        if self.kind == RequestKind.RECTIFICATION and not self.corrections:
            raise ValueError('a rectification needs corrections: {"field": "new value"}')
        return self


class CentreRequestOut(BaseModel):
    kind: str
    state: str
    open: bool
    received_at: datetime
    deadline: datetime
    overdue: bool
    completed_at: datetime | None
    extension_reason: str | None
    refusal_reason: str | None
    export_url: str | None = Field(description="A finished access request: its export, behind a signed link")


class StaffRequestIn(RequestIn):
    """A request that reached staff by letter, email or phone."""

    channel: Channel
    received_at: Moment | None = Field(
        None,
        description="When it arrived (ISO 8601 with an offset; not in the future, not before 25 May 2018); "
        "default now. Starts the clock.",
    )
    identity_verified: StrictBool = Field(False, description="Staff checked who the person is; else a link is mailed")


class ExtendIn(Strict):
    months: Count = Field(ge=1, le=2)
    reason: str = Field(min_length=10, max_length=2000)


class RefuseIn(Strict):
    reason: str = Field(min_length=10, max_length=2000, description="Told to the person with the right to complain")


class DecideIn(Strict):
    note: str = Field(
        min_length=10, max_length=2000, description="Why the request may start (e.g. the parent confirmed by phone)"
    )


class TaskCloseIn(Strict):
    holder: str = Field(min_length=1, max_length=100)
    outcome: Outcome
    reason: str | None = Field(None, max_length=2000)


class HolderIn(Strict):
    name: str = Field(min_length=1, max_length=100, pattern=r"^[A-Za-z0-9 ._\-]+$")
    kind: str = Field(pattern="^(kafka|manual)$")
    description: str = Field("", max_length=500)
    active: StrictBool = True


class HolderAnswerOut(BaseModel):
    holder: str
    outcome: str
    reason: str | None
    answered_at: datetime
    answered_by: str | None


class RequestOut(BaseModel):
    id: str
    kind: str
    state: str
    channel: str
    received_at: datetime
    verified_at: datetime | None
    deadline: datetime
    days_left: int = Field(ge=-36_500, le=366, description="Negative when overdue")
    overdue: bool
    completed_at: datetime | None
    holders: list[str]
    waiting_for: list[str]
    late: list[str]
    answers: list[HolderAnswerOut]
    extension_reason: str | None
    refusal_reason: str | None
    linked_requests: int = Field(ge=0, le=2**31 - 1)
