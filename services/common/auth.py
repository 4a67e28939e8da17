"""Who may call which route, defined once: every route declares exactly one `Access`.

- `Scoped(...)`: a bearer token holding one of the scopes (admin, dpo, system); tokens are stored
  as SHA-256 and compared in constant time.
- `Public()`: browsers and widgets: a site key, its origin allow-list, a rate limit per IP and key.
- `Open(reason)`: no credential because the route is itself the credential or is meant for anyone
  (health probes, the public ledger, signed links, the webhook with its secret path); rate-limited per IP.
"""

from __future__ import annotations

import functools
import hashlib
import hmac
import json
import secrets
import time
import uuid
from collections import OrderedDict
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any
from urllib.parse import parse_qsl

from fastapi import HTTPException, Request
from sqlalchemy import update
from sqlmodel import col, select

from services.common.db import Database
from services.common.models import ApiToken, SiteKey


class Scope(StrEnum):
    ADMIN = "admin"
    DPO = "dpo"
    SYSTEM = "system"
    LOOKUP = "lookup"  # other systems: "may I mail this person?" (POST /v1/lookup), nothing that opens data


ALL_SCOPES = frozenset(Scope)


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def new_token() -> str:
    return "pt_" + secrets.token_urlsafe(32)


def new_site_key() -> str:
    return "sk_" + secrets.token_urlsafe(18)


@dataclass(frozen=True)
class Principal:
    name: str
    scopes: frozenset[str]


@dataclass(frozen=True)
class Site:
    key: str
    name: str
    origins: frozenset[str]


class RateLimiter:
    """A token bucket per key: `per_minute` requests a minute (or per `window` seconds) with bursts of up
    to that many."""

    def __init__(self, per_minute: int, *, window: float = 60.0) -> None:
        self.capacity = float(max(per_minute, 1))
        self.refill = self.capacity / window
        self.buckets: dict[str, tuple[float, float]] = {}

    def exhausted(self, key: str) -> bool:
        """Whether `take` would refuse now (nothing is taken)."""
        tokens, last = self.buckets.get(key, (self.capacity, time.monotonic()))
        return min(self.capacity, tokens + (time.monotonic() - last) * self.refill) < 1.0

    def take(self, key: str, cost: float = 1.0) -> float:
        """0 when allowed (and `cost` is taken); otherwise the seconds to wait until it would be."""
        now = time.monotonic()
        tokens, last = self.buckets.get(key, (self.capacity, now))
        tokens = min(self.capacity, tokens + (now - last) * self.refill)
        if tokens >= cost:
            self.buckets[key] = (tokens - cost, now)
            if len(self.buckets) > 100_000:  # forget idle clients
                self.buckets = {k: v for k, v in self.buckets.items() if now - v[1] < 120}
            return 0.0
        self.buckets[key] = (tokens, now)
        return (min(cost, self.capacity) - tokens) / self.refill


MAX_KEY_CHARS = 100  # a site key is "sk_" and 24 characters, a token "pt_" and 43: longer is no credential
FAILED_PER_MINUTE = 30  # failed credentials per client address a minute, before 429


class Bounded(OrderedDict[str, tuple[float, Any]]):
    """A cache of at most `size` entries, the least recently used forgotten first."""

    def __init__(self, size: int) -> None:
        super().__init__()
        self.size = size

    def fresh(self, key: str) -> tuple[bool, Any]:
        hit = self.get(key)
        if hit is None or hit[0] <= time.monotonic():
            return False, None
        self.move_to_end(key)
        return True, hit[1]

    def put(self, key: str, until: float, value: Any) -> None:
        self[key] = (until, value)
        self.move_to_end(key)
        while len(self) > self.size:
            self.popitem(last=False)


