"""Issue 33: an outside witness, the real one. litewitness (filippo.io/torchwood, built by
scripts/litewitness.sh from the Go module proxy, its key in its own ssh-agent) cosigns consent's checkpoints;
the cosignature is served as an extra signature line and checked by ledger-verify with a quorum. A restored
ledger that was not recovered goes back in history: the witness refuses it (409) and the service says so at
once. The same backup, recovered on start, reaches the witnessed root again, and the witness cosigns on."""

from __future__ import annotations

import contextlib
import os
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import text

from services.common import backup
from services.common.ledger.cosign import CosignatureVerifier
from services.common.ledger.verify import VerificationError, main, verify_export, verify_proof
from services.common.ledger.witness import standing
from tests.conftest import build_app, eventually, free_port, running
from tests.notices import NOTICE

ROOT = Path(__file__).resolve().parents[2]


@contextlib.contextmanager
def litewitness(home: Path) -> Iterator[tuple[str, str, dict[str, str]]]:
    env = {**os.environ, "WITNESS_HOME": str(home), "WITNESS_PORT": str(free_port())}
    script = str(ROOT / "scripts/litewitness.sh")
    subprocess.run([script, "start"], env=env, check=True, capture_output=True, timeout=300)
    try:
        vkey = subprocess.run([script, "vkey"], env=env, check=True, capture_output=True, text=True).stdout.strip()
        yield f"http://127.0.0.1:{env['WITNESS_PORT']}/", vkey, env
    finally:
        subprocess.run([script, "stop"], env=env, check=False, capture_output=True)


def add_log(env: dict[str, str], origin: str, vkey: str) -> None:
    script = str(ROOT / "scripts/litewitness.sh")
    subprocess.run([script, "add-log", origin, vkey], env=env, check=True, capture_output=True, timeout=60)


async def _capture(client: Any, auth: dict[str, str], email: str) -> None:
    body = {"email": email, "channel": "email", "notice": NOTICE, "purposes": [{"purpose": "contact", "granted": True}]}
    assert (await client.post("/admin/consents", json=body, headers=auth)).status_code == 201


async def _cosigned(rt: Any, size: int) -> bool:
    async with rt.db.read() as s:
        found = (await s.execute(text("SELECT max(size) FROM ledger_cosignatures"))).scalar()
    return found is not None and found >= size


async def _state(rt: Any) -> dict[str, Any]:
    async with rt.db.read() as s:
        return (await standing(s, rt.witnesses))[0]


