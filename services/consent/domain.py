"""Pure rules of consent: purposes, channels, the age gate, GPC, retention. No I/O."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from enum import StrEnum
from pathlib import Path
from typing import Any

DEFAULT_CONFIG = Path(__file__).parent / "purposes.json"


class LegalBasis(StrEnum):
    # GDPR Art. 6(1)
    CONSENT = "consent"
    CONTRACT = "contract"
    LEGAL_OBLIGATION = "legal_obligation"
    LEGITIMATE_INTEREST = "legitimate_interest"


class Channel(StrEnum):
    # Statement Art. 3.2: the website's forms and banners
    CONTACT_FORM = "contact_form"
    OPT_IN_FORM = "opt_in_form"
    PAYMENT_FORM = "payment_form"
    CHAT = "chat"
    SUPPORT_FORM = "support_form"
    COOKIE_BANNER = "cookie_banner"
    PREFERENCE_PAGE = "preference_page"
    NEWSLETTER_SIGNUP = "newsletter_signup"
    # Statement Art. 3.4: other channels, recorded by staff
    PHONE = "phone"
    WHATSAPP = "whatsapp"
    EMAIL = "email"
    SOCIAL_MEDIA = "social_media"
    THIRD_PARTY = "third_party"
    # Systems
    ACTIVECAMPAIGN = "activecampaign"
    UNSUBSCRIBE_LINK = "unsubscribe_link"


STAFF_CHANNELS = frozenset({Channel.PHONE, Channel.WHATSAPP, Channel.EMAIL, Channel.SOCIAL_MEDIA, Channel.THIRD_PARTY})
PUBLIC_CHANNELS = frozenset(Channel) - STAFF_CHANNELS - {Channel.ACTIVECAMPAIGN, Channel.UNSUBSCRIBE_LINK}


class DataCategory(StrEnum):
    # Statement Art. 3.2 a-h
    NAME = "name"
    EMAIL = "email"
    IP_ADDRESS = "ip_address"
    COMPANY_NAME = "company_name"
    DATE_OF_BIRTH = "date_of_birth"
    ADDRESS = "address"
    IBAN = "iban"
    VAT_NUMBER = "vat_number"
    KVK_NUMBER = "kvk_number"
    PHONE = "phone"
    SITE_ACTIVITY = "site_activity"
    BROWSING_BEHAVIOUR = "browsing_behaviour"
    BROWSER_DEVICE = "browser_device"
    MESSAGE = "message"


class State(StrEnum):
    GRANTED = "granted"
    DENIED = "denied"
    WITHDRAWN = "withdrawn"
    PENDING_CONFIRMATION = "pending_confirmation"  # double opt-in mail sent (Art. 15)
    PENDING_PARENT = "pending_parent"  # under 16: waiting for a parent (Art. 3.5, UAVG Art. 5)
    EXPIRED = "expired"  # retention period over (Art. 7)
    RESTRICTED = "restricted"  # GDPR 18: kept, not used (no mail, no tracking) until a decision lifts it


ACTIVE = frozenset({State.GRANTED})


@dataclass(frozen=True)
class Purpose:
    id: str
    legal_basis: LegalBasis
    retention_days: int
    categories: tuple[str, ...]
    description_nl: str
    description_en: str
    article: str = ""
    requires_consent: bool = True
    double_opt_in: bool = False
    confirm: bool = False  # a grant from a public form waits for the person's mailed click (leads, sharing)
    gpc_objection: bool = False
    per_third_party: bool = False
    standing: bool = False  # a consent that lasts until withdrawn (the newsletter); others expire
    processors: tuple[str, ...] = ()  # statement Art. 8: who processes this purpose's data for us
    data_subjects: tuple[str, ...] = ()  # GDPR 30(1)(c): whose data this is
    allows: tuple[str, ...] = ()  # what a grant lets other systems do (ACTIONS), as the lookup answers it
    basis_note: str = ""  # why this basis: the company's own words, for the register and the officer
    direct_marketing: bool = False  # GDPR 21(2), (3): an objection ends it, always
    other_recipients: tuple[str, ...] = ()  # recipients that are no processor: the tax authority, ad platforms

    @property
    def needs_confirmation(self) -> bool:
        """A grant through a public form is pending until the person clicks the mailed link: the newsletter's
        double opt-in (statement Art. 15), and every purpose that leads to contact or sharing (`confirm`)."""
        return self.double_opt_in or self.confirm

    def described(self, lang: str) -> str:
        """What the purpose is for, as a person reads it (Dutch unless English was asked for)."""
        return self.description_en if lang == "en" else self.description_nl


@dataclass(frozen=True)
class Processor:
    name: str
    service: str
    agreement: str
    country: str = ""
    outside_eea: bool = False
    safeguard: str | None = None  # GDPR 44-46: what makes a transfer outside the EEA lawful
    service_en: str = ""  # the service in English, for pages and exports in English


@dataclass(frozen=True)
class Activity:
    """A processing of the product itself (requests, breaches, sign-ins, the evidence of consent): in the
    register of processing (GDPR 30) beside the company's purposes. `retention` in words: what the product does."""

    id: str
    description_nl: str
    description_en: str
    legal_basis: LegalBasis
    article: str
    data_subjects: tuple[str, ...]
    categories: tuple[str, ...]
    recipients: tuple[str, ...]
    retention_nl: str
    retention_en: str


