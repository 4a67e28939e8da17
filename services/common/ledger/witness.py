"""Outside witnesses (C2SP tlog-witness): each new checkpoint goes to every configured witness with a
consistency proof from the size that witness last cosigned; its cosignature (C2SP tlog-cosignature, a
timestamped Ed25519 signature, type 0x04) is kept and served as an extra signature line of the checkpoint.

A witness that is down delays nothing (the checkpoint is served without its line, and sent again next round).
A witness that answers 409 with a larger size, or 422 (our tree is not consistent with the one it cosigned),
holds a different history: that is what a rollback or a fork looks like from outside, and it is said at once
(the witness's state `refused`, `privacy_ledger_witness_refusals`, the console)."""

from __future__ import annotations

import base64
import logging
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import httpx
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col, select

from services.common.ledger.cosign import CosignatureVerifier
from services.common.ledger.note import NoteError
from services.common.ledger.tables import LedgerCosignature, LedgerWitness
from services.common.models import LedgerCheckpoint

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Outcome:
    state: str  # cosigning, refused, unreachable
    detail: str
    size: int = 0
    line: str | None = None


class Witnesses:
    """The configured witnesses (`LEDGER_WITNESSES`: URL -> verifier key) of one service's ledger."""

    def __init__(self, configured: dict[str, str], *, timeout: float = 5.0) -> None:
        self.by_url = {url.rstrip("/") + "/": CosignatureVerifier(vkey) for url, vkey in configured.items()}
        self.timeout = timeout

    async def round(self, runtime: Any, asked: dict[str, float] | None = None, retry: float = 0.0) -> list[Outcome]:
        """Send the latest checkpoint to every witness that has not cosigned it; keep what they answer. With
        `asked` (witness -> monotonic time), one that did not cosign the last time waits `retry` seconds."""
        if not self.by_url:
            return []
        async with runtime.db.read() as s:
            latest = await runtime.ledger.latest_checkpoint(s)
            known = {w.name: w for w in (await s.execute(select(LedgerWitness))).scalars()}
        if latest is None:
            return []
        outcomes = []
        async with httpx.AsyncClient(timeout=self.timeout) as client:
            for url, verifier in self.by_url.items():
                standing = known.get(verifier.name)
                first = asked is not None and verifier.name not in asked  # once per start: a restore shows at once
                if (
                    standing is not None
                    and standing.size >= latest.size
                    and standing.state == "cosigning"
                    and not first
                ):
                    continue
                now = time.monotonic()
                if asked is not None:
                    waiting = standing is not None and standing.state != "cosigning"
                    if waiting and now - asked.get(verifier.name, 0.0) < retry:
                        continue
                    asked[verifier.name] = now
                outcome = await self._submit(runtime, client, url, verifier, latest, standing)
                outcomes.append(outcome)
                await self._keep(runtime, url, verifier, latest, outcome)
        return outcomes

    async def _submit(
        self,
        runtime: Any,
        client: httpx.AsyncClient,
        url: str,
        verifier: CosignatureVerifier,
        latest: Any,
        standing: Any,
    ) -> Outcome:
        old = standing.size if standing is not None and standing.size <= latest.size else 0
        for _attempt in range(2):  # a 409 naming a smaller size: the proof from there, once
            async with runtime.db.read() as s:
                proof = await runtime.ledger.consistency_proof(s, old, latest.size) if 0 < old < latest.size else []
            body = f"old {old}\n" + "".join(base64.b64encode(h).decode() + "\n" for h in proof) + "\n" + latest.note
            try:
                answer = await client.post(url + "add-checkpoint", content=body.encode())
            except httpx.HTTPError as exc:
                return Outcome("unreachable", f"{exc.__class__.__name__}: {exc}"[:300], old)
            if answer.status_code == 200:
                line = answer.text.strip().splitlines()[0] if answer.text.strip() else ""
                try:
                    verifier.check(latest.note.partition("\n\n")[0] + "\n", line)
                except NoteError as exc:
                    return Outcome("refused", f"its answer is not a valid cosignature: {exc}", old)
                return Outcome("cosigning", f"cosigned size {latest.size}", latest.size, line)
            if answer.status_code == 409:
                said = answer.text.strip()
                held = int(said) if said.isdigit() else -1
                if 0 <= held <= latest.size and held != old:
                    old = held
                    continue
                return Outcome(
                    "refused",
                    f"it has cosigned size {held} of {runtime.signer.name}, and we serve {latest.size}: our history "
                    "went back or was rewritten (a restore not recovered, or a fork)",
                    old,
                )
            if answer.status_code == 422:
                return Outcome(
                    "refused",
                    f"it finds size {latest.size} not consistent with size {old} it cosigned: a rewritten history",
                    old,
                )
            return Outcome("refused", f"HTTP {answer.status_code}: {answer.text.strip()[:200]}", old)
        return Outcome("refused", "it keeps naming another size", old)

    async def _keep(self, runtime: Any, url: str, verifier: CosignatureVerifier, latest: Any, o: Outcome) -> None:
        now = datetime.now(UTC)
        async with runtime.db.transaction() as s:
            row = await s.get(LedgerWitness, verifier.name)
            if row is None:
                row = LedgerWitness(name=verifier.name, url=url, size=0, state=o.state, detail="", checked_at=now)
            if o.state == "refused" and row.state != "refused":
                log.error("ledger witness %s refuses %s: %s", verifier.name, runtime.signer.name, o.detail)
            row.url, row.state, row.detail, row.checked_at = url, o.state, o.detail, now
            if o.line is not None:
                row.size = o.size
                s.add(LedgerCosignature(size=latest.size, witness=verifier.name, line=o.line, created_at=now))
            s.add(row)


