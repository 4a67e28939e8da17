"""Migration 0007 drops the raw bodies of ActiveCampaign deliveries already handled (a body is sealed with a
purpose key, which no erasure shreds) and keeps those still to be tried. Both backends."""

from __future__ import annotations

from pathlib import Path

from alembic import command
from sqlalchemy import text
from sqlalchemy.engine import Connection

from services.common.db import Database, alembic_config

MIGRATIONS = Path(__file__).resolve().parents[2] / "services" / "consent" / "migrations"


def _upgrade_to(conn: Connection, revision: str) -> None:
    cfg = alembic_config(MIGRATIONS)
    cfg.attributes["connection"] = conn
    command.upgrade(cfg, revision)


async def test_handled_bodies_go_and_pending_ones_stay(db_url: str) -> None:
    db = Database(db_url)
    try:
        async with db.engine.begin() as conn:
            await conn.run_sync(_upgrade_to, "0006")
        async with db.engine.begin() as conn:
            for i, status in enumerate(("processed", "failed", "received", "ignored", "rejected")):
                await conn.execute(
                    text(
                        "INSERT INTO activecampaign_deliveries (id, body_hash, body, status, received_at) "
                        "VALUES (:i, :h, :b, :s, CURRENT_TIMESTAMP)"
                    ),
                    {"i": f"ac{i}", "h": f"h{i}", "b": b"sealed body", "s": status},
                )
        await db.migrate(MIGRATIONS)
        async with db.read() as s:
            kept = dict(
                (status, bytes(body))
                for status, body in await s.execute(text("SELECT status, body FROM activecampaign_deliveries"))
            )
        assert kept == {
            "processed": b"",
            "ignored": b"",
            "rejected": b"",
            "failed": b"sealed body",
            "received": b"sealed body",
        }
    finally:
        await db.dispose()
