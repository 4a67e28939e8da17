"""OAuth2 with rotating refresh tokens (Teamleader Focus): each refresh returns a new refresh token and the
one used stops working. So one refresh at a time across every worker and replica: the grant's row is locked
(SELECT ... FOR UPDATE) while a worker refreshes, the new pair is stored in that transaction, and a worker
that finds the token already renewed by another uses it without refreshing. A refresh the token endpoint
refuses for good (invalid_grant) puts the connector in `needs_authorisation` (shown in the console, an alert
fires); nothing else stops."""

from __future__ import annotations

import logging
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
from sqlmodel import col, select

from services.common.db import insert_ignoring_duplicates
from services.common.models import table_of
from services.processors.engine import TokenUnavailable
from services.processors.models import ConnectorStatus, OAuthGrant, ProcessorTask

log = logging.getLogger(__name__)
SEALED_AS = "processors:oauth:"  # the purpose the tokens are sealed for (with the key-encryption key)
EARLY = timedelta(seconds=30)  # a token this close to its expiry is refreshed first


class Keeper:
    def __init__(self, ctx: Any, key: str, token_url: str, client: httpx.AsyncClient) -> None:
        self.ctx, self.key, self.token_url, self.client = ctx, key, token_url, client

    def _seal(self, value: str) -> bytes:
        return bytes(self.ctx.rt.vault.seal_unattributed(SEALED_AS + self.key, value.encode()))

    def _open(self, blob: bytes | None) -> str | None:
        return self.ctx.rt.vault.open_unattributed(SEALED_AS + self.key, blob).decode() if blob else None

    async def refresh(self, stale: str | None) -> str | None:
        """A working access token: the stored one when it is not `stale` (another worker renewed it) and not
        about to expire, else a new one from the token endpoint. None: a person must authorise again.
        `TokenUnavailable` when the endpoint is down (try later)."""
        now = datetime.now(UTC)
        credentials = self.ctx.settings.credentials(self.key)
        async with self.ctx.rt.db.transaction() as s:
            row = await _locked_grant(s, self.key, now)  # made first: FOR UPDATE locks no row that is not there
            if row.access_token:
                access = self._open(row.access_token)
                expires = (
                    row.expires_at
                    if row.expires_at is None or row.expires_at.tzinfo
                    else row.expires_at.replace(tzinfo=UTC)
                )
                if access != stale and (expires is None or expires - EARLY > now):
                    return access
            refresh = self._open(row.refresh_token) if row.refresh_token else credentials.get("refresh_token")
            if not refresh:
                await self._needs(
                    s, now, f"no refresh token: authorise the connector (PROCESSORS_{self.key.upper()}_REFRESH_TOKEN)"
                )
                return None
            form = {
                "grant_type": "refresh_token",
                "refresh_token": refresh,
                "client_id": credentials.get("client_id", ""),
                "client_secret": credentials.get("client_secret", ""),
            }
            try:
                r = await self.client.post(self.token_url, data=form, timeout=10)
            except httpx.HTTPError as exc:
                raise TokenUnavailable(f"token endpoint unreachable ({exc.__class__.__name__})") from exc
            if r.status_code in (400, 401, 403):
                error = _error(r)
                await self._needs(s, now, f"the token endpoint refused the refresh ({error}): authorise again")
                row.access_token = row.refresh_token = None  # dead: the next authorisation replaces it
                s.add(row)
                return None
            if r.status_code != 200:
                raise TokenUnavailable(f"token endpoint answered {r.status_code}")
            body = r.json()
            row.access_token = self._seal(str(body["access_token"]))
            row.refresh_token = self._seal(str(body.get("refresh_token") or refresh))  # rotated, stored now
            row.expires_at = now + timedelta(seconds=int(body.get("expires_in", 3600)))
            row.version += 1
            row.updated_at = now
            s.add(row)
            log.info("processors: %s access token renewed (grant version %d)", self.key, row.version)
            return str(body["access_token"])

    async def authorise(self, refresh_token: str) -> None:
        """A person authorised the connector again (a new refresh token from the authorization code flow):
        stored sealed, the old access token dropped, and the tasks that waited for it due now."""
        now = datetime.now(UTC)
        async with self.ctx.rt.db.transaction() as s:
            row = await _locked_grant(s, self.key, now)
            row.access_token, row.refresh_token, row.expires_at = None, self._seal(refresh_token), None
            row.version += 1
            row.updated_at = now
            s.add(row)
            status = await locked_status(s, self.key, now)
            status.state, status.last_error, status.updated_at = "connected", None, now
            s.add(status)
            waiting = select(ProcessorTask).where(col(ProcessorTask.processor) == self.key)
            for task in (await s.execute(waiting.where(col(ProcessorTask.state) == "needs_authorisation"))).scalars():
                task.state, task.next_attempt_at = "waiting", now
                s.add(task)

    async def _needs(self, s: Any, now: datetime, why: str) -> None:
        status = await locked_status(s, self.key, now)
        status.state, status.last_failure_at, status.last_error, status.updated_at = (
            "needs_authorisation",
            now,
            why,
            now,
        )
        s.add(status)


async def _locked_grant(s: Any, key: str, now: datetime) -> OAuthGrant:
    """The connector's grant row, made if missing and locked: one refresh at a time, even the first."""
    row = {"key": key, "access_token": None, "refresh_token": None, "expires_at": None, "version": 0, "updated_at": now}
    await s.execute(insert_ignoring_duplicates(s, table_of(OAuthGrant), row))
    query = select(OAuthGrant).where(col(OAuthGrant.key) == key).with_for_update()
    grant: OAuthGrant = (await s.execute(query)).scalar_one()
    return grant


async def locked_status(s: Any, key: str, now: datetime) -> ConnectorStatus:
    """The connector's standing row, made if missing and locked (two tasks settling at once add no second)."""
    row = {"key": key, "state": "connected", "last_success_at": None, "last_failure_at": None}
    await s.execute(
        insert_ignoring_duplicates(s, table_of(ConnectorStatus), row | {"last_error": None, "updated_at": now})
    )
    query = select(ConnectorStatus).where(col(ConnectorStatus.key) == key).with_for_update()
    status: ConnectorStatus = (await s.execute(query)).scalar_one()
    return status


def _error(r: httpx.Response) -> str:
    try:
        return str(r.json().get("error", r.status_code))
    except ValueError:
        return str(r.status_code)
