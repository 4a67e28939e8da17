"""Consent changes pushed to systems that are not on Kafka (Standard Webhooks, issue 35).

A privacy officer registers an endpoint per system (`register`): its URL, the purposes it follows, and
whether it may receive the address. Each change of a followed purpose is written as a delivery row in the
same transaction as the change (`rows`, called where consent.state.v1 is published), so a change is never
pushed that was not committed, nor committed without being pushed. `push_relay.py` delivers them."""

from __future__ import annotations

import asyncio
import base64
import json
import secrets
import time
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from sqlalchemy import func, insert, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col, select

from services.common.db import Tx
from services.common.egress import url_problem
from services.common.errors import FieldError, ServiceError
from services.common.models import table_of
from services.consent.events import WebhookRegistered
from services.consent.models import PushDelivery, PushEndpoint
from services.consent.schemas import WebhookIn, WebhookOut

if TYPE_CHECKING:
    from services.consent.context import ConsentContext

DELIVERIES = table_of(PushDelivery)
ENDPOINTS = table_of(PushEndpoint)
SECRET_PURPOSE = "webhook-secret"  # noqa: S105 - the name of a derived key, not a secret
FRESH_SECONDS = 5.0  # another worker's registration reaches this one's captures within this long
ROTATION_OVERLAP = timedelta(days=1)


@dataclass(frozen=True)
class Target:
    name: str
    purposes: frozenset[str]
    include_email: bool

    def follows(self, keys: set[str]) -> bool:
        return any(k.partition(":")[0] in self.purposes for k in keys)


class Targets:
    """The enabled endpoints, read at most every FRESH_SECONDS per process (none registered: no cost)."""

    def __init__(self) -> None:
        self.known: tuple[Target, ...] = ()
        self._read_at = float("-inf")
        self.written = asyncio.Event()  # set after a commit that wrote deliveries: wakes the relay

    def forget(self) -> None:
        self._read_at = float("-inf")
        self.written.set()  # a new or changed endpoint: the relay looks at once

    async def fresh(self, tx: Tx) -> tuple[Target, ...]:
        if time.monotonic() - self._read_at >= FRESH_SECONDS:
            rows = await tx.rows_in(ENDPOINTS, ("name", "purposes", "include_email"), "enabled", {True})
            self.known = tuple(
                Target(name, frozenset(json.loads(purposes)), bool(email)) for name, purposes, email in sorted(rows)
            )
            self._read_at = time.monotonic()
        return self.known


def rows(
    targets: tuple[Target, ...],
    subject: str,
    states: dict[str, str] | None,
    before: dict[str, str] | None,
    at: datetime,
    sealed: tuple[str, str] | None = None,
) -> list[dict[str, Any]]:
    """The delivery rows of one subject's change: to each endpoint following a purpose that changed
    (`before` None: every purpose counts as changed). `states` None: the person was erased (every endpoint
    is told, so that none keeps a state for them). `sealed`: (key id, the address sealed for the subject)."""
    if not targets:
        return []
    if states is not None:
        changed = {k for k in states.keys() | (before or {}).keys() if (before or {}).get(k) != states.get(k)}
    out = []
    for target in targets:
        if states is not None and not target.follows(changed if before is not None else set(states)):
            continue
        followed = {k: v for k, v in (states or {}).items() if k.partition(":")[0] in target.purposes}
        body = {
            "type": "consent.state.erased" if states is None else "consent.state.changed",
            "timestamp": at.astimezone(UTC).isoformat().replace("+00:00", "Z"),
            "data": {"pseudonym": subject, "purposes": followed, "erased": states is None},
        }
        email = sealed if (target.include_email and sealed) else None
        out.append(
            {
                "endpoint": target.name,
                "subject": subject,
                "message_id": "msg_" + uuid.uuid4().hex,
                "payload": json.dumps(body, separators=(",", ":"), sort_keys=True),
                "key_id": email[0] if email else None,
                "sealed_email": email[1] if email else None,
                "attempts": 0,
                "created_at": at,
            }
        )
    return out


async def enqueue_erased(ctx: ConsentContext, s: AsyncSession, subjects: list[str]) -> None:
    """Erasures, in the caller's transaction: every endpoint is told each pseudonym is gone."""
    targets, now = await ctx.pushes.fresh(Tx.of(s)), datetime.now(UTC)
    found = [row for subject in subjects for row in rows(targets, subject, None, None, now)] if targets else []
    if found:
        Tx.of(s).after_commit(ctx.pushes.written.set)
        await s.execute(insert(DELIVERIES), found)


# --- the privacy officer's side ---------------------------------------------------------------------------


def _out(row: PushEndpoint, secret: str | None = None) -> WebhookOut:
    return WebhookOut(
        name=row.name,
        url=row.url,
        purposes=json.loads(row.purposes),
        include_email=row.include_email,
        enabled=row.enabled,
        secret=secret,
        updated_at=row.updated_at,
    )


def new_secret() -> str:
    return "whsec_" + base64.b64encode(secrets.token_bytes(32)).decode()


