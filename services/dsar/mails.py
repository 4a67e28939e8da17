"""Mail to the person who made a request: Dutch, with an English line (the request's language first)."""

from __future__ import annotations

from services.common.mail import Mail

KIND_NL = {
    "access": "inzage",
    "erasure": "verwijdering",
    "rectification": "correctie",
    "restriction": "beperking",
    "objection": "bezwaar",
}
AP = "https://autoriteitpersoonsgegevens.nl/nl/zelf-doen/privacyrechten/klacht-indienen-bij-de-ap"


def verify(*, to: str, kind: str, url: str, days: int, reminder: bool = False) -> Mail:
    first = "Herinnering: " if reminder else ""
    return Mail(
        to=to,
        subject=f"{first}Bevestig je verzoek om {KIND_NL.get(kind, kind)} / Confirm your request",
        text=(
            f"{first}We hebben een verzoek om {KIND_NL.get(kind, kind)} van je gegevens ontvangen.\n"
            f"Bevestig dat jij het bent met deze link (werkt één keer, {days} dagen): {url}\n"
            "Zonder bevestiging sluiten we het verzoek. Heb jij niets gevraagd? Dan hoef je niets te doen.\n\n"
            f"We received a request ({kind}) for your data. Confirm it was you: {url}\n"
        ),
    )


def extended(*, to: str, deadline: str, reason: str) -> Mail:
    return Mail(
        to=to,
        subject="Meer tijd nodig voor je verzoek / We need more time",
        text=(
            f"We hebben meer tijd nodig om je verzoek goed af te handelen (AVG art. 12 lid 3). Nieuwe uiterste datum: "
            f"{deadline}.\nReden: {reason}\n\n"
            f"We need more time (GDPR 12(3)); new deadline {deadline}. Reason: {reason}\n"
        ),
    )


def refused(*, to: str, reason: str) -> Mail:
    return Mail(
        to=to,
        subject="Je verzoek is afgewezen / Your request was refused",
        text=(
            f"We voeren je verzoek niet uit. Reden: {reason}\n"
            f"Je hebt het recht een klacht in te dienen bij de Autoriteit Persoonsgegevens: {AP}\n"
            "en je kunt naar de rechter stappen (AVG art. 12 lid 4).\n\n"
            f"We will not carry out your request. Reason: {reason}\n"
            f"You may complain to the Dutch Data Protection Authority (Autoriteit Persoonsgegevens): {AP}\n"
        ),
    )


def access_ready(*, to: str, url: str, days: int) -> Mail:
    return Mail(
        to=to,
        subject="Je gegevens staan klaar / Your data is ready",
        text=(
            f"Hier is een overzicht van alle gegevens die we van je hebben (AVG art. 15): {url}\n"
            f"De link werkt {days} dagen. Er is ook een machineleesbare versie (JSON) op die pagina.\n\n"
            f"Your data overview (GDPR 15): {url} (valid {days} days; JSON available too).\n"
        ),
    )


def erasure_done(*, to: str, erased: list[str], kept: list[tuple[str, str]]) -> Mail:
    kept_lines = "\n".join(f"- {holder}: {reason}" for holder, reason in kept) or "- niets / nothing"
    return Mail(
        to=to,
        subject="Je gegevens zijn verwijderd / Your data was erased",
        text=(
            f"Je verzoek om verwijdering is afgehandeld.\nVerwijderd bij: {', '.join(erased) or '-'}\n"
            f"Bewaard, met de reden:\n{kept_lines}\n\n"
            f"Erased by: {', '.join(erased) or '-'}. Kept, with the legal reason, as listed above.\n"
            f"Niet eens? Klacht bij de Autoriteit Persoonsgegevens: {AP}\n"
        ),
    )


def rectified(*, to: str, holders: list[str]) -> Mail:
    return Mail(
        to=to,
        subject="Je gegevens zijn gecorrigeerd / Your data was corrected",
        text=(
            f"Je correctie is doorgevoerd bij: {', '.join(holders) or '-'}.\n\n"
            f"Your correction was applied by: {', '.join(holders) or '-'}.\n"
        ),
    )


def closed(*, to: str, kind: str) -> Mail:
    return Mail(
        to=to,
        subject="Je verzoek is afgehandeld / Your request was handled",
        text=(
            f"Je verzoek ({KIND_NL.get(kind, kind)}) is afgehandeld door iedereen die je gegevens heeft.\n\n"
            f"Your request ({kind}) was handled by everyone holding your data.\n"
        ),
    )
