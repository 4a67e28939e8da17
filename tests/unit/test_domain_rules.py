"""The pure rules of the three services, without Kafka or a database (`make test-unit`): what a consent
becomes, when data must go, a breach's clock and risk, a request's clock and its extension."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime, timedelta
from itertools import product
from typing import Any

import pytest

from services.breach import domain as breach
from services.consent import domain as consent
from services.dsar import domain as dsar

RAW = json.loads(consent.DEFAULT_CONFIG.read_text())


def purpose(**change: Any) -> consent.Purpose:
    base = {
        "id": "p",
        "legal_basis": "consent",
        "retention_days": 30,
        "description_nl": "iets",
        "description_en": "something",
    }
    return consent._purpose({**base, **change})


# --- consent ----------------------------------------------------------------------------------------------


def test_the_shipped_catalogue_loads_and_names_every_purpose_in_both_languages() -> None:
    catalogue = consent.catalogue_from(RAW)
    assert catalogue.purposes and all(p.description_nl and p.description_en for p in catalogue.purposes.values())
    assert catalogue.purpose("nope") is None


@pytest.mark.parametrize(
    ("change", "says"),
    [
        ({"legal_basis": None}, "has no legal_basis"),
        ({"retention_days": None}, "has no retention_days"),
        ({"legal_basis": "vibes"}, "unknown legal_basis 'vibes'"),
        ({"retention_days": 0}, "at least 1"),
        ({"retention_days": 1.5}, "whole number"),
    ],
)
def test_a_purpose_without_its_legal_facts_stops_the_service(change: dict[str, Any], says: str) -> None:
    with pytest.raises(consent.CatalogueError, match=says):
        purpose(**change)


def test_processors_must_be_listed_and_transfers_outside_the_eea_safeguarded() -> None:
    raw = {**RAW, "purposes": [*RAW["purposes"], {**RAW["purposes"][0], "id": "x", "processors": ["Nobody BV"]}]}
    with pytest.raises(consent.CatalogueError, match="unknown processors: Nobody BV"):
        consent.catalogue_from(raw)
    far = {"name": "Far Inc", "service": "mail", "outside_eea": True}
    with pytest.raises(consent.CatalogueError, match="outside the EEA but names no safeguard"):
        consent.catalogue_from({**RAW, "processors": [*RAW.get("processors", []), far]})


@pytest.mark.parametrize(
    ("birth", "today", "age"),
    [
        (date(2010, 6, 15), date(2026, 6, 14), 15),  # the day before the 16th birthday
        (date(2010, 6, 15), date(2026, 6, 15), 16),
        (date(2008, 2, 29), date(2026, 2, 28), 17),  # a leap-day birthday in a common year
        (date(2008, 2, 29), date(2026, 3, 1), 18),
    ],
)
def test_age_counts_birthdays(birth: date, today: date, age: int) -> None:
    assert consent.age_on(birth, today) == age


def test_under_sixteen_needs_a_parent_and_the_date_of_birth_wins_over_a_stated_age() -> None:
    today = date(2026, 12, 1)
    assert consent.needs_parent(age=15, date_of_birth=None, today=today)
    assert not consent.needs_parent(age=16, date_of_birth=None, today=today)
    assert consent.needs_parent(age=30, date_of_birth=date(2011, 1, 1), today=today)
    assert not consent.needs_parent(age=None, date_of_birth=None, today=today)


def test_what_a_capture_becomes() -> None:
    S = consent.State
    plain, tracking = purpose(), purpose(gpc_objection=True)
    newsletter, optional = purpose(double_opt_in=True), purpose(requires_consent=False)
    grant = {"granted": True, "minor": False, "gpc": False, "staff": False}
    assert consent.initial_state(plain, **{**grant, "granted": False}) == (S.DENIED, None)
    assert consent.initial_state(plain, **grant) == (S.GRANTED, None)
    # GPC is an objection: never read as consent, unless the person chose otherwise themselves
    assert consent.initial_state(tracking, **{**grant, "gpc": True}) == (S.DENIED, "gpc")
    chosen = consent.initial_state(tracking, **{**grant, "gpc": True}, over_gpc=True)
    assert chosen == (S.GRANTED, "explicit choice over gpc")
    assert consent.initial_state(plain, **{**grant, "gpc": True}) == (S.GRANTED, None), "GPC is about tracking"
    assert consent.initial_state(plain, **{**grant, "minor": True}) == (S.PENDING_PARENT, "under 16")
    assert consent.initial_state(optional, **{**grant, "minor": True}) == (S.GRANTED, None)
    assert consent.initial_state(newsletter, **grant) == (S.PENDING_CONFIRMATION, "double opt-in")
    assert consent.initial_state(newsletter, **{**grant, "staff": True}) == (S.GRANTED, None)


def test_refusing_what_was_given_or_pending_is_a_withdrawal() -> None:
    S = consent.State
    for previous in ("granted", "pending_confirmation", "pending_parent"):
        assert consent.recorded_as(previous, S.DENIED) == S.WITHDRAWN
    for previous in (None, "denied", "withdrawn", "expired"):
        assert consent.recorded_as(previous, S.DENIED) == S.DENIED
    assert consent.recorded_as("granted", S.GRANTED) == S.GRANTED


def test_retention_runs_from_the_last_change_except_for_a_standing_consent() -> None:
    S = consent.State
    changed = datetime(2026, 1, 1, tzinfo=UTC)
    assert consent.retention_end(purpose(), S.GRANTED, changed) == changed + timedelta(days=30)
    assert consent.retention_end(purpose(standing=True), S.GRANTED, changed) is None
    assert consent.retention_end(purpose(standing=True), S.WITHDRAWN, changed) == changed + timedelta(days=30)
    assert consent.retention_end(purpose(), S.EXPIRED, changed) is None


def test_a_pending_grant_goes_with_its_link_and_a_refusal_keeps_only_its_proof() -> None:
    S, link = consent.State, timedelta(hours=72)
    changed = datetime(2026, 1, 1, tzinfo=UTC)
    for pending in (S.PENDING_CONFIRMATION, S.PENDING_PARENT):
        assert consent.retention_end(purpose(standing=True), pending, changed, link_lifetime=link) == changed + link + (
            consent.PENDING_GRACE
        )
    assert consent.retention_end(purpose(), S.GRANTED, changed, link_lifetime=link) == changed + timedelta(days=30)
    sent = {"email": "a@b.nl", "name": "A", "ip": "203.0.113.7", "user_agent": "x", "at": "t", "page": "p", "gpc": True}
    assert consent.refusal_evidence(sent) == {"email": "a@b.nl", "at": "t", "page": "p", "gpc": True}


# --- breach -----------------------------------------------------------------------------------------------

NOW = datetime(2026, 12, 1, 12, tzinfo=UTC)


def test_the_ap_deadline_is_72_hours_after_awareness_whatever_the_clock_change() -> None:
    aware = datetime(2026, 10, 24, 12, tzinfo=UTC)  # the night of the 25th the Netherlands leaves summer time
    assert breach.ap_deadline(aware) - aware == timedelta(hours=72)


@pytest.mark.parametrize(
    ("awareness", "started", "ended", "field"),
    [
        (NOW + timedelta(hours=1), None, None, "awareness_at"),
        (NOW, NOW + timedelta(hours=1), None, "started_at"),
        (NOW - timedelta(days=2), NOW - timedelta(days=1), None, "started_at"),  # started after awareness
        (NOW, NOW - timedelta(days=2), NOW - timedelta(days=3), "ended_at"),
        (NOW, NOW - timedelta(days=2), NOW + timedelta(days=1), "ended_at"),
    ],
)
def test_a_timeline_out_of_order_names_the_field(
    awareness: datetime, started: datetime | None, ended: datetime | None, field: str
) -> None:
    with pytest.raises(breach.RuleError) as refused:
        breach.check_timeline(awareness=awareness, started=started, ended=ended, now=NOW)
    assert refused.value.field == field


def test_a_timeline_in_order_passes() -> None:
    day = timedelta(days=1)
    breach.check_timeline(awareness=NOW - day, started=NOW - 3 * day, ended=NOW - 2 * day, now=NOW)


def factors(**change: Any) -> breach.Factors:
    L = breach.Level
    base: dict[str, Any] = {
        "breach_type": breach.Nature.CONFIDENTIALITY,
        "sensitivity": L.LOW,
        "volume": L.LOW,
        "ease_of_identification": L.LOW,
        "severity": L.LOW,
        "special_people": False,
        "people": 10,
    }
    return breach.Factors(**{**base, **change})


def test_the_suggestion() -> None:
    L, Out = breach.Level, breach.Outcome
    assert breach.suggest(factors()) == Out.UNLIKELY
    # nobody can be identified and nothing follows: unlikely, however much leaked
    assert breach.suggest(factors(sensitivity=L.HIGH, volume=L.HIGH, people=10**6)) == Out.UNLIKELY
    assert breach.suggest(factors(severity=L.MEDIUM, ease_of_identification=L.MEDIUM)) == Out.RISK
    worst = factors(sensitivity=L.HIGH, severity=L.HIGH, ease_of_identification=L.HIGH, volume=L.HIGH)
    assert breach.suggest(worst) == Out.HIGH


def test_a_worse_factor_never_suggests_less() -> None:
    L = breach.Level
    rank = {breach.Outcome.UNLIKELY: 0, breach.Outcome.RISK: 1, breach.Outcome.HIGH: 2}
    levels = (L.LOW, L.MEDIUM, L.HIGH)
    for s, v, e, sev in product(levels, repeat=4):
        base = factors(sensitivity=s, volume=v, ease_of_identification=e, severity=sev)
        for worse in (
            factors(sensitivity=s, volume=v, ease_of_identification=e, severity=sev, special_people=True),
            factors(sensitivity=s, volume=v, ease_of_identification=e, severity=sev, people=5000),
        ):
            assert rank[breach.suggest(worse)] >= rank[breach.suggest(base)], (base, worse)


def test_what_the_decision_requires() -> None:
    Out, E = breach.Outcome, breach.Exemption
    assert breach.required(Out.UNLIKELY, None) == {
        "ap_notification": False,
        "subject_notification": False,
        "public_communication": False,
    }
    assert (
        breach.required(Out.RISK, None)["ap_notification"]
        and not breach.required(Out.RISK, None)["subject_notification"]
    )
    assert breach.required(Out.HIGH, None)["subject_notification"]
    assert not breach.required(Out.HIGH, E.UNINTELLIGIBLE)["subject_notification"]
    assert breach.required(Out.HIGH, E.DISPROPORTIONATE)["public_communication"]
    assert breach.required(None, None)["ap_notification"] is False


# --- dsar -------------------------------------------------------------------------------------------------


def test_an_extension_adds_months_only_within_the_first_month_and_to_an_open_request() -> None:
    received = datetime(2026, 1, 31, 9, tzinfo=UTC)
    open_state = next(iter(dsar.OPEN))
    assert dsar.extended_deadline(received, received + timedelta(days=10), 2, open_state).month == 4
    with pytest.raises(dsar.RuleError, match="within the first month"):
        dsar.extended_deadline(received, received + timedelta(days=40), 1, open_state)
    with pytest.raises(dsar.RuleError, match="1 or 2 months"):
        dsar.extended_deadline(received, received, 3, open_state)
    with pytest.raises(dsar.RuleError, match="cannot be extended"):
        dsar.extended_deadline(received, received, 1, dsar.State.COMPLETED)


def test_days_left_count_amsterdam_days_and_go_negative_when_late() -> None:
    deadline = datetime(2026, 12, 10, 23, 30, tzinfo=UTC)  # 11 December 00:30 in Amsterdam
    assert dsar.days_left(deadline, datetime(2026, 12, 10, 12, tzinfo=UTC)) == 1
    assert dsar.days_left(deadline, datetime(2026, 12, 13, 12, tzinfo=UTC)) == -2


def test_the_verification_link_reminder_completion_and_the_future() -> None:
    created = datetime(2026, 12, 1, tzinfo=UTC)
    assert dsar.verification_expires(created) == created + timedelta(days=dsar.VERIFY_LINK_DAYS)
    due = created + timedelta(days=dsar.REMINDER_AFTER_DAYS)
    assert dsar.reminder_due(created, due, reminded=False) and not dsar.reminder_due(created, due, reminded=True)
    assert not dsar.reminder_due(created, due - timedelta(seconds=1), reminded=False)
    assert dsar.is_complete({"consent", "breach"}, {"consent", "breach", "extra"})
    assert not dsar.is_complete({"consent", "breach"}, {"consent"})
    assert not dsar.in_the_future(created + timedelta(minutes=4), created), "clock skew is allowed"
    assert dsar.in_the_future(created + timedelta(minutes=6), created)


def test_a_contract_that_still_runs_is_no_17_3_exception() -> None:
    """Statement Art. 11.3(a) is not a GDPR 17(3) ground: while the contract runs, no ground of 17(1) applies."""
    from services.dsar.domain import ERASURE_EXCEPTIONS, refusal_late

    assert ERASURE_EXCEPTIONS["11.3(a)"].startswith("no ground of GDPR 17(1) applies")
    received = datetime(2026, 1, 31, 10, tzinfo=UTC)
    assert not refusal_late(received, datetime(2026, 2, 27, 10, tzinfo=UTC))
    assert refusal_late(received, datetime(2026, 3, 2, 10, tzinfo=UTC))


def test_the_export_says_only_what_the_holders_answered() -> None:
    """GDPR 15: no 'no breach involved you' when the breach register never answered; the source named where
    data came from someone else; a refusal's retention in words that fit the purpose."""
    from services.consent.access import retention_words
    from services.dsar.export import RIGHTS, readable

    consent_data = {
        "states": {"third_party_sharing:Acme": "granted"},
        "records": [],
        "purposes": {},
        "recipients": [],
        "sources": [{"channel": "third_party", "from_someone_else": True}],
    }
    export = {"holders": {"consent": {"outcome": "provided", "data": consent_data}}, "rights": RIGHTS, "requests": []}
    view = readable(export, "nl")
    assert view["breach_answered"] is False and view["breaches"] == []
    assert view["sources"] == [{"channel": "third_party", "from_someone_else": True}]
    export["holders"]["breach"] = {"outcome": "nothing_held", "data": None}
    assert readable(export, "en")["breach_answered"] is True
    assert "naar de rechter" in RIGHTS["nl"] and "portability" in RIGHTS["en"]
    assert retention_words(purpose(standing=True, retention_days=730))["nl"].startswith("Zolang je toestemming staat")
