"""The ledger on SQLite and PostgreSQL: appends, proofs over HTTP, shredding, tamper resistance, verifier."""

from __future__ import annotations

import asyncio
import base64
import json
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import text

from services.common.contracts import SubjectShredded
from services.common.crypto import ShreddedError
from services.common.ledger import merkle
from services.common.ledger.note import NoteVerifier
from services.common.ledger.store import LedgerRecord, ProofStats
from services.common.ledger.verify import VerificationError, verify_export
from services.common.ledger.verify import main as verify_main
from tests.conftest import build_app, running

SUBJECT = "cd" * 32


@pytest.fixture
def app(make_settings: Any, db_url: str) -> Any:
    return build_app("consent", make_settings("consent", db_url, relay_enabled=False, consumers_enabled=False))


async def append_many(rt: Any, n: int, subject: str | None = None) -> None:
    async with rt.db.transaction() as s:
        await rt.ledger.append(
            s,
            [
                LedgerRecord(event_id=f"e{i}-{subject}", event_type="test.appended", subject=subject, data={"i": i})
                for i in range(n)
            ],
        )


async def test_appends_and_proofs_over_http(app: Any) -> None:
    rt = app.state.runtime
    async with running(app, form_text=False) as client:
        assert (await client.get("/ledger/checkpoint")).status_code == 200  # empty log: size 0
        await append_many(rt, 37)
        note = (await client.get("/ledger/checkpoint")).text
        vkey = (await client.get("/ledger/public-key")).json()["vkey"]
        cp = NoteVerifier(vkey).open(note)
        assert cp.size == 37
        for seq in (0, 1, 17, 36):
            body = (await client.get("/ledger/proof/inclusion", params={"seq": seq})).json()
            entry = base64.b64decode(body["entry"])
            assert json.loads(entry)["seq"] == seq
            merkle.verify_inclusion(
                seq, cp.size, merkle.leaf_hash(entry), [base64.b64decode(p) for p in body["proof"]], cp.root
            )
        by_id = (await client.get("/ledger/proof/inclusion", params={"event_id": "e5-None"})).json()
        assert by_id["seq"] == 5
        await append_many(rt, 20, subject=SUBJECT)
        new_cp = NoteVerifier(vkey).open((await client.get("/ledger/checkpoint")).text)
        body = (await client.get("/ledger/proof/consistency", params={"old_size": 37})).json()
        assert body["new_size"] == new_cp.size == 57
        merkle.verify_consistency(37, 57, cp.root, new_cp.root, [base64.b64decode(p) for p in body["proof"]])
        # bad input: clear 4xx
        assert (await client.get("/ledger/proof/inclusion")).status_code == 422
        assert (await client.get("/ledger/proof/inclusion", params={"seq": 999})).status_code == 404
        assert (await client.get("/ledger/proof/inclusion", params={"seq": 1, "tree_size": 3})).status_code == 404
        assert (await client.get("/ledger/proof/consistency", params={"old_size": 58})).status_code == 422
        assert (await client.get("/ledger/proof/inclusion", params={"seq": -1})).status_code == 422


async def test_inclusion_proof_reads_log_n_nodes_in_one_query(app: Any) -> None:
    rt = app.state.runtime
    async with running(app, form_text=False):
        await append_many(rt, 1000)
        async with rt.db.read() as s:
            stats = ProofStats()
            proof = await rt.ledger.inclusion_proof(s, 123, 1000, stats)
            assert stats.queries == 1 and stats.nodes <= 2 * 10 and len(proof) == 10


async def test_concurrent_appends_never_gap_or_fork(app: Any) -> None:
    rt = app.state.runtime
    async with running(app, form_text=False):

        async def writer(w: int) -> None:
            for i in range(10):
                async with rt.db.transaction() as s:
                    await rt.ledger.append(s, [LedgerRecord(event_id=f"w{w}-{i}", event_type="t")])

        await asyncio.gather(*(writer(w) for w in range(8)))
        async with rt.db.read() as s:
            size, root = await rt.ledger.head(s)
            seqs = [r[0] for r in (await s.execute(text("SELECT seq FROM ledger_entries ORDER BY seq"))).all()]
            entries = [r[0] for r in (await s.execute(text("SELECT entry FROM ledger_entries ORDER BY seq"))).all()]
        assert size == 80 and seqs == list(range(80))
        assert merkle.root_of([merkle.leaf_hash(e) for e in entries]) == root


