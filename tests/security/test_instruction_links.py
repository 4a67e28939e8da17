"""The processors service's one public route: the link an instructed processor answers on. The attacker holds
a link of its own (say it is the processor, or it read one mail), the public ledger, and can forge anything
else. A forged, altered or re-purposed token opens nothing; a link answers once; its page names no one; an
answer to one instruction settles no other."""

from __future__ import annotations

from typing import Any

import pytest

from services.common.contracts import DataSubjectRequestStarted, RequestKind, seal_fragment
from services.common.links import LinkSigner
from services.processors import instructions, service
from services.processors.context import ProcessorsContext
from services.processors.models import ProcessorTask
from tests.conftest import build_app, running

VICTIM = "victim@example.nl"


@pytest.fixture
async def processors(make_settings: Any, sqlite_url: str) -> Any:
    settings = make_settings("processors", sqlite_url, relay_enabled=False, consumers_enabled=False)
    app = build_app("processors", settings)
    async with running(app) as client:
        yield app, client


async def _instructed(app: Any, request_id: str, subject: str) -> dict[str, str]:
    """An erasure request as dsar sends it; returns each instructed processor's link, by connector key."""
    ctx = ProcessorsContext.of(app.state.runtime)
    started = DataSubjectRequestStarted(
        request_id=request_id,
        kind=RequestKind.ERASURE,
        subject=subject,
        deadline="2027-01-05T00:00:00Z",
        contact=seal_fragment(ctx.rt.sealing, request_id, {"email": VICTIM, "language": "nl"}),
    )
    async with ctx.rt.db.transaction() as s:
        await service.open_request(ctx, s, started)
    async with ctx.rt.db.read() as s:
        from sqlmodel import select

        tasks = (await s.execute(select(ProcessorTask).where(ProcessorTask.state == "instructed"))).scalars().all()
    return {t.processor: instructions.link(ctx, t.id).split("http://127.0.0.1:8005", 1)[-1] for t in tasks}


def _path(link: str) -> str:
    return "/v1/instructions/" + link.rsplit("/v1/instructions/", 1)[1]


async def test_a_forged_or_repurposed_link_opens_nothing(processors: Any) -> None:
    app, client = processors
    links = {k: _path(v) for k, v in (await _instructed(app, "dsr_attack_0001", "a" * 64)).items()}
    assert "googledrive" in links, "Google Drive is asked for everyone"
    mine = links["googledrive"]
    token = mine.rsplit("/", 1)[1]
    payload, mac = token.split(".")
    altered = f"{payload[:-2]}AA.{mac}"
    other_key = LinkSigner(b"k" * 32).sign("processor-instruction", 3600, t="pt_whatever")
    wrong_action = LinkSigner(app.state.runtime.settings.secret_bytes("link_signing_key")).sign("centre", 3600, t="x")
    for forged in (altered, other_key, wrong_action, "x" * 40):
        page = await client.get(f"/v1/instructions/{forged}")
        assert page.status_code == 404, forged
        answered = await client.post(f"/v1/instructions/{forged}", data={"outcome": "done"})
        assert answered.status_code == 404, forged
    page = await client.get(mine)
    assert page.status_code == 200 and VICTIM not in page.text and "a" * 64 not in page.text
    assert page.headers["cache-control"] == "no-store" and page.headers["referrer-policy"] == "no-referrer"


async def test_a_link_answers_once_and_only_its_own_instruction(processors: Any) -> None:
    app, client = processors
    first = {k: _path(v) for k, v in (await _instructed(app, "dsr_attack_0002", "b" * 64)).items()}
    second = {k: _path(v) for k, v in (await _instructed(app, "dsr_attack_0003", "c" * 64)).items()}
    assert (await client.post(first["googledrive"], data={"outcome": "done"})).status_code == 200
    again = await client.post(first["googledrive"], data={"outcome": "refused", "details": "changed my mind"})
    assert again.status_code == 410, "an answer stands: a second one changes nothing"
    other = await client.get(second["googledrive"])
    assert "Beantwoord" not in other.text, "answering one instruction settles no other"
    bad = await client.post(second["googledrive"], data={"outcome": "maybe"})
    assert bad.status_code == 422
    huge = await client.post(second["googledrive"], data={"outcome": "refused", "details": "x" * 5001})
    assert huge.status_code == 422
