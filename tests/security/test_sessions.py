"""Issue 29, items 5, 6, 10: the privacy centre's sessions and sign-in, and dsar requests. The attacker holds
its own mailbox and cookies; the victim's browser is another client."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import httpx
import pytest

from services.common.links import centre_assertion
from tests.integration.test_privacy_centre import EMAIL, Stack, stack


@pytest.fixture
async def centre(make_settings: Any, tmp_path: Path, smtp: Any) -> Any:
    async with stack(make_settings, tmp_path, smtp) as s:
        yield s


async def test_signing_out_ends_the_session_for_a_copied_cookie(centre: Stack) -> None:
    """Item 5: a copied cookie still worked after "Uitloggen", resealed with a fresh expiry on every page."""
    csrf = await centre.signed_in(EMAIL)
    copied = centre.client.cookies.get("privacy_centre")
    r = await centre.client.post("/privacy/sign-out", data={"csrf": csrf})
    assert r.status_code == 303
    thief = httpx.AsyncClient(transport=centre.client._transport, base_url="http://test")
    thief.cookies.set("privacy_centre", copied, path="/privacy")
    page = await thief.get("/privacy")
    assert "Uitloggen" not in page.text and "Stuur me een link" in page.text, "the copy opens nothing"
    forged = await thief.post("/privacy/withdraw", data={"csrf": csrf, "purpose": "newsletter"})
    assert forged.status_code == 401


async def test_a_session_ends_after_its_absolute_lifetime(centre: Stack, monkeypatch: Any) -> None:
    """Item 5: a session kept busy never expired."""
    await centre.signed_in(EMAIL)
    assert "Uitloggen" in (await centre.client.get("/privacy")).text
    later = time.time() + 12 * 3600 + 60
    monkeypatch.setattr("services.common.sessions.time.time", lambda: later)
    assert "Uitloggen" not in (await centre.client.get("/privacy")).text


async def test_a_page_of_another_site_cannot_plant_a_sign_in(centre: Stack) -> None:
    """Item 6: the attacker's own sign-in link, auto-posted by another site, signed the victim in as the
    attacker (login CSRF). The victim's browser never opened the link's page, so it holds no nonce."""
    link = await centre.sign_in_link(EMAIL)  # the attacker's own link, from its own mailbox
    victim = httpx.AsyncClient(transport=centre.client._transport, base_url="http://test")
    r = await victim.post(link, headers={"origin": "https://evil.example"})
    assert r.status_code == 403 and "privacy_centre" not in r.cookies
    r = await victim.post(link, data={"nonce": "guessed"}, headers={"origin": "https://evil.example"})
    assert r.status_code == 403
    assert (await centre.press(link)).status_code == 303, "the link was not used up by the attempts"


async def test_an_unverified_request_never_holds_up_the_persons_own(centre: Stack) -> None:
    """Item 10: an attacker's unverified request made the victim's centre request "linked", waiting for a click."""
    dsar = httpx.AsyncClient(transport=httpx.ASGITransport(app=centre.dsar), base_url="http://dsar")
    from services.common.auth import create_site_key

    key = await create_site_key(centre.dsar.state.runtime.db, "website", ["https://www.example.nl"])
    body = {"kind": "erasure", "email": EMAIL, "language": "nl"}
    assert (await dsar.post("/v1/requests", json=body, headers={"x-site-key": key})).status_code == 202
    shared = centre.dsar.state.runtime.settings.secret_bytes("centre_key")
    r = await dsar.post(
        "/v1/centre/requests",
        json={"kind": "erasure", "language": "nl"},
        headers={"x-privacy-centre": centre_assertion(shared, EMAIL)},
    )
    assert r.status_code == 202 and r.json()["status"] == "started", r.text
