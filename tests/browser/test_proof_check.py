"""Issue 33, item 5: "Check this proof yourself". In a real Chromium the person's own browser recomputes one
entry's inclusion proof and checks the checkpoint's Ed25519 signature (WebCrypto), and says so in plain words,
in Dutch and English; a tampered entry, path, root or signature says clearly that it does not verify; without
JavaScript the page shows the proof and the one command that checks it offline, and that command agrees."""

from __future__ import annotations

import base64
import json
import re
from typing import Any

import httpx
import pytest

from services.common.ledger.verify import main as ledger_verify
from tests.browser.conftest import Site, axe, running_site, visitor
from tests.notices import NOTICE


@pytest.fixture
async def site(make_settings: Any, pg_url: str, smtp: Any, kafka: str) -> Any:
    async with running_site(make_settings, pg_url, smtp) as s:
        yield s


async def an_entry(site: Site) -> int:
    """A choice recorded through the banner's route: its ledger entry's number."""
    body = {"browser_id": "b_proof_check_1", "analytics": True, "tracking": False, "notice": NOTICE}
    async with httpx.AsyncClient(base_url=site.consent_url, timeout=10) as c:
        r = await c.post("/v1/cookies", json=body, headers={"x-site-key": site.key, "origin": site.url})
        assert r.status_code == 201, r.text
        return int(r.json()["receipt"]["ledger"][-1]["seq"])


def tampered(html: str, change: str) -> str:
    """The page with its embedded proof changed in one way."""
    found = re.search(r'(<script type="application/json" id="proof-data">)(.*?)(</script>)', html, re.S)
    assert found
    data = json.loads(found.group(2))
    proof = data["proof"]
    if change == "entry":
        entry = bytearray(base64.b64decode(proof["entry"]))
        entry[5] ^= 1  # one bit of the entry; its fingerprint kept, which it no longer matches
        proof["entry"] = base64.b64encode(bytes(entry)).decode()
    elif change == "path":
        first = bytearray(base64.b64decode(proof["proof"][0]))
        first[0] ^= 1
        proof["proof"][0] = base64.b64encode(bytes(first)).decode()
    elif change == "root":
        lines = proof["checkpoint"].split("\n")
        root = bytearray(base64.b64decode(lines[2]))
        root[0] ^= 1
        lines[2] = base64.b64encode(bytes(root)).decode()
        proof["checkpoint"] = "\n".join(lines)
    elif change == "signature":
        body, _, sig = proof["checkpoint"].rpartition(" ")
        blob = bytearray(base64.b64decode(sig.strip()))
        blob[10] ^= 1
        proof["checkpoint"] = f"{body} {base64.b64encode(bytes(blob)).decode()}\n"
    return html[: found.start(2)] + json.dumps(data) + html[found.end(2) :]


async def test_a_person_checks_their_own_proof(chromium: Any, site: Site, tmp_path: Any, capsys: Any) -> None:
    seq = await an_entry(site)
    page_url = f"{site.consent_url}/privacy/proof/{seq}"
    async with visitor(chromium, bypass_csp=True) as v:  # only so that axe-core's script can be added
        await v.page.goto(page_url)
        result = v.page.locator("#proof-result")
        await v.until("document.getElementById('proof-result').className.includes('ok')")
        said = await result.inner_text()
        assert said.startswith("Klopt.") and f"Regel {seq}" in said and "Je browser heeft dit zelf nagerekend" in said
        assert await axe(v.page) == []
        await v.shot("proof-check-valid-nl-1280", full_page=True)
        assert v.errors == []
    for width, lang in ((360, "en"), (1280, "en"), (360, "nl")):
        async with visitor(chromium, width=width, bypass_csp=True) as v:
            await v.page.goto(page_url + f"?lang={lang}")
            await v.until("document.getElementById('proof-result').className.includes('ok')")
            said = await v.page.locator("#proof-result").inner_text()
            assert said.startswith("Verified. Entry" if lang == "en" else "Klopt."), said
            assert await axe(v.page) == []
            await v.shot(f"proof-check-valid-{lang}-{width}", full_page=True)

    # by keyboard alone: the skip link, the proof to save, the proof's data opened with Enter, the centre
    async with visitor(chromium) as v:
        await v.page.goto(page_url)
        reached = []
        for _ in range(6):
            await v.page.keyboard.press("Tab")
            reached.append(await v.run("document.activeElement.textContent.trim()"))
        assert reached[:2] == ["Naar de inhoud", f"proof-{seq}.json"], reached
        assert "Het bewijs zelf" in reached and any("privacycentrum" in r for r in reached), reached
        await v.page.goto(page_url)
        for _ in range(reached.index("Het bewijs zelf") + 1):
            await v.page.keyboard.press("Tab")
        await v.page.keyboard.press("Enter")
        assert await v.run("document.querySelector('details').open") is True

    for change, words in (
        ("entry", "vingerafdruk"),
        ("path", "het pad leidt niet"),
        ("root", "handtekening"),
        ("signature", "handtekening"),
    ):
        async with visitor(chromium) as v:

            async def rewrite(route: Any, _request: Any, change: str = change) -> None:
                response = await route.fetch()
                await route.fulfill(response=response, body=tampered(await response.text(), change))

            await v.page.route(re.compile(r".*/privacy/proof/\d+$"), rewrite)
            await v.page.goto(page_url)
            await v.until("document.getElementById('proof-result').className.includes('bad')")
            said = await v.page.locator("#proof-result").inner_text()
            assert said.startswith("Klopt niet") and words in said, (change, said)
            if change == "signature":
                await v.shot("proof-check-tampered-nl-1280", full_page=True)

    # without JavaScript: the proof and the one command; the command agrees, offline
    async with visitor(chromium, java_script_enabled=False) as v:
        await v.page.goto(page_url)
        text = await v.page.locator("main").inner_text()
        assert "De opdracht hieronder controleert het op je eigen computer" in text
        command = await v.page.locator("pre code").inner_text()
        assert command.startswith(f"ledger-verify --proof proof-{seq}.json --vkey ")
        await v.shot("proof-check-no-js-360", full_page=True)
    async with httpx.AsyncClient(base_url=site.consent_url) as c:
        proof = (await c.get("/ledger/proof/inclusion", params={"seq": seq})).text
    (tmp_path / f"proof-{seq}.json").write_text(proof)
    vkey = command.split("--vkey ", 1)[1].strip().strip("'")
    assert ledger_verify(["--proof", str(tmp_path / f"proof-{seq}.json"), "--vkey", vkey]) == 0
    assert "ledger-verify: sound: the entry is in the log of" in capsys.readouterr().out
    bad = json.loads(proof)
    bad["entry"] = base64.b64encode(b"{}").decode()
    (tmp_path / "bad.json").write_text(json.dumps(bad))
    assert ledger_verify(["--proof", str(tmp_path / "bad.json"), "--vkey", vkey]) == 1
    assert "NOT SOUND" in capsys.readouterr().err


