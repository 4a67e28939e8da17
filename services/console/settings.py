"""Settings of the console (environment, prefix CONSOLE_)."""

from __future__ import annotations

import base64
import os

from pydantic import Field, SecretStr, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from services.common.settings import dev_secret


class ConsoleSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="CONSOLE_", extra="ignore")

    dev_mode: bool = Field(False, description="Generate a session key into var/ when none is given.")
    consent_url: str = Field("http://127.0.0.1:8001", description="The consent service, as the console calls it.")
    dsar_url: str = Field("http://127.0.0.1:8002", description="The dsar service.")
    breach_url: str = Field("http://127.0.0.1:8003", description="The breach service.")
    processors_url: str = Field("http://127.0.0.1:8005", description="The processors service.")
    session_key: SecretStr | None = Field(
        None, description="Key (base64, 32 bytes) sealing the session cookie that holds the signed-in token."
    )
    session_minutes: int = Field(30, ge=1, le=24 * 60, description="A session ends after this long idle.")
    database_url: str = Field(
        "",
        description="Where signed-out sessions are kept for every worker (SQLAlchemy async URL; default "
        "sqlite+aiosqlite:///var/console.db; PostgreSQL when the console runs on several hosts).",
    )
    session_max_hours: int = Field(12, ge=1, le=168, description="A session ends this long after signing in.")
    timeout_seconds: float = Field(5.0, gt=0, description="How long a page waits for a service.")
    log_level: str = Field("info", description="Log level.")

    @model_validator(mode="after")
    def _key(self) -> ConsoleSettings:
        if not self.database_url:
            self.database_url = f"sqlite+aiosqlite:///{os.environ.get('PRIVACY_VAR_DIR', 'var')}/console.db"
        if self.session_key is None:
            if not self.dev_mode:
                raise ValueError("CONSOLE_SESSION_KEY is required outside dev mode (CONSOLE_DEV_MODE=1)")
            self.session_key = SecretStr(dev_secret("console", "session_key"))
        return self

    def session_secret(self) -> bytes:
        assert self.session_key is not None
        return base64.b64decode(self.session_key.get_secret_value())

    def urls(self) -> dict[str, str]:
        return {
            "consent": self.consent_url,
            "dsar": self.dsar_url,
            "breach": self.breach_url,
            "processors": self.processors_url,
        }
