"""The engine: runs a connector's definition for one person. Auth, the processor's rate limit, retries
with back-off that honour `Retry-After` (429 and 5xx), paging, a timeout per call and a circuit breaker
are here, once, for every connector. What it sends and gets is kept as (method, path template, status):
never a filled URL (some processors put credentials in the path) and never a value."""

from __future__ import annotations

import asyncio
import base64
import email.utils
import logging
import random
import time
from collections import deque
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field, replace
from enum import StrEnum
from typing import Any
from urllib.parse import quote

import httpx

from services.processors.connectors import AuthKind, Call, Connector

log = logging.getLogger(__name__)
logging.getLogger("httpx").setLevel(logging.WARNING)  # its INFO line names the full URL: credentials too
RETRYABLE = frozenset({429, 500, 502, 503, 504})


class Status(StrEnum):
    DONE = "done"
    NOTHING_HELD = "nothing_held"
    RETRY = "retry"  # try again at `retry_at` (down, rate-limited for long, circuit open)
    NEEDS_AUTHORISATION = "needs_authorisation"  # a person must authorise the connector again
    FAILED = "failed"  # the processor refused what we sent (a 4xx that no retry changes)


@dataclass
class Result:
    status: Status
    data: list[dict[str, Any]] = field(default_factory=list)  # access: what each record holds, by label
    calls: list[tuple[str, str, int]] = field(default_factory=list)  # (method, path template, status)
    retry_at: float | None = None  # time.time() after which to try again
    why: str = ""
    saved: dict[str, Any] = field(default_factory=dict)  # what the calls saved from the answers (`save`)


class TokenUnavailable(Exception):
    """The OAuth2 token endpoint is down or busy: try later (not a reason to authorise again)."""


class Credentials:
    """What a connector authenticates with, from settings; never logged (repr hides it). `refresh` (OAuth2)
    gives a working access token given the one that failed (None: a person must authorise again)."""

    def __init__(
        self, values: dict[str, str], refresh: Callable[[str | None], Awaitable[str | None]] | None = None
    ) -> None:
        self._values = dict(values)
        self._refresh = refresh

    def __repr__(self) -> str:
        return f"Credentials({sorted(self._values)})"

    def get(self, name: str) -> str:
        return self._values.get(name, "")

    async def refreshed(self) -> bool:
        """OAuth2: a working access token (renewed under a lock, see oauth.py). False: authorise again."""
        if self._refresh is None:
            return False
        token = await self._refresh(self._values.get("access_token") or None)
        if not token:
            return False
        self._values["access_token"] = token
        return True

    async def prepare(self) -> bool:
        """OAuth2: an access token before the first call."""
        if self._refresh is None or self._values.get("access_token"):
            return True
        return await self.refreshed()


class Window:
    """The processor's documented limit, as processors count it: at most `requests` in any `per_seconds`
    (a sliding window). `acquire` waits until a request may leave: `margin` seconds after the one
    `requests` back left a window ago, so that jitter on the way never lands a request over the limit at
    the processor. (One process's; the service uses limits.SharedWindow, which every worker shares.)"""

    def __init__(self, requests: int, per_seconds: float, margin: float | None = None) -> None:
        self.requests, self.per_seconds = requests, per_seconds
        # room for the way there: a request delayed on the network (or a busy machine) must not land in the
        # processor's window beside the next; 5 % of the window, at least 100 ms
        self.margin = margin if margin is not None else max(0.1, 0.05 * per_seconds)
        self._sent: deque[float] = deque()
        self._lock = asyncio.Lock()

    async def acquire(self) -> None:
        async with self._lock:
            while len(self._sent) >= self.requests:
                wait = self._sent[0] + self.per_seconds + self.margin - time.monotonic()
                if wait <= 0:
                    self._sent.popleft()
                    continue
                await asyncio.sleep(wait)
            self._sent.append(time.monotonic())


@dataclass
class Circuit:
    """Open after `failures` failures in a row (5xx, timeouts, unreachable); while open nothing is sent for
    `cooldown` seconds, then one call decides."""

    failures: int = 5
    cooldown: float = 30.0
    count: int = 0
    opened_at: float | None = None

    def allows(self) -> bool:
        return self.opened_at is None or time.time() - self.opened_at >= self.cooldown

    def reopens_at(self) -> float:
        return (self.opened_at or time.time()) + self.cooldown

    def succeeded(self) -> None:
        self.count, self.opened_at = 0, None

    def failed(self) -> None:
        self.count += 1
        if self.count >= self.failures:
            self.opened_at = time.time()


class Retry(Exception):
    def __init__(self, at: float, why: str) -> None:
        super().__init__(why)
        self.at, self.why = at, why


class Unauthorised(Exception):
    pass


class Refused(Exception):
    def __init__(self, status: int, why: str) -> None:
        super().__init__(why)
        self.status = status


