"""Ledger on PostgreSQL: append throughput with 32 concurrent writers at 1,000 and 1,000,000 entries,
and inclusion proofs at both sizes (time, queries, nodes read).

    .venv/bin/python benchmarks/ledger_pg.py [--large 1000000] [--appends 3000] [--writers 32]

Needs the local PostgreSQL (scripts/postgres.sh start). Prints the 1M/1k ratio; the target is >= 0.9.
"""

from __future__ import annotations

import argparse
import asyncio
import random
import statistics
import sys
import time
import uuid
from pathlib import Path

import asyncpg

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks.support.pg import ADMIN, url
from services.common.db import Database
from services.common.ledger import merkle
from services.common.ledger.note import NoteSigner
from services.common.ledger.store import Ledger, LedgerRecord, ProofStats

MIGRATIONS = Path(__file__).resolve().parent.parent / "services" / "consent" / "migrations"


async def fresh_db() -> tuple[str, Database]:
    name = "bench_" + uuid.uuid4().hex[:8]
    admin = await asyncpg.connect(ADMIN)
    await admin.execute(f'CREATE DATABASE "{name}"')
    await admin.close()
    db = Database(url(name), pool_size=40)
    await db.migrate(MIGRATIONS)
    return name, db


async def drop(name: str, db: Database) -> None:
    await db.dispose()
    admin = await asyncpg.connect(ADMIN)
    await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    await admin.close()


def record(i: int, tag: str) -> LedgerRecord:
    return LedgerRecord(
        event_id=f"{tag}-{i}",
        event_type="nl.jzve.privacy.bench",
        subject=f"{i % 997:064x}",
        data={"purpose": "newsletter", "state": "granted"},
        key_id="k_bench",
        ciphertext="A" * 120,
    )


async def fill(db: Database, ledger: Ledger, n: int) -> float:
    started = time.perf_counter()
    batch = 20_000
    for start in range(0, n, batch):
        async with db.transaction() as s:
            await ledger.append(s, [record(i, "fill") for i in range(start, min(n, start + batch))])
    return time.perf_counter() - started


async def concurrent_appends(db: Database, ledger: Ledger, writers: int, total: int) -> float:
    """Appends per second: `writers` tasks, one entry per transaction, `total` entries in all."""
    counter = iter(range(total))

    async def writer() -> None:
        for i in counter:
            async with db.transaction() as s:
                await ledger.append(s, [record(i, f"w{uuid.uuid4().hex[:6]}")])

    started = time.perf_counter()
    await asyncio.gather(*(writer() for _ in range(writers)))
    return total / (time.perf_counter() - started)


async def proofs(db: Database, ledger: Ledger, samples: int = 200) -> tuple[float, float, float]:
    async with db.read() as s:
        size, root = await ledger.head(s)
        times, queries, nodes = [], [], []
        for _ in range(samples):
            seq = random.randrange(size)
            stats = ProofStats()
            t0 = time.perf_counter()
            proof = await ledger.inclusion_proof(s, seq, size, stats)
            times.append(time.perf_counter() - t0)
            queries.append(stats.queries)
            nodes.append(stats.nodes)
            entry = await ledger.entry(s, seq=seq)
            assert entry is not None
            merkle.verify_inclusion(seq, size, merkle.leaf_hash(entry.entry), proof, root)
    return statistics.median(times) * 1000, max(queries), max(nodes)


async def measure(size: int, args: argparse.Namespace) -> dict[str, float]:
    name, db = await fresh_db()
    ledger = Ledger(NoteSigner("bench/ledger", bytes(32)))
    try:
        fill_s = await fill(db, ledger, size)
        await concurrent_appends(db, ledger, args.writers, 200)  # warm-up
        rates = [await concurrent_appends(db, ledger, args.writers, args.appends) for _ in range(args.rounds)]
        ms, q, n = await proofs(db, ledger)
        return {
            "size": size,
            "fill_s": fill_s,
            "appends_per_s": statistics.median(rates),
            "proof_ms": ms,
            "proof_queries": q,
            "proof_nodes": n,
        }
    finally:
        await drop(name, db)


async def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--small", type=int, default=1_000)
    parser.add_argument("--large", type=int, default=1_000_000)
    parser.add_argument("--appends", type=int, default=3_000)
    parser.add_argument("--writers", type=int, default=32)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    small = await measure(args.small, args)
    large = await measure(args.large, args)
    for r in (small, large):
        print(
            f"log size {r['size']:>9,}: {r['appends_per_s']:8.0f} appends/s with {args.writers} writers; "
            f"inclusion proof {r['proof_ms']:.2f} ms median, {r['proof_queries']:.0f} query, "
            f"{r['proof_nodes']:.0f} nodes read (filled in {r['fill_s']:.1f}s)"
        )
    ratio = large["appends_per_s"] / small["appends_per_s"]
    print(f"append throughput ratio {args.large:,} / {args.small:,} entries: {ratio:.2f} (target >= 0.90)")


if __name__ == "__main__":
    asyncio.run(main())
