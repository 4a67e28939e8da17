"""The processors service as common sees it (the `privacy.services` entry point; see services/common/registry.py)."""

from __future__ import annotations

from pathlib import Path

from services.common.contracts import HolderAnswered, SubjectShredded
from services.common.events import CONSENT_EVENTS, DSAR_ANSWERS, DSAR_EVENTS
from services.common.registry import Registration
from services.processors.events import PROCESSORS_EVENTS, ProcessorActed
from services.processors.settings import ProcessorsSettings

SERVICE = Registration(
    name="processors",
    settings=ProcessorsSettings,
    migrations=Path(__file__).parent / "migrations",
    app="services.processors.main:create",
    topics=[PROCESSORS_EVENTS, DSAR_ANSWERS],  # it answers dsar as an external holder does
    channels={PROCESSORS_EVENTS.name: [ProcessorActed, SubjectShredded], DSAR_ANSWERS.name: [HolderAnswered]},
    # as handlers.CONSUMERS (tests/unit/test_registry.py)
    consumers=[("processors.in", [DSAR_EVENTS.name, CONSENT_EVENTS.name])],
)