async def register(ctx: ConsentContext, name: str, body: WebhookIn, by: str) -> WebhookOut:
    """Create or change an endpoint (recorded in the ledger). A new endpoint, or `rotate_secret`, answers the
    signing secret once; a rotated-out secret keeps signing beside the new one for a day."""
    private = ctx.settings.webhook_private_targets or ctx.settings.dev_mode
    problem = url_problem(body.url, private=private)
    if problem:
        raise FieldError(("url",), problem)
    unknown = sorted(set(body.purposes) - set(ctx.catalogue.purposes))
    if unknown:
        raise FieldError(("purposes",), f"unknown purposes: {', '.join(unknown)}")
    now = datetime.now(UTC)
    vault = ctx.rt.vault
    secret = None
    async with ctx.rt.db.transaction() as s:
        row = await s.get(PushEndpoint, name)
        if row is None:
            secret = new_secret()
            row = PushEndpoint(
                name=name,
                url="",
                purposes="[]",
                secret=vault.seal_unattributed(SECRET_PURPOSE, secret.encode()),
                updated_by=by,
            )
            s.add(row)
        elif body.rotate_secret:
            secret = new_secret()
            row.previous_secret, row.previous_until = row.secret, now + ROTATION_OVERLAP
            row.secret = vault.seal_unattributed(SECRET_PURPOSE, secret.encode())
        row.url, row.purposes = body.url, json.dumps(sorted(set(body.purposes)))
        row.include_email, row.enabled, row.updated_by, row.updated_at = body.include_email, body.enabled, by, now
        await ctx.rt.recorder.record(
            s,
            WebhookRegistered(
                name=name,
                host=urlsplit(body.url).hostname or "",
                purposes=sorted(set(body.purposes)),
                include_email=body.include_email,
                enabled=body.enabled,
                secret_rotated=secret is not None,
                by=by,
            ),
            publish=False,
        )
        out = _out(row, secret)
    ctx.pushes.forget()
    return out


def signing_secrets(ctx: ConsentContext, row: PushEndpoint, now: datetime) -> list[str]:
    """The secrets a delivery is signed with now: the current one, and a rotated-out one for its day."""
    vault = ctx.rt.vault
    found = [vault.open_unattributed(SECRET_PURPOSE, row.secret).decode()]
    if row.previous_secret is not None and row.previous_until is not None and row.previous_until > now:
        found.append(vault.open_unattributed(SECRET_PURPOSE, row.previous_secret).decode())
    return found


async def endpoints(ctx: ConsentContext) -> list[dict[str, Any]]:
    """Every endpoint with its deliveries waiting, delivered and dead-lettered (no secret)."""
    async with ctx.rt.db.transaction() as s:
        found = (await s.execute(select(PushEndpoint).order_by(col(PushEndpoint.name)))).scalars().all()
        waiting = col(PushDelivery.delivered_at).is_(None) & col(PushDelivery.dead_at).is_(None)
        counts: dict[tuple[str, str], int] = {}
        for label, where in (
            ("waiting", waiting),
            ("delivered", col(PushDelivery.delivered_at).is_not(None)),
            ("dead", col(PushDelivery.dead_at).is_not(None)),
        ):
            query = select(PushDelivery.endpoint, func.count()).where(where).group_by(col(PushDelivery.endpoint))
            for endpoint, count in (await s.execute(query)).all():
                counts[(endpoint, label)] = int(count)
    return [
        {
            **_out(row).model_dump(mode="json"),
            "deliveries": {k: counts.get((row.name, k), 0) for k in ("waiting", "delivered", "dead")},
        }
        for row in found
    ]


async def dead(ctx: ConsentContext, limit: int = 100) -> list[dict[str, Any]]:
    """Deliveries given up on, newest first: what, to whom, why (the person only as their pseudonym)."""
    async with ctx.rt.db.transaction() as s:
        query = (
            select(PushDelivery)
            .where(col(PushDelivery.dead_at).is_not(None))
            .order_by(col(PushDelivery.id).desc())
            .limit(limit)
        )
        found = (await s.execute(query)).scalars().all()
    return [
        {
            "id": d.id,
            "endpoint": d.endpoint,
            "message_id": d.message_id,
            "type": json.loads(d.payload)["type"],
            "attempts": d.attempts,
            "last_status": d.last_status,
            "last_error": d.last_error,
            "created_at": d.created_at,
            "dead_at": d.dead_at,
        }
        for d in found
    ]


async def retry(ctx: ConsentContext, delivery_id: int) -> None:
    """Send a dead-lettered delivery again (with the same webhook-id: a receiver that had it ignores it)."""
    async with ctx.rt.db.transaction() as s:
        result = await s.execute(
            update(PushDelivery)
            .where(col(PushDelivery.id) == delivery_id, col(PushDelivery.dead_at).is_not(None))
            .values(dead_at=None, next_attempt_at=None, created_at=datetime.now(UTC))
        )
        if not result.rowcount:  # type: ignore[attr-defined]
            raise ServiceError(404, f"no dead-lettered webhook delivery {delivery_id}")