async def cosignatures(s: AsyncSession, size: int) -> list[str]:
    rows = await s.execute(
        select(LedgerCosignature.line).where(col(LedgerCosignature.size) == size).order_by(LedgerCosignature.witness)
    )
    return list(rows.scalars())


async def standing(s: AsyncSession, configured: Witnesses) -> list[dict[str, Any]]:
    """Each configured witness: what it last answered, and since when a checkpoint waits for it."""
    rows = {w.name: w for w in (await s.execute(select(LedgerWitness))).scalars()}
    out = []
    for url, verifier in configured.by_url.items():
        row = rows.get(verifier.name)
        waiting = (
            await s.execute(
                select(LedgerCheckpoint.created_at)
                .where(col(LedgerCheckpoint.size) > (row.size if row else 0))
                .order_by(col(LedgerCheckpoint.size))
                .limit(1)
            )
        ).scalar_one_or_none()
        out.append(
            {
                "name": verifier.name,
                "url": url,
                "vkey": verifier.vkey,
                "state": row.state if row else "behind",
                "detail": row.detail if row else "not asked yet",
                "cosigned_size": row.size if row else 0,
                "uncosigned_since": waiting,
                "checked_at": row.checked_at if row else None,
            }
        )
    return out


def register_metrics(runtime: Any) -> None:
    """Gauges read when scraped: witnesses refusing our history, how long a checkpoint waits for a
    cosignature, and whether the ledger is broken (alerts: deploy/prometheus/alerts.yml)."""
    m = runtime.metrics
    refusals = m.gauge("ledger_witness_refusals", "Configured witnesses that refuse this ledger's history (409, 422)")
    waiting = m.gauge(
        "ledger_uncosigned_age_seconds", "Age of the oldest checkpoint a configured witness has not cosigned (0: none)"
    )
    broken = m.gauge("ledger_broken", "1 while the ledger could not be rebuilt after a restore (writes refused)")

    async def scrape(s: AsyncSession) -> None:
        now = datetime.now(UTC)
        found = await standing(s, runtime.witnesses)
        m.child(refusals).set(sum(1 for w in found if w["state"] == "refused"))
        ages = [(now - w["uncosigned_since"]).total_seconds() for w in found if w["uncosigned_since"] is not None]
        m.child(waiting).set(max(ages, default=0.0))
        m.child(broken).set(1 if runtime.integrity.state == "broken" else 0)

    m.on_scrape(scrape)
