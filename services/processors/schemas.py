"""Request bodies of the processors service's routes."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field


class CloseIn(BaseModel):
    """A dpo's closing of an instructed task."""

    model_config = ConfigDict(extra="forbid")
    outcome: Literal["done", "nothing_held", "refused"]
    evidence: str = Field(min_length=1, max_length=5000, description="what shows it: a reply by mail, a call")


class AuthoriseIn(BaseModel):
    """A new OAuth2 refresh token, from the processor's authorization code flow, after the grant was revoked."""

    model_config = ConfigDict(extra="forbid")
    refresh_token: str = Field(min_length=8, max_length=2000)
