"""Settings of the consent service: every field can be set as CONSENT_<FIELD> in the environment."""

from __future__ import annotations

from typing import ClassVar

from pydantic import Field, SecretStr
from pydantic_settings import SettingsConfigDict

from services.common.settings import ServiceSettings


class ConsentSettings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="CONSENT_", extra="ignore")
    service_name: ClassVar[str] = "consent"
    secret_fields: ClassVar[tuple[str, ...]] = (
        *ServiceSettings.secret_fields,
        "activecampaign_webhook_secret",
        "link_signing_key",
        "centre_key",
    )
    shared_secret_fields: ClassVar[tuple[str, ...]] = (*ServiceSettings.shared_secret_fields, "centre_key")
    path_secret_fields: ClassVar[tuple[str, ...]] = ("activecampaign_webhook_secret",)

    port: int = Field(8001, description="HTTP port.")
    activecampaign_webhook_secret: SecretStr | None = Field(
        None, description="Secret path segment of the ActiveCampaign webhook URL."
    )
    activecampaign_list_purposes: dict[str, list[str]] = Field(
        {"1": ["newsletter"]}, description="ActiveCampaign list id -> purposes an unsubscribe withdraws (JSON)."
    )
    link_signing_key: SecretStr | None = Field(None, description="HMAC key of unsubscribe and history links, base64.")
    centre_key: SecretStr | None = Field(
        None,
        description="HMAC key, base64, the same as DSAR_CENTRE_KEY: the privacy centre vouches with it to dsar "
        "for the person signed in.",
    )
    dsar_url: str = Field("http://127.0.0.1:8002", description="The dsar service, as the privacy centre calls it.")
    centre_link_minutes: int = Field(30, description="How long a privacy-centre sign-in link stays valid.")
    centre_session_minutes: int = Field(30, description="A privacy-centre session ends after this long idle.")
    centre_session_max_hours: int = Field(
        12, ge=1, le=168, description="A privacy-centre session ends this long after signing in, however busy."
    )
    centre_mails_per_hour: int = Field(5, description="Sign-in mails per address per hour (also 4x per IP).")
    public_mails_per_hour: int = Field(
        3,
        ge=1,
        le=1000,
        description="Mails a public call may make us send to one address in an hour (opt-in, parent, withdrawal "
        "confirmation); past it nothing is mailed and the caller's answer is the same.",
    )
    purposes_file: str = Field("", description="Purposes and processors (default: services/consent/purposes.json).")
    policy_url: str = Field("https://www.jezaakvoorelkaar.nl/privacyverklaring", description="The statement's URL.")
    optin_token_hours: int = Field(72, description="How long a double opt-in link stays valid.")
    history_link_days: int = Field(30, description="How long a link to a person's consent history stays valid.")
    banner_cache_seconds: int = Field(
        60,
        ge=4,
        le=3600,
        description="GET /v1/banner: how long a browser or a shared cache (CDN, reverse proxy) may serve it: "
        "max-age three quarters of it, stale-while-revalidate the rest. A new notice or a revoked site key "
        "reaches every visitor within it.",
    )
    lookup_addresses_per_minute: int = Field(
        20_000,
        ge=1000,
        le=10_000_000,
        description="POST /v1/lookup: addresses and browser ids one lookup token may ask about a minute (429 past it).",
    )
    webhook_retry_hours: float = Field(
        24.0, gt=0, le=168, description="A webhook delivery is retried with back-off this long, then dead-lettered."
    )
    webhook_backoff_seconds: float = Field(
        5.0,
        gt=0,
        le=3600,
        description="First wait before a failed webhook delivery is retried (doubling, at most 1 h).",
    )
    webhook_timeout_seconds: float = Field(10.0, gt=0, le=60, description="How long a webhook endpoint may take.")
    webhook_private_targets: bool = Field(
        False,
        description="Let webhooks reach loopback, private and link-local addresses, and plain http (always so in "
        "dev mode).",
    )
    restriction_lift_notice_days: int = Field(
        14,
        ge=1,
        le=365,
        description="A restriction of processing is lifted no sooner than this many days after the person was told "
        "(GDPR 18(3)).",
    )
    retention_interval_seconds: float = Field(3600.0, description="How often the retention job runs.")
    kvk_base_url: str = Field(
        "", description="KvK API base, e.g. https://api.kvk.nl/api (empty: KvK numbers are not checked)."
    )
    kvk_api_key: SecretStr | None = Field(None, description="The KvK API key (sent in the `apikey` header).")
    kvk_timeout_seconds: float = Field(2.0, description="How long a capture waits for the KvK API.")
    kvk_retry_interval_seconds: float = Field(300.0, description="First wait before an unavailable check is retried.")
