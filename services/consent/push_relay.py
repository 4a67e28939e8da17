"""Delivers the webhook rows `pushes.rows` wrote with each consent change, per the Standard Webhooks
specification: `webhook-id` (the same on every retry, so a receiver drops a repeat), `webhook-timestamp` and
`webhook-signature` (HMAC-SHA256 with the endpoint's secret, made by the specification's reference library).

- At least once, in order per person and endpoint: a person's next change waits until the one before it is
  delivered or given up on. Each body is the whole state of the purposes followed, with its time.
- A failure (an answer other than 2xx, a timeout, no connection) is retried with back-off, doubling from
  WEBHOOK_BACKOFF_SECONDS to at most an hour, and pauses that endpoint's other deliveries as long; after
  WEBHOOK_RETRY_HOURS the delivery is dead-lettered (the console shows it; an officer can send it again).
- Only the lease holder delivers (one relay across workers and hosts), and only to addresses that
  `egress.pinned` checked: never this machine or its private network outside dev mode.
- Log lines name the endpoint, never its URL (a URL may hold a token) nor a person."""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import time
import uuid
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta

import httpx
from sqlalchemy import delete, update
from sqlmodel import col, select
from standardwebhooks.webhooks import Webhook

from services.common.crypto import ShreddedError
from services.common.egress import EgressRefused, pinned
from services.common.outbox import take_lease
from services.consent.context import ConsentContext
from services.consent.models import PushDelivery, PushEndpoint
from services.consent.pushes import signing_secrets

log = logging.getLogger(__name__)
BATCH = 200
IN_FLIGHT = 8  # deliveries to one endpoint at a time (each a different person)
USER_AGENT = "privacy-consent-webhooks/1"
ACTIVE_CHECK = 5.0


def backoff(settings_base: float, attempts: int) -> float:
    """Seconds before the next attempt after `attempts` failed ones: doubling, at most an hour."""
    return float(min(settings_base * 2 ** max(attempts - 1, 0), 3600.0))


