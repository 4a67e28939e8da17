"""The dsar service as common sees it (the `privacy.services` entry point; see services/common/registry.py)."""

from __future__ import annotations

from pathlib import Path

from services.common.contracts import DataSubjectRequestStarted
from services.common.events import BREACH_EVENTS, CONSENT_EVENTS, DSAR_ANSWERS, DSAR_EVENTS
from services.common.registry import Registration
from services.dsar.events import (
    DsarAnswerRecorded,
    DsarIdentityVerified,
    DsarRequestCompleted,
    DsarRequestExpired,
    DsarRequestExtended,
    DsarRequestLinked,
    DsarRequestReceived,
    DsarRequestRefused,
)
from services.dsar.settings import DsarSettings

SERVICE = Registration(
    name="dsar",
    settings=DsarSettings,
    migrations=Path(__file__).parent / "migrations",
    app="services.dsar.main:create",
    topics=[DSAR_EVENTS],
    channels={
        DSAR_EVENTS.name: [
            DsarRequestReceived,
            DsarRequestLinked,
            DsarIdentityVerified,
            DataSubjectRequestStarted,
            DsarRequestExtended,
            DsarRequestRefused,
            DsarRequestExpired,
            DsarAnswerRecorded,
            DsarRequestCompleted,
        ],
    },
    consumers=[
        ("dsar.answers", [CONSENT_EVENTS.name, BREACH_EVENTS.name, DSAR_ANSWERS.name])
    ],  # as handlers.CONSUMERS (tests/unit/test_registry.py)
)
