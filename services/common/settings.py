"""Settings shared by the three services; each service subclasses with its own env prefix."""

from __future__ import annotations

import base64
import json
import os
import re
import secrets
import sys
from pathlib import Path
from typing import ClassVar

from pydantic import Field, SecretStr, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict


class MissingSecretError(RuntimeError):
    """A secret that production needs was not configured."""


def _dev_secret_file(name: str) -> Path:
    return Path(os.environ.get("PRIVACY_VAR_DIR", "var")) / f"{name}-dev-secrets.json"


PATH_SAFE = re.compile(r"^[A-Za-z0-9._~-]+$")  # RFC 3986 unreserved: stands in a path segment as it is


def dev_secret(service: str, field: str, *, url_safe: bool = False) -> str:
    """A random secret kept in var/ so dev restarts keep the same ledger key and pseudonyms. A `url_safe` one
    (it goes into a URL path) is made with `secrets.token_urlsafe`; one stored by an older version that
    cannot stand in a path (standard base64 holds `/` and `+`) is replaced, and that is said once."""
    path = _dev_secret_file(service)
    stored: dict[str, str] = json.loads(path.read_text()) if path.exists() else {}
    unsafe = url_safe and field in stored and not PATH_SAFE.match(stored[field])
    if field not in stored or unsafe:
        stored[field] = secrets.token_urlsafe(32) if url_safe else base64.b64encode(secrets.token_bytes(32)).decode()
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(stored, indent=2))
        path.chmod(0o600)
        if unsafe:
            print(
                f"{service}: the dev secret {field} in {path} held a character that cannot stand in a URL path; "
                "it is replaced by a URL-safe one (URLs made with the old one stop working)",
                file=sys.stderr,
            )
    return stored[field]


