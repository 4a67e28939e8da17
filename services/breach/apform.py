"""The content of the AP's "Meldformulier datalekken", section by section, as JSON and a printable page.
The AP takes notifications only through its web form: this prepares what to fill in."""

from __future__ import annotations

import json
from typing import Any

from services.breach.models import Breach

SECTIONS = {
    "0": "Wettelijke grondslag / Legal basis",
    "1": "Contactgegevens / Contact details",
    "2": "Tijdlijn / Timeline",
    "3": "Aard van het lek / Nature",
    "4": "Persoonsgegevens / Personal data",
    "5": "Betrokkenen / Affected persons",
    "6": "Voorafgaande bescherming / Prior protection",
    "7": "Gevolgen / Consequences",
    "8": "Vervolgacties / Follow-up",
    "9": "Overig / Other",
}


def content(
    breach: Breach,
    *,
    phase: str,
    reason: str | None,
    public: list[dict[str, Any]],
    informed: dict[str, Any],
    delay_reason: str | None = None,
    late: bool = False,
) -> dict[str, Any]:
    """`informed`: what the people were actually told (told.informed, from the mails sent); `late` and
    `delay_reason`: an initial notification after the 72 hours carries the reasons for the delay (33(1))."""
    d = json.loads(breach.details)
    risk = json.loads(breach.risk) if breach.risk else {}
    return {
        "phase": phase,
        "phase_reason": reason,
        "sections": {
            "0": {"legal_basis": d["legal_basis"]},
            "1": {
                "reporter": d["reporter"],
                "contact_person": d.get("contact") or d["reporter"],
                "other_organisations": d.get("other_organisations"),
            },
            "2": {
                "aware_at": breach.awareness_at,
                "started_at": breach.started_at,
                "ended_at": breach.ended_at,
                "ongoing": breach.ongoing,
                "ap_deadline": breach.ap_deadline,
                "late": late,
                "delay_reason": delay_reason,
            },
            "3": {"nature": d["nature"], "acts": d["acts"], "description": breach.description},
            "4": {"categories": d["categories"], "records_approx": d["records_approx"]},
            "5": {
                "people_min": d["subjects_min"],
                "people_max": d["subjects_max"],
                "special_groups": d.get("special_people"),
                "subject_categories": d.get("subject_categories", []),
            },
            "6": {"encrypted_or_unintelligible": d["encrypted"], "how": d.get("protection")},
            "7": {
                "consequences": d.get("consequences"),
                "risk_outcome": risk.get("outcome"),
                "risk_reasons": risk.get("reasons"),
                "factors": risk.get("factors"),
            },
            "8": {
                "people_informed": informed,
                "exemption": risk.get("exemption"),
                "exemption_reason": risk.get("exemption_reason"),
                "public_communication": public,
                "measures": d.get("measures"),
                "expert": d.get("expert"),
                "expert_findings": d.get("expert_findings"),
                "international": d.get("international", False),
            },
            "9": {"systems": d.get("systems", []), "processors": d.get("processors", [])},
        },
    }