async def test_the_witness_cosigns_refuses_a_rollback_and_accepts_the_recovery(
    kafka: str, make_settings: Any, tmp_path: Path
) -> None:
    from services.common.auth import create_token

    with litewitness(tmp_path / "witness") as (url, wkey, env):
        url_db = f"sqlite+aiosqlite:///{tmp_path}/consent.db"
        settings = make_settings(
            "consent", url_db, ledger_witnesses=f'{{"{url}": "{wkey}"}}', witness_retry_seconds=0.5
        )
        app = build_app("consent", settings)
        rt = app.state.runtime
        add_log(env, rt.signer.name, rt.signer.verifier_key)
        async with running(app) as client:
            auth = {"authorization": f"Bearer {await create_token(rt.db, 'dpo', ['dpo', 'admin'])}"}
            await _capture(client, auth, "een@example.nl")
            note = (await client.get("/ledger/checkpoint")).text
            size = int(note.split("\n")[1])
            await eventually(lambda: _cosigned(rt, size), within=30)
            served = (await client.get("/ledger/checkpoint")).text
            witness = CosignatureVerifier(wkey)
            assert witness.find(served) > 0 and served.startswith(note.split("\n\n")[0])
            assert served.count("\n\u2014 ") == 2, "the service's signature, then the witness's"
            (tmp_path / "checkpoint.txt").write_text(served)
            print(f"\nthe checkpoint as served, with the witness's cosignature:\n{served}")  # (pytest -s)
            vkey = rt.signer.verifier_key
            export = (await client.get("/ledger/entries")).text.splitlines()
            assert verify_export(export, vkey=vkey, witnesses=[wkey], quorum=1).witnessed == [witness.name]
            proof = (await client.get("/ledger/proof/inclusion", params={"seq": 0})).json()
            verify_proof(proof, vkey=vkey, witnesses=[wkey], needed=1)
            stranger = "other.witness+00000000+BAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"
            with pytest.raises(VerificationError, match="1 of the 2 witness cosignatures needed"):
                verify_export(
                    export, vkey=vkey, witnesses=[wkey, stranger.replace("00000000", _hash(stranger))], quorum=2
                )
            (tmp_path / "export.txt").write_text("\n".join(export) + "\n")
            assert main([str(tmp_path / "export.txt"), "--vkey", vkey, "--witness", wkey, "--quorum", "1"]) == 0

            file = backup.backup("consent", url_db, tmp_path / "backups")
            for i in range(3):
                await _capture(client, auth, f"later{i}@example.nl")
            witnessed = int((await client.get("/ledger/checkpoint")).text.split("\n")[1])
            await eventually(lambda: _cosigned(rt, witnessed), within=30)
            await eventually(lambda: _published(rt), within=30)

        # restored, and started without the comparison (as a service without recovery would): it goes back
        backup.restore(url_db, file)
        unchecked = build_app("consent", settings.model_copy(update={"ledger_check_on_start": False}))
        unchecked.state.runtime.settings.relay_enabled = False  # nothing of the fork reaches Kafka
        async with running(unchecked, form_text=False) as client:
            rolled = int((await client.get("/ledger/checkpoint")).text.split("\n")[1])
            assert rolled < witnessed
            urt = unchecked.state.runtime
            refused = await eventually(lambda: _refused(urt), within=30)
            assert f"cosigned size {witnessed}" in refused["detail"], refused
            print(f"the witness on the restored ledger that was not recovered: refused: {refused['detail']}")
            metrics = (await client.get("/metrics", headers=await _scrape(urt))).text
            assert "privacy_ledger_witness_refusals" in metrics and _gauge(metrics, "ledger_witness_refusals") == 1

        # the same backup, restored and recovered on start: the witnessed root again, cosigned on
        backup.restore(url_db, file)
        app = build_app("consent", settings)
        async with running(app, form_text=False) as client:
            rt = app.state.runtime
            assert rt.integrity.state == "sound", rt.integrity.reason
            await _capture(client, {"authorization": f"Bearer {await create_token(rt.db, 'x', ['admin'])}"}, "na@ex.nl")
            newer = int((await client.get("/ledger/checkpoint")).text.split("\n")[1])
            assert newer > witnessed
            await eventually(lambda: _cosigned(rt, newer), within=30)
            assert (await _state(rt))["state"] == "cosigning"


def _hash(vkey: str) -> str:
    import base64
    import hashlib

    name, _, key = vkey.split("+")
    return hashlib.sha256(name.encode() + b"\n" + base64.b64decode(key)).digest()[:4].hex()


async def _published(rt: Any) -> bool:
    async with rt.db.read() as s:
        return not (await s.execute(text("SELECT count(*) FROM outbox WHERE published_at IS NULL"))).scalar_one()


async def _refused(rt: Any) -> dict[str, Any] | None:
    state = await _state(rt)
    return state if state["state"] == "refused" else None


async def _scrape(rt: Any) -> dict[str, str]:
    from services.common.auth import create_token

    return {"authorization": f"Bearer {await create_token(rt.db, 'prometheus', ['system'])}"}


def _gauge(metrics: str, name: str) -> float:
    for line in metrics.splitlines():
        if line.startswith(f"privacy_{name}{{"):
            return float(line.rsplit(" ", 1)[1])
    raise AssertionError(f"{name} not exposed")