@dataclass(frozen=True)
class Catalogue:
    purposes: dict[str, Purpose]
    processors: tuple[Processor, ...]
    controller: dict[str, str]
    security_measures: tuple[str, ...] = ()  # GDPR 32(1), for the register of processing (30(1)(g))
    register_note: str = ""
    own_processing: tuple[Activity, ...] = ()

    def purpose(self, purpose_id: str) -> Purpose | None:
        return self.purposes.get(purpose_id)

    def is_processor(self, name: str) -> bool:
        return name.casefold() in {p.name.casefold() for p in self.processors}


class CatalogueError(ValueError):
    """The purposes file is incomplete or inconsistent; the message names the entry."""


def load_catalogue(path: Path = DEFAULT_CONFIG) -> Catalogue:
    return catalogue_from(json.loads(path.read_text()))


def _purpose(p: dict[str, Any]) -> Purpose:
    name = p.get("id") or "(a purpose without an id)"
    for field_name in ("legal_basis", "retention_days", "description_nl", "description_en"):
        if p.get(field_name) in (None, ""):
            raise CatalogueError(f"purpose {name!r} has no {field_name} (GDPR 30(1): every purpose names it)")
    try:
        basis = LegalBasis(p["legal_basis"])
    except ValueError:
        known = ", ".join(b.value for b in LegalBasis)
        raise CatalogueError(f"purpose {name!r}: unknown legal_basis {p['legal_basis']!r}; one of {known}") from None
    if not isinstance(p["retention_days"], int) or p["retention_days"] < 1:
        raise CatalogueError(f"purpose {name!r}: retention_days must be a whole number of days, at least 1")
    return Purpose(
        id=name,
        legal_basis=basis,
        retention_days=p["retention_days"],
        categories=tuple(p.get("categories", ())),
        description_nl=p["description_nl"],
        description_en=p["description_en"],
        article=p.get("article", ""),
        requires_consent=p.get("requires_consent", True),
        double_opt_in=p.get("double_opt_in", False),
        confirm=p.get("confirm", False),
        gpc_objection=p.get("gpc_objection", False),
        per_third_party=p.get("per_third_party", False),
        standing=p.get("standing", False),
        processors=tuple(p.get("processors", ())),
        data_subjects=tuple(p.get("data_subjects", ())),
        allows=_allows(name, p.get("allows", [])),
        basis_note=str(p.get("basis_note", "")),
        direct_marketing=bool(p.get("direct_marketing", False)),
        other_recipients=tuple(p.get("other_recipients", ())),
    )


def _check_basis(purpose: Purpose) -> None:
    """A purpose asks consent exactly when consent is its basis. Consent is no fallback for another basis
    (EDPB guidelines 05/2020, 121-123): a box for invoicing would promise that unticking it stops what the
    law requires, and a withdraw button would break that promise."""
    consent = purpose.legal_basis is LegalBasis.CONSENT
    if purpose.requires_consent and not consent:
        raise CatalogueError(
            f"purpose {purpose.id!r} rests on {purpose.legal_basis.value} but asks for consent (requires_consent is "
            'true): consent is no fallback basis. Set "requires_consent": false, or make consent its basis'
        )
    if consent and not purpose.requires_consent:
        raise CatalogueError(f"purpose {purpose.id!r} rests on consent, so it must ask for it (requires_consent)")
    if not consent and (purpose.double_opt_in or purpose.confirm or purpose.standing or purpose.per_third_party):
        raise CatalogueError(
            f"purpose {purpose.id!r} rests on {purpose.legal_basis.value}: double_opt_in, confirm, standing and "
            "per_third_party describe a consent"
        )