async def test_shredding_keeps_every_proof_valid(app: Any) -> None:
    rt = app.state.runtime
    async with running(app, form_text=False) as client:
        async with rt.db.transaction() as s:
            _, seq = await rt.recorder.record(
                s,
                SubjectShredded(subject=SUBJECT, key_id=None, reason="setup"),
                subject=SUBJECT,
                personal={"email": "jan@example.nl"},
                publish=False,
            )
        await append_many(rt, 5)
        old_note = (await client.get("/ledger/checkpoint")).text
        async with rt.db.read() as s:
            entry = json.loads((await rt.ledger.entry(s, seq=seq)).entry)
        async with rt.db.transaction() as s:
            assert await rt.vault.decrypt(s, SUBJECT, entry["key_id"], entry["ciphertext"]) == {
                "email": "jan@example.nl"
            }
            await rt.vault.shred(s, SUBJECT)
            await rt.recorder.record(
                s,
                SubjectShredded(subject=SUBJECT, key_id=entry["key_id"], reason="erasure"),
                subject=SUBJECT,
                publish=False,
            )
        async with rt.db.transaction() as s:
            with pytest.raises(ShreddedError):
                await rt.vault.decrypt(s, SUBJECT, entry["key_id"], entry["ciphertext"])
        vkey = (await client.get("/ledger/public-key")).json()["vkey"]
        new_cp = NoteVerifier(vkey).open((await client.get("/ledger/checkpoint")).text)
        body = (await client.get("/ledger/proof/inclusion", params={"seq": seq})).json()
        merkle.verify_inclusion(
            seq,
            new_cp.size,
            merkle.leaf_hash(base64.b64decode(body["entry"])),
            [base64.b64decode(p) for p in body["proof"]],
            new_cp.root,
        )
        export = (await client.get("/ledger/entries")).text.splitlines()
        report = verify_export(export, vkey=vkey, earlier=[old_note])
        assert report.entries == new_cp.size and 6 in report.checkpoints_checked


async def test_postgres_refuses_update_delete_truncate(make_settings: Any, pg_url: str) -> None:
    app = build_app("consent", make_settings("consent", pg_url, relay_enabled=False, consumers_enabled=False))
    rt = app.state.runtime
    async with running(app, form_text=False) as client:
        await append_many(rt, 3)
        await client.get("/ledger/checkpoint")
        for table in ("ledger_entries", "ledger_nodes", "ledger_checkpoints"):
            for statement in (
                f"UPDATE {table} SET created_at = created_at"
                if table != "ledger_nodes"
                else f"UPDATE {table} SET hash = hash",
                f"DELETE FROM {table}",
                f"TRUNCATE {table}",
            ):
                with pytest.raises(Exception, match="append-only"):
                    async with rt.db.transaction() as s:
                        await s.execute(text(statement))
        async with rt.db.read() as s:
            assert (await s.execute(text("SELECT count(*) FROM ledger_entries"))).scalar_one() == 3


# --- the verifier against every kind of tampering ------------------------------------------------------


@pytest.fixture
async def export(app: Any, tmp_path: Path) -> tuple[list[str], str, str]:
    rt = app.state.runtime
    async with running(app, form_text=False) as client:
        await append_many(rt, 12)
        earlier = (await client.get("/ledger/checkpoint")).text
        await append_many(rt, 9, subject=SUBJECT)
        lines = (await client.get("/ledger/entries")).text.splitlines()
        vkey = (await client.get("/ledger/public-key")).json()["vkey"]
    return lines, vkey, earlier


def replace_entry(lines: list[str], index: int, mutate: Any) -> list[str]:
    leaf, entry = lines[index].split(" ", 1)
    return [*lines[:index], " ".join(mutate(leaf, entry)), *lines[index + 1 :]]


def flip_byte(entry: str) -> str:
    at = entry.index('"type"') + 9
    return entry[:at] + chr(ord(entry[at]) ^ 0x01) + entry[at + 1 :]


def reseal(entry: str) -> tuple[str, str]:
    """A forger who also rewrites the stored leaf hash."""
    return merkle.leaf_hash(entry.encode()).hex(), entry