def retry_after(value: str | None, now: float) -> float | None:
    """Seconds from `Retry-After` (delta-seconds or an HTTP date); None when absent or unreadable."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, when.timestamp() - now)


def fill(template: Any, values: dict[str, Any], *, in_path: bool = False) -> Any:
    """A template with {name} and {a.b} places: a string that is one place whole takes the value as it is
    (a number stays a number; None drops the key from its object); places inside text are replaced by the
    value's text (URL-encoded in a path)."""
    if isinstance(template, dict):
        filled = {k: fill(v, values) for k, v in template.items()}
        return {k: v for k, v in filled.items() if v is not None}
    if isinstance(template, list):
        return [fill(v, values) for v in template]
    if not isinstance(template, str):
        return template
    if template.startswith("{") and template.endswith("}") and template.count("{") == 1:
        return lookup(values, template[1:-1])
    out: list[str] = []
    rest = template
    while "{" in rest:
        before, _, after = rest.partition("{")
        name, _, rest = after.partition("}")
        value = lookup(values, name)
        text = "" if value is None else str(value)
        out += [before, quote(text, safe="") if in_path else text]
    return "".join(out) + rest


def lookup(values: Any, dotted: str) -> Any:
    for part in dotted.split("."):
        if isinstance(values, dict):
            values = values.get(part)
        elif isinstance(values, list) and part.isdigit() and int(part) < len(values):
            values = values[int(part)]
        else:
            return None
    return values


def _kept(row: dict[str, Any], keep: tuple[str, ...]) -> dict[str, Any]:
    """The fields access shows; a dotted one ("content.raw") is kept under its first part."""
    kept = {}
    for name in keep:
        head = name.partition(".")[0]
        if head in row:
            kept[head] = lookup(row, name)
    return kept


def _matches(item: dict[str, Any], match: dict[str, str], values: dict[str, Any]) -> bool:
    """An item whose every `match` field equals the filled template, case aside (a search that also finds
    near matches, such as WordPress's `*email*`, finds only the person)."""
    for name, template in match.items():
        want, got = fill(template, values), lookup(item, name)
        if want is None or got is None or str(got).strip().casefold() != str(want).strip().casefold():
            return False
    return True


