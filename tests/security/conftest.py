"""The adversary's position: it holds only what every visitor holds (the site key shown in every page's
script tag, its own browser id, its own mailbox, the public ledger) and attacks a real running service.

The victim's own actions are made with staff credentials (`victim_*` helpers): the attacker never holds
those. Every test here fails on the code before issue 29 and passes after it."""

from __future__ import annotations

import re
from typing import Any

import pytest
from sqlalchemy import text

from services.common.auth import create_site_key, create_token
from tests.conftest import build_app, running
from tests.notices import NOTICE

ORIGIN = "https://www.jezaakvoorelkaar.nl"
VICTIM = "victim@example.nl"
PSEUDONYM = re.compile(r"\b[0-9a-f]{64}\b")


class Site:
    """A consent service as the attacker reaches it: the site key (public), and staff acting for the victim."""

    def __init__(self, app: Any, client: Any, key: str, staff: str) -> None:
        self.app, self.client, self.key, self.staff = app, client, key, staff
        self.rt = app.state.runtime

    @property
    def public(self) -> dict[str, str]:
        return {"x-site-key": self.key}  # no Origin: a script on a server simply leaves it out

    async def victim_gives(self, *purposes: str, email: str = VICTIM) -> None:
        body = {
            "email": email,
            "channel": "email",
            "notice": NOTICE,
            "purposes": [{"purpose": p, "granted": True} for p in purposes],
        }
        r = await self.client.post("/admin/consents", json=body, headers={"authorization": f"Bearer {self.staff}"})
        assert r.status_code == 201, r.text

    async def states(self, email: str = VICTIM) -> dict[str, str]:
        r = await self.client.post(
            "/admin/subjects/history", json={"email": email}, headers={"authorization": f"Bearer {self.staff}"}
        )
        assert r.status_code == 200, r.text
        return dict(r.json()["states"])

    async def history(self, email: str = VICTIM) -> dict[str, Any]:
        r = await self.client.post(
            "/admin/subjects/history", json={"email": email}, headers={"authorization": f"Bearer {self.staff}"}
        )
        return dict(r.json())

    async def mails(self, purpose: str) -> list[str]:
        async with self.rt.db.read() as s:
            rows = await s.execute(text("SELECT subject FROM mail_outbox WHERE purpose = :p"), {"p": purpose})
            return [row[0] for row in rows]

    def pseudonym(self, email: str = VICTIM) -> str:
        return str(self.rt.recorder.pseudonym(email))


@pytest.fixture
async def site(make_settings: Any, sqlite_url: str) -> Any:
    app = build_app("consent", make_settings("consent", sqlite_url, rate_limit_per_minute=10_000))
    async with running(app) as client:
        key = await create_site_key(app.state.runtime.db, "website", [ORIGIN])
        staff = await create_token(app.state.runtime.db, "staff", ["admin"])
        yield Site(app, client, key, staff)


VARYING = {"consentTimestamp", "consentReceiptID", "event_id", "seq", "record_id", "inclusion_proof"}


def without_ids(answer: Any) -> Any:
    """An answer with what differs between any two calls (ids, times, sequence numbers) blanked out, so that
    two answers can be compared for what they tell."""
    if isinstance(answer, dict):
        return {k: without_ids(v) for k, v in answer.items() if k not in VARYING}
    if isinstance(answer, list):
        return [without_ids(v) for v in answer]
    if isinstance(answer, str):
        answer = re.sub(r"(cr|mr)_[0-9a-f]{32}", "<id>", answer)
        return re.sub(r"(event_id=|seq=)[^&\s]+", r"\1<id>", answer)
    return answer
