"""The mails the consent service sends, in Dutch with an English line: plain text and simple HTML."""

from __future__ import annotations

from html import escape

from services.common.mail import Mail


def _headers(unsubscribe_url: str) -> dict[str, str]:
    # RFC 2369 / RFC 8058: one-click unsubscribe in every mail (statement Art. 15.2)
    return {"List-Unsubscribe": f"<{unsubscribe_url}>", "List-Unsubscribe-Post": "List-Unsubscribe=One-Click"}


def optin_confirmation(*, to: str, confirm_url: str, unsubscribe_url: str, purposes: list[str], hours: int) -> Mail:
    text = (
        "Bevestig je aanmelding\n\n"
        f"Je hebt je aangemeld voor: {', '.join(purposes)}. Klik op deze link om dat te bevestigen:\n"
        f"{confirm_url}\n\n"
        f"De link werkt {hours} uur en één keer. Heb je je niet aangemeld? Dan hoef je niets te doen.\n"
        f"Afmelden kan altijd: {unsubscribe_url}\n\n"
        "Please confirm your sign-up with the link above; if it was not you, ignore this mail.\n"
    )
    html = (
        "<p><strong>Bevestig je aanmelding</strong></p>"
        f"<p>Je hebt je aangemeld voor: {escape(', '.join(purposes))}.</p>"
        f'<p><a href="{escape(confirm_url)}">Ja, ik wil me aanmelden</a></p>'
        f"<p>De link werkt {hours} uur en één keer. Heb je je niet aangemeld? Dan hoef je niets te doen.</p>"
        f'<p><a href="{escape(unsubscribe_url)}">Afmelden</a></p>'
    )
    return Mail(
        to=to,
        subject="Bevestig je aanmelding / Please confirm",
        text=text,
        html=html,
        headers=_headers(unsubscribe_url),
    )


def parent_confirmation(*, to: str, confirm_url: str, unsubscribe_url: str, purposes: list[str], hours: int) -> Mail:
    text = (
        "Toestemming gevraagd voor uw kind\n\n"
        "Iemand jonger dan 16 jaar heeft op onze website gegevens achtergelaten en uw adres opgegeven als ouder of "
        f"voogd. Wij gebruiken die gegevens alleen met uw toestemming, voor: {', '.join(purposes)}.\n\n"
        f"Geeft u toestemming? Klik dan op: {confirm_url}\n"
        f"Zonder uw toestemming doen wij niets met de gegevens. De link werkt {hours} uur.\n"
        f"Weigeren of intrekken: {unsubscribe_url}\n\n"
        "A child under 16 gave your address as parent or guardian; we use their data only with your consent.\n"
    )
    html = (
        "<p><strong>Toestemming gevraagd voor uw kind</strong></p>"
        "<p>Iemand jonger dan 16 jaar heeft gegevens achtergelaten en uw adres opgegeven als ouder of voogd.</p>"
        f"<p>Doelen: {escape(', '.join(purposes))}</p>"
        f'<p><a href="{escape(confirm_url)}">Ik geef toestemming</a> · '
        f'<a href="{escape(unsubscribe_url)}">Ik weiger</a></p>'
    )
    return Mail(
        to=to,
        subject="Toestemming voor uw kind / Parental consent",
        text=text,
        html=html,
        headers=_headers(unsubscribe_url),
    )
