"""What a person reads (dates, periods, states, evidence as sentences) and the sealed session cookie."""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any

import pytest
from starlette.requests import Request
from starlette.responses import Response

from services.common import words
from services.common.sessions import CookieSessions, csrf_ok


def test_dates_are_written_out_in_amsterdam() -> None:
    winter = datetime(2026, 12, 1, 23, 30, tzinfo=UTC)  # 00:30 on 2 December in Amsterdam
    assert words.when(winter, "nl") == "2 december 2026 om 00:30"
    assert words.when(winter, "en") == "2 December 2026 at 00:30"
    summer = datetime(2026, 7, 1, 10, 0, tzinfo=UTC)  # CEST: +2
    assert words.when(summer, "nl") == "1 juli 2026 om 12:00"
    assert words.when("2026-07-01T10:00:00+00:00", "nl") == "1 juli 2026 om 12:00"
    assert words.when(datetime(2026, 7, 1, 10, 0), "nl") == "1 juli 2026 om 12:00", "naive means UTC (stored)"
    assert words.day(date(2027, 1, 2), "en") == "2 January 2027"
    assert words.when(None, "nl") == "-"


@pytest.mark.parametrize(
    ("n", "nl", "en"),
    [
        (730, "2 jaar", "2 years"),
        (365, "1 jaar", "1 year"),
        (2557, "7 jaar", "7 years"),
        (395, "13 maanden", "13 months"),
        (30, "30 dagen", "30 days"),
        (1, "1 dag", "1 day"),
    ],
)
def test_periods_in_the_largest_whole_unit(n: int, nl: str, en: str) -> None:
    assert (words.days(n, "nl"), words.days(n, "en")) == (nl, en)


def test_states_bases_and_unknown_words() -> None:
    assert words.word(words.STATES, "granted", "nl") == "gegeven"
    assert words.word(words.STATES, "withdrawn", "en") == "withdrawn"
    assert words.word(words.STATES, "something_new", "nl") == "something new", "never an error on a page"
    assert words.word(words.BASES, "consent", "xx").startswith("Alleen met je toestemming"), "Dutch by default"
    assert words.holder_name("consent", "nl") == "ons toestemmingenregister"
    assert words.holder_name("ActiveCampaign", "nl") == "ActiveCampaign"
    assert (
        words.reason("activecampaign unsubscribe: te veel mail", "nl")
        == "afgemeld bij onze mailingdienst: te veel mail"
    )
    assert words.reason("staff typed this", "en") == "staff typed this"
    assert words.first_upper("global Privacy Control") == "Global Privacy Control"


def test_evidence_as_sentences() -> None:
    evidence: dict[str, Any] = {
        "ip": "203.0.113.7",
        "gpc": False,
        "page": None,
        "at": "2026-12-01T10:00:00+00:00",
        "confirmed_by": "newsletter",
        "custom_field": "x",
    }
    assert words.evidence(evidence, "nl") == [
        "Vanaf internetadres 203.0.113.7.",
        "Vastgelegd op 1 december 2026 om 11:00.",
        "Bevestigd door jou, per mail.",
        "custom field: x",
    ], "gpc: False is no sentence; nothing empty is shown"
    assert words.evidence({"gpc": True}, "en") == ["Your browser sent the Global Privacy Control signal."]
    assert words.evidence("erased", "nl") == ["Het bewijs is gewist met je gegevens."]


def _request(cookie: str | None = None) -> Request:
    headers = [(b"cookie", f"privacy_centre={cookie}".encode())] if cookie else []
    return Request({"type": "http", "headers": headers, "scheme": "http", "server": ("t", 80), "path": "/"})


def _cookie(response: Response) -> str:
    return response.headers["set-cookie"].split(";")[0].split("=", 1)[1]


def test_session_cookie_is_sealed_expires_and_carries_csrf() -> None:
    store = CookieSessions(b"k" * 32, name="privacy_centre", path="/privacy", idle_seconds=60)
    response = Response()
    session = store.start(response, _request(), {"s": "subject", "e": "noor@example.nl"})
    header = response.headers["set-cookie"]
    assert "HttpOnly" in header and "SameSite=strict" in header and "Path=/privacy" in header
    assert "Secure" not in header, "over http; Secure is set over https"
    raw = _cookie(response)
    assert "noor" not in raw, "the address is sealed, not readable in the cookie"
    opened = store.open(_request(raw))
    assert opened is not None and opened["e"] == "noor@example.nl" and csrf_ok(opened, session["csrf"])
    assert not csrf_ok(opened, "guess") and not csrf_ok(opened, None) and not csrf_ok(None, session["csrf"])
    tampered = raw[:-4] + ("AAAA" if not raw.endswith("AAAA") else "BBBB")
    assert store.open(_request(tampered)) is None
    other = CookieSessions(b"j" * 32, name="privacy_centre", path="/privacy", idle_seconds=60)
    assert other.open(_request(raw)) is None, "another key opens nothing"
    expired = CookieSessions(b"k" * 32, name="privacy_centre", path="/privacy", idle_seconds=-1)
    assert store.open(_request(expired.seal({"s": "x"}))) is None
    assert store.open(_request("not base64 at all!")) is None
