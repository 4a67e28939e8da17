"""GDPR 13 and 14: the information every person is given, generated from the configuration (purposes.json),
so that what the company tells people can never drift from what the product does. Pure: no I/O.

Per purpose: what for, on what basis, which data, how long (in words that fit it), who receives it and any
transfer outside the EEA with its safeguard; then the product's own processing, the rights, the AP."""

from __future__ import annotations

from typing import Any

from services.common import words
from services.common.categories import data_word
from services.consent.access import retention_words
from services.consent.domain import Catalogue

SHORT = {  # the basis in a few words, with the article that makes it one (the product's own processing)
    "nl": {
        "consent": "Op grond van toestemming",
        "contract": "Nodig voor een overeenkomst",
        "legal_obligation": "Een wettelijke plicht",
        "legitimate_interest": "Ons gerechtvaardigd belang",
    },
    "en": {
        "consent": "On consent",
        "contract": "Needed for an agreement",
        "legal_obligation": "A legal obligation",
        "legitimate_interest": "Our legitimate interest",
    },
}


def information(catalogue: Catalogue, lang: str) -> dict[str, Any]:
    lang = words.language(lang)
    processors = {p.name: p for p in catalogue.processors}
    purposes = []
    for p in catalogue.purposes.values():
        recipients = []
        for name in p.processors:
            proc = processors[name]
            service = (proc.service_en or proc.service) if lang == "en" else proc.service
            transfer = proc.safeguard if proc.outside_eea else None
            recipients.append({"name": name, "service": service, "country": proc.country, "transfer": transfer})
        recipients += [{"name": n, "service": None, "country": None, "transfer": None} for n in p.other_recipients]
        purposes.append(
            {
                "id": p.id,
                "name": p.described(lang),
                "basis": words.word(words.BASES, p.legal_basis.value, lang),
                "rights": words.word(words.RIGHTS, p.legal_basis.value, lang),
                "data": [data_word(c, lang) for c in p.categories],
                "retention": retention_words(p)[lang],
                "recipients": recipients,
                "asks_consent": p.requires_consent,
                "direct_marketing": p.direct_marketing,
            }
        )
    own = [
        {
            "name": a.description_en if lang == "en" else a.description_nl,
            "basis": f"{SHORT[lang][a.legal_basis.value]} ({a.article}).",
            "data": [data_word(c, lang) for c in a.categories],
            "retention": a.retention_en if lang == "en" else a.retention_nl,
        }
        for a in catalogue.own_processing
    ]
    return {"controller": catalogue.controller, "purposes": purposes, "own": own}
