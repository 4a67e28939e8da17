"""Verifying a 1,000,000-entry export: entries per second beside this machine's raw SHA-256 rate over
the same entry bytes, measured in the same run. Target: at least a quarter of the raw rate.

    .venv/bin/python benchmarks/verify_export.py [--entries 1000000]
"""

from __future__ import annotations

import argparse
import hashlib
import json
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from services.common.ledger import merkle
from services.common.ledger.note import Checkpoint, NoteSigner
from services.common.ledger.store import LedgerRecord
from services.common.ledger.verify import EXPORT_FORMAT, verify_export


def build(n: int, path: Path, burst: int) -> list[bytes]:
    signer = NoteSigner("bench/ledger", bytes(range(32)))
    entries, lines, notes = [], [], []
    frontier: list[bytes] = []
    for i in range(n):
        entry = LedgerRecord(
            event_id=f"00000000-0000-4000-8000-{i:012d}",
            event_type="nl.jzve.privacy.consent.granted",
            subject=f"{i % 99991:064x}",
            data={"purpose": "newsletter", "legal_basis": "consent"},
            key_id="k_0123456789abcdef01234567",
            ciphertext="Q" * 96,
        ).canonical(i)
        leaf = merkle.leaf_hash(entry)
        frontier, _ = merkle.append_leaf(frontier, i, leaf)
        entries.append(entry)
        lines.append(b"%s %s\n" % (leaf.hex().encode(), entry))
        if (i + 1) % burst == 0 or i + 1 == n:
            notes.append(signer.sign(Checkpoint(signer.name, i + 1, merkle.frontier_root(frontier))))
    header = {
        "format": EXPORT_FORMAT,
        "origin": signer.name,
        "vkey": signer.verifier_key,
        "start": 0,
        "end": n,
        "checkpoints": notes,
    }
    with path.open("wb") as fh:
        fh.write(json.dumps(header).encode() + b"\n")
        fh.writelines(lines)
    return entries


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--entries", type=int, default=1_000_000)
    parser.add_argument("--burst", type=int, default=1000, help="a signed checkpoint every N entries")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "export.txt"
        entries = build(args.entries, path, args.burst)
        size_mb = path.stat().st_size / 1e6
        sha = hashlib.sha256
        t0 = time.perf_counter()
        for e in entries:
            sha(e).digest()
        raw = time.perf_counter() - t0
        vkey = json.loads(path.open().readline())["vkey"]
        t0 = time.perf_counter()
        with path.open("rb") as fh:
            report = verify_export(fh, vkey=vkey)
        verify = time.perf_counter() - t0
    n = args.entries
    print(f"export: {n:,} entries, {size_mb:.0f} MB, {len(report.checkpoints_checked):,} signed checkpoints")
    print(f"raw SHA-256 over the entry bytes: {n / raw:,.0f} entries/s ({raw:.2f}s)")
    print(f"ledger-verify (leaf hashes, tree, every checkpoint): {n / verify:,.0f} entries/s ({verify:.2f}s)")
    print(f"ratio verify / raw hash: {raw / verify:.2f} (target >= 0.25)")


if __name__ == "__main__":
    main()
