"""GDPR 7(1): the company must be able to show which text a person saw when they chose. Each notice (the
banner, its categories, the form labels, in one language) is stored by its SHA-256 the first time it is
served, and a ledger entry records that version and hash, as the register's versions are recorded. A
recorded choice names the hash; GET /v1/notices/{sha256} gives the text back."""

from __future__ import annotations

import hashlib
import json
from datetime import UTC, datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col, select

from services.common.crypto import canonical_json
from services.common.db import insert_ignoring_duplicates
from services.common.models import table_of
from services.consent.context import ConsentContext
from services.consent.events import NoticeArchived
from services.consent.models import NoticeText
from services.consent.notice import LANGUAGES


async def archive_once(ctx: ConsentContext, notice: dict[str, Any]) -> None:
    """Store `notice` by its hash unless this process already did (one read then, none after)."""
    sha = notice["hash"]
    if sha in ctx.archived_notices or not ctx.rt.integrity.writable:
        return  # (while the ledger is not known whole nothing is written; a capture naming it waits as well)
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


class NoticeNotServed(LookupError):
    """A public capture named a notice hash this service never served nor has on file."""


async def require_served(ctx: ConsentContext, sha: str) -> None:
    """GDPR 7(1): a choice through a public route names the text the person was shown, so that text must be
    on file: a notice served now (stored as it is named), or one stored before. Otherwise `NoticeNotServed`."""
    sha = sha.removeprefix("sha256:")
    if sha in ctx.archived_notices:
        return
    for lang in LANGUAGES:
        notice = ctx.notice(lang)
        if notice is not None and notice["hash"] == sha:
            await archive_once(ctx, notice)
            return
    if await served(ctx, sha) is None:
        raise NoticeNotServed(sha)
    ctx.archived_notices.add(sha)


def text_hash(document: dict[str, Any]) -> str:
    """A notice's SHA-256: of its canonical JSON without `hash` (as the banner's is made)."""
    return hashlib.sha256(canonical_json({k: v for k, v in document.items() if k != "hash"})).hexdigest()


async def archive_text(ctx: ConsentContext, *, version: str, lang: str, content: dict[str, Any]) -> str:
    """Put a text the company shows outside the banner on file (a form's own words, a phone script, the
    centre's words for a purpose); returns its SHA-256, which choices made on it name."""
    document = {**content, "version": version, "lang": lang}
    sha = text_hash(document)
    await archive_once(ctx, {**document, "hash": sha})
    return sha


async def on_file(s: AsyncSession, hashes: set[str]) -> set[str]:
    """Which of these notice hashes are on file (one query)."""
    wanted = {h.removeprefix("sha256:") for h in hashes if h}
    if not wanted:
        return set()
    found = await s.execute(select(col(NoticeText.sha256)).where(col(NoticeText.sha256).in_(wanted)))
    return set(found.scalars())