ACTIONS = ("mail", "track", "call")  # what another system asks before it acts (POST /v1/lookup)


def _allows(name: str, raw: Any) -> tuple[str, ...]:
    unknown = [a for a in raw if a not in ACTIONS] if isinstance(raw, list) else [raw]
    if unknown:
        raise CatalogueError(f"purpose {name!r}: allows must be a list among {', '.join(ACTIONS)}; got {unknown}")
    return tuple(raw)


def catalogue_from(raw: dict[str, Any]) -> Catalogue:
    """The purposes file, checked: a purpose without a legal basis or retention period, or naming a
    processor that is not in the list, stops the service at start with the entry named."""
    purposes = {p.id: p for p in map(_purpose, raw.get("purposes", []))}
    processors = []
    for entry in raw.get("processors", []):
        name = entry.get("name", "(a processor without a name)")
        if entry.get("outside_eea") and not entry.get("safeguard"):
            raise CatalogueError(f"processor {name!r} transfers data outside the EEA but names no safeguard")
        processors.append(
            Processor(
                name,
                entry.get("service", ""),
                entry.get("agreement", "unknown"),
                country=entry.get("country", ""),
                outside_eea=bool(entry.get("outside_eea", False)),
                safeguard=entry.get("safeguard"),
                service_en=entry.get("service_en", ""),
            )
        )
    names = {p.name for p in processors}
    for purpose in purposes.values():
        _check_basis(purpose)
        if purpose.allows and not purpose.requires_consent:
            raise CatalogueError(f"purpose {purpose.id!r}: only a consent lets other systems act (allows)")
        unknown = [n for n in purpose.processors if n not in names]
        if unknown:
            raise CatalogueError(f"purpose {purpose.id!r} names unknown processors: {', '.join(unknown)}")
    statement = dict(raw["statement"])
    measures = tuple(statement.pop("security_measures", ()))
    note = str(statement.pop("register_note", ""))
    return Catalogue(
        purposes=purposes,
        processors=tuple(processors),
        controller=statement,
        security_measures=measures,
        register_note=note,
        own_processing=tuple(_activity(a) for a in raw.get("own_processing", [])),
    )


def _activity(a: dict[str, Any]) -> Activity:
    name = a.get("id") or "(an activity without an id)"
    try:
        return Activity(
            id=name,
            description_nl=a["description_nl"],
            description_en=a["description_en"],
            legal_basis=LegalBasis(a["legal_basis"]),
            article=a.get("article", ""),
            data_subjects=tuple(a["data_subjects"]),
            categories=tuple(a["categories"]),
            recipients=tuple(a.get("recipients", ())),
            retention_nl=a["retention_nl"],
            retention_en=a["retention_en"],
        )
    except (KeyError, ValueError) as exc:
        raise CatalogueError(f"own processing {name!r}: missing or wrong {exc} (GDPR 30(1) asks each)") from None


# UAVG Art. 5 / GDPR Art. 8: the age of digital consent in the Netherlands.
DIGITAL_CONSENT_AGE = 16


def age_on(birth: date, today: date) -> int:
    return today.year - birth.year - ((today.month, today.day) < (birth.month, birth.day))


def needs_parent(*, age: int | None, date_of_birth: date | None, today: date) -> bool:
    """Statement Art. 3.5: under 16, consent waits for a parent or guardian."""
    if date_of_birth is not None:
        return age_on(date_of_birth, today) < DIGITAL_CONSENT_AGE
    return age is not None and age < DIGITAL_CONSENT_AGE


