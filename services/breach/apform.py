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


def content(breach: Breach, *, phase: str, reason: str | None, public: list[dict[str, Any]]) -> dict[str, Any]:
    d = json.loads(breach.details)
    risk = json.loads(breach.risk) if breach.risk else {}
    informed = risk.get("outcome") == "high" and not risk.get("exemption")
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
            },
            "3": {"nature": d["nature"], "acts": d["acts"], "description": breach.description},
            "4": {"categories": d["categories"], "records_approx": d["records_approx"]},
            "5": {
                "people_min": d["subjects_min"],
                "people_max": d["subjects_max"],
                "special_groups": d.get("special_people"),
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
