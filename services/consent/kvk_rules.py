"""Statement Art. 4: a KvK number given on the payment form (Art. 3.2c) may be checked against the
Handelsregister, only to verify it. What the check compares, and the outcome it records. Pure: no I/O.
Nothing from the register is kept beyond the outcome (statement Art. 7.1, data minimisation)."""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

KVK_NUMBER = re.compile(r"^[0-9]{8}$")  # the Handelsregister's numbers have 8 digits


class Outcome(StrEnum):
    MATCH = "match"
    MISMATCH = "mismatch"  # with the fields that differ
    NOT_FOUND = "not_found"
    UNAVAILABLE = "unavailable"  # timeout, 5xx, 429, a refused API key, an open circuit: retried later
    NOT_CONFIGURED = "not_configured"  # no KvK API set up: nothing checked, nothing retried


@dataclass(frozen=True)
class Given:
    """What the person entered (kept encrypted until the check is done)."""

    kvk_number: str
    company_name: str
    postcode: str | None = None
    house_number: str | None = None

    def as_dict(self) -> dict[str, Any]:
        return {k: v for k, v in self.__dict__.items() if v is not None}


@dataclass(frozen=True)
class Result:
    outcome: Outcome
    mismatches: tuple[str, ...] = ()
    reason: str | None = None
    reference: dict[str, str] = field(default_factory=dict)  # the API's version and request reference


def _name(text: str) -> str:
    text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode().casefold()
    text = re.sub(r"[^a-z0-9 ]+", " ", text)
    text = re.sub(r"\b(b ?v|n ?v|v ?o ?f|bv|nv|vof)\b", " ", text)  # the legal form, written either way
    return " ".join(text.split())


def _postcode(text: str) -> str:
    return re.sub(r"\s+", "", text).upper()


def compare(given: Given, profile: dict[str, Any]) -> Result:
    """Compare the given name (and address, when given) with a Basisprofiel answer of the KvK API."""
    names = [profile.get("naam") or ""] + [h.get("naam") or "" for h in profile.get("handelsnamen") or []]
    mismatches = []
    if _name(given.company_name) not in {_name(n) for n in names if n}:
        mismatches.append("company_name")
    if given.postcode:
        embedded = profile.get("_embedded") or {}
        places = (
            (embedded.get("hoofdvestiging") or {}).get("adressen")
            or (embedded.get("eigenaar") or {}).get("adressen")
            or []
        )
        found = {(_postcode(a.get("postcode") or ""), str(a.get("huisnummer") or "").strip().lower()) for a in places}
        postcode, number = _postcode(given.postcode), (given.house_number or "").strip().lower()
        if (postcode, number) not in found if number else postcode not in {p for p, _ in found}:
            mismatches.append("address")
    return Result(Outcome.MISMATCH if mismatches else Outcome.MATCH, tuple(mismatches))
