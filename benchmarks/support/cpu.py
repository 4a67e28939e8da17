"""Where the CPU of a load test went: per process group, read from /proc (Linux), so that a figure can be
explained by what each part of the system cost per request, not only by how many requests got through."""

from __future__ import annotations

import os
import resource
from dataclasses import dataclass, field
from pathlib import Path

TICKS = os.sysconf("SC_CLK_TCK")


def _stat(pid: int) -> list[str] | None:
    try:
        text = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    return text.rsplit(")", 1)[1].split()  # fields after the command name, from field 3 (state) on


def _all_pids() -> list[int]:
    return [int(p.name) for p in Path("/proc").iterdir() if p.name.isdigit()]


def _comm(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/comm").read_text().strip()
    except OSError:
        return ""


def tree(root: int) -> list[int]:
    """root and every process below it (uvicorn's workers)."""
    parents: dict[int, int] = {}
    for pid in _all_pids():
        fields = _stat(pid)
        if fields is not None:
            parents[pid] = int(fields[1])
    found, frontier = [root], [root]
    while frontier:
        frontier = [pid for pid, parent in parents.items() if parent in frontier]
        found += frontier
    return found


def named(command: str) -> list[int]:
    return [pid for pid in _all_pids() if _comm(pid) == command]


def cpu_seconds(pids: list[int]) -> float:
    total = 0
    for pid in pids:
        fields = _stat(pid)
        if fields is not None:
            total += int(fields[11]) + int(fields[12])  # utime, stime
    return total / TICKS


def children_cpu_seconds() -> float:
    """CPU of this process's finished children (the load generator)."""
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


@dataclass
class CpuMeter:
    """CPU seconds used by named groups of processes between `start` and `stop`."""

    groups: dict[str, list[int]]
    used: dict[str, float] = field(default_factory=dict)
    _before: dict[str, float] = field(default_factory=dict)

    def start(self) -> None:
        self._before = {name: cpu_seconds(pids) for name, pids in self.groups.items()}
        self._before["load generator"] = children_cpu_seconds()

    def stop(self) -> None:
        self.used = {name: cpu_seconds(pids) - self._before[name] for name, pids in self.groups.items()}
        self.used["load generator"] = children_cpu_seconds() - self._before["load generator"]

    def per_request(self, requests: float) -> str:
        parts = [f"{name} {1e6 * seconds / requests:.0f}" for name, seconds in self.used.items() if seconds > 0]
        total = sum(self.used.values())
        return f"{', '.join(parts)}; total {1e6 * total / requests:.0f} µs"

    def total_per_request(self, requests: float) -> float:
        return sum(self.used.values()) / requests
