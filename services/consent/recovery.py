"""What consent ledger entries rebuilt after a restore record, done again (services/common/ledger/recovery.py),
a batch at a time: refusals, withdrawals, expiries and restrictions in force again with their records and the
state published again; then erased people's keys destroyed again, their rows gone and a tombstone on
consent.state.v1 again. (Lowerings go before erasures: a person erased in the batch ends erased.) A grant is not
given back: its evidence may be sealed with a key the backup did not hold, so the person is asked again."""

from __future__ import annotations

import json
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from services.common.contracts import ConsentWithdrawn, SubjectShredded
from services.common.db import Tx
from services.common.ledger.journal import Lost
from services.common.ledger.recovery import Reapply
from services.common.unit import Unit, flush
from services.consent import decisions, domain, subjects
from services.consent.context import ConsentContext
from services.consent.domain import State
from services.consent.events import ConsentDenied, ConsentExpired, ConsentRestricted

LOWERED = {
    ConsentDenied.type_name(): State.DENIED,
    ConsentWithdrawn.type_name(): State.WITHDRAWN,
    ConsentExpired.type_name(): State.EXPIRED,
    ConsentRestricted.type_name(): State.RESTRICTED,
}


async def forget_again(rt: Any, s: AsyncSession, lost: list[Lost]) -> int:
    who = {entry.subject for entry in lost if entry.subject is not None}
    if who:
        await rt.vault.shred_many(s, who)
        await subjects.forget_many(ConsentContext.of(rt), s, sorted(who))
    return len(lost)


async def lower_again(rt: Any, s: AsyncSession, lost: list[Lost]) -> int:
    """Each decision's record, and its state where no later one (kept by the backup, which cannot be) stands."""
    ctx = ConsentContext.of(rt)
    lifetime = timedelta(hours=ctx.settings.optin_token_hours)
    records: list[dict[str, Any]] = []
    latest: dict[tuple[str, str, str], dict[str, Any]] = {}
    for entry in lost:
        parsed = entry.parsed
        data, state = parsed["data"], LOWERED[parsed["type"]]
        purpose = ctx.catalogue.purpose(data.get("purpose", ""))
        if entry.subject is None or purpose is None:
            continue
        at = datetime.fromisoformat(parsed["time"].replace("Z", "+00:00"))
        third_party = data.get("third_party") or ""
        record = {
            "id": data["record_id"],
            "subject": entry.subject,
            "purpose": purpose.id,
            "third_party": third_party,
            "state": state.value,
            "legal_basis": data.get("legal_basis") or purpose.legal_basis.value,
            "channel": data.get("channel") or "restore",
            "categories": json.dumps(data.get("categories") or []),
            "notice_version": data.get("notice_version") or "",
            "notice_hash": data.get("notice_hash") or "",
            "reason": data.get("reason"),
            "event_id": parsed["event_id"],
            "ledger_seq": entry.seq,
            "actor": None,
            "created_at": at,
        }
        records.append(record)
        latest[(entry.subject, purpose.id, third_party)] = {
            "subject": entry.subject,
            "purpose": purpose.id,
            "third_party": third_party,
            "state": state.value,
            "record_id": record["id"],
            "changed_at": at,
            "expires_at": domain.retention_end(purpose, state, at, link_lifetime=lifetime),
        }
    if not records:
        return 0
    tx = Tx.of(s)
    held = await tx.rows_in(
        decisions.STATES, ("subject", "purpose", "third_party", "changed_at"), "subject", {k[0] for k in latest}
    )
    newer = {(subject, purpose, tp): at for subject, purpose, tp, at in held}  # aware: UTC columns
    states = [row for key, row in latest.items() if key not in newer or newer[key] < row["changed_at"]]
    unit = Unit()
    unit.insert(decisions.RECORDS, records, on_conflict=("id",))
    unit.insert(
        decisions.STATES,
        states,
        on_conflict=("subject", "purpose", "third_party"),
        update=("state", "record_id", "changed_at", "expires_at"),
    )
    await flush(tx, rt.ledger, [unit])
    changed = {row["subject"] for row in states}
    if changed:  # the state topic and the webhooks, as they stand now
        known = decisions.Known(await decisions.states_of(tx, changed), {}, None, await ctx.pushes.fresh(tx))
        snapshots = Unit()
        for subject in sorted(changed):
            decisions.snapshot(ctx, known, subject, snapshots)
        await flush(tx, rt.ledger, [snapshots])
    return len(records)


REAPPLY: dict[str, Reapply] = {**dict.fromkeys(LOWERED, lower_again), SubjectShredded.type_name(): forget_again}
