"""Charts drawn on the server as SVG (no script, no library): consent per purpose per day. Pure.

Each purpose gets one small chart of the days: what was granted rises above the line, what was
withdrawn, refused, and refused because of Global Privacy Control hangs below it, each in its own
colour and pattern (told apart without colour too). The same figures go in a table beside it."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Any

UP = ("granted",)
DOWN = ("withdrawn", "refused_gpc", "refused")
WIDTH, HEIGHT, GAP = 600, 120, 2


@dataclass(frozen=True)
class Bar:
    x: float
    y: float
    width: float
    height: float
    kind: str
    label: str


@dataclass
class PurposeChart:
    purpose: str
    name: str
    days: list[dict[str, Any]]
    totals: dict[str, int]
    bars: list[Bar] = field(default_factory=list)
    peak: int = 0
    width: int = WIDTH
    height: int = HEIGHT

    @property
    def baseline(self) -> float:
        return self.height / 2


def day_range(first: date, last: date) -> list[date]:
    return [first + timedelta(days=i) for i in range((last - first).days + 1)]


def consent_charts(stats: dict[str, Any], lang: str = "nl") -> list[PurposeChart]:
    """One chart per purpose that had any decision in the period, in the configuration's order."""
    first, last = date.fromisoformat(stats["first"]), date.fromisoformat(stats["last"])
    days = day_range(first, last)
    by_key = {(row["day"], row["purpose"]): row for row in stats["rows"]}
    charts = []
    for purpose, names in stats["purposes"].items():
        series: list[dict[str, Any]] = []
        for d in days:
            row = by_key.get((d.isoformat(), purpose), {})
            series.append({"day": d, **{k: int(row.get(k, 0)) for k in UP + DOWN}})
        totals: dict[str, int] = {k: sum(int(s[k]) for s in series) for k in UP + DOWN}
        if not any(totals.values()):
            continue
        chart = PurposeChart(purpose, names.get(lang) or names.get("nl") or purpose, series, totals)
        draw(chart)
        charts.append(chart)
    return charts


def draw(chart: PurposeChart) -> None:
    peak = max([max(s["granted"], sum(s[k] for k in DOWN)) for s in chart.days] + [1])
    chart.peak = peak
    half = chart.height / 2 - 4
    step = chart.width / max(len(chart.days), 1)
    for i, s in enumerate(chart.days):
        x = i * step + GAP / 2
        w = max(step - GAP, 1)
        label_day = s["day"].isoformat()
        if s["granted"]:
            h = half * s["granted"] / peak
            chart.bars.append(Bar(x, chart.baseline - h, w, h, "granted", f"{label_day}: {s['granted']}"))
        below = chart.baseline
        for kind in DOWN:
            if s[kind]:
                h = half * s[kind] / peak
                chart.bars.append(Bar(x, below, w, h, kind, f"{label_day}: {s[kind]}"))
                below += h
