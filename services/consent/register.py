"""The record of processing activities (GDPR Art. 30(1)), one record per purpose, built from the
configuration and the processors' agreement status. Pure: no I/O.

Its SHA-256 (over the canonical JSON) is what the ledger keeps for each version, so that the register
as it stood on any past date can be produced and proven."""

from __future__ import annotations

import hashlib
import json
from typing import Any

from services.consent.domain import Activity, Catalogue, LegalBasis

FORMAT = "privacy-processing-register/1"
BASIS = {
    LegalBasis.CONSENT: "GDPR 6(1)(a) consent",
    LegalBasis.CONTRACT: "GDPR 6(1)(b) contract",
    LegalBasis.LEGAL_OBLIGATION: "GDPR 6(1)(c) legal obligation",
    LegalBasis.LEGITIMATE_INTEREST: "GDPR 6(1)(f) legitimate interest",
}

# the printable page's words (Dutch, the statement's language)
BASIS_NL = {
    BASIS[LegalBasis.CONSENT]: "toestemming (AVG 6(1)(a))",
    BASIS[LegalBasis.CONTRACT]: "overeenkomst (AVG 6(1)(b))",
    BASIS[LegalBasis.LEGAL_OBLIGATION]: "wettelijke verplichting (AVG 6(1)(c))",
    BASIS[LegalBasis.LEGITIMATE_INTEREST]: "gerechtvaardigd belang (AVG 6(1)(f))",
}
DATA_NL = {
    "name": "naam",
    "email": "e-mailadres",
    "ip_address": "IP-adres",
    "company_name": "bedrijfsnaam",
    "date_of_birth": "geboortedatum",
    "address": "adres",
    "iban": "IBAN",
    "vat_number": "btw-nummer",
    "kvk_number": "KvK-nummer",
    "phone": "telefoonnummer",
    "site_activity": "activiteit op de site",
    "browsing_behaviour": "surfgedrag",
    "browser_device": "browser- en apparaatgegevens",
    "message": "bericht",
}
AGREEMENT_NL = {"signed": "getekend", "requested": "aangevraagd", "unknown": "onbekend", "ended": "beëindigd"}
MONTHS_NL = (
    "januari februari maart april mei juni juli augustus september oktober november december".split()  # noqa: SIM905
)


def build(catalogue: Catalogue, agreements: dict[str, str]) -> dict[str, Any]:
    """The register as it follows from `catalogue` and the agreement status per processor name (the
    processor register of statement Art. 8, which staff keep current)."""
    processors = {p.name: p for p in catalogue.processors}

    def recipient(name: str) -> dict[str, Any]:
        p = processors[name]
        agreement = agreements.get(name, p.agreement)
        return {
            "name": name,
            "service": p.service,
            "role": "processor",
            "country": p.country,
            "agreement": agreement,
            "flagged": agreement != "signed",  # GDPR 28(3): processing by a processor needs a contract
        }

    records: list[dict[str, Any]] = []
    for purpose in catalogue.purposes.values():
        recipients = [recipient(n) for n in purpose.processors]
        recipients += [{"name": n, "role": "recipient"} for n in purpose.other_recipients]
        if purpose.per_third_party:
            recipients.append(
                {"name": "third parties named in each person's consent", "role": "third party by consent"}
            )
        records.append(
            {
                "purpose_id": purpose.id,
                "purpose": {"nl": purpose.description_nl, "en": purpose.description_en},
                "statement_article": purpose.article,
                "legal_basis": BASIS[purpose.legal_basis],
                "data_subjects": list(purpose.data_subjects),
                "personal_data": list(purpose.categories),
                "recipients": recipients,
                "transfers_outside_eea": [
                    {"recipient": n, "country": processors[n].country, "safeguard": processors[n].safeguard}
                    for n in purpose.processors
                    if processors[n].outside_eea
                ],
                "retention": {"days": purpose.retention_days, "standing_until_withdrawn": purpose.standing},
            }
        )
    records += [_own(activity) for activity in catalogue.own_processing]
    flagged = sorted(
        {str(r["name"]) for rec in records for r in rec["recipients"] if isinstance(r, dict) and r.get("flagged")}
    )
    return {
        "format": FORMAT,
        "controller": {
            "name": catalogue.controller.get("controller", ""),
            "address": catalogue.controller.get("address", ""),
            "contact": catalogue.controller.get("contact", ""),
        },
        "security_measures": list(catalogue.security_measures),
        "note": catalogue.register_note,
        "records": records,
        "processors_without_signed_agreement": flagged,
    }


def _own(a: Activity) -> dict[str, Any]:
    """One of the product's own processing activities, in the same shape as a purpose's record."""
    return {
        "purpose_id": a.id,
        "purpose": {"nl": a.description_nl, "en": a.description_en},
        "own": True,
        "statement_article": a.article,
        "legal_basis": BASIS[a.legal_basis],
        "data_subjects": list(a.data_subjects),
        "personal_data": list(a.categories),
        "recipients": [{"name": n, "role": "recipient"} for n in a.recipients],
        "transfers_outside_eea": [],
        "retention": {"days": None, "words": {"nl": a.retention_nl, "en": a.retention_en}},
    }


def digest(register: dict[str, Any]) -> str:
    return hashlib.sha256(canonical(register)).hexdigest()


def canonical(register: dict[str, Any]) -> bytes:
    return json.dumps(register, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()
