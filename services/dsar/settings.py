"""Settings of the dsar service: every field can be set as DSAR_<FIELD> in the environment."""

from __future__ import annotations

from typing import ClassVar

from pydantic import Field
from pydantic_settings import SettingsConfigDict

from services.common.settings import ServiceSettings


class DsarSettings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="DSAR_", extra="ignore")
    service_name: ClassVar[str] = "dsar"

    port: int = Field(8002, description="HTTP port.")
    holders: list[str] = Field(
        ["consent", "breach"],
        description="Holders that must answer every request (our services; external systems join via the registry).",
    )