# What each field and value is called on the printed form: Dutch first, English beside it (the AP's form
# is Dutch); a key without a label is shown as it is.
LABELS = {
    "legal_basis": "Wettelijke grondslag / Legal basis",
    "reporter": "Melder / Reporter",
    "contact_person": "Contactpersoon / Contact person",
    "other_organisations": "Andere organisaties / Other organisations",
    "aware_at": "Ontdekt op / Became aware at",
    "started_at": "Begonnen op / Started at",
    "ended_at": "Beëindigd op / Ended at",
    "ongoing": "Duurt nog voort / Ongoing",
    "ap_deadline": "Meldtermijn (72 uur) / Deadline (72 hours)",
    "late": "Na de 72 uur / After the 72 hours",
    "delay_reason": "Reden van de vertraging (AVG 33 lid 1) / Reasons for the delay (GDPR 33(1))",
    "subject_categories": "Categorieën betrokkenen / Categories of data subjects",
    "answer": "Antwoord / Answer",
    "mailed": "Per mail geïnformeerd / Told by mail",
    "found": "Gevonden / Found",
    "waiting": "Wacht op verzending / Waiting to be sent",
    "undeliverable": "Niet aangekomen / Undeliverable",
    "nature": "Soort lek / Kind of breach",
    "acts": "Wat er met de gegevens gebeurde / What happened to the data",
    "description": "Beschrijving / Description",
    "categories": "Soorten persoonsgegevens / Kinds of personal data",
    "records_approx": "Aantal records (ongeveer) / Records (approx.)",
    "people_min": "Minimaal aantal betrokkenen / At least",
    "people_max": "Maximaal aantal betrokkenen / At most",
    "special_groups": "Kwetsbare groepen / Vulnerable groups",
    "encrypted_or_unintelligible": "Versleuteld of onleesbaar / Encrypted or unintelligible",
    "how": "Hoe / How",
    "consequences": "Mogelijke gevolgen / Possible consequences",
    "risk_outcome": "Risicobesluit / Risk decision",
    "risk_reasons": "Redenen van het besluit / Reasons",
    "factors": "Factoren / Factors",
    "breach_type": "Soort lek / Kind of breach",
    "sensitivity": "Gevoeligheid / Sensitivity",
    "volume": "Hoeveelheid / Volume",
    "ease_of_identification": "Herkenbaarheid / Ease of identification",
    "severity": "Ernst / Severity",
    "special_people": "Kwetsbare mensen / Vulnerable people",
    "people": "Aantal mensen / People",
    "people_informed": "Betrokkenen geïnformeerd / People informed",
    "exemption": "Uitzondering AVG 34(3) / Exemption GDPR 34(3)",
    "exemption_reason": "Grond van de uitzondering / Ground",
    "public_communication": "Openbare mededeling / Public communication",
    "measures": "Maatregelen / Measures",
    "expert": "IT-deskundige / IT expert",
    "expert_findings": "Bevindingen / Findings",
    "international": "Internationaal / International",
    "systems": "Systemen / Systems",
    "processors": "Verwerkers / Processors",
    "name": "Naam / Name",
    "email": "E-mail",
    "phone": "Telefoon / Phone",
    "channel": "Kanaal / Channel",
    "url": "URL",
    "published_at": "Gepubliceerd op / Published at",
}
VALUES = {
    "initial": "eerste melding / initial notification",
    "supplement": "aanvulling / supplement",
    "withdrawal": "intrekking / withdrawal",
    "confidentiality": "vertrouwelijkheid / confidentiality",
    "integrity": "integriteit / integrity",
    "availability": "beschikbaarheid / availability",
    "reading": "ingezien / read",
    "copying": "gekopieerd / copied",
    "changing": "veranderd / changed",
    "deleting": "verwijderd / deleted",
    "theft": "gestolen / stolen",
    "name_address": "naam, adres / name, address",
    "phone": "telefoonnummer / phone number",
    "email": "e-mailadres / email address",
    "login_data": "inloggegevens / login data",
    "financial": "financiële gegevens / financial data",
    "bsn": "BSN / citizen service number",
    "passport_copies": "kopieën van paspoorten / passport copies",
    "gender_birthdate_age": "geslacht, geboortedatum, leeftijd / gender, date of birth, age",
    "special_categories": "bijzondere persoonsgegevens / special categories",
    "criminal_data": "strafrechtelijke gegevens / criminal data",
    "other": "andere / other",
    "yes": "ja, per mail / yes, by mail",
    "partly": "deels, per mail / partly, by mail",
    "publicly": "met een openbare mededeling / by a public communication",
    "not required": "niet nodig (geen hoog risico, of een uitzondering van AVG 34 lid 3) / not required",
    "not yet": "nog niet / not yet",
    "low": "laag / low",
    "medium": "middel / medium",
    "high": "hoog / high",
    "unlikely": "geen risico waarschijnlijk / risk unlikely",
    "risk": "risico: melden bij de AP / risk: notify the AP",
    "a": "a: onleesbaar gemaakt / unintelligible",
    "b": "b: hoog risico weggenomen / high risk removed",
    "c": "c: onevenredige inspanning / disproportionate effort",
}
TIMES = frozenset({"aware_at", "started_at", "ended_at", "ap_deadline", "published_at"})
