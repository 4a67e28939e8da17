"""Issue 35, from the attacker's side: a site key (public) neither looks up nor registers webhooks; a lookup
token (held by another system) opens nothing else and tells a known person without consent from no one; a
webhook cannot be pointed at this machine or its network, not even by a host name that resolves there."""

from __future__ import annotations

import socket
from typing import Any

import pytest

from services.common import egress
from services.common.auth import create_token
from tests.security.conftest import Site, without_ids


async def test_a_site_key_neither_looks_up_nor_registers(site: Site) -> None:
    r = await site.client.post("/v1/lookup", json={"emails": ["victim@example.nl"]}, headers=site.public)
    assert r.status_code == 401
    hook = {"url": "https://attacker.example/h", "purposes": ["newsletter"]}
    r = await site.client.put("/admin/webhooks/x", json=hook, headers=site.public)
    assert r.status_code == 401


async def test_a_lookup_token_reads_no_history_and_registers_nothing(site: Site) -> None:
    token = await create_token(site.rt.db, "crm", ["lookup"])
    bearer = {"authorization": f"Bearer {token}"}
    await site.victim_gives("newsletter")
    for method, path, body in [
        ("POST", "/admin/subjects/history", {"email": "victim@example.nl"}),
        ("PUT", "/admin/webhooks/x", {"url": "https://attacker.example/h", "purposes": ["newsletter"]}),
        ("GET", "/admin/webhooks", None),
        ("GET", "/admin/webhooks/deliveries/dead", None),
    ]:
        r = await site.client.request(method, path, json=body, headers=bearer)
        assert r.status_code == 403, (path, r.text)


async def test_a_withdrawn_person_and_a_stranger_look_alike(site: Site) -> None:
    token = await create_token(site.rt.db, "crm", ["lookup"])
    await site.victim_gives("newsletter")
    r = await site.client.post(
        "/admin/consents",
        json={
            "email": "victim@example.nl",
            "channel": "email",
            "notice": {"version": "1", "hash": "0" * 64},
            "purposes": [{"purpose": "newsletter", "granted": False}],
        },
        headers={"authorization": f"Bearer {site.staff}"},
    )
    assert r.status_code == 201
    bearer = {"authorization": f"Bearer {token}"}
    victim = await site.client.post("/v1/lookup", json={"emails": ["victim@example.nl"]}, headers=bearer)
    stranger = await site.client.post("/v1/lookup", json={"emails": ["stranger@example.nl"]}, headers=bearer)

    def told(answer: Any) -> Any:
        result = dict(answer.json()["results"][0])
        del result["email"], result["pseudonym"]
        return without_ids(result)

    assert told(victim) == told(stranger)


@pytest.mark.parametrize("resolved", ["127.0.0.1", "10.0.0.8", "169.254.169.254", "::1", "fd00::1", "::ffff:127.0.0.1"])
async def test_a_host_that_resolves_to_this_machine_or_its_network_is_not_called(
    monkeypatch: pytest.MonkeyPatch, resolved: str
) -> None:
    """DNS rebinding: the name was public when registered; it resolves to a private address when sent to."""

    async def resolve(self: Any, host: str, port: int, **_: Any) -> list[Any]:
        family = socket.AF_INET6 if ":" in resolved else socket.AF_INET
        return [(family, socket.SOCK_STREAM, 6, "", (resolved, port))]

    monkeypatch.setattr("asyncio.base_events.BaseEventLoop.getaddrinfo", resolve)
    with pytest.raises(egress.EgressRefused, match="non-public address"):
        await egress.pinned("https://hooks.example.nl/consent", private=False)


async def test_a_public_host_is_called_at_the_address_that_was_checked(monkeypatch: pytest.MonkeyPatch) -> None:
    async def resolve(self: Any, host: str, port: int, **_: Any) -> list[Any]:
        return [(socket.AF_INET, socket.SOCK_STREAM, 6, "", ("93.184.215.14", port))]

    monkeypatch.setattr("asyncio.base_events.BaseEventLoop.getaddrinfo", resolve)
    target = await egress.pinned("https://hooks.example.nl:8443/consent?x=1", private=False)
    assert target.url == "https://93.184.215.14:8443/consent?x=1"
    assert target.host == "hooks.example.nl:8443" and target.server_name == "hooks.example.nl"


async def test_the_public_notice_pages_tell_nothing_of_anyone(site: Site) -> None:
    """/privacy/notice and /v1/notices/{sha256} need no credential: they hold the configuration and the texts
    that were shown to everyone, never a person's data, and a hash that was never served opens nothing."""
    await site.victim_gives("newsletter")
    notice = (await site.client.get("/v1/banner", params={"site_key": site.key})).json()
    for path in ("/privacy/notice", "/privacy/notice?lang=en", f"/v1/notices/{notice['hash']}"):
        r = await site.client.get(path)
        assert r.status_code == 200, path
        assert "victim@example.nl" not in r.text and site.pseudonym() not in r.text, path
    guessed = await site.client.get("/v1/notices/" + "a" * 64)
    assert guessed.status_code == 404 and "ever served" in guessed.json()["detail"]
    writes = [await site.client.request(m, f"/v1/notices/{notice['hash']}") for m in ("PUT", "POST", "DELETE")]
    assert {w.status_code for w in writes} == {405}, "nothing can be stored or changed through them"
