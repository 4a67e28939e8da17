"""The legal bases as a person reads them (GDPR 6): what each means, how a purpose on it reads while in use,
and what the law gives the person for it (GDPR 15-22). Pure; `words` re-exports them for the templates."""

from __future__ import annotations

BASES = {
    "nl": {
        "consent": "Alleen met je toestemming. Je kunt die altijd intrekken, zonder reden.",
        "contract": "Nodig om onze overeenkomst met je uit te voeren.",
        "legal_obligation": "De wet verplicht ons deze gegevens te bewaren (zoals de fiscale bewaarplicht).",
        "legitimate_interest": "Ons gerechtvaardigd belang, bijvoorbeeld om de site te laten werken. "
        "Je kunt er bezwaar tegen maken.",
    },
    "en": {
        "consent": "Only with your consent. You can withdraw it at any time, without giving a reason.",
        "contract": "Needed to carry out our agreement with you.",
        "legal_obligation": "The law requires us to keep this data (such as the fiscal retention duty).",
        "legitimate_interest": "Our legitimate interest, for example to make the site work. You may object to it.",
    },
}

IN_USE = {  # a purpose that needs no consent, in use: on what basis (where a consent would read "given")
    "nl": {
        "contract": "in gebruik voor onze overeenkomst met je",
        "legal_obligation": "in gebruik omdat de wet het vraagt",
        "legitimate_interest": "in gebruik op grond van ons gerechtvaardigd belang",
    },
    "en": {
        "contract": "in use for our agreement with you",
        "legal_obligation": "in use because the law requires it",
        "legitimate_interest": "in use on our legitimate interest",
    },
}

RIGHTS = {  # what the law gives a person for a purpose on each basis (GDPR 15-22), in a sentence
    "nl": {
        "consent": "Je kunt je toestemming altijd intrekken. Je kunt je gegevens ook inzien, laten corrigeren of "
        "laten verwijderen.",
        "contract": "Intrekken kan niet: we hebben deze gegevens nodig voor de overeenkomst. Je kunt ze wel inzien, "
        "laten corrigeren, de verwerking laten beperken en ze meenemen naar een ander (overdraagbaarheid).",
        "legal_obligation": "Intrekken of verwijderen kan niet zolang de wet ons verplicht deze gegevens te bewaren. "
        "Je kunt ze wel inzien, laten corrigeren en de verwerking laten beperken als je de juistheid betwist.",
        "legitimate_interest": "Je kunt bezwaar maken: dan wegen we jouw belang opnieuw af. Je kunt je gegevens ook "
        "inzien, laten corrigeren en de verwerking laten beperken.",
    },
    "en": {
        "consent": "You can withdraw your consent at any time. You can also see your data, have it corrected or "
        "have it erased.",
        "contract": "There is nothing to withdraw: we need this data for the agreement. You can see it, have it "
        "corrected, restrict its processing and take it to someone else (portability).",
        "legal_obligation": "It cannot be withdrawn or erased while the law requires us to keep it. You can see it, "
        "have it corrected, and restrict its processing while you contest its accuracy.",
        "legitimate_interest": "You can object: we then weigh your interest again. You can also see your data, have "
        "it corrected and restrict its processing.",
    },
}