async def test_sound_export_verifies_and_cli_exits_0(
    export: Any, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    lines, vkey, earlier = export
    report = verify_export(lines, vkey=vkey, earlier=[earlier])
    assert report.entries == 21 and 12 in report.checkpoints_checked
    (tmp_path / "e.txt").write_text("\n".join(lines) + "\n")
    (tmp_path / "old.note").write_text(earlier)
    assert verify_main([str(tmp_path / "e.txt"), "--vkey", vkey, "--checkpoint", str(tmp_path / "old.note")]) == 0
    assert "sound: 21 entries" in capsys.readouterr().out


@pytest.mark.parametrize(
    ("tamper", "message"),
    [
        (lambda ls: replace_entry(ls, 5, lambda h, e: (h, flip_byte(e))), "entry 4: its bytes do not hash"),
        (
            lambda ls: replace_entry(ls, 5, lambda h, e: reseal(flip_byte(e))),
            "signed checkpoint at size 12: recomputed root differs",
        ),
        (lambda ls: ls[:5] + ls[6:], "entry 4: expected at line 6, found entry 5: entry missing"),
        (lambda ls: [*ls[:5], ls[3], *ls[5:]], "entry 4: expected at line 6, found entry 2"),
        (lambda ls: [*ls[:5], ls[6], ls[5], *ls[7:]], "entry 4: expected at line 6, found entry 5"),
        (lambda ls: ls[:-1], "entry 20: the export holds 20 entries but its header says 21"),
        (lambda ls: [*ls[:3], ls[3].replace(" ", "", 1), *ls[4:]], "line 4: expected '<64 hex leaf hash> <entry>'"),
        (
            lambda ls: replace_entry(ls, 3, lambda h, e: (h, e[:-4])),
            "entry 2: its bytes do not hash",
        ),
    ],
    ids=[
        "changed-byte",
        "changed-and-resealed",
        "removed",
        "inserted",
        "reordered",
        "truncated",
        "fields-merged",
        "cut-short",
    ],
)
async def test_tampering_is_named(export: Any, tamper: Any, message: str) -> None:
    lines, vkey, earlier = export
    with pytest.raises(VerificationError, match=message):
        verify_export(tamper(lines), vkey=vkey, earlier=[earlier])


async def test_moved_entry_with_rewritten_seq_is_caught(export: Any) -> None:
    lines, vkey, _ = export
    _, entry5 = lines[6].split(" ", 1)
    forged = replace_entry(lines, 5, lambda h, e: reseal(entry5))  # entry 5's bytes at position 4
    with pytest.raises(VerificationError, match="entry 4: expected at line 6, found entry 5"):
        verify_export(forged, vkey=vkey)


async def test_forked_checkpoint_is_caught(make_settings: Any, sqlite_url: str) -> None:
    """The log shows another root at a size for which we hold a checkpoint signed by the same key: a fork."""
    from services.common.ledger.note import Checkpoint, NoteSigner

    seed = bytes(range(32))
    app = build_app(
        "consent",
        make_settings(
            "consent",
            sqlite_url,
            ledger_signing_key=base64.b64encode(seed).decode(),
            relay_enabled=False,
            consumers_enabled=False,
        ),
    )
    rt = app.state.runtime
    async with running(app, form_text=False) as client:
        await append_many(rt, 12)
        await client.get("/ledger/checkpoint")
        await append_many(rt, 3, subject=SUBJECT)
        lines = (await client.get("/ledger/entries")).text.splitlines()
    signer = NoteSigner(rt.signer.name, seed)  # whoever holds the key can sign a second history
    forked = signer.sign(Checkpoint(rt.signer.name, 12, merkle.leaf_hash(b"another history")))
    verify_export(lines, vkey=signer.verifier_key)  # sound on its own
    with pytest.raises(VerificationError, match="earlier checkpoint at size 12: the log now has a different root"):
        verify_export(lines, vkey=signer.verifier_key, earlier=[forked])
    header = json.loads(lines[0])
    header["checkpoints"].append(forked)
    with pytest.raises(VerificationError, match="two signed roots for size 12: the log forked"):
        verify_export([json.dumps(header), *lines[1:]], vkey=signer.verifier_key)


async def test_export_signed_by_another_key_is_refused(export: Any) -> None:
    from services.common.ledger.note import NoteSigner

    lines, _, _ = export
    with pytest.raises(VerificationError, match="no signature by"):
        verify_export(lines, vkey=NoteSigner("consent.privacy.local/ledger", bytes(32)).verifier_key)