class ServiceSettings(BaseSettings):
    """Settings every service has. Secrets listed in `secret_fields` must be set outside dev mode."""

    model_config = SettingsConfigDict(extra="ignore", env_file=None)

    service_name: ClassVar[str] = "common"
    secret_fields: ClassVar[tuple[str, ...]] = (
        "ledger_signing_key",
        "pseudonym_key",
        "key_encryption_key",
        "sealing_key",
    )
    shared_secret_fields: ClassVar[tuple[str, ...]] = ("pseudonym_key", "sealing_key")
    path_secret_fields: ClassVar[tuple[str, ...]] = ()  # secrets that stand in a URL path (URL-safe only)

    dev_mode: bool = Field(False, description="Local development: generate missing secrets, seed demo keys.")
    host: str = Field("127.0.0.1", description="Address the HTTP server binds to.")
    port: int = Field(8000, description="HTTP port.")
    public_base_url: str = Field("", description="Base URL used in links sent to people (default http://host:port).")
    privacy_centre_url: str = Field(
        "http://127.0.0.1:8001/privacy",
        description="The privacy centre (consent's /privacy): every page and mail a person gets leads there.",
    )
    database_url: str = Field("", description="SQLAlchemy async URL (sqlite+aiosqlite:// or postgresql+asyncpg://).")
    kafka_bootstrap_servers: str = Field("127.0.0.1:9092", description="Kafka bootstrap servers.")
    kafka_topic_prefix: str = Field("", description="Prefix for every topic and consumer group (e.g. 'staging.').")
    kafka_topic_partitions: int = Field(3, description="Partitions for the topics this service creates.")
    kafka_replication_factor: int = Field(1, description="Replication factor for the topics this service creates.")
    log_level: str = Field("INFO", description="Python log level.")
    ledger_signing_key: SecretStr | None = Field(None, description="Ed25519 private key seed, base64 (32 bytes).")
    ledger_origin: str = Field("", description="Checkpoint origin line (default <service>.privacy.local/ledger).")
    checkpoint_interval_seconds: float = Field(60.0, description="Sign and publish a checkpoint this often.")
    checkpoint_burst: int = Field(1000, description="Also sign a checkpoint after this many new entries.")
    ledger_witnesses: dict[str, str] = Field(
        default_factory=dict,
        description="Outside witnesses (C2SP tlog-witness), JSON: base URL -> the witness's verifier key. Each new "
        "checkpoint goes to each; their cosignatures are served with it.",
    )
    witness_retry_seconds: float = Field(30.0, gt=0, description="A witness that did not cosign is asked again after.")
    ledger_check_on_start: bool = Field(
        True,
        description="Before serving, compare the ledger with what was published on Kafka and rebuild what a "
        "restore lost (writes wait while Kafka does not answer).",
    )
    pseudonym_key: SecretStr | None = Field(
        None, description="HMAC-SHA256 key for subject pseudonyms, base64; the same in every service."
    )
    key_encryption_key: SecretStr | None = Field(None, description="AES-256 key wrapping per-subject keys, base64.")
    sealing_key: SecretStr | None = Field(
        None,
        description="AES key (base64, 32 bytes) sealing what crosses Kafka between our services (access fragments, "
        "corrections, affected people); the same in every service, and in no outside system.",
    )
    sealing_key_id: str = Field(
        "k1", pattern=r"^[A-Za-z0-9_-]{1,32}$", description="The id SEALING_KEY seals under (named in each value)."
    )
    sealing_keys_retired: dict[str, SecretStr] = Field(
        default_factory=dict,
        description="Rotated-out sealing keys (JSON: key id -> base64 key): they still open what they sealed.",
    )
    sealing_open_legacy: bool = Field(
        True,
        description="Open values sealed before key ids (with a key derived from PSEUDONYM_KEY); switch off once "
        "none is left in Kafka or the databases.",
    )
    outbox_poll_seconds: float = Field(0.2, description="Outbox relay poll interval (SQLite; PostgreSQL uses NOTIFY).")
    relay_enabled: bool = Field(True, description="Run the outbox relay inside this process.")
    outbox_keep_hours: float = Field(
        168.0,
        ge=0,
        description="Published outbox rows are kept this long for diagnosis, then deleted by the relay "
        "(the events stay in Kafka and the ledger).",
    )
    consumers_enabled: bool = Field(True, description="Run the Kafka consumers inside this process.")
    metrics_enabled: bool = Field(True, description="Count requests, publishes and records for GET /metrics.")
    metrics_open: bool = Field(
        False,
        description="GET /metrics without a token (only where the port is reachable from the scrape network "
        "alone); otherwise it needs a `system` or `admin` token.",
    )
    bootstrap_admin_token: SecretStr | None = Field(None, description="Dev mode: admin token accepted by every scope.")
    demo_site_key: str | None = Field(None, description="Dev mode: a site key for http://localhost origins.")
    rate_limit_per_minute: int = Field(60, description="Public routes: requests per minute per IP and site key.")
    forwarded_allow_ips: str = Field(
        "",
        description="The reverse proxies whose X-Forwarded-For and X-Forwarded-Proto are believed (comma-separated "
        "addresses or networks, e.g. 10.0.0.5). Empty: none, the connection's own address and scheme count.",
    )
    failed_credentials_per_minute: int = Field(
        30, ge=1, le=100_000, description="Refused site keys and tokens per client address a minute, then 429."
    )
    max_body_bytes: int = Field(64 * 1024, ge=1024, description="Largest accepted request body (413 above).")
    body_timeout_seconds: float = Field(
        10.0, gt=0, description="The whole body must arrive this soon after the headers (408 otherwise)."
    )
    json_max_depth: int = Field(32, ge=4, description="Deepest nesting accepted in a JSON body (400 deeper).")
    json_max_items: int = Field(1000, ge=10, description="Longest array accepted in a JSON body (400 longer).")
    header_max_bytes: int = Field(16 * 1024, ge=1024, description="Largest accepted request headers in all (431).")
    header_timeout_seconds: float = Field(
        10.0, gt=0, description="A connection must deliver a request's headers this soon (then it is closed)."
    )
    keep_alive_seconds: float = Field(5.0, gt=0, description="An idle keep-alive connection is closed after this.")
    mail_enabled: bool = Field(True, description="Run the mail relay (SMTP) inside this process.")
    smtp_host: str = Field("127.0.0.1", description="SMTP server for mail to people.")
    smtp_port: int = Field(1025, description="SMTP port.")
    smtp_starttls: bool = Field(False, description="Use STARTTLS.")
    smtp_username: str | None = Field(None, description="SMTP login, if the server needs one.")
    smtp_password: SecretStr | None = Field(None, description="SMTP password.")
    mail_from: str = Field("privacy@jezaakvoorelkaar.nl", description="Sender address of mail to people.")
    mail_from_name: str = Field("Je zaak voor Elkaar", description="Sender name.")
    mail_bounce_address: str | None = Field(
        None,
        description="Envelope sender for bounces; mail goes out as <local>+<mail id>@<domain> so that a "
        "returned DSN names its mail (POST /admin/mail/bounces).",
    )

    @model_validator(mode="after")
    def _fill_defaults(self) -> ServiceSettings:
        name = self.service_name
        if not self.database_url:
            var = os.environ.get("PRIVACY_VAR_DIR", "var")
            self.database_url = f"sqlite+aiosqlite:///{var}/{name}.db"
        if not self.public_base_url:
            self.public_base_url = f"http://{self.host}:{self.port}"
        if not self.ledger_origin:
            self.ledger_origin = f"{name}.privacy.local/ledger"
        prefix = str(self.model_config.get("env_prefix", ""))
        if self.mail_bounce_address:
            local, at, domain = self.mail_bounce_address.partition("@")
            if not (local and at and domain) or "@" in domain or "+" in local:
                raise ValueError(
                    f"{prefix}MAIL_BOUNCE_ADDRESS must look like bounces@example.nl (no '+': the mail id is "
                    f"added as bounces+<id>@...); got {self.mail_bounce_address!r}"
                )
        else:
            self.mail_bounce_address = None
        for field in self.secret_fields:
            value = getattr(self, field)
            if value is not None:
                if field in self.path_secret_fields and not PATH_SAFE.match(value.get_secret_value()):
                    raise ValueError(
                        f"{prefix}{field.upper()} goes into a URL path, so it may hold only letters, digits and "
                        "- . _ ~ (make one with: python3 -c 'import secrets; print(secrets.token_urlsafe(32))')"
                    )
                continue
            if not self.dev_mode:
                raise MissingSecretError(
                    f"{prefix}{field.upper()} is not set; it is required outside dev mode "
                    f"(set {prefix}DEV_MODE=1 only on a developer machine)"
                )
            # Pseudonyms must match across services: one dev secret for all of them.
            scope = "shared" if field in self.shared_secret_fields else name
            setattr(self, field, SecretStr(dev_secret(scope, field, url_safe=field in self.path_secret_fields)))
        return self

    def secret_bytes(self, field: str) -> bytes:
        value = getattr(self, field)
        assert isinstance(value, SecretStr), field
        return base64.b64decode(value.get_secret_value())

    @property
    def is_postgres(self) -> bool:
        return self.database_url.startswith("postgresql")
