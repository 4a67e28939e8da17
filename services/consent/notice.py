"""The cookie banner's notice (statement Art. 16, Telecommunicatiewet 11.7a): its texts per language, the
categories it asks about, and the SHA-256 that a recorded choice names. Pure: no I/O.

Everything the browser script shows comes from here, so the hash of one language's notice covers every
word a visitor read before choosing: the version, the texts, each category with its processors and
retention, and the consent labels of forms."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from typing import Any

from services.consent.domain import Catalogue, Purpose

LANGUAGES = ("nl", "en")
TEXT_KEYS = (
    "title",
    "text",
    "accept",
    "refuse",
    "settings",
    "settings_title",
    "save",
    "close",
    "always_on",
    "processors",
    "kept",
    "policy",
    "gpc",
    "gpc_setting",
    "form_label",
)
# Google Consent Mode v2 (the signals a Google tag reads); TCF is not built: the AP holds it non-compliant
CONSENT_MODE_SIGNALS = frozenset({"ad_storage", "analytics_storage", "ad_user_data", "ad_personalization"})


class NoticeError(ValueError):
    """The banner configuration is incomplete or names something that does not exist."""


@dataclass(frozen=True)
class BannerCategory:
    id: str
    purpose: str
    cookies: tuple[str, ...]
    consent_mode: tuple[str, ...]
    about: dict[str, str]
    set_by: dict[str, str] = field(default_factory=dict)  # cookie pattern -> who it reaches (named recipient)


@dataclass(frozen=True)
class Banner:
    version: str
    renew_after_days: int
    categories: tuple[BannerCategory, ...]
    texts: dict[str, dict[str, str]]


def parse_banner(raw: dict[str, Any], catalogue: Catalogue) -> Banner:
    """The `banner` block of the purposes file, checked against the purposes it names."""
    try:
        version = str(raw["version"]).strip()
        renew = int(raw.get("renew_after_days", 365))
        categories = tuple(
            BannerCategory(
                id=c["id"],
                purpose=c["purpose"],
                cookies=tuple(c.get("cookies", ())),
                consent_mode=tuple(c.get("consent_mode", ())),
                about={lang: c[f"about_{lang}"] for lang in LANGUAGES},
                set_by={str(k): str(v) for k, v in dict(c.get("set_by", {})).items()},
            )
            for c in raw["categories"]
        )
        texts = {lang: {k: str(raw[f"texts_{lang}"][k]) for k in TEXT_KEYS} for lang in LANGUAGES}
    except (KeyError, TypeError, ValueError) as exc:
        raise NoticeError(f"banner configuration: missing or malformed {exc}") from exc
    if not version or renew < 1:
        raise NoticeError("banner configuration: a version and a renew_after_days of at least 1 are required")
    for c in categories:
        purpose = catalogue.purpose(c.purpose)
        if purpose is None:
            raise NoticeError(f"banner category {c.id!r} names an unknown purpose {c.purpose!r}")
        unknown = set(c.consent_mode) - CONSENT_MODE_SIGNALS
        if unknown:
            raise NoticeError(f"banner category {c.id!r}: unknown Consent Mode signals {sorted(unknown)}")
        _check_recipients(c, purpose, catalogue)
    return Banner(version=version, renew_after_days=renew, categories=categories, texts=texts)


def _check_recipients(c: BannerCategory, purpose: Purpose, catalogue: Catalogue) -> None:
    """Every cookie a category sets names who it reaches, and that one is named to the visitor: a processor
    of its purpose, another recipient of it, or the company itself. Google's Consent Mode signals reach Google."""
    named = {*purpose.processors, *purpose.other_recipients, catalogue.controller.get("controller", "")}
    unmapped = [cookie for cookie in c.cookies if cookie not in c.set_by]
    if unmapped:
        raise NoticeError(f"banner category {c.id!r}: say who cookies {unmapped} reach (set_by)")
    unnamed = sorted({who for who in c.set_by.values() if who not in named})
    if unnamed:
        raise NoticeError(
            f"banner category {c.id!r}: {unnamed} receive its cookies but are not among the recipients of "
            f"{purpose.id!r} (its processors or other_recipients)"
        )
    if c.consent_mode and not any(n.startswith("Google") for n in (*purpose.processors, *purpose.other_recipients)):
        raise NoticeError(
            f"banner category {c.id!r}: Consent Mode signals go to Google, which {purpose.id!r} does not name"
        )


def recipients(purpose: Purpose) -> list[str]:
    """Everyone a purpose's data reaches, as the banner names them: its processors, then other recipients."""
    return [*purpose.processors, *(r for r in purpose.other_recipients if r not in purpose.processors)]


def _months(days: int, lang: str) -> str:
    months = round(days / 30.44)
    if lang == "nl":
        return f"{months} maanden" if months != 1 else "1 maand"
    return f"{months} months" if months != 1 else "1 month"


def _describe(purpose: Purpose, lang: str) -> str:
    return purpose.description_nl if lang == "nl" else purpose.description_en


def public_notice(
    banner: Banner, catalogue: Catalogue, *, lang: str, policy_url: str, notice_url: str = ""
) -> dict[str, Any]:
    """What the script at /v1/consent.js builds the banner and form checkboxes from, in one language,
    with `hash`: the SHA-256 of everything else in it (canonical JSON), the notice a choice names."""
    lang = lang if lang in LANGUAGES else LANGUAGES[0]
    controller = catalogue.controller.get("controller", "")
    texts = {k: v.replace("{controller}", controller) for k, v in banner.texts[lang].items()}
    categories = []
    for c in banner.categories:
        purpose = catalogue.purposes[c.purpose]
        categories.append(
            {
                "id": c.id,
                "purpose": purpose.id,
                "name": _describe(purpose, lang),
                "about": c.about[lang],
                "required": not purpose.requires_consent,
                "gpc": purpose.gpc_objection,
                "processors": recipients(purpose),  # everyone its cookies reach, not only processors
                "kept": _months(purpose.retention_days, lang),
                "cookies": list(c.cookies),
                "consent_mode": list(c.consent_mode),
            }
        )
    form_label = texts.pop("form_label")
    purposes = {
        p.id: {"label": form_label.replace("{purpose}", _describe(p, lang)), "double_opt_in": p.double_opt_in}
        for p in catalogue.purposes.values()
        if p.requires_consent and not p.per_third_party
    }
    body = {
        "version": banner.version,
        "lang": lang,
        "renew_after_days": banner.renew_after_days,
        "controller": controller,
        "policy_url": policy_url,
        "notice_url": notice_url or policy_url,  # GDPR 13/14, generated from the configuration
        "texts": texts,
        "categories": categories,
        "purposes": purposes,
    }
    canonical = json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()
    return {**body, "hash": hashlib.sha256(canonical).hexdigest()}
