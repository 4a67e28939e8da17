"""Issue 33, as an attacker meets it. The attacker holds the site key, the public ledger and every public route;
the routes this issue changed are the checkpoint (now with cosignature lines), the proof page (now naming the
witnesses) and every write while the ledger is not whole (refused)."""

from __future__ import annotations

import asyncio
import base64
import contextlib
import hashlib
from collections.abc import AsyncIterator
from typing import Any

from fastapi import FastAPI, Request
from fastapi.responses import PlainTextResponse
from sqlalchemy import text

from services.common.ledger.cosign import CosignatureVerifier
from services.common.ledger.recovery import Integrity
from tests.conftest import build_app, eventually, free_port, running, serve
from tests.notices import NOTICE
from tests.security.conftest import ORIGIN, Site


async def _size(site: Site) -> int:
    async with site.rt.db.read() as s:
        return int((await s.execute(text("SELECT size FROM ledger_head"))).scalar_one())


async def test_while_the_ledger_is_not_whole_a_public_write_changes_nothing(site: Site) -> None:
    """A restored service that has not yet compared its ledger with Kafka (or could not rebuild it) must not
    write: a capture, a withdrawal or a cookie choice through the site key is refused with 503 and the reason,
    and nothing enters the ledger, the outbox or the state. Reads (the banner, the ledger) go on."""
    before = await _size(site)
    for state in (Integrity("checking", "the ledger is not yet compared with Kafka"), Integrity("broken", "x")):
        site.rt.integrity = state
        attempts = (
            ("/v1/consents", {"email": "a@example.nl", "channel": "email", "notice": NOTICE, "purposes": []}),
            ("/v1/withdrawals", {"browser_id": "b_attacker000001", "purposes": ["chat"]}),
            ("/v1/cookies", {"browser_id": "b_attacker000001", "analytics": True, "tracking": True, "notice": NOTICE}),
        )
        for path, body in attempts:
            r = await site.client.post(path, json=body, headers={**site.public, "origin": ORIGIN})
            assert r.status_code == 503, (path, r.status_code, r.text)
            assert r.headers["retry-after"] == "30" and f"the ledger is {state.state}" in r.json()["detail"]
        assert (await site.client.get("/v1/banner", params={"site_key": site.key})).status_code == 200
        assert (await site.client.get("/ledger/public-key")).status_code == 200
        assert not await site.rt.checkpoint_now(), "no checkpoint is signed while the history is not known whole"
        assert await _size(site) == before
    site.rt.integrity = Integrity("sound", "")


@contextlib.asynccontextmanager
async def lying_witness(answer: str) -> AsyncIterator[str]:
    """A witness that answers add-checkpoint with whatever it likes (here: someone else's cosignature)."""
    app = FastAPI()

    @app.post("/add-checkpoint")
    async def add(_request: Request) -> PlainTextResponse:
        return PlainTextResponse(answer)

    async with serve(app, free_port()) as url:
        yield url


async def test_a_witness_cannot_slip_a_false_cosignature_into_what_we_serve(
    make_settings: Any, sqlite_url: str, kafka: str
) -> None:
    """The checkpoint we serve carries a witness's line only when it verifies with that witness's configured
    key over that very checkpoint: a forged or replayed line is refused (the witness shows as refusing), and
    the served note stays ours alone."""
    name = "witness.example.org"
    raw = b"\x04" + bytes(range(32))
    key_hash = hashlib.sha256(name.encode() + b"\n" + raw).digest()[:4].hex()
    vkey = f"{name}+{key_hash}+{base64.b64encode(raw).decode()}"
    forged = f"\u2014 {name} {base64.b64encode(bytes(76)).decode()}\n"
    async with lying_witness(forged) as url:
        settings = make_settings("consent", sqlite_url, ledger_witnesses=f'{{"{url}/": "{vkey}"}}')
        app = build_app("consent", settings)
        async with running(app) as client:
            rt = app.state.runtime
            note = (await client.get("/ledger/checkpoint")).text

            async def refused() -> bool:
                async with rt.db.read() as s:
                    row = (await s.execute(text("SELECT state, detail FROM ledger_witnesses"))).first()
                return row is not None and row[0] == "refused" and "not a valid cosignature" in row[1]

            await eventually(refused, within=20)
            served = (await client.get("/ledger/checkpoint")).text
            assert served == note and name not in served
            async with rt.db.read() as s:
                assert (await s.execute(text("SELECT count(*) FROM ledger_cosignatures"))).scalar_one() == 0
            page = (await client.get("/privacy/proof/0")).text
            assert vkey in page, "the page names the witness key a person should expect, not what a witness said"
            assert CosignatureVerifier(vkey).name == name


async def test_public_checkpoint_reads_cannot_make_us_flood_a_witness(
    make_settings: Any, sqlite_url: str, kafka: str
) -> None:
    """GET /ledger/checkpoint is public and signs a checkpoint whenever the log grew; each new checkpoint goes
    to the witnesses. An attacker alternating choices (through the site key) and checkpoint reads must not turn
    that into a request to the witness per read: the service asks each witness at most once a second."""
    import struct
    import time

    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
    from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

    name = "witness.example.org"
    private = Ed25519PrivateKey.generate()
    raw = b"\x04" + private.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)
    key_hash = hashlib.sha256(name.encode() + b"\n" + raw).digest()[:4]
    vkey = f"{name}+{key_hash.hex()}+{base64.b64encode(raw).decode()}"
    asked: list[float] = []
    app = FastAPI()

    @app.post("/add-checkpoint")
    async def add(request: Request) -> PlainTextResponse:  # C2SP tlog-witness: cosigns whatever extends
        asked.append(time.monotonic())
        body = (await request.body()).decode().split("\n\n", 1)[1].partition("\n\n")[0] + "\n"
        when = int(time.time())
        signature = private.sign(f"cosignature/v1\ntime {when}\n{body}".encode())
        blob = key_hash + struct.pack(">Q", when) + signature
        return PlainTextResponse(f"\u2014 {name} {base64.b64encode(blob).decode()}\n")

    async with serve(app, free_port()) as url:
        settings = make_settings(
            "consent", sqlite_url, ledger_witnesses=f'{{"{url}/": "{vkey}"}}', rate_limit_per_minute=100_000
        )
        consent = build_app("consent", settings)
        async with running(consent) as client:
            from services.common.auth import create_site_key

            key = await create_site_key(consent.state.runtime.db, "website", [ORIGIN])
            started = time.monotonic()
            for i in range(40):
                choice = {"browser_id": f"b_flood{i:09d}", "analytics": True, "tracking": False, "notice": NOTICE}
                r = await client.post("/v1/cookies", json=choice, headers={"x-site-key": key, "origin": ORIGIN})
                assert r.status_code == 201, r.text
                assert (await client.get("/ledger/checkpoint")).status_code == 200
            await eventually(lambda: len(asked) >= 1, within=10)
            elapsed = time.monotonic() - started + 1.5
            await asyncio.sleep(1.5)
            assert 1 <= len(asked) <= elapsed + 1, (len(asked), elapsed)

            async def cosigned_served() -> bool:  # and what it cosigned is served: the witness was asked enough
                return f"\u2014 {name} " in (await client.get("/ledger/checkpoint")).text

            await eventually(cosigned_served, within=10)
            print(f"\n40 public checkpoint reads over {elapsed - 1.5:.1f} s: the witness was asked {len(asked)} times")
