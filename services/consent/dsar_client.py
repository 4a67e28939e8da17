"""How the privacy centre talks to dsar: its public centre API, with a short-lived assertion (signed with
the shared CENTRE_KEY) naming the address of the person signed in. Never dsar's tables."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import httpx

from services.common.links import CENTRE_HEADER, centre_assertion


class DsarUnavailable(Exception):
    """dsar did not answer, or not as its API says; the centre shows the rest and says so."""


@dataclass
class DsarClient:
    base_url: str
    key: bytes
    timeout: float = 3.0

    async def _call(self, method: str, email: str, json: dict[str, Any] | None = None) -> Any:
        url = f"{self.base_url.rstrip('/')}/v1/centre/requests"
        headers = {CENTRE_HEADER: centre_assertion(self.key, email), "accept": "application/json"}
        try:
            async with httpx.AsyncClient(timeout=self.timeout) as client:
                r = await client.request(method, url, headers=headers, json=json)
        except httpx.HTTPError as exc:
            raise DsarUnavailable(f"dsar unreachable: {type(exc).__name__}") from exc
        if r.status_code == 422:
            raise ValueError(r.json().get("detail"))
        if r.status_code >= 300:
            raise DsarUnavailable(f"dsar answered {r.status_code}")
        return r.json()

    async def requests(self, email: str) -> list[dict[str, Any]]:
        found: list[dict[str, Any]] = await self._call("GET", email)
        return found

    async def make(self, email: str, *, kind: str, text: str, language: str, corrections: dict[str, str] | None) -> str:
        body = {"kind": kind, "text": text, "language": language, "corrections": corrections or None}
        answer: dict[str, str] = await self._call("POST", email, body)
        return answer["status"]
