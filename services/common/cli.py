"""privacyctl: operate the services from the command line.

    privacyctl migrate [--service S]
    privacyctl token create --name NAME --scope admin [--scope dpo ...] [--service S]
    privacyctl token revoke NAME_OR_ID [--service S]
    privacyctl token list [--service S]
    privacyctl site-key create --name NAME --origin https://example.nl [...] [--service S]
    privacyctl site-key revoke KEY [--service S]
    privacyctl backup SERVICE [--to DIR]
    privacyctl restore SERVICE FILE            (stop the service first; its next start recovers, see README)
    privacyctl ledger status [--service S]
    privacyctl ledger vkey [--service S]
    privacyctl ledger acknowledge --service SERVICE --by NAME

S is a registered service (consent, dsar, breach) or all (default all: a token then works on every
service). Each service's database comes from its own settings (CONSENT_DATABASE_URL, ...), as when the
service runs.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

from sqlalchemy import select

from services.common import auth, keeping, registry
from services.common.db import Database
from services.common.models import ApiToken
from services.common.settings import MissingSecretError, ServiceSettings


def settings_for(service: str) -> ServiceSettings:
    """The service's settings from its environment (CONSENT_..., DSAR_..., ...)."""
    return registry.service(service).settings()


def migrations_for(service: str) -> Path:
    return registry.service(service).migrations


async def _each(services: list[str], work: Callable[[Database, str], Awaitable[Any]]) -> None:
    for service in services:
        db = Database(settings_for(service).database_url)
        try:
            await db.migrate(migrations_for(service))
            await work(db, service)
        finally:
            await db.dispose()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="privacyctl", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    sub = parser.add_subparsers(dest="command", required=True)

    def with_service(p: argparse.ArgumentParser) -> argparse.ArgumentParser:
        p.add_argument("--service", choices=[*registry.names(), "all"], default="all")
        return p

    with_service(sub.add_parser("migrate", help="apply database migrations"))
    token = sub.add_parser("token", help="bearer tokens for staff and systems").add_subparsers(
        dest="action", required=True
    )
    create = with_service(token.add_parser("create"))
    create.add_argument("--name", required=True)
    create.add_argument("--scope", action="append", required=True, choices=[s.value for s in auth.Scope])
    with_service(token.add_parser("revoke")).add_argument("name_or_id")
    with_service(token.add_parser("list"))
    site = sub.add_parser("site-key", help="site keys for websites and widgets").add_subparsers(
        dest="action", required=True
    )
    screate = with_service(site.add_parser("create"))
    screate.add_argument("--name", required=True)
    screate.add_argument("--origin", action="append", required=True, help="e.g. https://www.example.nl")
    with_service(site.add_parser("revoke")).add_argument("key")
    one = registry.names()
    back = sub.add_parser("backup", help="a consistent copy of a service's database (SQLite backup API, pg_dump)")
    back.add_argument("name", choices=one, metavar="SERVICE")
    back.add_argument("--to", type=Path, default=Path("var/backups"), help="directory (default var/backups)")
    rest = sub.add_parser("restore", help="replace a stopped service's database with a backup")
    rest.add_argument("name", choices=one, metavar="SERVICE")
    rest.add_argument("file", type=Path)
    ledger = sub.add_parser("ledger", help="the ledger's integrity after a restore").add_subparsers(
        dest="action", required=True
    )
    with_service(ledger.add_parser("status"))
    with_service(ledger.add_parser("vkey", help="each ledger's origin and verifier key, for its witnesses"))
    ack = ledger.add_parser("acknowledge", help="accept a ledger that cannot be rebuilt: record the break, new epoch")
    ack.add_argument("--service", choices=one, required=True)
    ack.add_argument("--by", required=True, help="who acknowledges (recorded in the signed entry)")
    args = parser.parse_args(argv)
    if args.command in ("backup", "restore"):
        services = [args.name]
    elif args.command == "ledger" and args.action == "acknowledge":
        services = [args.service]
    else:
        services = registry.names() if args.service == "all" else [args.service]
    try:
        return asyncio.run(_run(args, services))
    except MissingSecretError as exc:
        print(f"privacyctl: {exc}", file=sys.stderr)
        return 2
    except ValueError as exc:
        print(f"privacyctl: {exc}", file=sys.stderr)
        return 2


async def _run(args: argparse.Namespace, services: list[str]) -> int:
    out: list[str] = []
    if args.command in ("backup", "restore", "ledger"):
        return await keeping.run(args, services)
    if args.command == "migrate":
        await _each(services, lambda db, s: _say(out, f"{s}: migrated"))
    elif args.command == "token" and args.action == "create":
        secret = auth.new_token()

        async def create(db: Database, _s: str) -> None:
            await auth.create_token(db, args.name, args.scope, token=secret)

        await _each(services, create)
        out.append(secret)
    elif args.command == "token" and args.action == "revoke":
        counts: list[int] = []

        async def revoke(db: Database, _s: str) -> None:
            counts.append(await auth.revoke_token(db, args.name_or_id))

        await _each(services, revoke)
        if not sum(counts):
            print(f"privacyctl: no active token named {args.name_or_id}", file=sys.stderr)
            return 1
        out.append(f"revoked {sum(counts)} token(s)")
    elif args.command == "token" and args.action == "list":

        async def listing(db: Database, service: str) -> None:
            async with db.read() as session:
                for t in (await session.execute(select(ApiToken))).scalars():
                    state = "revoked" if t.revoked_at else "active"
                    out.append(f"{service}\t{t.id}\t{t.name}\t{t.scopes}\t{state}")

        await _each(services, listing)
    elif args.command == "site-key" and args.action == "create":
        key = auth.new_site_key()

        async def screate(db: Database, _s: str) -> None:
            await auth.create_site_key(db, args.name, args.origin, key=key)

        await _each(services, screate)
        out.append(key)
    elif args.command == "site-key" and args.action == "revoke":
        revoked: list[int] = []

        async def srevoke(db: Database, _s: str) -> None:
            revoked.append(await auth.revoke_site_key(db, args.key))

        await _each(services, srevoke)
        if not sum(revoked):
            print(f"privacyctl: no active site key {args.key}", file=sys.stderr)
            return 1
        out.append(f"revoked site key in {sum(revoked)} service(s)")
    print("\n".join(out))
    return 0


async def _say(out: list[str], line: str) -> None:
    out.append(line)


if __name__ == "__main__":
    sys.exit(main())
