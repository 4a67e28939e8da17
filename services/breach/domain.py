"""Pure rules of the breach register (GDPR 33, 34; EDPB Guidelines 9/2022; statement Art. 13). No I/O."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum

# GDPR 33(1): notify the AP within 72 hours of becoming aware.
AP_HOURS = 72


class Nature(StrEnum):  # EDPB: the three breach types
    CONFIDENTIALITY = "confidentiality"
    INTEGRITY = "integrity"
    AVAILABILITY = "availability"


class Act(StrEnum):  # AP form section 3
    READING = "reading"
    COPYING = "copying"
    CHANGING = "changing"
    DELETING = "deleting"
    THEFT = "theft"


class Category(StrEnum):  # AP form section 4
    NAME_ADDRESS = "name_address"
    PHONE = "phone"
    EMAIL = "email"
    LOGIN = "login_data"
    FINANCIAL = "financial"
    BSN = "bsn"
    PASSPORT = "passport_copies"
    GENDER_BIRTH_AGE = "gender_birthdate_age"
    SPECIAL = "special_categories"
    CRIMINAL = "criminal_data"
    OTHER = "other"


class Level(StrEnum):
    LOW = "low"
    MEDIUM = "medium"
    HIGH = "high"


class Outcome(StrEnum):
    UNLIKELY = "unlikely"  # no AP notification needed; still documented (33(5))
    RISK = "risk"  # notify the AP (33)
    HIGH = "high"  # notify the AP and the people (34)


class Exemption(StrEnum):  # GDPR 34(3)
    UNINTELLIGIBLE = "a"  # encrypted or otherwise unintelligible
    RISK_REMOVED = "b"  # later measures removed the high risk
    DISPROPORTIONATE = "c"  # disproportionate effort: a public communication instead


class Phase(StrEnum):  # GDPR 33(4)
    INITIAL = "initial"
    SUPPLEMENT = "supplement"
    WITHDRAWAL = "withdrawal"


class RuleError(ValueError):
    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field


def ap_deadline(awareness: datetime) -> datetime:
    return awareness + timedelta(hours=AP_HOURS)


def check_timeline(*, awareness: datetime, started: datetime | None, ended: datetime | None, now: datetime) -> None:
    if awareness > now:
        raise RuleError("awareness_at", "awareness lies in the future")
    if started is not None and started > now:
        raise RuleError("started_at", "the breach cannot have started in the future")
    if started is not None and started > awareness:
        raise RuleError("started_at", "the breach started after you became aware of it")
    if ended is not None and started is not None and ended < started:
        raise RuleError("ended_at", "the breach ended before it started")
    if ended is not None and ended > now:
        raise RuleError("ended_at", "the end lies in the future; leave it empty while the breach is ongoing")


@dataclass(frozen=True)
class Factors:
    """EDPB Guidelines 9/2022 on assessing risk."""

    breach_type: Nature
    sensitivity: Level
    volume: Level
    ease_of_identification: Level
    severity: Level
    special_people: bool  # children, vulnerable people
    people: int


def suggest(f: Factors) -> Outcome:
    """A suggestion for the person who decides (statement Art. 6: no automated decisions about people)."""
    weight = {Level.LOW: 0, Level.MEDIUM: 1, Level.HIGH: 2}
    score = (
        weight[f.sensitivity] * 2
        + weight[f.severity] * 2
        + weight[f.ease_of_identification]
        + weight[f.volume]
        + (2 if f.special_people else 0)
        + (1 if f.people >= 1000 else 0)
    )
    if f.ease_of_identification == Level.LOW and f.severity == Level.LOW:
        return Outcome.UNLIKELY
    if score >= 8:
        return Outcome.HIGH
    return Outcome.RISK if score >= 3 else Outcome.UNLIKELY


def required(outcome: Outcome | None, exemption: Exemption | None) -> dict[str, bool]:
    """What the chosen outcome makes necessary (GDPR 33(1), 34(1), 34(3))."""
    return {
        "ap_notification": outcome in (Outcome.RISK, Outcome.HIGH),
        "subject_notification": outcome == Outcome.HIGH and exemption is None,
        "public_communication": outcome == Outcome.HIGH and exemption == Exemption.DISPROPORTIONATE,
    }