async def test_the_witness_cosignature_is_checked_in_the_browser(
    chromium: Any, site: Site, tmp_path: Any, capsys: Any
) -> None:
    """With an outside witness (a real litewitness): the page says the entry's log is also cosigned by it, and
    when; a tampered cosignature says clearly that it does not verify; the offline command names the witness."""
    from sqlalchemy import text

    from tests.conftest import eventually
    from tests.e2e.test_witness import add_log, litewitness

    with litewitness(tmp_path / "witness") as (url, wkey, env):
        rt = site.consent_app.state.runtime
        add_log(env, rt.signer.name, rt.signer.verifier_key)
        await site.restart(ledger_witnesses={url: wkey}, witness_retry_seconds=0.5)
        rt = site.consent_app.state.runtime
        seq = await an_entry(site)
        async with httpx.AsyncClient(base_url=site.consent_url) as c:
            await c.get("/ledger/checkpoint")  # signed now; the witness cosigns it within a second

        async def cosigned() -> bool:
            async with rt.db.read() as s:
                return int((await s.execute(text("SELECT max(size) FROM ledger_cosignatures"))).scalar() or 0) > seq

        await eventually(cosigned, within=30)
        page_url = f"{site.consent_url}/privacy/proof/{seq}"
        for width, lang in ((1280, "nl"), (360, "nl"), (1280, "en"), (360, "en")):
            async with visitor(chromium, width=width, bypass_csp=True) as v:
                await v.page.goto(page_url + f"?lang={lang}")
                await v.until("document.getElementById('proof-result').className.includes('ok')")
                said = await v.page.locator("#proof-result").inner_text()
                witness = "witness.privacy.local"
                if lang == "nl":
                    assert f"De onafhankelijke getuige {witness} heeft dit grootboek op " in said, said
                else:
                    assert f"The independent witness {witness} cosigned this ledger on " in said, said
                assert await axe(v.page) == []
                await v.shot(f"proof-check-witnessed-{lang}-{width}", full_page=True)

        async with visitor(chromium) as v:

            async def rewrite(route: Any, _request: Any) -> None:
                response = await route.fetch()
                html = await response.text()
                found = re.search(r'(<script type="application/json" id="proof-data">)(.*?)(</script>)', html, re.S)
                assert found
                data = json.loads(found.group(2))
                head, _, line = data["proof"]["checkpoint"].rstrip("\n").rpartition("\n")
                name, _, blob = line.rpartition(" ")
                raw = bytearray(base64.b64decode(blob))
                raw[40] ^= 1  # one bit of the witness's signature
                data["proof"]["checkpoint"] = f"{head}\n{name} {base64.b64encode(bytes(raw)).decode()}\n"
                await route.fulfill(
                    response=response, body=html[: found.start(2)] + json.dumps(data) + html[found.end(2) :]
                )

            await v.page.route(re.compile(r".*/privacy/proof/\d+$"), rewrite)
            await v.page.goto(page_url)
            await v.until("document.getElementById('proof-result').className.includes('bad')")
            said = await v.page.locator("#proof-result").inner_text()
            assert said.startswith("Klopt niet") and "medeondertekening van de getuige" in said, said
            await v.shot("proof-check-witness-tampered-nl-1280", full_page=True)

        async with visitor(chromium, java_script_enabled=False) as v:
            await v.page.goto(page_url)
            command = await v.page.locator("pre code").inner_text()
            assert f"--witness '{wkey}'" in command
            await v.page.set_viewport_size({"width": 360, "height": 800})
            await v.shot("proof-check-witnessed-no-js-360", full_page=True)
