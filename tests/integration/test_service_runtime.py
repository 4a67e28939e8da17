"""Runtime behaviour over the real broker: readiness, NOTIFY wake-up, checkpoints on Kafka, live verification."""

from __future__ import annotations

import asyncio
import contextlib
import socket
from collections.abc import AsyncIterator
from typing import Any

import asyncpg
import uvicorn
from fastapi import FastAPI
from sqlalchemy import text

from services.common.ledger.note import NoteVerifier
from services.common.ledger.store import LedgerRecord
from services.common.ledger.verify import main as verify_main
from tests.conftest import build_app, eventually, running
from tests.integration.test_outbox_consumer import header, read_topic


async def test_readyz_names_what_is_down(make_settings: Any, sqlite_url: str) -> None:
    app = build_app("breach", make_settings("breach", sqlite_url, kafka_bootstrap_servers="127.0.0.1:1"))
    async with running(app) as client:
        r = await client.get("/readyz")
        assert r.status_code == 503
        assert "kafka" in r.json()["problems"] and "database" not in r.json()["problems"]
        assert (await client.get("/healthz")).status_code == 200


async def test_readyz_green_with_real_infrastructure(kafka: str, make_settings: Any, pg_url: str) -> None:
    app = build_app("breach", make_settings("breach", pg_url))
    async with running(app) as client:
        await eventually(lambda: app.state.runtime.topics_ready.is_set())
        r = await client.get("/readyz")
        assert r.status_code == 200 and r.json() == {"status": "ready"}


async def test_postgres_notify_wakes_the_relay(kafka: str, make_settings: Any, pg_url: str, topic_prefix: str) -> None:
    """A row inserted by another process (plain SQL, no in-process hook) is published at once, although
    the relay's poll interval is 60 s: LISTEN/NOTIFY woke it."""
    app = build_app("dsar", make_settings("dsar", pg_url, outbox_poll_seconds=60, consumers_enabled=False))
    rt = app.state.runtime
    async with running(app):
        await eventually(lambda: rt.topics_ready.is_set())
        await asyncio.sleep(1.0)  # the relay has started, taken the lease and gone to sleep
        conn = await asyncpg.connect(pg_url.replace("postgresql+asyncpg://", "postgresql://"))
        try:
            await conn.execute(
                "INSERT INTO outbox (topic, key, headers, value, created_at) VALUES ($1, 'k', $2, $3, now())",
                topic_prefix + "dsar.events.v1",
                '[["ce_specversion", "1.0"], ["ce_id", "notify-1"], ["ce_source", "urn:test"], '
                '["ce_type", "nl.jzve.privacy.dsar.answer.recorded"]]',
                b'{"request_id": "r", "holder": "h", "outcome": "o"}',
            )
        finally:
            await conn.close()
        records = await read_topic(kafka, topic_prefix + "dsar.events.v1", 1, within=10)
        assert [header(r, "ce_id") for r in records] == ["notify-1"]


async def test_checkpoints_are_published_after_a_burst(
    kafka: str, make_settings: Any, sqlite_url: str, topic_prefix: str
) -> None:
    app = build_app(
        "consent", make_settings("consent", sqlite_url, checkpoint_burst=5, checkpoint_interval_seconds=3600)
    )
    rt = app.state.runtime
    async with running(app, form_text=False) as client:
        async with rt.db.transaction() as s:
            await rt.ledger.append(s, [LedgerRecord(event_id=f"b{i}", event_type="t") for i in range(7)])
        records = await read_topic(kafka, topic_prefix + "ledger.checkpoints.v1", 1, within=20)
        vkey = (await client.get("/ledger/public-key")).json()["vkey"]
    import json

    data = json.loads(records[0].value)
    cp = NoteVerifier(vkey).open(data["note"])
    assert cp.size == data["size"] == 7 and records[0].key == rt.signer.name.encode()


@contextlib.asynccontextmanager
async def served(app: FastAPI) -> AsyncIterator[str]:
    """The app on a real local port (for clients that open their own connections)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_config=None, lifespan="on"))
    task = asyncio.create_task(server.serve())
    await eventually(lambda: server.started, within=20)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        await task


async def test_verifier_checks_a_live_service(make_settings: Any, sqlite_url: str, tmp_path: Any, capsys: Any) -> None:
    app = build_app("dsar", make_settings("dsar", sqlite_url, relay_enabled=False, consumers_enabled=False))
    rt = app.state.runtime
    async with served(app) as url:
        async with rt.db.transaction() as s:
            await rt.ledger.append(s, [LedgerRecord(event_id=f"l{i}", event_type="t") for i in range(9)])
        async with rt.db.transaction() as s:
            kept = await rt.ledger.sign_checkpoint(s)
        (tmp_path / "kept.note").write_text(kept.note)
        async with rt.db.transaction() as s:
            await rt.ledger.append(s, [LedgerRecord(event_id=f"m{i}", event_type="t") for i in range(4)])
        args = [
            "--url",
            url,
            "--vkey",
            rt.signer.verifier_key,
            "--checkpoint",
            str(tmp_path / "kept.note"),
            "--save",
            str(tmp_path / "export.txt"),
            "--no-progress",
        ]
        assert await asyncio.to_thread(verify_main, args) == 0
        assert "sound: 13 entries" in capsys.readouterr().out
        assert (
            await asyncio.to_thread(
                verify_main, [str(tmp_path / "export.txt"), "--vkey", rt.signer.verifier_key, "--no-progress"]
            )
            == 0
        )
        # a row changed behind the service's back (SQLite has no trigger): the live check names it
        async with rt.db.transaction() as s:
            await s.execute(
                text(
                    "UPDATE ledger_entries SET entry = CAST(replace(CAST(entry AS TEXT), 'l3', 'l4') AS BLOB) "
                    "WHERE seq = 3"
                )
            )
        assert await asyncio.to_thread(verify_main, args) == 1
        assert "entry 3: its bytes do not hash" in capsys.readouterr().err


async def test_stopping_right_as_kafka_comes_up_never_hangs(kafka: str, make_settings: Any, sqlite_url: str) -> None:
    """Shutdown must end: the relays' waits used asyncio.wait_for, which on Python 3.11 can swallow a
    cancellation, and stop() then waited forever. Start and stop again and again at varying moments."""
    for i in range(12):
        app = build_app("consent", make_settings("consent", sqlite_url))
        async with asyncio.timeout(60):
            async with running(app):
                await asyncio.sleep(0.01 * i)
        assert not app.state.runtime._tasks
