"""The breach service as common sees it (the `privacy.services` entry point; see services/common/registry.py)."""

from __future__ import annotations

from pathlib import Path

from services.breach.events import (
    ApNotificationPrepared,
    ApNotificationSubmitted,
    BreachRegistered,
    BreachUpdated,
    PublicCommunicationRecorded,
    RiskAssessed,
    SubjectsNotified,
)
from services.breach.settings import BreachSettings
from services.common.contracts import AffectedSubjectsRequested, HolderAnswered, SubjectShredded
from services.common.events import BREACH_EVENTS, CONSENT_EVENTS, DSAR_ANSWERS, DSAR_EVENTS
from services.common.registry import Registration

SERVICE = Registration(
    name="breach",
    settings=BreachSettings,
    migrations=Path(__file__).parent / "migrations",
    app="services.breach.main:create",
    topics=[BREACH_EVENTS],
    channels={
        BREACH_EVENTS.name: [
            BreachRegistered,
            BreachUpdated,
            RiskAssessed,
            ApNotificationPrepared,
            ApNotificationSubmitted,
            SubjectsNotified,
            PublicCommunicationRecorded,
            AffectedSubjectsRequested,
            SubjectShredded,
            HolderAnswered,
        ],
    },
    consumers=[
        ("breach.dsar", [DSAR_EVENTS.name, CONSENT_EVENTS.name, DSAR_ANSWERS.name])
    ],  # as handlers.CONSUMERS (tests/unit/test_registry.py)
)
