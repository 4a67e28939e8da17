"""The services, as they register themselves: common knows no service by name.

Each service package has a `registration.py` with one `Registration` (its settings, migrations, app,
events and topics) and names it under the `privacy.services` entry point in pyproject.toml. The command
line (privacyctl, privacy-serve), the event catalogue and the schema generator find the services here, so
adding a service means adding its package and one entry-point line, and editing nothing in common."""

from __future__ import annotations

import functools
import importlib
from collections.abc import Callable
from dataclasses import dataclass, field
from importlib.metadata import entry_points
from pathlib import Path
from typing import Any

from services.common.events import COMMON_TOPICS, EventData, Topic
from services.common.settings import ServiceSettings

GROUP = "privacy.services"


@dataclass(frozen=True)
class Registration:
    name: str
    settings: Callable[[], ServiceSettings]  # reads the service's environment (CONSENT_..., ...)
    migrations: Path  # its Alembic directory
    app: str  # "package.module:factory", the app factory uvicorn imports (one per worker)
    topics: list[Topic]  # the topics it publishes on (created by every service at start, like all topics)
    channels: dict[str, list[type[EventData]]]  # topic name (unprefixed) -> the event types it publishes there
    consumers: list[tuple[str, list[str]]] = field(default_factory=list)  # (consumer group, topics it reads)

    def __post_init__(self) -> None:
        own = {t.name for t in self.topics}
        stray = sorted(set(self.channels) - own)
        if stray:
            raise ValueError(f"{self.name} publishes on {stray}, which it does not register as its topics")

    def create_app(self) -> Any:
        module, _, factory = self.app.partition(":")
        return getattr(importlib.import_module(module), factory)()

    def build_runtime(self, settings: ServiceSettings) -> Any:
        """The service's runtime, not started (the command line's `ledger acknowledge` records through it):
        `build_runtime` beside the app factory."""
        module, _, _factory = self.app.partition(":")
        return importlib.import_module(module).build_runtime(settings)


class UnknownService(LookupError):
    pass


@functools.cache
def registered() -> dict[str, Registration]:
    """Every installed service, by name, in the order the entry points list them."""
    found: dict[str, Registration] = {}
    for point in sorted(entry_points(group=GROUP), key=lambda p: p.name):
        registration = point.load()
        if not isinstance(registration, Registration) or registration.name != point.name:
            raise TypeError(f"entry point {point.name} = {point.value} is not that service's Registration")
        found[registration.name] = registration
    if not found:
        raise UnknownService(f"no service is registered under the {GROUP!r} entry point: is the project installed?")
    return found


def names() -> list[str]:
    return list(registered())


def service(name: str) -> Registration:
    try:
        return registered()[name]
    except KeyError:
        raise UnknownService(f"unknown service {name!r}; registered: {', '.join(registered())}") from None


def topics() -> list[Topic]:
    """Every topic of the system, unprefixed: each service's (in the registry's order), then common's own."""
    found: dict[str, Topic] = {}
    for registration in registered().values():
        for topic in registration.topics:
            if found.setdefault(topic.name, topic) != topic:
                raise ValueError(f"topic {topic.name} is registered twice, differently")
    for topic in COMMON_TOPICS:
        found.setdefault(topic.name, topic)
    return list(found.values())
