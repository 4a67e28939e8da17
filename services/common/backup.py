"""Backups and restores of one service's database with the database's own tools: SQLite's online backup API
(a consistent copy while the service writes) and PostgreSQL's pg_dump / pg_restore (custom format, one
snapshot). Nothing here stores data of its own.

A restore brings back everything the backup held, erased people's keys included. What happened after the
backup is not lost for good: the service, on its next start, rebuilds its ledger from ledger.entries.v1 and
does again what those entries record (services/common/ledger/recovery.py) before it serves a request. The
restore marks the database so that the console can show the restore and what the start made of it."""

from __future__ import annotations

import glob
import os
import shutil
import sqlite3
import subprocess
from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy.engine import make_url

from services.common.db import Database
from services.common.ledger.recovery import epoch_of
from services.common.ledger.tables import LedgerRecovery
from services.common.models import LedgerHead
from services.common.pgstore import raw_dsn


class BackupError(ValueError):
    """A backup or restore that cannot be done; the message says why."""


def _sqlite_path(url: str) -> Path | None:
    parsed = make_url(url)
    if not parsed.drivername.startswith("sqlite"):
        return None
    if not parsed.database or parsed.database == ":memory:":
        raise BackupError("an in-memory SQLite database has nothing to back up")
    return Path(parsed.database)


def pg_tool(name: str) -> str:
    """pg_dump or pg_restore: on PATH, or the newest of Debian's /usr/lib/postgresql/*/bin."""
    found = shutil.which(name)
    if found:
        return found
    debian = sorted(glob.glob(f"/usr/lib/postgresql/*/bin/{name}"), key=lambda p: int(p.split("/")[4]))
    if debian:
        return debian[-1]
    raise BackupError(f"{name} is not installed (Debian: apt-get install postgresql-client)")


def backup(service: str, url: str, into: Path) -> Path:
    """A consistent copy of the service's database in `into`; returns the file."""
    into.mkdir(parents=True, exist_ok=True)
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%S%fZ")
    path = _sqlite_path(url)
    if path is not None:
        if not path.exists():
            raise BackupError(f"{path} does not exist: has {service} ever started?")
        target = into / f"{service}-{stamp}.sqlite"
        source, copy = sqlite3.connect(path), sqlite3.connect(target)
        try:
            source.backup(copy)  # SQLite's online backup: a consistent snapshot while others write
        finally:
            copy.close()
            source.close()
        return target
    target = into / f"{service}-{stamp}.pgdump"
    _run([pg_tool("pg_dump"), "--format=custom", "--no-owner", f"--file={target}", raw_dsn(url)], "pg_dump")
    return target


def restore(url: str, file: Path) -> None:
    """Replace the service's database with the backup `file` (stop the service first)."""
    if not file.is_file():
        raise BackupError(f"{file} is not a backup file")
    path = _sqlite_path(url)
    if path is not None:
        if file.suffix != ".sqlite":
            raise BackupError(f"{file} is not a SQLite backup (.sqlite) and the service's database is SQLite")
        _check_sqlite(file)
        source, live = sqlite3.connect(file), sqlite3.connect(path)
        try:
            source.backup(live)  # the same API the other way: every page replaced, the WAL included
        finally:
            live.close()
            source.close()
        return
    if file.suffix != ".pgdump":
        raise BackupError(f"{file} is not a PostgreSQL backup (.pgdump) and the service's database is PostgreSQL")
    command = [pg_tool("pg_restore"), "--clean", "--if-exists", "--no-owner", "--single-transaction"]
    _run([*command, f"--dbname={raw_dsn(url)}", str(file)], "pg_restore")


def _check_sqlite(file: Path) -> None:
    try:
        with sqlite3.connect(f"file:{file}?mode=ro", uri=True) as check:
            ok = check.execute("PRAGMA quick_check").fetchone()
            check.execute("SELECT size FROM ledger_head").fetchone()
    except sqlite3.DatabaseError as exc:
        raise BackupError(f"{file} is not a usable SQLite backup: {exc}") from exc
    if not ok or ok[0] != "ok":
        raise BackupError(f"{file} fails SQLite's integrity check: {ok}")


def _run(command: list[str], what: str) -> None:
    env = {**os.environ, "PGCONNECT_TIMEOUT": "10"}
    done = subprocess.run(command, capture_output=True, text=True, env=env, check=False)  # noqa: S603
    if done.returncode != 0:
        raise BackupError(f"{what} failed: {done.stderr.strip()[-800:]}")


async def mark_restored(db: Database, file: Path) -> int:
    """Note the restore in the database; returns the ledger size it holds."""
    async with db.transaction() as s:
        head = await s.get(LedgerHead, 1)
        size = head.size if head is not None else 0
        s.add(
            LedgerRecovery(
                outcome="restored",
                restored_size=size,
                epoch=await epoch_of(s),
                detail=f"restored from {file.name}; the next start compares it with Kafka",
            )
        )
    return size
