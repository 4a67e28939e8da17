"""The README stays true: its opening gives the two commands, and it documents every setting."""

from __future__ import annotations

from pathlib import Path

from services.common.settings import ServiceSettings
from services.consent.settings import ConsentSettings
from services.dsar.settings import DsarSettings

README = (Path(__file__).resolve().parent.parent.parent / "README.md").read_text()


def test_opening_gives_run_and_test() -> None:
    opening = "\n".join(README.splitlines()[:10])
    assert "make run" in opening and "make test" in opening


def test_every_setting_is_documented() -> None:
    missing = [f"`{n.upper()}`" for n in ServiceSettings.model_fields if f"`{n.upper()}`" not in README]
    for cls, prefix in ((ConsentSettings, "CONSENT_"), (DsarSettings, "DSAR_")):
        missing += [
            f"{prefix}{n.upper()}"
            for n in cls.model_fields
            if n not in ServiceSettings.model_fields and f"{prefix}{n.upper()}" not in README
        ]
    assert not missing, f"settings missing from the README: {missing}"
