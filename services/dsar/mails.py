"""Mail to the person who made a request: templates in `templates/mail/`, in the request's language first,
the other below, each leading to the privacy centre."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Any

from services.common.mail import Mail
from services.common.mailtext import compose, environment

ENV = environment(Path(__file__).parent)
AP = "https://autoriteitpersoonsgegevens.nl/nl/zelf-doen/privacyrechten/klacht-indienen-bij-de-ap"


def _mail(name: str, *, to: str, lang: str, centre_url: str, **context: Any) -> Mail:
    return compose(ENV, name, to=to, lang=lang, centre_url=centre_url, ap=AP, **context)


def verify(*, to: str, lang: str, centre_url: str, kind: str, url: str, days: int, reminder: bool = False) -> Mail:
    return _mail("verify", to=to, lang=lang, centre_url=centre_url, kind=kind, url=url, days=days, reminder=reminder)


def extended(*, to: str, lang: str, centre_url: str, deadline: datetime, reason: str) -> Mail:
    return _mail("extended", to=to, lang=lang, centre_url=centre_url, deadline=deadline, reason=reason)


def refused(*, to: str, lang: str, centre_url: str, reason: str, late_since: datetime | None = None) -> Mail:
    """GDPR 12(4): the reasons, the AP and the courts; and, past the first month, that it comes late."""
    return _mail("refused", to=to, lang=lang, centre_url=centre_url, reason=reason, late_since=late_since)


def access_ready(*, to: str, lang: str, centre_url: str, url: str, days: int, kind: str = "access") -> Mail:
    """The export is ready: an access request's overview (15), or a portability request's files (20)."""
    return _mail("access_ready", to=to, lang=lang, centre_url=centre_url, url=url, days=days, kind=kind)


def erasure_done(*, to: str, lang: str, centre_url: str, erased: list[str], kept: list[tuple[str, str]]) -> Mail:
    return _mail("erasure_done", to=to, lang=lang, centre_url=centre_url, erased=erased, kept=kept)


def rectified(*, to: str, lang: str, centre_url: str, holders: list[str]) -> Mail:
    return _mail("rectified", to=to, lang=lang, centre_url=centre_url, holders=holders)


def closed(*, to: str, lang: str, centre_url: str, kind: str) -> Mail:
    return _mail("closed", to=to, lang=lang, centre_url=centre_url, kind=kind)


def minor_report(*, to: str, lang: str, centre_url: str, url: str, days: int) -> Mail:
    """Statement Art. 3.5: the address's owner confirms a report of a child's data before it is erased."""
    return _mail("minor_report", to=to, lang=lang, centre_url=centre_url, url=url, days=days)
