"""What the processors service's use-cases run with: its settings, the connector definitions, the purposes
file, and one engine per configured connector (one HTTP client, one rate limit and one circuit each)."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field

import httpx

from services.common.runtime import Runtime
from services.processors import connectors, purposes
from services.processors.connectors import AuthKind
from services.processors.engine import Credentials, Engine
from services.processors.hooks import HOOKS
from services.processors.limits import SharedWindow
from services.processors.oauth import Keeper
from services.processors.settings import ProcessorsSettings


@dataclass
class ProcessorsContext:
    rt: Runtime
    settings: ProcessorsSettings
    purposes: purposes.Purposes
    connectors: dict[str, connectors.Connector]
    engines: dict[str, Engine] = field(default_factory=dict)
    _client: httpx.AsyncClient | None = None
    due: asyncio.Event = field(default_factory=asyncio.Event)  # set when tasks were made: the worker looks now

    def wake(self) -> None:
        self.due.set()

    @classmethod
    def of(cls, rt: Runtime) -> ProcessorsContext:
        if rt.extension is None:
            assert isinstance(rt.settings, ProcessorsSettings)
            known = purposes.load(rt.settings.purposes_file)
            defined = connectors.load(known.processors)
            for c in defined.values():
                if c.hook and c.hook not in HOOKS:
                    raise connectors.DefinitionError(f"connector {c.key}: no hook named {c.hook!r} in hooks.py")
            rt.extension = cls(rt, rt.settings, known, defined)
        context: ProcessorsContext = rt.extension
        return context

    def engine(self, key: str) -> Engine | None:
        """The connector's engine, or None while it has no base URL (`not_configured`)."""
        if key not in self.engines:
            base = self.settings.base_url(key)
            if not base:
                return None
            if self._client is None:
                self._client = httpx.AsyncClient(follow_redirects=False)
            c = self.connectors[key]
            keeper = self.keeper(key)
            refresh = keeper.refresh if keeper else None  # rotating refresh tokens, renewed under a lock
            credentials = Credentials(self.settings.credentials(key), refresh=refresh)
            shared = SharedWindow(self.rt.db, key, c.rate.requests, c.rate.per_seconds)  # every worker's turn
            self.engines[key] = Engine(c, base, credentials, client=self._client, bucket=shared)
        return self.engines[key]

    def keeper(self, key: str) -> Keeper | None:
        """An OAuth2 connector's token keeper (oauth.py); None for other connectors or without a base URL."""
        c, base = self.connectors.get(key), self.settings.base_url(key)
        if c is None or c.auth.kind is not AuthKind.OAUTH2 or not base:
            return None
        if self._client is None:
            self._client = httpx.AsyncClient(follow_redirects=False)
        return Keeper(self, key, self.settings.token_url(key) or base.rstrip("/") + c.auth.token_path, self._client)

    async def close(self) -> None:
        if self._client is not None:
            await self._client.aclose()
