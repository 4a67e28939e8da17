"""The services register themselves with common (issue 12): common finds them through the `privacy.services`
entry point, and what they register is what they run."""

from __future__ import annotations

import pytest

from services.common import catalog, registry, schemagen
from services.common.cli import main as privacyctl
from services.common.events import REGISTRY


def test_every_service_is_registered_under_its_name(monkeypatch: pytest.MonkeyPatch) -> None:
    found = registry.registered()
    assert sorted(found) == ["breach", "consent", "dsar", "processors"]
    for name, registration in found.items():
        assert registration.name == name
        assert (registration.migrations / "env.py").is_file(), name
        monkeypatch.setenv(f"{name.upper()}_DEV_MODE", "1")
        assert registration.settings().service_name == name
        assert registration.app == f"services.{name}.main:create"


def test_an_unknown_service_is_named_with_the_known_ones() -> None:
    known = "unknown service 'crm'; registered: breach, consent, dsar, processors"
    with pytest.raises(registry.UnknownService, match=known):
        registry.service("crm")
    with pytest.raises(SystemExit):  # argparse: "invalid choice: 'crm' (choose from ...)"
        privacyctl(["migrate", "--service", "crm"])


def test_every_event_type_travels_on_a_registered_topic() -> None:
    """A new event class that no registration puts on a topic would have no schema and no AsyncAPI message."""
    known = catalog.load_all()
    assert known == dict(REGISTRY) and len(known) > 30
    published = {model for models in schemagen.channels().values() for model in models}
    assert set(known.values()) == published


def test_registered_consumers_are_what_the_runtimes_run() -> None:
    from services.breach.handlers import CONSUMERS as BREACH
    from services.consent.handlers import CONSUMERS as CONSENT
    from services.dsar.handlers import CONSUMERS as DSAR
    from services.processors.handlers import CONSUMERS as PROCESSORS

    ran = {(c.group, tuple(c.topics)) for c in (*CONSENT, *DSAR, *BREACH, *PROCESSORS)}
    assert {(group, tuple(topics)) for _, group, topics in schemagen.consumer_groups()} == ran
