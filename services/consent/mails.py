"""The mails the consent service sends: templates in `templates/mail/`, the person's language first."""

from __future__ import annotations

from pathlib import Path

from services.common.mail import Mail
from services.common.mailtext import compose, environment
from services.consent.domain import Purpose

ENV = environment(Path(__file__).parent)


def _headers(unsubscribe_url: str) -> dict[str, str]:
    # RFC 2369 / RFC 8058: one-click unsubscribe in every mail (statement Art. 15.2)
    return {"List-Unsubscribe": f"<{unsubscribe_url}>", "List-Unsubscribe-Post": "List-Unsubscribe=One-Click"}


def confirmation(
    kind: str,
    *,
    to: str,
    lang: str,
    confirm_url: str,
    unsubscribe_url: str,
    centre_url: str,
    purposes: list[Purpose],
    hours: int,
) -> Mail:
    """Double opt-in (statement Art. 15) or, for a child under 16, the parent's consent (Art. 3.5)."""
    return compose(
        ENV,
        "parent_confirmation" if kind == "parent" else "optin_confirmation",
        to=to,
        lang=lang,
        headers=_headers(unsubscribe_url),
        confirm_url=confirm_url,
        unsubscribe_url=unsubscribe_url,
        centre_url=centre_url,
        purposes=purposes,
        hours=hours,
    )


def sign_in(*, to: str, lang: str, url: str, minutes: int, controller: str) -> Mail:
    return compose(ENV, "centre_sign_in", to=to, lang=lang, url=url, minutes=minutes, controller=controller)


def withdrawal_confirmation(
    *, to: str, lang: str, unsubscribe_url: str, centre_url: str, purposes: list[Purpose]
) -> Mail:
    """A withdrawal asked for an address through a public route: the person confirms it with one click."""
    return compose(
        ENV,
        "withdrawal_confirmation",
        to=to,
        lang=lang,
        headers=_headers(unsubscribe_url),
        unsubscribe_url=unsubscribe_url,
        centre_url=centre_url,
        purposes=purposes,
    )


def restriction_lift(*, to: str, lang: str, lift_on: str, why: str, centre_url: str, purposes: list[Purpose]) -> Mail:
    """GDPR 18(3): the person is told before a restriction of their data is lifted, and when, and why."""
    names = ", ".join(p.described(lang) for p in purposes) or ("nothing" if lang == "en" else "niets")
    return compose(
        ENV, "restriction_lift", to=to, lang=lang, lift_on=lift_on, why=why, centre_url=centre_url, names=names
    )


def objection_weighed(*, to: str, lang: str, purpose: str, upheld: bool, grounds: str, centre_url: str) -> Mail:
    """GDPR 21(1): the outcome of weighing the person's objection, with the grounds, the AP and the courts."""
    return compose(
        ENV,
        "objection_weighed",
        to=to,
        lang=lang,
        purpose=purpose,
        upheld=upheld,
        grounds=grounds,
        centre_url=centre_url,
    )
