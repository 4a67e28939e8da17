"""Consent captured and withdrawn per purpose per day (GET /admin/stats/consents): the console's chart.

Counted from the records (every decision is one), per day in UTC: `granted`, `withdrawn`, `refused` by
the person, and `refused_gpc` (refused for them because their browser sends Global Privacy Control)."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Any

from sqlalchemy import case, func, select

from services.common.models import table_of
from services.consent.context import ConsentContext
from services.consent.models import ConsentRecord

KINDS = ("granted", "withdrawn", "refused", "refused_gpc")


def kind_of(state: str, reason: str | None) -> str | None:
    """What a record counts as on the chart (None: not shown, e.g. pending or expired)."""
    if state == "granted":
        return "granted"
    if state == "withdrawn":
        return "withdrawn"
    if state == "denied":
        return "refused_gpc" if reason == "gpc" else "refused"
    return None


async def daily(ctx: ConsentContext, days: int, *, today: date | None = None) -> dict[str, Any]:
    last = today or datetime.now(UTC).date()
    first = last - timedelta(days=days - 1)
    records = table_of(ConsentRecord).c
    day = func.date(records.created_at)
    gpc = case((records.reason == "gpc", "gpc"), else_="")
    query = (
        select(day, records.purpose, records.state, gpc, func.count())
        .where(records.created_at >= datetime(first.year, first.month, first.day, tzinfo=UTC))
        .group_by(day, records.purpose, records.state, gpc)
    )
    async with ctx.rt.db.read() as s:
        rows = (await s.execute(query)).all()
    counts: dict[tuple[str, str], dict[str, int]] = {}
    for when, purpose, state, reason, count in rows:
        kind = kind_of(state, reason or None)
        if kind is None:
            continue
        key = (str(when)[:10], purpose)
        counts.setdefault(key, dict.fromkeys(KINDS, 0))[kind] += count
    return {
        "first": first.isoformat(),
        "last": last.isoformat(),
        "purposes": {p.id: {"nl": p.described("nl"), "en": p.described("en")} for p in ctx.catalogue.purposes.values()},
        "rows": [{"day": d, "purpose": p, **c} for (d, p), c in sorted(counts.items())],
    }
