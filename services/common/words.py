"""The words a person reads, in Dutch and English: dates in Europe/Amsterdam written out, states, legal
bases, channels, request kinds and answers, and evidence as sentences. Pure: no I/O. Every page and mail
a person sees uses these, so the centre, the export and the mails say the same thing the same way."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date, datetime
from typing import Any
from zoneinfo import ZoneInfo

from services.common.bases import BASES as BASES  # re-exported: templates read W.BASES, W.IN_USE, W.RIGHTS
from services.common.bases import IN_USE as IN_USE
from services.common.bases import RIGHTS as RIGHTS

AMSTERDAM = ZoneInfo("Europe/Amsterdam")
LANGUAGES = ("nl", "en")

_MONTHS = {
    "nl": (
        "januari",
        "februari",
        "maart",
        "april",
        "mei",
        "juni",
        "juli",
        "augustus",
        "september",
        "oktober",
        "november",
        "december",
    ),
    "en": (
        "January",
        "February",
        "March",
        "April",
        "May",
        "June",
        "July",
        "August",
        "September",
        "October",
        "November",
        "December",
    ),
}


def language(value: str | None) -> str:
    """`nl` unless `en` was asked for (the statement's language first)."""
    return "en" if value == "en" else "nl"


def other(lang: str) -> str:
    return "nl" if lang == "en" else "en"


def _local(value: datetime | str) -> datetime:
    if isinstance(value, str):
        value = datetime.fromisoformat(value)
    if value.tzinfo is None:  # stored as UTC
        value = value.replace(tzinfo=ZoneInfo("UTC"))
    return value.astimezone(AMSTERDAM)


def day(value: datetime | date | str, lang: str) -> str:
    """`1 december 2026` / `1 December 2026` (a datetime is read in Amsterdam)."""
    d = _local(value).date() if isinstance(value, datetime | str) else value
    return f"{d.day} {_MONTHS[language(lang)][d.month - 1]} {d.year}"


def when(value: datetime | str | None, lang: str) -> str:
    """`1 december 2026 om 14:05` / `1 December 2026 at 14:05`, Amsterdam time; `-` for nothing."""
    if value is None or value == "":
        return "-"
    local = _local(value)
    joiner = "at" if lang == "en" else "om"
    return f"{day(local, lang)} {joiner} {local:%H:%M}"


def days(n: int, lang: str) -> str:
    """A retention period in the largest whole unit: `2 jaar`, `13 maanden`, `30 dagen`."""
    nl = lang != "en"
    if n % 365 == 0 or n in (2557, 3652):  # 7 and 10 fiscal years count leap days
        years = round(n / 365.25) if n % 365 else n // 365
        return f"{years} jaar" if nl else f"{years} year{'s' if years != 1 else ''}"
    if n >= 60 and n % 30 in (0, 5):
        months = round(n / 30.4)
        return f"{months} maanden" if nl else f"{months} months"
    return f"{n} dag{'en' if n != 1 else ''}" if nl else f"{n} day{'s' if n != 1 else ''}"


STATES = {
    "nl": {
        "granted": "gegeven",
        "denied": "geweigerd",
        "withdrawn": "ingetrokken",
        "pending_confirmation": "wacht op je bevestiging per mail",
        "pending_parent": "wacht op toestemming van een ouder",
        "expired": "verlopen (bewaartermijn voorbij)",
        "restricted": "beperkt: bewaard, maar niet gebruikt tot er een besluit is",
    },
    "en": {
        "granted": "given",
        "denied": "refused",
        "withdrawn": "withdrawn",
        "pending_confirmation": "waiting for your confirmation by mail",
        "pending_parent": "waiting for a parent's consent",
        "expired": "expired (retention period over)",
        "restricted": "restricted: kept, but not used until a decision is made",
    },
}


def state_word(state: str, basis: str, lang: str) -> str:
    """A state as the person reads it: a purpose that needs no consent is never "given", it is in use on its basis."""
    if state == "granted" and basis != "consent":
        return word(IN_USE, basis, lang)
    return word(STATES, state, lang)


CHANNELS = {
    "nl": {
        "contact_form": "het contactformulier",
        "opt_in_form": "een aanmeldformulier",
        "payment_form": "het betaalformulier",
        "chat": "de chat",
        "support_form": "het supportformulier",
        "cookie_banner": "de cookiemelding op de website",
        "preference_page": "het privacycentrum",
        "newsletter_signup": "de aanmelding voor de nieuwsbrief",
        "phone": "de telefoon (vastgelegd door een medewerker)",
        "whatsapp": "WhatsApp (vastgelegd door een medewerker)",
        "email": "e-mail (vastgelegd door een medewerker)",
        "social_media": "sociale media (vastgelegd door een medewerker)",
        "third_party": "een derde (vastgelegd door een medewerker)",
        "activecampaign": "ActiveCampaign (onze mailingdienst)",
        "unsubscribe_link": "de afmeldlink in een mail",
        "dsar": "een verzoek over je gegevens",
        "retention": "het einde van de bewaartermijn",
        "minor_report": "een melding dat het om gegevens van een kind onder de 16 gaat",
    },
    "en": {
        "contact_form": "the contact form",
        "opt_in_form": "a sign-up form",
        "payment_form": "the payment form",
        "chat": "the chat",
        "support_form": "the support form",
        "cookie_banner": "the website's cookie notice",
        "preference_page": "the privacy centre",
        "newsletter_signup": "the newsletter sign-up",
        "phone": "the phone (recorded by staff)",
        "whatsapp": "WhatsApp (recorded by staff)",
        "email": "email (recorded by staff)",
        "social_media": "social media (recorded by staff)",
        "third_party": "a third party (recorded by staff)",
        "activecampaign": "ActiveCampaign (our mailing service)",
        "unsubscribe_link": "the unsubscribe link in a mail",
        "dsar": "a request about your data",
        "retention": "the end of the retention period",
        "minor_report": "a report that this is the data of a child under 16",
    },
}

KINDS = {
    "nl": {
        "access": "inzage",
        "erasure": "verwijdering",
        "rectification": "correctie",
        "restriction": "beperking van de verwerking",
        "objection": "bezwaar",
        "portability": "je gegevens meenemen (overdraagbaarheid)",
    },
    "en": {
        "access": "access",
        "erasure": "erasure",
        "rectification": "rectification",
        "restriction": "restriction of processing",
        "objection": "objection",
        "portability": "taking your data along (portability)",
    },
}

REQUEST_STATES = {
    "nl": {
        "received": "wacht op je bevestiging per mail",
        "identity_verified": "bevestigd",
        "in_progress": "in behandeling",
        "extended": "in behandeling, termijn verlengd",
        "completed": "afgehandeld",
        "refused": "afgewezen",
        "expired": "vervallen (niet bevestigd)",
    },
    "en": {
        "received": "waiting for your confirmation by mail",
        "identity_verified": "confirmed",
        "in_progress": "in progress",
        "extended": "in progress, deadline extended",
        "completed": "completed",
        "refused": "refused",
        "expired": "lapsed (never confirmed)",
    },
}

OUTCOMES = {
    "nl": {
        "provided": "heeft je gegevens gegeven",
        "erased": "heeft je gegevens verwijderd",
        "nothing_held": "had geen gegevens van je",
        "rectified": "heeft je gegevens gecorrigeerd",
        "applied": "heeft de verwerking gestopt waar je bezwaar geldt",
        "restricted": "heeft de verwerking beperkt: je gegevens worden bewaard, maar niet gebruikt",
        "refused": "heeft geweigerd, en zegt waarom",
    },
    "en": {
        "provided": "provided your data",
        "erased": "erased your data",
        "nothing_held": "held no data about you",
        "rectified": "corrected your data",
        "applied": "stopped the processing your objection applies to",
        "restricted": "restricted the processing: your data is kept, but not used",
        "refused": "refused, and says why",
    },
}

REASONS = {
    "nl": {
        "gpc": "je browser stuurde Global Privacy Control mee, dat telt als bezwaar",
        "explicit choice over gpc": "je koos dit zelf, ook al stuurt je browser Global Privacy Control mee",
        "double opt-in": "eerst bevestigen via de mail",
        "double opt-in confirmed": "bevestigd via de mail",
        "under 16": "jonger dan 16: eerst toestemming van een ouder",
        "parent confirmed": "een ouder of voogd gaf toestemming",
        "parent confirmed (for the child's newsletter sign-up)": "een ouder of voogd gaf toestemming",
        "privacy centre": "door jou zelf, met één klik",
        "unsubscribe link": "afgemeld met de link in een mail",
        "activecampaign unsubscribe": "afgemeld bij onze mailingdienst",
        "objection (GDPR 21)": "je maakte bezwaar (AVG art. 21)",
        "objection upheld (GDPR 21(1))": "je bezwaar is afgewogen en toegewezen (AVG art. 21 lid 1)",
        "restriction (GDPR 18)": "je vroeg de verwerking te beperken (AVG art. 18)",
        "restriction lifted (GDPR 18(3))": "de beperking is opgeheven, nadat we je dat eerst lieten weten "
        "(AVG art. 18 lid 3)",
        "objection to direct marketing (GDPR 21(3))": "je maakte bezwaar tegen direct marketing: dat stopt altijd "
        "(AVG art. 21 lid 3)",
        "retention period over": "de bewaartermijn was voorbij",
        "minor report: restricted until decided (GDPR 18(1))": "niet gebruikt tot er een besluit is (AVG art. 18)",
    },
    "en": {
        "gpc": "your browser sent Global Privacy Control, which counts as an objection",
        "explicit choice over gpc": "you chose this yourself, although your browser sends Global Privacy Control",
        "double opt-in": "to be confirmed by mail first",
        "double opt-in confirmed": "confirmed by mail",
        "under 16": "younger than 16: a parent's consent first",
        "parent confirmed": "a parent or guardian consented",
        "parent confirmed (for the child's newsletter sign-up)": "a parent or guardian consented",
        "privacy centre": "by you, with one click",
        "unsubscribe link": "unsubscribed with the link in a mail",
        "activecampaign unsubscribe": "unsubscribed at our mailing service",
        "objection (GDPR 21)": "you objected (GDPR Art. 21)",
        "objection upheld (GDPR 21(1))": "your objection was weighed and upheld (GDPR Art. 21(1))",
        "restriction (GDPR 18)": "you asked to restrict the processing (GDPR Art. 18)",
        "restriction lifted (GDPR 18(3))": "the restriction was lifted, after we told you first (GDPR Art. 18(3))",
        "objection to direct marketing (GDPR 21(3))": "you objected to direct marketing, which always ends it "
        "(GDPR Art. 21(3))",
        "retention period over": "the retention period was over",
        "minor report: restricted until decided (GDPR 18(1))": "not used until a decision is made (GDPR Art. 18)",
    },
}


def reason(value: str | None, lang: str) -> str:
    """A recorded reason in words; one we have no words for is shown as recorded (staff's own text)."""
    if not value:
        return ""
    known = REASONS[language(lang)]
    head, sep, rest = value.partition(": ")
    if value in known:
        return known[value]
    if sep and head in known:
        return f"{known[head]}: {rest}"
    return value


HOLDERS = {
    "nl": {
        "consent": "ons toestemmingenregister",
        "dsar": "ons verzoekenregister",
        "breach": "ons datalekregister",
        "processors": "onze verwerkers",
    },
    "en": {
        "consent": "our consent records",
        "dsar": "our request records",
        "breach": "our data breach register",
        "processors": "our processors",
    },
}


def holder_name(holder: str, lang: str) -> str:
    """A holder as a person reads it: our own systems in words, an external system by its name."""
    return HOLDERS[language(lang)].get(holder, holder)


def first_upper(text: str) -> str:
    """The first letter a capital, the rest as written (unlike Jinja's `capitalize`)."""
    return text[:1].upper() + text[1:]


def word(table: Mapping[str, Mapping[str, str]], key: str, lang: str) -> str:
    """The word for `key`, or the key itself when the table does not know it (never an error on a page)."""
    return table[language(lang)].get(key, key.replace("_", " "))


_EVIDENCE = {
    "nl": {
        "at": "Vastgelegd op {v}.",
        "ip": "Vanaf internetadres {v}.",
        "user_agent": "Met de browser: {v}.",
        "page": "Op de pagina {v}.",
        "site": "Via de website met sleutel {v}.",
        "email": "Voor het adres {v}.",
        "name": "Op naam van {v}.",
        "parent_email": "Ouder of voogd: {v}.",
        "note": "Notitie van de medewerker: {v}.",
        "mail_sent_at": "De bevestigingsmail ging weg op {v}.",
        "clicked_at": "Bevestigd met de link op {v}.",
        "kvk_number": "KvK-nummer {v}.",
        "company_name": "Bedrijf: {v}.",
        "kept_until": "Je gegevens zijn gewist, maar dit bewaren we tot {v}: de wet verplicht ons daartoe.",
        "corrected_at": "Op je verzoek gecorrigeerd op {v} (AVG art. 16): hierboven staat wat nu geldt.",
    },
    "en": {
        "at": "Recorded on {v}.",
        "ip": "From internet address {v}.",
        "user_agent": "With the browser: {v}.",
        "page": "On the page {v}.",
        "site": "Through the website with key {v}.",
        "email": "For the address {v}.",
        "name": "In the name of {v}.",
        "parent_email": "Parent or guardian: {v}.",
        "note": "Staff note: {v}.",
        "mail_sent_at": "The confirmation mail was sent on {v}.",
        "clicked_at": "Confirmed with the link on {v}.",
        "kvk_number": "KvK number {v}.",
        "company_name": "Company: {v}.",
        "kept_until": "Your data was erased, but this we keep until {v}: the law obliges us to.",
        "corrected_at": "Corrected at your request on {v} (GDPR Art. 16): above is what holds now.",
    },
}
_DATES = frozenset({"at", "mail_sent_at", "clicked_at", "kept_until", "corrected_at"})


def evidence(value: Any, lang: str) -> list[str]:
    """What was recorded as proof, one sentence per fact (`gpc: False` becomes nothing; True a sentence)."""
    lang = language(lang)
    if value == "erased":
        return ["Het bewijs is gewist met je gegevens." if lang == "nl" else "The evidence was erased with your data."]
    if not isinstance(value, dict):
        return []
    out = []
    for key, v in value.items():
        if v in (None, "", False):
            continue
        if key == "gpc":
            out.append(
                "Je browser stuurde het signaal Global Privacy Control mee."
                if lang == "nl"
                else "Your browser sent the Global Privacy Control signal."
            )
        elif key == "confirmed_by":
            out.append(
                ("Bevestigd door een ouder of voogd." if lang == "nl" else "Confirmed by a parent or guardian.")
                if v == "parent"
                else ("Bevestigd door jou, per mail." if lang == "nl" else "Confirmed by you, by mail.")
            )
        elif key in _EVIDENCE[lang]:
            shown = when(v, lang) if key in _DATES else str(v)
            out.append(_EVIDENCE[lang][key].format(v=shown))
        else:
            out.append(f"{key.replace('_', ' ')}: {v}")
    return out
