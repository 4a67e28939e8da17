"""The KvK API client (API Basisprofiel v1: `GET {base}/v1/basisprofielen/{kvkNummer}` with the key in
the `apikey` header), with a short timeout and a circuit that opens after repeated failures, so that a
register that is down or slow never holds up a capture."""

from __future__ import annotations

import time
from dataclasses import dataclass, field

import httpx

from services.consent.kvk_rules import Given, Outcome, Result, compare


@dataclass
class Circuit:
    """Open after `failures` failures in a row; while open, nothing is sent for `cooldown` seconds; then
    one trial decides (half open)."""

    failures: int = 3
    cooldown: float = 60.0
    _count: int = 0
    _opened_at: float | None = None

    def allows(self) -> bool:
        return self._opened_at is None or time.monotonic() - self._opened_at >= self.cooldown

    def succeeded(self) -> None:
        self._count, self._opened_at = 0, None

    def failed(self) -> None:
        self._count += 1
        if self._count >= self.failures:
            self._opened_at = time.monotonic()

    @property
    def open(self) -> bool:
        return not self.allows()


@dataclass
class KvkClient:
    base_url: str
    api_key: str
    timeout: float = 2.0
    circuit: Circuit = field(default_factory=Circuit)

    async def check(self, given: Given) -> Result:
        if not self.base_url:
            return Result(Outcome.NOT_CONFIGURED, reason="no KvK API configured (CONSENT_KVK_BASE_URL)")
        if not self.circuit.allows():
            return Result(Outcome.UNAVAILABLE, reason="circuit open after repeated failures")
        url = f"{self.base_url.rstrip('/')}/v1/basisprofielen/{given.kvk_number}"
        try:
            async with httpx.AsyncClient(timeout=self.timeout) as client:
                r = await client.get(url, headers={"apikey": self.api_key, "accept": "application/json"})
        except httpx.TimeoutException:
            self.circuit.failed()
            return Result(Outcome.UNAVAILABLE, reason=f"no answer within {self.timeout:g} s")
        except httpx.HTTPError as exc:
            self.circuit.failed()
            return Result(Outcome.UNAVAILABLE, reason=f"unreachable: {exc.__class__.__name__}")
        reference = {k: r.headers[k] for k in ("api-version", "x-request-id", "x-correlation-id") if k in r.headers}
        if r.status_code == 404:
            self.circuit.succeeded()
            return Result(Outcome.NOT_FOUND, reference=reference)
        if r.status_code != 200:
            self.circuit.failed()
            why = {401: "the register refused our API key", 403: "the register refused our API key"}
            reason = why.get(r.status_code, "the register answered an error")
            return Result(Outcome.UNAVAILABLE, reason=f"{reason} ({r.status_code})", reference=reference)
        try:
            profile = r.json()
        except ValueError:
            self.circuit.failed()
            return Result(Outcome.UNAVAILABLE, reason="the register's answer was not JSON", reference=reference)
        self.circuit.succeeded()
        result = compare(given, profile if isinstance(profile, dict) else {})
        return Result(result.outcome, result.mismatches, reference=reference)
