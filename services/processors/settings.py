"""Settings of the processors service: every field can be set as PROCESSORS_<FIELD> in the environment.

Each connector is reached with `PROCESSORS_<KEY>_BASE_URL` and its credentials, `PROCESSORS_<KEY>_API_TOKEN`,
`..._USERNAME`, `..._PASSWORD`, `..._CLIENT_ID`, `..._CLIENT_SECRET`, `..._REFRESH_TOKEN` (KEY: the
definition's key in capitals, e.g. ACTIVECAMPAIGN): the same code runs against the real API and a local fake.
A definition's options (a form's email field, the account a deleted one's posts go to) may be set the same
way, `PROCESSORS_<KEY>_<OPTION>`.
A connector without a base URL is `not_configured`: its tasks wait, visibly, and nothing is skipped."""

from __future__ import annotations

import os
from pathlib import Path
from typing import ClassVar

from pydantic import Field, SecretStr
from pydantic_settings import SettingsConfigDict

from services.common.settings import ServiceSettings
from services.processors.purposes import DEFAULT

CREDENTIALS = ("api_token", "username", "password", "client_id", "client_secret", "refresh_token", "access_token")


class ProcessorsSettings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="PROCESSORS_", extra="ignore")
    service_name: ClassVar[str] = "processors"
    secret_fields: ClassVar[tuple[str, ...]] = (*ServiceSettings.secret_fields, "link_signing_key")

    port: int = Field(8005, description="HTTP port.")
    purposes_file: Path = Field(DEFAULT, description="The purposes file (consent's): which processor works on what.")
    work_interval_seconds: float = Field(1.0, gt=0, description="How often due processor tasks are looked for.")
    link_signing_key: SecretStr | None = Field(
        None, description="HMAC key, base64, of the links an instructed processor confirms with."
    )
    instruction_link_days: int = Field(
        90, ge=1, le=366, description="How long the link in an instruction to a processor stays valid."
    )
    task_claim_seconds: float = Field(
        120.0, gt=0, description="A task being worked on is left to its worker this long; then another takes it."
    )

    def base_url(self, key: str) -> str:
        return os.environ.get(f"PROCESSORS_{key.upper()}_BASE_URL", "")

    def token_url(self, key: str) -> str:
        """An OAuth2 connector's token endpoint when it is not the API's host (`PROCESSORS_<KEY>_TOKEN_URL`)."""
        return os.environ.get(f"PROCESSORS_{key.upper()}_TOKEN_URL", "")

    def contact(self, key: str) -> str:
        """The processor's privacy contact, who an instruction is mailed to (`PROCESSORS_<KEY>_CONTACT`)."""
        return os.environ.get(f"PROCESSORS_{key.upper()}_CONTACT", "")

    def options(self, key: str, defaults: dict[str, str]) -> dict[str, str]:
        """The site's own values of a definition's options (`PROCESSORS_<KEY>_<OPTION>`, e.g. the WordPress
        account that a deleted account's posts go to): those set in the environment."""
        found = {name: os.environ.get(f"PROCESSORS_{key.upper()}_{name.upper()}", "") for name in defaults}
        return {k: v for k, v in found.items() if v}

    def credentials(self, key: str) -> dict[str, str]:
        """The connector's credentials from the environment (never logged, never in a definition)."""
        found = {name: os.environ.get(f"PROCESSORS_{key.upper()}_{name.upper()}", "") for name in CREDENTIALS}
        return {k: v for k, v in found.items() if v}
