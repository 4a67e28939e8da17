"""What the consent use-cases work with: the runtime plus the purposes, links and settings."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from services.common.batch import GroupCommit
from services.common.links import LinkSigner
from services.common.runtime import Runtime
from services.consent.domain import DEFAULT_CONFIG, Catalogue, load_catalogue
from services.consent.settings import ConsentSettings


@dataclass
class ConsentContext:
    rt: Runtime
    settings: ConsentSettings
    catalogue: Catalogue
    links: LinkSigner
    captures: GroupCommit[Any] = field(init=False)

    def __post_init__(self) -> None:
        from services.consent import fastpath

        async def flush(tx: Any, items: Any) -> Any:
            return await fastpath.flush(self, tx, items)

        # two batches in flight; one subject's captures never in both (see services/common/batch.py)
        self.captures = GroupCommit(self.rt.db, flush, in_flight=2, key=lambda item: item.subject)
        self.rt.on_stop.append(self.captures.close)

    @classmethod
    def of(cls, rt: Runtime) -> ConsentContext:
        if rt.extension is None:
            settings = rt.settings
            assert isinstance(settings, ConsentSettings)
            rt.extension = cls(
                rt=rt,
                settings=settings,
                catalogue=load_catalogue(Path(settings.purposes_file) if settings.purposes_file else DEFAULT_CONFIG),
                links=LinkSigner(settings.secret_bytes("link_signing_key")),
            )
        context: ConsentContext = rt.extension
        return context

    def url(self, path: str) -> str:
        return self.settings.public_base_url.rstrip("/") + path

    def browser_pseudonym(self, browser_id: str) -> str:
        return self.rt.recorder.pseudonym("browser:" + browser_id)
