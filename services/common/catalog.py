"""Every event type of the system, so any consumer can tell a known type from an unknown one."""

from __future__ import annotations

import importlib

from services.common import registry
from services.common.events import REGISTRY, EventData

EVENT_MODULES = ("services.common.contracts", "services.common.ledger.events")


def load_all() -> dict[str, type[EventData]]:
    """Common's own event types and every registered service's (a registration imports its events)."""
    for module in EVENT_MODULES:
        importlib.import_module(module)
    registry.registered()
    return dict(REGISTRY)
