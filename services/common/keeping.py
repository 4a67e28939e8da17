"""privacyctl's backup, restore and ledger commands (cli.py parses them)."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from services.common import backup, registry
from services.common.db import Database
from services.common.ledger import recovery
from services.common.ledger.note import NoteSigner
from services.common.models import LedgerHead
from services.common.settings import ServiceSettings


async def run(args: argparse.Namespace, services: list[str]) -> int:
    if args.command == "backup":
        return await _backup(args.name, args.to)
    if args.command == "restore":
        return await _restore(args.name, args.file)
    if args.action == "acknowledge":
        return await _acknowledge(args.service, args.by)
    if args.action == "vkey":
        return await _vkeys(services)
    return await _status(services)


async def _vkeys(services: list[str], configured: dict[str, ServiceSettings] | None = None) -> int:
    """Each ledger's origin in its current epoch and its verifier key (what a witness is told: `witnessctl
    add-log`, `add-key`)."""
    for name in services:
        settings = (configured or {}).get(name) or registry.service(name).settings()
        db = Database(settings.database_url)
        try:
            await db.migrate(registry.service(name).migrations)
            async with db.read() as s:
                origin = recovery.origin_of(settings.ledger_origin, await recovery.epoch_of(s))
        finally:
            await db.dispose()
        signer = NoteSigner(origin, settings.secret_bytes("ledger_signing_key"))
        print(f"{name}\t{signer.name}\t{signer.verifier_key}")
    return 0


async def _backup(name: str, into: Path) -> int:
    settings = registry.service(name).settings()
    db = Database(settings.database_url)
    try:
        await db.migrate(registry.service(name).migrations)
        async with db.read() as s:
            head = await s.get(LedgerHead, 1)
    finally:
        await db.dispose()
    try:
        path = backup.backup(name, settings.database_url, into)
    except backup.BackupError as exc:
        print(f"privacyctl: {exc}", file=sys.stderr)
        return 1
    size = head.size if head is not None else 0
    held = f"{size} ledger {'entry' if size == 1 else 'entries'}"
    print(f"{name}: backed up to {path} ({path.stat().st_size} bytes; {held} when it began)")
    return 0


async def _restore(name: str, file: Path) -> int:
    settings = registry.service(name).settings()
    try:
        backup.restore(settings.database_url, file)
    except backup.BackupError as exc:
        print(f"privacyctl: {exc}", file=sys.stderr)
        return 1
    db = Database(settings.database_url)
    try:
        await db.migrate(registry.service(name).migrations)  # a backup from before a migration is brought up
        size = await backup.mark_restored(db, file)
    finally:
        await db.dispose()
    print(
        f"{name}: restored from {file}; its ledger holds {size} entries. On its next start it rebuilds what came "
        "after the backup from Kafka and does again every erasure, withdrawal and expiry before it serves."
    )
    return 0


async def _status(services: list[str]) -> int:
    for name in services:
        settings = registry.service(name).settings()
        db = Database(settings.database_url)
        try:
            await db.migrate(registry.service(name).migrations)
            async with db.read() as s:
                marker = await recovery.latest(s)
                epoch = await recovery.epoch_of(s)
        finally:
            await db.dispose()
        said = f"{marker.outcome} at {marker.at:%Y-%m-%d %H:%M} UTC: {marker.detail}" if marker else "never restored"
        print(f"{name}\tepoch {epoch}\t{said}")
    return 0


async def _acknowledge(name: str, by: str, settings: ServiceSettings | None = None) -> int:
    registration = registry.service(name)
    rt = registration.build_runtime(settings or registration.settings())
    try:
        await rt.db.migrate(registration.migrations)
        async with rt.db.read() as s:
            rt.use_epoch(await recovery.epoch_of(s))
        rt.integrity = recovery.Integrity("sound", "")  # the operator's acknowledgement is what makes it whole
        print(await recovery.acknowledge(rt, by))
    finally:
        await rt.db.dispose()
    return 0
