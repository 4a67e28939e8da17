"""Issue 30 item 4: every integer of every API and event has a maximum that the database and the JSON
encoder hold (a larger value is a 422 naming the field, never a 500)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import ROOT

INT64 = 2**63  # FastAPI's OpenAPI writes a maximum as a float: 2**63 - 1 reads as 2**63


def unbounded(node: Any, path: str = "") -> list[str]:
    found = []
    if isinstance(node, dict):
        if node.get("type") == "integer" and not (0 < node.get("maximum", INT64 + 1) <= INT64):
            found.append(path)
        for key, value in node.items():
            found += unbounded(value, f"{path}/{key}")
    elif isinstance(node, list):
        for i, value in enumerate(node):
            found += unbounded(value, f"{path}[{i}]")
    return found


def test_every_event_schema_bounds_its_integers() -> None:
    problems = {f.name: unbounded(json.loads(f.read_text())) for f in (ROOT / "schemas" / "events").glob("*.json")}
    assert {name: paths for name, paths in problems.items() if paths} == {}


@pytest.mark.parametrize("service", ["consent", "dsar", "breach", "processors"])
def test_every_api_integer_has_a_maximum(service: str, tmp_path: Path, monkeypatch: Any) -> None:
    monkeypatch.setenv("PRIVACY_VAR_DIR", str(tmp_path))
    monkeypatch.setenv(f"{service.upper()}_DEV_MODE", "1")
    from services.common.cli import settings_for
    from tests.conftest import build_app

    spec = build_app(service, settings_for(service)).openapi()
    assert unbounded(spec) == []


def test_a_count_past_the_world_is_a_422_naming_the_field() -> None:
    from pydantic import ValidationError

    from services.breach.schemas import BreachUpdate, FactorsIn

    with pytest.raises(ValidationError) as refused:
        BreachUpdate(subjects_min=2**70)
    assert refused.value.errors()[0]["loc"] == ("subjects_min",)
    with pytest.raises(ValidationError):
        FactorsIn.model_validate({"people": 10**11})
