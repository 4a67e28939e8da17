"""The console's only way to the data: the three services' admin APIs, called with the signed-in
person's own token (so every action is attributed to them in the service's records)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import httpx

SERVICES = ("consent", "dsar", "breach", "processors")


class ServiceDown(Exception):
    """A service did not answer (or answered 5xx): the pages that need it say so, the others work."""

    def __init__(self, service: str, reason: str) -> None:
        super().__init__(f"{service}: {reason}")
        self.service = service
        self.reason = reason


class Refused(Exception):
    """A service refused the call (4xx): its problem's detail, and the fields it names."""

    def __init__(self, service: str, status: int, detail: str, errors: list[dict[str, Any]] | None = None) -> None:
        super().__init__(f"{service} {status}: {detail}")
        self.service = service
        self.status = status
        self.detail = detail
        self.errors = errors or []

    def field_errors(self) -> dict[str, str]:
        """The refused fields by name (the last part of each error's path) -> message."""
        out: dict[str, str] = {}
        for error in self.errors:
            name = str(error.get("field", "")).split(".")[0] or "form"
            out.setdefault(name, str(error.get("message", "")))
        return out


@dataclass
class Calls:
    """One person's calls: their token on every service."""

    http: httpx.AsyncClient
    urls: Mapping[str, str]
    token: str
    timeout: float = 5.0
    headers: dict[str, str] = field(default_factory=dict)

    async def request(self, service: str, method: str, path: str, **kwargs: Any) -> httpx.Response:
        try:
            response = await self.http.request(
                method,
                self.urls[service].rstrip("/") + path,
                headers={"authorization": f"Bearer {self.token}", **self.headers},
                timeout=self.timeout,
                **kwargs,
            )
        except httpx.HTTPError as exc:
            raise ServiceDown(service, f"{exc.__class__.__name__}: {exc}"[:200]) from exc
        if response.status_code >= 500:
            raise ServiceDown(service, f"answered {response.status_code}")
        if response.status_code >= 400:
            try:
                problem = response.json()
            except ValueError:
                problem = {"detail": response.text[:300]}
            raise Refused(service, response.status_code, str(problem.get("detail", "")), problem.get("errors"))
        return response

    async def get(self, service: str, path: str, **params: Any) -> Any:
        return (await self.request(service, "GET", path, params=params or None)).json()

    async def post(self, service: str, path: str, body: Any) -> Any:
        return (await self.request(service, "POST", path, json=body)).json()

    async def put(self, service: str, path: str, body: Any) -> Any:
        return (await self.request(service, "PUT", path, json=body)).json()

    async def patch(self, service: str, path: str, body: Any) -> Any:
        return (await self.request(service, "PATCH", path, json=body)).json()

    async def text(self, service: str, path: str) -> str:
        return (await self.request(service, "GET", path)).text

    async def stream(self, service: str, path: str) -> AsyncIterator[bytes]:
        """The body of a GET as it arrives (the ledger export)."""
        request = self.http.build_request(
            "GET", self.urls[service].rstrip("/") + path, headers={"authorization": f"Bearer {self.token}"}
        )
        try:
            response = await self.http.send(request, stream=True)
        except httpx.HTTPError as exc:
            raise ServiceDown(service, f"{exc.__class__.__name__}: {exc}"[:200]) from exc
        try:
            async for chunk in response.aiter_bytes():
                yield chunk
        finally:
            await response.aclose()


@dataclass
class Outcome:
    """A part of a page: its value, or why it is missing."""

    value: Any = None
    down: str | None = None
    refused: str | None = None

    @property
    def ok(self) -> bool:
        return self.down is None and self.refused is None


async def each(parts: Mapping[str, Callable[[], Awaitable[Any]]]) -> dict[str, Outcome]:
    """Call every part at once; a service that is down or refuses spoils only its own part."""

    async def one(call: Callable[[], Awaitable[Any]]) -> Outcome:
        try:
            return Outcome(await call())
        except ServiceDown as exc:
            return Outcome(down=exc.service)
        except Refused as exc:
            return Outcome(refused=f"{exc.service}: {exc.detail}")

    names = list(parts)
    results = await asyncio.gather(*(one(parts[n]) for n in names))
    return dict(zip(names, results, strict=True))
