"""deploy/prometheus and deploy/grafana stay true: promtool accepts the rules and the config and the rules'
unit tests pass, and every metric the rules and the dashboard name is one the services expose."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path
from types import SimpleNamespace

import pytest

from services.common.metrics import Metrics

ROOT = Path(__file__).resolve().parent.parent.parent
PROMETHEUS = ROOT / "deploy" / "prometheus"
DASHBOARD = ROOT / "deploy" / "grafana" / "dashboards" / "privacy.json"
PROMTOOL = shutil.which("promtool")


def promtool(*args: str) -> str:
    if PROMTOOL is None:
        pytest.fail("promtool is missing: scripts/promtool.sh installs Debian's prometheus (make infra, .ci/run do)")
    done = subprocess.run([PROMTOOL, *args], cwd=PROMETHEUS, capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stdout + done.stderr
    return done.stdout


def test_promtool_accepts_the_rules_and_the_config() -> None:
    assert "SUCCESS: 15 rules found" in promtool("check", "rules", "alerts.yml")
    promtool("check", "config", "--syntax-only", "prometheus.yml")  # the token file exists where it runs


def test_the_alerts_fire_when_they_should() -> None:
    assert "SUCCESS" in promtool("test", "rules", "alerts.test.yml")


def exposed() -> set[str]:
    """Every metric name the three services define (counters also as _total, histograms' series)."""
    from services.breach import metrics as breach_metrics
    from services.common.ledger.witness import register_metrics
    from services.consent.metrics import ConsentMetrics
    from services.dsar import metrics as dsar_metrics
    from services.processors import metrics as processors_metrics

    m = Metrics("test")
    ConsentMetrics(m)
    register_metrics(SimpleNamespace(metrics=m))  # every service's: the witnesses and the ledger's integrity
    for register in (dsar_metrics.register, breach_metrics.register, processors_metrics.register):
        register(SimpleNamespace(metrics=m))  # type: ignore[arg-type]
    names = {"up"}
    for family in m.registry.collect():
        base = family.name
        names |= {base, f"{base}_total", f"{base}_bucket", f"{base}_count", f"{base}_sum"}
    return names


def named(text: str) -> set[str]:
    return set(re.findall(r"\bprivacy_[a-z_]+", text))


def test_rules_and_dashboard_name_only_exposed_metrics() -> None:
    known = exposed()
    rules = named((PROMETHEUS / "alerts.yml").read_text())
    assert len(rules) >= 8 and rules <= known, rules - known
    dashboard = json.loads(DASHBOARD.read_text())
    exprs = " ".join(t["expr"] for p in dashboard["panels"] for t in p["targets"])
    used = set(re.findall(r"\b(privacy_[a-z_]+)", exprs))
    assert len(used) >= 15 and used <= known, used - known
    provisioned = (ROOT / "deploy" / "grafana" / "provisioning" / "datasources" / "prometheus.yml").read_text()
    for panel in dashboard["panels"]:  # every panel queries the data source that provisioning creates
        assert panel["targets"] and f"uid: {panel['datasource']['uid']}" in provisioned, panel["title"]
