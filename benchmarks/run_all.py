"""`make bench`: every benchmark in turn (each prints its own figures and ratios)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
BENCHMARKS = [
    "verify_export.py",
    "ledger_pg.py",
    "consent_write.py",
    "page_view.py",
    "lookup.py",
    "capture_profile.py",
    "outbox_relay.py",
    "dsar.py",
    "breach_notify.py",
    "consent_js.py",
    "console_pages.py",
    "processors_fanout.py",
    "recovery.py",
]

if __name__ == "__main__":
    failed = 0
    for script in BENCHMARKS:
        print(f"\n=== {script}", flush=True)
        failed |= subprocess.call([sys.executable, str(HERE / script), *sys.argv[1:]])
    sys.exit(failed)
