"""The consent service as common sees it (the `privacy.services` entry point; see services/common/registry.py)."""

from __future__ import annotations

from pathlib import Path

from services.common.contracts import AffectedSubjectsFound, HolderAnswered, SubjectShredded
from services.common.events import CONSENT_EVENTS, CONSENT_STATE
from services.common.registry import Registration
from services.consent.events import (
    ActiveCampaignNoted,
    BrowserLinked,
    ConsentDenied,
    ConsentExpired,
    ConsentGranted,
    ConsentPending,
    ConsentStateSnapshot,
    ConsentWithdrawn,
    KvkChecked,
    MinorDataReported,
    ProcessingRegisterVersioned,
    SubjectRectified,
)
from services.consent.handlers import CONSUMERS
from services.consent.settings import ConsentSettings

SERVICE = Registration(
    name="consent",
    settings=ConsentSettings,
    migrations=Path(__file__).parent / "migrations",
    app="services.consent.main:create",
    channels={
        CONSENT_EVENTS.name: [
            ConsentGranted,
            ConsentDenied,
            ConsentWithdrawn,
            ConsentPending,
            ConsentExpired,
            BrowserLinked,
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
    consumers=[(c.group, list(c.topics)) for c in CONSUMERS],  # what its runtime consumes
)
