"""The consent service as common sees it (the `privacy.services` entry point; see services/common/registry.py)."""

from __future__ import annotations

from pathlib import Path

from services.common.contracts import AffectedSubjectsFound, AnalyticsIdRecorded, HolderAnswered, SubjectShredded
from services.common.events import BREACH_EVENTS, CONSENT_EVENTS, CONSENT_STATE, DSAR_EVENTS
from services.common.registry import Registration
from services.consent.events import (
    ActiveCampaignNoted,
    BrowserLinked,
    ConsentDenied,
    ConsentExpired,
    ConsentGranted,
    ConsentPending,
    ConsentRestricted,
    ConsentStateSnapshot,
    ConsentWithdrawn,
    KvkChecked,
    MinorDataReported,
    ProcessingRegisterVersioned,
    SubjectRectified,
)
from services.consent.settings import ConsentSettings

SERVICE = Registration(
    name="consent",
    settings=ConsentSettings,
    migrations=Path(__file__).parent / "migrations",
    app="services.consent.main:create",
    topics=[CONSENT_EVENTS, CONSENT_STATE],
    channels={
        CONSENT_EVENTS.name: [
            ConsentGranted,
            ConsentDenied,
            ConsentWithdrawn,
            ConsentPending,
            ConsentExpired,
            ConsentRestricted,
            BrowserLinked,
            AnalyticsIdRecorded,
            MinorDataReported,
            ActiveCampaignNoted,
            SubjectRectified,
            ProcessingRegisterVersioned,
            KvkChecked,
            SubjectShredded,
            HolderAnswered,
            AffectedSubjectsFound,
        ],
        CONSENT_STATE.name: [ConsentStateSnapshot],
    },
    consumers=[
        ("consent.dsar", [DSAR_EVENTS.name, BREACH_EVENTS.name])
    ],  # as handlers.CONSUMERS (tests/unit/test_registry.py)
)
