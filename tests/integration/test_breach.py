"""The breach register: the 72-hour clock, the risk decision, the AP's form, bad input named by field."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from services.common.auth import create_token
from tests.conftest import build_app, running


@pytest.fixture
async def breach(make_settings: Any, db_url: str) -> Any:
    app = build_app("breach", make_settings("breach", db_url))
    async with running(app) as client:
        token = await create_token(app.state.runtime.db, "dpo", ["dpo"])
        client.headers["authorization"] = f"Bearer {token}"
        yield app, client


def breach_body(**change: Any) -> dict[str, Any]:
    aware = datetime.now(UTC) - timedelta(hours=5)
    body = {
        "title": "Mailinglijst gelekt via gedeelde export",
        "description": "Een export van de nieuwsbrieflijst stond 2 dagen openbaar in een gedeelde map.",
        "awareness_at": aware.isoformat(),
        "started_at": (aware - timedelta(days=2)).isoformat(),
        "ongoing": False,
        "ended_at": (aware - timedelta(hours=1)).isoformat(),
        "nature": ["confidentiality"],
        "acts": ["reading", "copying"],
        "categories": ["email", "name_address"],
        "systems": ["Google Drive"],
        "processors": ["ActiveCampaign"],
        "subject_categories": ["abonnees van de nieuwsbrief"],
        "subjects_min": 800,
        "subjects_max": 1200,
        "records_approx": 1200,
        "encrypted": False,
        "reporter": {"name": "Sanne", "email": "sanne@jzve.nl"},
        "expert": {"name": "IT Partner BV", "email": "it@example.nl"},
    }
    body.update(change)
    return body


ASSESSMENT = {
    "factors": {
        "breach_type": "confidentiality",
        "sensitivity": "medium",
        "volume": "medium",
        "ease_of_identification": "high",
        "severity": "medium",
        "special_people": False,
        "people": 1200,
    },
    "outcome": "high",
    "reasons": "namen en e-mailadressen, phishing waarschijnlijk",
}


async def test_register_assess_notify_the_ap(breach: Any) -> None:
    _, client = breach
    r = await client.post("/admin/breaches", json=breach_body())
    assert r.status_code == 201, r.text
    b = r.json()
    assert 66 < b["hours_left"] <= 67 and b["state"] == "registered" and not b["ap_overdue"]
    aware = datetime.fromisoformat(b["awareness_at"])
    assert datetime.fromisoformat(b["ap_deadline"]) == aware + timedelta(hours=72)
    risk = (await client.post(f"/admin/breaches/{b['id']}/assessment", json=ASSESSMENT)).json()
    assert risk["outcome"] == "high" and risk["suggestion"] in ("risk", "high") and risk["decided_by"] == "dpo"
    assert risk["required"] == {"ap_notification": True, "subject_notification": True, "public_communication": False}
    note = (await client.post(f"/admin/breaches/{b['id']}/ap-notifications", json={"phase": "initial"})).json()
    sections = note["content"]["sections"]
    assert list(sections) == [str(i) for i in range(10)]
    assert sections["3"]["nature"] == ["confidentiality"] and sections["5"]["people_max"] == 1200
    # people informed: what was sent, not what the risk decision asks (nobody was mailed yet)
    assert sections["8"]["people_informed"] == {
        "answer": "not yet",
        "mailed": 0,
        "found": 0,
        "waiting": 0,
        "undeliverable": 0,
    }
    assert sections["1"]["reporter"]["name"] == "Sanne"
    assert sections["5"]["subject_categories"] == ["abonnees van de nieuwsbrief"]
    assert sections["2"]["late"] is False and sections["2"]["delay_reason"] is None
    page = await client.get(f"/admin/breaches/{b['id']}/ap-notifications/{note['id']}")
    assert page.status_code == 200 and "Melding datalek" in page.text and "Aard van het lek" in page.text
    supplement = await client.post(f"/admin/breaches/{b['id']}/ap-notifications", json={"phase": "supplement"})
    assert supplement.status_code == 409, "a supplement follows a submitted initial notification"
    done = await client.post(
        f"/admin/breaches/{b['id']}/ap-notifications/{note['id']}/submission", json={"ap_reference": "AP-2026-123456"}
    )
    assert done.status_code == 200 and done.json()["state"] == "notified" and done.json()["hours_left"] is None
    again = await client.post(
        f"/admin/breaches/{b['id']}/ap-notifications/{note['id']}/submission", json={"ap_reference": "AP-2026-123456"}
    )
    assert again.status_code == 409
    assert (
        await client.post(f"/admin/breaches/{b['id']}/ap-notifications", json={"phase": "supplement"})
    ).status_code == 201
    register = (await client.get("/admin/breaches")).json()
    assert [x["id"] for x in register] == [b["id"]] and len(register[0]["notifications"]) == 2


async def test_late_notification_needs_the_reason(breach: Any) -> None:
    _, client = breach
    aware = datetime.now(UTC) - timedelta(hours=80)
    b = (
        await client.post(
            "/admin/breaches",
            json=breach_body(
                awareness_at=aware.isoformat(),
                started_at=(aware - timedelta(days=1)).isoformat(),
                ended_at=(aware - timedelta(hours=1)).isoformat(),
            ),
        )
    ).json()
    assert b["ap_overdue"] and b["hours_left"] < 0
    # GDPR 33(1): a notification after the 72 hours carries the reasons for the delay, in its content
    r = await client.post(f"/admin/breaches/{b['id']}/ap-notifications", json={"phase": "initial"})
    assert r.status_code == 422 and r.json()["errors"][0]["loc"] == ["body", "delay_reason"]
    why = "het lek werd pas na onderzoek van de IT-partner bevestigd"
    note = (
        await client.post(f"/admin/breaches/{b['id']}/ap-notifications", json={"phase": "initial", "delay_reason": why})
    ).json()
    assert note["content"]["sections"]["2"]["late"] is True and note["content"]["sections"]["2"]["delay_reason"] == why
    page = await client.get(f"/admin/breaches/{b['id']}/ap-notifications/{note['id']}")
    assert "Reden van de vertraging" in page.text and why in page.text
    r = await client.post(
        f"/admin/breaches/{b['id']}/ap-notifications/{note['id']}/submission", json={"ap_reference": "AP-1"}
    )
    assert r.status_code == 200 and r.json()["notifications"][0]["late_reason"] == why, "the prepared reason counts"


async def test_outcome_decides_what_is_required(breach: Any) -> None:
    _, client = breach
    b = (await client.post("/admin/breaches", json=breach_body())).json()
    unlikely = {**ASSESSMENT, "outcome": "unlikely", "reasons": "versleuteld, sleutel niet gelekt"}
    risk = (await client.post(f"/admin/breaches/{b['id']}/assessment", json=unlikely)).json()
    assert risk["required"] == {"ap_notification": False, "subject_notification": False, "public_communication": False}
    r = await client.post(
        f"/admin/breaches/{b['id']}/subject-notifications",
        json={"likely_consequences": "geen, versleuteld", "measures": "sleutels vervangen"},
    )
    assert r.status_code == 409
    exempt = {**ASSESSMENT, "exemption": "c", "exemption_reason": "geen contactgegevens van de meeste mensen"}
    risk = (await client.post(f"/admin/breaches/{b['id']}/assessment", json=exempt)).json()
    assert risk["required"]["subject_notification"] is False and risk["required"]["public_communication"] is True
    r = await client.post(
        f"/admin/breaches/{b['id']}/public-communications",
        json={
            "channel": "website",
            "url": "https://www.example.nl/datalek",
            "text": "Op 20 november is een lijst met namen en e-mailadressen gelekt. Wees alert op phishing.",
        },
    )
    assert r.status_code == 201 and r.json()["public_communications"][0]["channel"] == "website"
    patched = await client.patch(
        f"/admin/breaches/{b['id']}",
        json={"expert_findings": "gedeelde map stond openbaar", "measures": "map afgesloten, deellinks ingetrokken"},
    )
    assert patched.json()["details"]["measures"].startswith("map afgesloten")


@pytest.mark.parametrize(
    ("change", "loc"),
    [
        ({"awareness_at": (datetime.now(UTC) + timedelta(hours=2)).isoformat()}, ["body", "awareness_at"]),
        ({"ended_at": (datetime.now(UTC) - timedelta(days=30)).isoformat()}, ["body", "ended_at"]),
        ({"categories": ["email", "shoe_size"]}, ["body", "categories", 1]),
        ({"nature": []}, ["body", "nature"]),
        ({"subjects_min": 10, "subjects_max": 5}, ["body"]),
        ({"started_at": (datetime.now(UTC) + timedelta(days=1)).isoformat()}, ["body", "started_at"]),
        # a time without its offset is ambiguous (which 10:00?): refused, not read as UTC
        ({"awareness_at": "2026-11-30T10:00:00"}, ["body", "awareness_at"]),
        ({"started_at": "2026-11-29 08:00"}, ["body", "started_at"]),
    ],
)
async def test_bad_input_names_the_field(breach: Any, change: dict[str, Any], loc: list[Any]) -> None:
    _, client = breach
    r = await client.post("/admin/breaches", json=breach_body(**change))
    assert r.status_code == 422, r.text
    assert r.json()["errors"][0]["loc"][: len(loc)] == loc


async def test_missing_reasons_are_refused(breach: Any) -> None:
    _, client = breach
    b = (await client.post("/admin/breaches", json=breach_body())).json()
    r = await client.post(f"/admin/breaches/{b['id']}/assessment", json={**ASSESSMENT, "reasons": ""})
    assert r.status_code == 422 and r.json()["errors"][0]["loc"] == ["body", "reasons"]
    r = await client.post(f"/admin/breaches/{b['id']}/assessment", json={**ASSESSMENT, "exemption": "a"})
    assert r.status_code == 422 and "exemption_reason" in r.text
    r = await client.post(f"/admin/breaches/{b['id']}/ap-notifications", json={"phase": "withdrawal"})
    assert r.status_code == 422 and r.json()["errors"][0]["loc"] == ["body", "reason"]
    assert (await client.get("/admin/breaches/brc_nope")).status_code == 404


async def test_a_person_erased_after_being_found_is_not_told_and_gets_no_new_key(breach: Any) -> None:
    """Found people keep their contact details only under their own key (the vault). One of them is erased
    before the notification: they are skipped, and reading the list makes no new key for them."""
    from sqlalchemy import text

    from services.breach.people import on_found
    from services.common.contracts import AffectedSubjectsFound, seal_fragment

    app, client = breach
    rt = app.state.runtime
    b = (await client.post("/admin/breaches", json=breach_body())).json()
    assert (await client.post(f"/admin/breaches/{b['id']}/assessment", json=ASSESSMENT)).status_code == 200
    query_id = (await client.post(f"/admin/breaches/{b['id']}/affected-queries", json={})).json()["query_id"]
    people = [
        {"subject": rt.recorder.pseudonym(f"{who}@example.nl"), "email": f"{who}@example.nl", "name": who}
        for who in ("blijft", "gewist")
    ]
    sealed = seal_fragment(rt.sealing, query_id, {"people": people})
    found = AffectedSubjectsFound(
        breach_id=b["id"], query_id=query_id, holder="crm", chunk=0, chunks=1, count=2, sealed=sealed
    )
    async with rt.db.transaction() as s:
        assert await on_found(rt, s, found) == 2
    async with rt.db.transaction() as s:
        assert await rt.vault.shred(s, people[1]["subject"]) is not None
    r = await client.post(
        f"/admin/breaches/{b['id']}/subject-notifications",
        json={"likely_consequences": "phishing-mails uit onze naam", "measures": "de export is verwijderd"},
    )
    assert r.status_code == 202 and r.json() == {"queued": 1}
    async with rt.db.read() as s:
        keys = {row[0] for row in await s.execute(text("SELECT subject FROM subject_keys"))}
        mailed = {row[0] for row in await s.execute(text("SELECT subject FROM mail_outbox"))}
    assert people[1]["subject"] not in keys, "the erased person got no new key"
    assert mailed == {people[0]["subject"]}


async def test_a_count_no_database_or_encoder_holds_is_a_422_not_a_500(breach: Any) -> None:
    """Issue 30: 2^70 people passed validation and failed in the event encoder (500, breach not registered)."""
    _app, client = breach
    for field in ("subjects_min", "subjects_max", "records_approx"):
        r = await client.post("/admin/breaches", json=breach_body(**{field: 2**70}))
        assert r.status_code == 422 and r.json()["errors"][0]["field"] == field, r.text
    ok = await client.post("/admin/breaches", json=breach_body(subjects_min=8_000_000_000, subjects_max=8_100_000_000))
    assert ok.status_code == 201, ok.text