class Credentials:
    """Token and site-key lookups with a short in-memory cache (revocation is seen within `ttl`). The caches
    are keyed by SHA-256 digests, never by what a caller sent, and hold at most `cache_size` entries each."""

    def __init__(
        self,
        db: Database,
        *,
        bootstrap_token: str | None = None,
        ttl: float = 5.0,
        cache_size: int = 10_000,
        failed_per_minute: int = FAILED_PER_MINUTE,
    ) -> None:
        self.db = db
        self.bootstrap_hash = hash_token(bootstrap_token) if bootstrap_token else None
        self.ttl = ttl
        self._tokens = Bounded(cache_size)
        self._sites = Bounded(cache_size)
        self._origins: tuple[float, frozenset[str]] = (0.0, frozenset())
        self.failures = RateLimiter(failed_per_minute)

    async def principal(self, token: str) -> Principal | None:
        digest = hash_token(token)
        if self.bootstrap_hash is not None and hmac.compare_digest(digest, self.bootstrap_hash):
            return Principal("bootstrap-admin", ALL_SCOPES)
        hit, cached = self._tokens.fresh(digest)
        if hit:
            return cached  # type: ignore[no-any-return]
        async with self.db.read() as session:
            row = (
                await session.execute(select(ApiToken).where(col(ApiToken.token_hash) == digest))
            ).scalar_one_or_none()
        principal = None
        if row is not None and row.revoked_at is None and hmac.compare_digest(row.token_hash, digest):
            principal = Principal(row.name, frozenset(row.scopes.split()))
        self._tokens.put(digest, time.monotonic() + self.ttl, principal)
        return principal

    async def site(self, key: str) -> Site | None:
        digest = hash_token(key)
        hit, cached = self._sites.fresh(digest)
        if hit:
            return cached  # type: ignore[no-any-return]
        async with self.db.read() as session:
            row = await session.get(SiteKey, key)
        site = None
        if row is not None and row.revoked_at is None:
            site = Site(row.key, row.name, frozenset(json.loads(row.origins)))
        self._sites.put(digest, time.monotonic() + self.ttl, site)
        return site

    async def all_origins(self) -> frozenset[str]:
        """Every origin of an active site key: the CORS preflight allow-list."""
        if self._origins[0] > time.monotonic():
            return self._origins[1]
        async with self.db.read() as session:
            rows = (await session.execute(select(col(SiteKey.origins)).where(col(SiteKey.revoked_at).is_(None)))).all()
        origins = frozenset(o for (text,) in rows for o in json.loads(text))
        self._origins = (time.monotonic() + self.ttl, origins)
        return origins


@functools.lru_cache(maxsize=1024)
def query_of(query_string: bytes) -> tuple[dict[str, str], bool]:
    """A query string's values as Starlette's `query_params.get` reads them (the last of a repeated name),
    and whether a name repeats. Parsed once per distinct query: every page view of a site sends the same
    one (its site key and language)."""
    items = parse_qsl(query_string.decode("latin-1"), keep_blank_values=True)
    values = dict(items)
    return values, len(values) < len(items)


def _client_ip(request: Request) -> str:
    return request.client.host if request.client else "unknown"


def _refused(request: Request, detail: str, scheme: str) -> HTTPException:
    """A credential refused (401): counted per client address, and past `FAILED_PER_MINUTE` a minute the
    address gets 429 (guessing keys, or filling caches with made-up ones, costs the caller)."""
    credentials: Credentials = request.app.state.credentials
    wait = credentials.failures.take(f"failed:{_client_ip(request)}")
    if wait:
        return HTTPException(
            429, "too many refused credentials; slow down", headers={"Retry-After": str(int(wait) + 1)}
        )
    return HTTPException(401, detail, headers={"WWW-Authenticate": scheme})


def _before_lookup(request: Request, credential: str, what: str, scheme: str) -> None:
    """Refused unread: a credential longer than any real one, or from an address whose refusals are used up
    this minute (429 without a lookup)."""
    credentials: Credentials = request.app.state.credentials
    if len(credential) > MAX_KEY_CHARS:
        raise _refused(request, f"a {what} is at most {MAX_KEY_CHARS} characters", scheme)
    if credentials.failures.exhausted(f"failed:{_client_ip(request)}"):
        raise _refused(request, f"unknown or revoked {what}", scheme)


def _limit(request: Request, key: str) -> None:
    limiter: RateLimiter = request.app.state.rate_limiter
    wait = limiter.take(key)
    if wait:
        raise HTTPException(429, "too many requests; slow down", headers={"Retry-After": str(int(wait) + 1)})


class Access:
    """Marker base: the route-classification test looks for exactly one of these per route."""

    kind = "unclassified"


class Open(Access):
    kind = "open"

    def __init__(self, reason: str, *, rate_limited: bool = True) -> None:
        self.reason = reason
        self.rate_limited = rate_limited

    async def __call__(self, request: Request) -> None:
        if self.rate_limited:
            _limit(request, f"open:{_client_ip(request)}")