class PushRelay:
    LEASE = "webhooks"

    def __init__(self, ctx: ConsentContext, *, poll_seconds: float = 1.0, lease_seconds: float = 15.0) -> None:
        self.ctx = ctx
        self.settings = ctx.settings
        self.owner = f"webhooks-{uuid.uuid4().hex[:8]}"
        self.poll_seconds = poll_seconds
        self.lease = timedelta(seconds=lease_seconds)
        self.paused: dict[str, float] = {}  # endpoint -> time.monotonic() until which it is left alone
        self.delivered = 0
        self._prune_at = 0.0
        # not woken by every commit (a capture's group commit would pay a lease round each): only by a unit
        # that wrote deliveries (pushes.Targets.written), and otherwise every poll_seconds
        self._wake = ctx.pushes.written
        self._active_until = 0.0  # while no endpoint is registered, one cheap read every ACTIVE_CHECK seconds

    @property
    def private(self) -> bool:
        return self.settings.webhook_private_targets or self.settings.dev_mode

    async def run(self) -> None:
        async with httpx.AsyncClient(follow_redirects=False, trust_env=False) as client:
            while True:
                try:
                    active = await self._any_endpoint()
                    if active and await take_lease(self.ctx.rt.db, self.LEASE, self.owner, self.lease):
                        if time.monotonic() >= self._prune_at:
                            await self.prune_once()
                            self._prune_at = time.monotonic() + 60.0
                        if await self.deliver_once(client) >= BATCH:
                            continue
                except asyncio.CancelledError:
                    raise
                except Exception:
                    log.exception("webhook relay round failed; retrying")
                    await asyncio.sleep(1.0)
                with contextlib.suppress(TimeoutError):
                    async with asyncio.timeout(self.poll_seconds):
                        await self._wake.wait()
                        self._active_until = 0.0  # deliveries or an endpoint were written: look now
                self._wake.clear()

    async def _any_endpoint(self) -> bool:
        """Whether any endpoint is registered (read at most every ACTIVE_CHECK seconds while none is): a service
        with no webhooks pays nothing for the relay."""
        if time.monotonic() < self._active_until:
            return False
        async with self.ctx.rt.db.read() as s:
            found = (await s.execute(select(PushEndpoint.name).limit(1))).first() is not None
        if not found:
            self._active_until = time.monotonic() + ACTIVE_CHECK
        return found

    async def prune_once(self) -> int:
        """Delivered rows are kept OUTBOX_KEEP_HOURS for diagnosis (as published outbox rows), then deleted."""
        cutoff = datetime.now(UTC) - timedelta(hours=self.settings.outbox_keep_hours)
        async with self.ctx.rt.db.transaction(span=None) as s:
            result = await s.execute(
                delete(PushDelivery).where(
                    col(PushDelivery.delivered_at).is_not(None), col(PushDelivery.delivered_at) < cutoff
                )
            )
        return int(result.rowcount)  # type: ignore[attr-defined]

    async def _due(self) -> tuple[list[PushDelivery], dict[str, PushEndpoint], dict[int, str]]:
        """Per enabled endpoint that is not paused: the first waiting delivery per person, if due (each
        endpoint read on its own, so that one whose receiver is down never holds back another's); the
        endpoints; the addresses of those whose endpoint may receive one (an erased person's no longer opens)."""
        now, clock = datetime.now(UTC), time.monotonic()
        due: list[PushDelivery] = []
        addresses: dict[int, str] = {}
        async with self.ctx.rt.db.transaction(span=None) as s:
            found = (await s.execute(select(PushEndpoint).where(col(PushEndpoint.enabled)))).scalars().all()
            endpoints = {e.name: e for e in found if self.paused.get(e.name, 0.0) <= clock}
            for name in endpoints:
                query = (
                    select(PushDelivery)
                    .where(
                        col(PushDelivery.endpoint) == name,
                        col(PushDelivery.delivered_at).is_(None),
                        col(PushDelivery.dead_at).is_(None),
                    )
                    .order_by(col(PushDelivery.id))
                    .limit(BATCH)
                )
                heads: dict[str, PushDelivery] = {}
                for d in (await s.execute(query)).scalars().all():
                    heads.setdefault(d.subject, d)
                due += [d for d in heads.values() if d.next_attempt_at is None or d.next_attempt_at <= now]
            for d in due:
                if d.sealed_email and d.key_id and endpoints[d.endpoint].include_email:
                    with contextlib.suppress(ShreddedError):
                        opened = await self.ctx.rt.vault.decrypt(s, d.subject, d.key_id, d.sealed_email)
                        addresses[d.id or 0] = str(opened["email"])
        return due, endpoints, addresses

    async def deliver_once(self, client: httpx.AsyncClient) -> int:
        """One round: every due delivery, up to IN_FLIGHT at a time per endpoint. Returns how many were tried."""
        due, endpoints, addresses = await self._due()
        by_endpoint: dict[str, list[PushDelivery]] = {}
        for d in due:
            by_endpoint.setdefault(d.endpoint, []).append(d)
        await asyncio.gather(
            *(self._endpoint(client, endpoints[name], found, addresses) for name, found in by_endpoint.items())
        )
        return len(due)

    async def _endpoint(
        self, client: httpx.AsyncClient, endpoint: PushEndpoint, due: Sequence[PushDelivery], addresses: dict[int, str]
    ) -> None:
        secrets = signing_secrets(self.ctx, endpoint, datetime.now(UTC))
        gate = asyncio.Semaphore(IN_FLIGHT)

        async def one(d: PushDelivery) -> None:
            async with gate:
                if self.paused.get(endpoint.name, 0.0) > time.monotonic():
                    return  # another delivery to it just failed: this one waits its turn
                status, error = await self._attempt(client, endpoint, secrets, d, addresses.get(d.id or 0))
                await self._settle(endpoint.name, d, status, error)

        await asyncio.gather(*(one(d) for d in due))

    async def _attempt(
        self,
        client: httpx.AsyncClient,
        endpoint: PushEndpoint,
        secrets: list[str],
        d: PushDelivery,
        address: str | None,
    ) -> tuple[int | None, str | None]:
        """(HTTP status, None) on a 2xx; (status or None, why) otherwise."""
        body = d.payload
        if address is not None:
            document = json.loads(body)
            document["data"]["email"] = address
            body = json.dumps(document, separators=(",", ":"), sort_keys=True)
        at = datetime.now(UTC)
        signature = " ".join(Webhook(secret).sign(d.message_id, at, body) for secret in secrets)
        try:
            target = await pinned(endpoint.url, private=self.private)
        except EgressRefused as exc:
            return None, f"refused before sending: {exc}"
        headers = {
            "host": target.host,
            "content-type": "application/json",
            "user-agent": USER_AGENT,
            "webhook-id": d.message_id,
            "webhook-timestamp": str(int(at.timestamp())),
            "webhook-signature": signature,
        }
        extensions = {"sni_hostname": target.server_name} if target.url.startswith("https") else {}
        try:
            answer = await client.post(
                target.url,
                content=body.encode(),
                headers=headers,
                timeout=self.settings.webhook_timeout_seconds,
                extensions=extensions,
            )
        except httpx.TimeoutException:
            return None, f"no answer within {self.settings.webhook_timeout_seconds:g} s"
        except httpx.HTTPError as exc:
            return None, f"could not be sent: {type(exc).__name__}"
        if 200 <= answer.status_code < 300:
            return answer.status_code, None
        return answer.status_code, f"answered {answer.status_code}"

    async def _settle(self, endpoint: str, d: PushDelivery, status: int | None, error: str | None) -> None:
        now = datetime.now(UTC)
        attempts = d.attempts + 1
        values: dict[str, object] = {"attempts": attempts, "last_status": status, "last_error": error}
        outcome = "delivered"
        if error is None:
            values["delivered_at"] = now
            self.delivered += 1
        elif now - d.created_at >= timedelta(hours=self.settings.webhook_retry_hours):
            values["dead_at"] = now
            outcome = "dead"
            log.error("webhook delivery %s to %s dead-lettered after %s attempts: %s", d.id, endpoint, attempts, error)
        else:
            wait = backoff(self.settings.webhook_backoff_seconds, attempts)
            values["next_attempt_at"] = now + timedelta(seconds=wait)
            self.paused[endpoint] = time.monotonic() + wait
            outcome = "failed"
            log.warning("webhook delivery %s to %s failed (%s); retried in %.0f s", d.id, endpoint, error, wait)
        async with self.ctx.rt.db.transaction(span=None) as s:
            await s.execute(update(PushDelivery).where(col(PushDelivery.id) == d.id).values(**values))
        self.ctx.metrics.pushed(endpoint, outcome)


async def worker(ctx: ConsentContext) -> None:
    """The relay of this process, when it runs relays (RELAY_ENABLED)."""
    if ctx.settings.relay_enabled:
        await PushRelay(ctx).run()
