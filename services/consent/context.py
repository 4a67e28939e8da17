"""What the consent use-cases work with: the runtime plus the purposes, links and settings."""

from __future__ import annotations

import functools
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from services.common.auth import RateLimiter
from services.common.batch import GroupCommit
from services.common.links import LinkSigner
from services.common.runtime import Runtime
from services.consent import decisions, pushes
from services.consent.domain import DEFAULT_CONFIG, Catalogue, catalogue_from
from services.consent.dsar_client import DsarClient
from services.consent.kvk_client import KvkClient
from services.consent.metrics import ConsentMetrics
from services.consent.notice import Banner, parse_banner, public_notice
from services.consent.settings import ConsentSettings


@dataclass
class ConsentContext:
    rt: Runtime
    settings: ConsentSettings
    catalogue: Catalogue
    links: LinkSigner
    banner: Banner | None = None
    captures: GroupCommit[decisions.Item] = field(init=False)
    kvk: KvkClient = field(init=False)
    dsar: DsarClient = field(init=False)
    metrics: ConsentMetrics = field(init=False)
    sign_in_limits: tuple[RateLimiter, RateLimiter] = field(init=False)  # per address, per IP (an hour)
    mail_caps: RateLimiter = field(init=False)  # mails a public call triggers, per recipient (an hour)
    lookup_limit: RateLimiter = field(init=False)  # addresses a lookup token asks about, a minute
    pushes: pushes.Targets = field(init=False, default_factory=pushes.Targets)  # webhook endpoints
    _notices: dict[str, dict[str, Any]] = field(init=False, default_factory=dict)
    archived_notices: set[str] = field(init=False, default_factory=set)  # hashes this process stored
    banner_answers: dict[tuple[str, str, bool], Any] = field(init=False, default_factory=dict)  # site_routes

    def __post_init__(self) -> None:
        key = self.settings.kvk_api_key
        self.kvk = KvkClient(
            self.settings.kvk_base_url, key.get_secret_value() if key else "", self.settings.kvk_timeout_seconds
        )
        self.metrics = ConsentMetrics(self.rt.metrics)
        self.dsar = DsarClient(self.settings.dsar_url, self.settings.secret_bytes("centre_key"))
        per_hour = self.settings.centre_mails_per_hour
        self.sign_in_limits = (RateLimiter(per_hour, window=3600), RateLimiter(4 * per_hour, window=3600))
        self.mail_caps = RateLimiter(self.settings.public_mails_per_hour, window=3600)
        self.lookup_limit = RateLimiter(self.settings.lookup_addresses_per_minute)
        # two batches in flight; one subject's captures never in both (see services/common/batch.py)
        self.captures = GroupCommit(
            self.rt.db, functools.partial(decisions.flush_captures, self), in_flight=2, key=lambda item: item.subject
        )
        self.rt.on_stop.append(self.captures.close)

    @classmethod
    def of(cls, rt: Runtime) -> ConsentContext:
        if rt.extension is None:
            settings = rt.settings
            assert isinstance(settings, ConsentSettings)
            path = Path(settings.purposes_file) if settings.purposes_file else DEFAULT_CONFIG
            try:
                raw = json.loads(path.read_text())
                catalogue = catalogue_from(raw)
                banner = parse_banner(raw["banner"], catalogue) if "banner" in raw else None
            except (OSError, ValueError, KeyError) as exc:  # CatalogueError, NoticeError, bad JSON
                raise SystemExit(f"consent: the purposes file {path} cannot be used: {exc}") from None
            rt.extension = cls(
                rt=rt,
                settings=settings,
                catalogue=catalogue,
                links=LinkSigner(settings.secret_bytes("link_signing_key")),
                banner=banner,
            )
        context: ConsentContext = rt.extension
        return context

    def notice(self, lang: str) -> dict[str, Any] | None:
        """The banner's notice in one language (built once per process; the configuration is fixed)."""
        if self.banner is None:
            return None
        if lang not in self._notices:
            self._notices[lang] = public_notice(
                self.banner,
                self.catalogue,
                lang=lang,
                policy_url=self.settings.policy_url,
                notice_url=self.url(f"/privacy/notice?lang={lang}"),
            )
        return self._notices[lang]

    def forget_notices(self) -> None:
        """The banner's notice built again on the next request (a configuration changed in place: tests)."""
        self._notices.clear()
        self.banner_answers.clear()

    def url(self, path: str) -> str:
        return self.settings.public_base_url.rstrip("/") + path

    def mail_cap_allows(self, address: str) -> bool:
        """Whether one more mail that a public call asks for may go to `address` this hour (keyed by the
        address's pseudonym; per process, so a deployment with N workers allows up to N times the cap)."""
        return not self.mail_caps.take(self.rt.recorder.pseudonym(address))

    def browser_pseudonym(self, browser_id: str) -> str:
        return self.rt.recorder.pseudonym("browser:" + browser_id)
