"""Settings of the breach service: every field can be set as BREACH_<FIELD> in the environment."""

from __future__ import annotations

from typing import ClassVar

from pydantic import Field
from pydantic_settings import SettingsConfigDict

from services.common.settings import ServiceSettings


class BreachSettings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="BREACH_", extra="ignore")
    service_name: ClassVar[str] = "breach"

    port: int = Field(8003, description="HTTP port.")