def initial_state(
    purpose: Purpose, *, granted: bool, minor: bool, gpc: bool, staff: bool, over_gpc: bool = False
) -> tuple[State, str | None]:
    """What a capture becomes, and why, before any confirmation.

    GPC (Sec-GPC: 1) is an objection to tracking: never read as consent, unless the person explicitly
    chose otherwise (`over_gpc`: the banner's settings layer), which is recorded as such. Double opt-in
    and parental consent hold a grant pending; staff captures by phone etc. are recorded as given."""
    if not granted:
        return State.DENIED, None
    objected = gpc and purpose.gpc_objection
    if objected and not over_gpc:
        return State.DENIED, "gpc"
    if minor and purpose.requires_consent:
        return State.PENDING_PARENT, "under 16"
    if purpose.needs_confirmation and not staff:
        return State.PENDING_CONFIRMATION, "double opt-in" if purpose.double_opt_in else "confirmation by mail"
    return State.GRANTED, "explicit choice over gpc" if objected else None


GIVEN_OR_PENDING = frozenset({State.GRANTED, State.PENDING_CONFIRMATION, State.PENDING_PARENT})


def recorded_as(previous: str | None, state: State) -> State:
    """GDPR 7(3): refusing what is given (or waiting for confirmation) is withdrawing it, and is recorded
    as a withdrawal: a banner's "refuse all" after "accept all" counts as one."""
    if state == State.DENIED and previous in GIVEN_OR_PENDING:
        return State.WITHDRAWN
    return state


def held_for_person(previous: str | None, state: State) -> bool:
    """A public form (a site key, which anyone holds, and any address) may ask, never lower what a person
    gave: a refusal of what is given or pending, or a new pending grant over a given one, leaves the
    person's state as it is. The form's answer is recorded all the same, and the person is asked by mail
    to confirm a withdrawal (GDPR 7(3) stays one click for them, not for anyone who knows their address)."""
    if previous == State.RESTRICTED:
        return True  # a restriction is lifted by the person or staff, never by a form
    if previous == State.GRANTED:
        return state != State.GRANTED
    return previous in GIVEN_OR_PENDING and state == State.DENIED


PENDING = frozenset({State.PENDING_CONFIRMATION, State.PENDING_PARENT})


def key_of(purpose: str, third_party: str) -> str:
    return f"{purpose}:{third_party}" if third_party else purpose


DOI_CONFIRMED = "double opt-in confirmed"
PARENT_CONFIRMED = "parent confirmed"
PARENT_CONFIRMED_NEWSLETTER = "parent confirmed (for the child's newsletter sign-up)"
CONFIRMED = frozenset({DOI_CONFIRMED, PARENT_CONFIRMED, PARENT_CONFIRMED_NEWSLETTER})


def carried_to_processors(state: State, reason: str | None) -> bool:
    """Issue 32: which changes reach the processors (with the person's address, sealed for them): every
    withdrawal, and a grant only once the person (or a parent) confirmed it by mail. A processor is never
    told to subscribe someone on a form's word alone."""
    return state is State.WITHDRAWN or (state is State.GRANTED and reason in CONFIRMED)


PENDING_GRACE = timedelta(hours=24)  # after the mailed link died: a click that was on its way still counts


def retention_end(
    purpose: Purpose, state: State, changed_at: datetime, *, link_lifetime: timedelta | None = None
) -> datetime | None:
    """Art. 7 and GDPR 5(1)(c), (e): when the data kept for this purpose must go: `retention_days` after the
    last change, except while a standing consent (the newsletter) is given, and while restricted (GDPR 18:
    kept until decided). A grant waiting for the person's or a parent's click goes with its link (plus
    PENDING_GRACE): without that click nothing may be done with the data, so nothing is kept for it."""
    if state in (State.EXPIRED, State.RESTRICTED) or (state in ACTIVE and purpose.standing):
        return None
    if state in PENDING and link_lifetime is not None:
        return changed_at + link_lifetime + PENDING_GRACE
    return changed_at + timedelta(days=purpose.retention_days)


PROOF_OF_REFUSAL = frozenset({"email", "at", "page", "site", "gpc"})


def refusal_evidence(personal: dict[str, Any]) -> dict[str, Any]:
    """What a refusal keeps: whose it was and when and where it was made (and whether the browser objected by
    GPC). A refusal needs no proof of an informed act, so a name, a date of birth, a note, the company, an
    internet address or the browser are not kept for it (GDPR 5(1)(c))."""
    return {k: v for k, v in personal.items() if k in PROOF_OF_REFUSAL}
