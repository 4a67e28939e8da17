"""GDPR 7(1): the company must be able to show which text a person saw when they chose. Each notice (the
banner, its categories, the form labels, in one language) is stored by its SHA-256 the first time it is
served, and a ledger entry records that version and hash, as the register's versions are recorded. A
recorded choice names the hash; GET /v1/notices/{sha256} gives the text back."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

from services.common.db import insert_ignoring_duplicates
from services.common.models import table_of
from services.consent.context import ConsentContext
from services.consent.events import NoticeArchived
from services.consent.models import NoticeText


async def archive_once(ctx: ConsentContext, notice: dict[str, Any]) -> None:
    """Store `notice` by its hash unless this process already did (one read then, none after)."""
    sha = notice["hash"]
    if sha in ctx.archived_notices:
        return
    async with ctx.rt.db.transaction() as s:
        if await s.get(NoticeText, sha) is None:
            row = {
                "sha256": sha,
                "version": notice["version"],
                "lang": notice["lang"],
                "content": json.dumps(notice, sort_keys=True, ensure_ascii=False),
                "first_served_at": datetime.now(UTC),
            }
            result = await s.execute(insert_ignoring_duplicates(s, table_of(NoticeText), row))
            if result.rowcount:  # type: ignore[attr-defined]
                await ctx.rt.recorder.record(
                    s, NoticeArchived(sha256=sha, version=notice["version"], lang=notice["lang"]), publish=False
                )
    ctx.archived_notices.add(sha)


async def served(ctx: ConsentContext, sha: str) -> NoticeText | None:
    async with ctx.rt.db.read() as s:
        return await s.get(NoticeText, sha)
