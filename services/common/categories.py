"""The categories of personal data as a person reads them, in Dutch and English (pure). A code no table
knows is shown with its underscores as spaces: never an error on a page."""

from __future__ import annotations

CATEGORIES = {
    "nl": {
        "name": "naam",
        "email": "e-mailadres",
        "ip_address": "internetadres (IP)",
        "company_name": "bedrijfsnaam",
        "date_of_birth": "geboortedatum",
        "address": "adres",
        "iban": "bankrekeningnummer (IBAN)",
        "vat_number": "btw-nummer",
        "kvk_number": "KvK-nummer",
        "phone": "telefoonnummer",
        "site_activity": "wat je op de site doet",
        "browsing_behaviour": "surfgedrag",
        "browser_device": "browser en apparaat",
        "message": "bericht",
        "postcode": "postcode",
        "house_number": "huisnummer",
        "note": "notitie",
    },
    "en": {
        "name": "name",
        "email": "email address",
        "ip_address": "internet address (IP)",
        "company_name": "company name",
        "date_of_birth": "date of birth",
        "address": "address",
        "iban": "bank account number (IBAN)",
        "vat_number": "VAT number",
        "kvk_number": "Chamber of Commerce number",
        "phone": "phone number",
        "site_activity": "what you do on the site",
        "browsing_behaviour": "browsing behaviour",
        "browser_device": "browser and device",
        "message": "message",
        "postcode": "postcode",
        "house_number": "house number",
        "note": "note",
    },
}


def data_word(code: str, lang: str) -> str:
    table = CATEGORIES["en" if lang == "en" else "nl"]
    return table.get(code, code.replace("_", " "))