class Engine:
    """One connector's calls, against `base_url` (from settings: the real API or a local fake)."""

    def __init__(
        self,
        connector: Connector,
        base_url: str,
        credentials: Credentials,
        *,
        client: httpx.AsyncClient,
        bucket: Any = None,
        circuit: Circuit | None = None,
        attempts: int = 4,
        longest_wait: float = 30.0,
    ) -> None:
        self.connector, self.base_url, self.credentials = connector, base_url.rstrip("/"), credentials
        self.client = client
        self.bucket = bucket or Window(connector.rate.requests, connector.rate.per_seconds)
        self.circuit = circuit or Circuit()
        self.attempts, self.longest_wait = attempts, longest_wait

    async def run(self, action: str, person: dict[str, Any]) -> Result:
        """Do `action` for the person (`person`: email, and for a rectification `new`); see `Status`."""
        result = Result(Status.DONE)
        todo = self.connector.actions.get(action)
        if todo is None:
            return Result(Status.FAILED, why=f"{self.connector.name} has no {action} in its definition")
        try:
            if self.connector.auth.kind is AuthKind.OAUTH2 and not await self.credentials.prepare():
                raise Unauthorised()
            records = await self._find(person, result) if todo.find else [("", {})]
            if records is None:
                result.status = Status.NOTHING_HELD
                return result
            for found_as, record in records:
                values = {**person, "id": lookup(record, self.connector.id_field), "record": record}
                for call in todo.calls:
                    if not call.only or call.only == found_as:
                        await self._do(call, values, result)
        except Retry as exc:
            result.status, result.retry_at, result.why = Status.RETRY, exc.at, exc.why
        except Unauthorised:
            result.status, result.why = Status.NEEDS_AUTHORISATION, "the processor refused our credentials"
        except TokenUnavailable as exc:
            result.status, result.retry_at, result.why = Status.RETRY, time.time() + 60, str(exc)
        except Refused as exc:
            result.status, result.why = Status.FAILED, str(exc)
        return result

    async def _find(self, person: dict[str, Any], result: Result) -> list[tuple[str, dict[str, Any]]] | None:
        """Every record of the person, with what found it (a find call's `as`); None: nothing held."""
        if not self.connector.find:
            return [("", {})]
        found = [(call.found_as, r) for call in self.connector.find for r in await self._collect(call, person, result)]
        return found or None

    async def _do(self, call: Call, values: dict[str, Any], result: Result) -> None:
        if call.for_each is not None:
            for item in lookup(values, call.for_each) or []:
                await self._do(replace(call, for_each=None), {**values, "item": item}, result)
            return
        if call.each is not None:
            for item in await self._collect(call, values, result):
                await self._do(call.each, {**values, "item": item}, result)
            return
        if call.keep:
            rows = await self._collect(call, values, result)
            every = call.keep == ("*",)  # a form entry: its fields are the form's own
            kept = [dict(row) if every else _kept(row, call.keep) for row in rows]
            if call.rename:
                kept = [{call.rename.get(k, k): v for k, v in row.items()} for row in kept]
            result.data.append({"label": call.label or call.path, "records": kept})
            return
        answer = await self._send(call, values, result)
        for name, where in call.save.items():
            values[name] = result.saved[name] = lookup(answer, where)

    async def _collect(self, call: Call, values: dict[str, Any], result: Result) -> list[dict[str, Any]]:
        """The items at `take` of a GET, every page of it."""
        items: list[dict[str, Any]] = []
        offset = 0
        while True:
            paging = {call.page.limit: call.page.size, call.page.offset: offset} if call.page else {}
            answer = await self._send(call, values, result, paging)
            taken = lookup(answer, call.take) if call.take else answer
            page = [taken] if isinstance(taken, dict) else [x for x in (taken or []) if isinstance(x, dict)]
            items += [x for x in page if _matches(x, call.match, values)]
            if call.page is None or len(page) < call.page.size:
                return items
            offset += call.page.size

    async def _send(
        self, call: Call, values: dict[str, Any], result: Result, paging: dict[str, Any] | None = None
    ) -> Any:
        url = self.base_url + fill(call.path, {**values, "secret": self._secret()}, in_path=True)
        query = {k: fill(v, values) for k, v in call.query.items()} | (paging or {})
        body = fill(call.body, values) if call.body is not None else None
        refreshed = False
        for attempt in range(self.attempts):
            if not self.circuit.allows():
                raise Retry(self.circuit.reopens_at(), f"{self.connector.name}: circuit open after repeated failures")
            await self.bucket.acquire()
            try:
                r = await self.client.request(
                    call.method,
                    url,
                    params={k: v for k, v in query.items() if v is not None},
                    json=body,
                    headers=self._headers(),
                    timeout=self.connector.timeout_seconds,
                )
            except httpx.TimeoutException:
                result.calls.append((call.method, call.path, 0))
                self.circuit.failed()
                await self._back_off(attempt, None, f"no answer within {self.connector.timeout_seconds:g} s")
                continue
            except httpx.HTTPError as exc:
                result.calls.append((call.method, call.path, 0))
                self.circuit.failed()
                await self._back_off(attempt, None, f"unreachable ({exc.__class__.__name__})")
                continue
            result.calls.append((call.method, call.path, r.status_code))
            if r.status_code in RETRYABLE:
                if r.status_code >= 500:
                    self.circuit.failed()
                await self._back_off(
                    attempt, retry_after(r.headers.get("retry-after"), time.time()), f"{r.status_code}"
                )
                continue
            self.circuit.succeeded()
            if r.status_code in (401, 403):
                if self.connector.auth.kind is AuthKind.OAUTH2 and not refreshed and await self.credentials.refreshed():
                    refreshed = True
                    continue
                raise Unauthorised()
            if r.status_code in call.gone:
                return None
            if r.status_code == 404 and call.method == "GET":
                return None
            if r.status_code >= 400:
                raise Refused(r.status_code, f"{call.method} {call.path}: {r.status_code}")
            return r.json() if r.content else None
        raise Retry(
            time.time() + self.longest_wait, f"{self.connector.name}: still failing after {self.attempts} tries"
        )

    async def _back_off(self, attempt: int, told: float | None, why: str) -> None:
        """Wait as the processor asked (`Retry-After`), or exponentially with jitter; a wait longer than
        `longest_wait` is not spent here: the task is tried again later."""
        wait = told if told is not None else min(8.0, 0.5 * 2**attempt) * (0.5 + random.random() / 2)
        if wait > self.longest_wait or attempt == self.attempts - 1:
            raise Retry(time.time() + max(wait, 1.0), f"{self.connector.name}: {why}")
        await asyncio.sleep(wait)

    def _headers(self) -> dict[str, str]:
        auth = self.connector.auth
        headers = {"accept": "application/json"}
        if auth.kind is AuthKind.HEADER:
            headers[auth.header] = self.credentials.get("api_token")
        elif auth.kind is AuthKind.BASIC:
            raw = f"{self.credentials.get('username')}:{self.credentials.get('password')}".encode()
            headers["authorization"] = "Basic " + base64.b64encode(raw).decode()
        elif auth.kind in (AuthKind.BEARER, AuthKind.OAUTH2):
            headers["authorization"] = "Bearer " + (
                self.credentials.get("access_token") or self.credentials.get("api_token")
            )
        return headers

    def _secret(self) -> dict[str, str]:
        """Credentials a processor wants in the path (Digitale Factuur): filled into the URL only."""
        return {"username": self.credentials.get("username"), "password": self.credentials.get("password")}
