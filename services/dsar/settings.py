"""Settings of the dsar service: every field can be set as DSAR_<FIELD> in the environment."""

from __future__ import annotations

from typing import ClassVar

from pydantic import Field, SecretStr
from pydantic_settings import SettingsConfigDict

from services.common.settings import ServiceSettings


class DsarSettings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="DSAR_", extra="ignore")
    service_name: ClassVar[str] = "dsar"
    secret_fields: ClassVar[tuple[str, ...]] = (*ServiceSettings.secret_fields, "link_signing_key", "centre_key")
    shared_secret_fields: ClassVar[tuple[str, ...]] = (*ServiceSettings.shared_secret_fields, "centre_key")

    port: int = Field(8002, description="HTTP port.")
    link_signing_key: SecretStr | None = Field(None, description="HMAC key of export links, base64.")
    centre_key: SecretStr | None = Field(
        None, description="HMAC key, base64, the same as CONSENT_CENTRE_KEY (the privacy centre's word for a person)."
    )
    holder_answer_days: int = Field(
        10, description="A holder that has not answered this many days after the fan-out is shown as late."
    )
    export_link_days: int = Field(14, description="How long the link to an access export stays valid.")
    public_mails_per_hour: int = Field(
        3, ge=1, le=1000, description="Verification mails a public call may send to one address in an hour."
    )
    jobs_interval_seconds: float = Field(300.0, description="How often reminders and expiry run.")
