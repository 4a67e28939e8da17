"""Use-cases of the KvK check (statement Art. 4): check the number a payment form gave, record the
outcome (with the capture's receipt, in the ledger), and retry the checks the register could not answer.
A register that is down or slow never holds up a capture: the client waits briefly, then the check is
recorded as unavailable and a job tries again later."""

from __future__ import annotations

import asyncio
import json
import logging
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlmodel import col, select

from services.common.crypto import ShreddedError
from services.common.ids import uuid4_hex
from services.consent.context import ConsentContext
from services.consent.events import KvkChecked
from services.consent.kvk_rules import Given, Outcome, Result
from services.consent.models import KvkCheck

log = logging.getLogger(__name__)
MAX_WAIT = timedelta(days=1)


def view(row: KvkCheck) -> dict[str, Any]:
    return {
        "check_id": row.id,
        "outcome": row.outcome,
        "mismatches": json.loads(row.mismatches),
        "reason": row.reason,
        "checked_at": row.checked_at.isoformat(),
        "retry_at": row.next_attempt_at.isoformat() if row.next_attempt_at else None,
        "reference": json.loads(row.reference),
    }


async def check(ctx: ConsentContext, subject: str, given: Given, receipt_id: str | None) -> dict[str, Any]:
    """Check now (briefly) and record the outcome; an unavailable register leaves the check to the job."""
    result = await ctx.kvk.check(given)
    async with ctx.rt.db.transaction() as s:
        row = KvkCheck(id="kc_" + uuid4_hex(), subject=subject, receipt_id=receipt_id, outcome=result.outcome.value)
        if result.outcome == Outcome.UNAVAILABLE:
            row.key_id, row.sealed = await ctx.rt.vault.encrypt(s, subject, given.as_dict())
        await _settle(ctx, s, row, result, datetime.now(UTC))
    return view(row)


async def _settle(ctx: ConsentContext, s: Any, row: KvkCheck, result: Result, now: datetime) -> None:
    row.outcome, row.mismatches, row.reason = result.outcome.value, json.dumps(list(result.mismatches)), result.reason
    row.reference, row.checked_at = json.dumps(result.reference), now
    if result.outcome == Outcome.UNAVAILABLE:
        wait = timedelta(seconds=ctx.settings.kvk_retry_interval_seconds * 2 ** (row.attempts - 1))
        row.next_attempt_at = now + min(wait, MAX_WAIT)
    else:
        row.next_attempt_at = row.key_id = row.sealed = None  # done: what was entered is not kept here
    s.add(row)
    if result.outcome != Outcome.UNAVAILABLE or row.attempts == 1:  # the first answer and the final one
        await ctx.rt.recorder.record(
            s,
            KvkChecked(
                subject=row.subject,
                check_id=row.id,
                receipt_id=row.receipt_id,
                outcome=row.outcome,
                mismatches=list(result.mismatches),
                reason=result.reason,
                attempt=row.attempts,
                api_version=result.reference.get("api-version"),
            ),
            subject=row.subject,
            publish=False,
        )


async def retry_due(ctx: ConsentContext, *, now: datetime | None = None) -> int:
    """Try again every unavailable check whose time has come; returns how many got an answer."""
    now = now or datetime.now(UTC)
    async with ctx.rt.db.read() as s:
        due = list(
            (
                await s.execute(
                    select(KvkCheck).where(col(KvkCheck.next_attempt_at) <= now).order_by(col(KvkCheck.next_attempt_at))
                )
            ).scalars()
        )
    answered = 0
    for row in due:
        if ctx.kvk.circuit.open:
            break
        given = await _entered(ctx, row.id)
        if given is None:
            continue
        result = await ctx.kvk.check(given)  # outside any transaction: the register may take its time
        async with ctx.rt.db.transaction() as s:
            fresh = await s.get(KvkCheck, row.id)
            if fresh is None or fresh.sealed is None:  # settled meanwhile (another replica's job)
                continue
            fresh.attempts += 1
            await _settle(ctx, s, fresh, result, datetime.now(UTC))
        answered += result.outcome != Outcome.UNAVAILABLE
    return answered


async def _entered(ctx: ConsentContext, check_id: str) -> Given | None:
    """What the person entered, opened with their key; None when settled, or erased meanwhile (then the
    check is closed: nothing is left to check)."""
    async with ctx.rt.db.transaction() as s:
        row = await s.get(KvkCheck, check_id)
        if row is None or row.sealed is None or row.key_id is None:
            return None
        try:
            return Given(**await ctx.rt.vault.decrypt(s, row.subject, row.key_id, row.sealed))
        except ShreddedError:
            row.next_attempt_at = row.sealed = row.key_id = None
            row.reason = "not checked: the person's data was erased"
            s.add(row)
            return None


async def worker(ctx: ConsentContext) -> None:
    while True:
        await asyncio.sleep(min(ctx.settings.kvk_retry_interval_seconds, 60.0))
        try:
            await retry_due(ctx)
        except Exception:
            log.exception("KvK retry round failed")
