"""The README stays true: its opening gives the two commands, it documents every setting, and its layout
names every module."""

from __future__ import annotations

from pathlib import Path

from services.common.settings import ServiceSettings
from services.consent.settings import ConsentSettings
from services.dsar.settings import DsarSettings
from services.processors.settings import ProcessorsSettings

ROOT = Path(__file__).resolve().parent.parent.parent
README = (ROOT / "README.md").read_text()


def test_opening_gives_run_and_test() -> None:
    opening = "\n".join(README.splitlines()[:10])
    assert "make run" in opening and "make test" in opening


def test_every_setting_is_documented() -> None:
    missing = [f"`{n.upper()}`" for n in ServiceSettings.model_fields if f"`{n.upper()}`" not in README]
    for cls, prefix in ((ConsentSettings, "CONSENT_"), (DsarSettings, "DSAR_"), (ProcessorsSettings, "PROCESSORS_")):
        missing += [
            f"{prefix}{n.upper()}"
            for n in cls.model_fields
            if n not in ServiceSettings.model_fields and f"{prefix}{n.upper()}" not in README
        ]
    assert not missing, f"settings missing from the README: {missing}"


def test_the_layout_names_every_module() -> None:
    """The README's layout section names each module of services/ (migrations aside), so a newcomer finds it."""
    import re

    section = README.split("## Layout", 1)[1].split("\n## ", 1)[0]
    named = set(re.findall(r"[a-z_]+", section))
    services = ROOT / "services"
    missing = sorted(
        str(p.relative_to(ROOT))
        for p in services.rglob("*.py")
        if "migrations" not in p.parts and p.name != "__init__.py" and p.stem not in named
    )
    assert not missing, f"name these in the README's layout: {missing}"