class Public(Access):
    """Site key from the `X-Site-Key` header (or `site_key` query), origin allow-list, rate limit."""

    kind = "public"

    def __init__(self, *, rate_limited: bool = True) -> None:
        self.rate_limited = rate_limited

    @staticmethod
    def _key(request: Request) -> str | None:
        return request.headers.get("x-site-key") or query_of(request.scope["query_string"])[0].get("site_key")

    async def admits(self, request: Request) -> Site | None:
        """The site when this dependency would let the request through, else None, with no side effect: no
        refusal counted, no rate-limit token taken (the fast lane asks, and leaves a refusal to the route,
        which counts it once)."""
        key = self._key(request)
        credentials: Credentials = request.app.state.credentials
        if self.rate_limited or not key or len(key) > MAX_KEY_CHARS:
            return None
        if credentials.failures.exhausted(f"failed:{_client_ip(request)}"):
            return None
        site = await credentials.site(key)
        origin = request.headers.get("origin")
        if site is None or (origin is not None and origin not in site.origins):
            return None
        request.state.site = site
        return site

    async def __call__(self, request: Request) -> Site:
        key = self._key(request)
        if not key:
            raise HTTPException(
                401, "a site key is required (X-Site-Key header)", headers={"WWW-Authenticate": "SiteKey"}
            )
        _before_lookup(request, key, "site key", "SiteKey")
        credentials: Credentials = request.app.state.credentials
        site = await credentials.site(key)
        if site is None:
            raise _refused(request, "unknown or revoked site key", "SiteKey")
        origin = request.headers.get("origin")
        if origin is not None and origin not in site.origins:
            raise HTTPException(403, f"origin {origin} is not allowed for this site key")
        if self.rate_limited:
            _limit(request, f"public:{_client_ip(request)}:{site.key}")
        request.state.site = site
        return site


class Scoped(Access):
    kind = "scoped"

    def __init__(self, *scopes: Scope) -> None:
        if not scopes:
            raise ValueError("a scoped route names at least one scope")
        self.scopes = frozenset(scopes)

    async def __call__(self, request: Request) -> Principal:
        header = request.headers.get("authorization", "")
        scheme, _, token = header.partition(" ")
        if scheme.lower() != "bearer" or not token:
            raise HTTPException(401, "a bearer token is required", headers={"WWW-Authenticate": "Bearer"})
        _before_lookup(request, token.strip(), "token", "Bearer")
        credentials: Credentials = request.app.state.credentials
        principal = await credentials.principal(token.strip())
        if principal is None:
            raise _refused(request, "unknown or revoked token", "Bearer")
        if not principal.scopes & self.scopes:
            needed = " or ".join(sorted(self.scopes))
            raise HTTPException(403, f"this route needs the scope {needed}")
        request.state.principal = principal
        return principal


class ScrapeAccess(Scoped):
    """`GET /metrics`: a `system` (or `admin`) token, or nothing at all where the setting `METRICS_OPEN`
    says the port is reachable from the scrape network alone."""

    def __init__(self) -> None:
        super().__init__(Scope.SYSTEM, Scope.ADMIN)

    async def __call__(self, request: Request) -> Principal:
        if request.app.state.runtime.settings.metrics_open:
            return Principal("scrape network", frozenset())
        return await super().__call__(request)


# --- management (the CLI and dev bootstrap) ----------------------------------------------------------


async def create_token(db: Database, name: str, scopes: Iterable[str], token: str | None = None) -> str:
    scopes = sorted(set(scopes))
    unknown = set(scopes) - set(ALL_SCOPES)
    if unknown or not scopes:
        raise ValueError(f"scopes must be among {', '.join(sorted(ALL_SCOPES))}; got {', '.join(scopes) or 'none'}")
    token = token or new_token()
    async with db.transaction() as session:
        session.add(ApiToken(id=str(uuid.uuid4()), name=name, token_hash=hash_token(token), scopes=" ".join(scopes)))
    return token


async def revoke_token(db: Database, name_or_id: str) -> int:
    async with db.transaction() as session:
        result: Any = await session.execute(
            update(ApiToken)
            .where((col(ApiToken.name) == name_or_id) | (col(ApiToken.id) == name_or_id))
            .where(col(ApiToken.revoked_at).is_(None))
            .values(revoked_at=datetime.now(UTC))
        )
        return int(result.rowcount)


async def create_site_key(db: Database, name: str, origins: Iterable[str], key: str | None = None) -> str:
    origins = sorted(set(origins))
    for origin in origins:
        if not origin.startswith(("http://", "https://")) or origin.endswith("/"):
            raise ValueError(f"origin {origin!r} must look like https://example.nl (scheme, host, no path)")
    key = key or new_site_key()
    async with db.transaction() as session:
        existing = await session.get(SiteKey, key)
        if existing is None:
            session.add(SiteKey(key=key, name=name, origins=json.dumps(origins)))
    return key


async def revoke_site_key(db: Database, key: str) -> int:
    async with db.transaction() as session:
        result: Any = await session.execute(
            update(SiteKey)
            .where(col(SiteKey.key) == key)
            .where(col(SiteKey.revoked_at).is_(None))
            .values(revoked_at=datetime.now(UTC))
        )
        return int(result.rowcount)
