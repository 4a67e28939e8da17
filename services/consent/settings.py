"""Settings of the consent service: every field can be set as CONSENT_<FIELD> in the environment."""

from __future__ import annotations

from typing import ClassVar

from pydantic import Field, SecretStr
from pydantic_settings import SettingsConfigDict

from services.common.settings import ServiceSettings


class ConsentSettings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="CONSENT_", extra="ignore")
    service_name: ClassVar[str] = "consent"

    port: int = Field(8001, description="HTTP port.")
    activecampaign_webhook_secret: SecretStr | None = Field(
        None, description="Secret path segment of the ActiveCampaign webhook URL."
    )

    secret_fields: ClassVar[tuple[str, ...]] = (*ServiceSettings.secret_fields, "activecampaign_webhook_secret")
