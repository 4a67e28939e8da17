"""Every event type of the system, so any consumer can tell a known type from an unknown one."""

from __future__ import annotations

import importlib

from services.common.events import REGISTRY, EventData

EVENT_MODULES = (
    "services.common.contracts",
    "services.common.ledger.events",
    "services.dsar.events",
    "services.consent.events",
    "services.breach.events",
)


def load_all() -> dict[str, type[EventData]]:
    for module in EVENT_MODULES:
        importlib.import_module(module)
    return dict(REGISTRY)
