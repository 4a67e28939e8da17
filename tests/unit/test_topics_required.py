"""Issue 30 item 1: an event cannot be recorded for publishing without a topic that exists. The types say
which events have none of their own (None, not ""), and the recorder refuses at the call, not at publish
time (an outbox row with topic '' stopped every dsar event behind it for good)."""

from __future__ import annotations

from typing import Any

import pytest

from services.common.contracts import AffectedSubjectsFound, HolderAnswered, SubjectShredded
from services.common.events import REGISTRY
from services.common.recording import Recorder


def test_no_event_type_has_an_empty_topic() -> None:
    assert [name for name, cls in REGISTRY.items() if cls.topic == ""] == []
    assert SubjectShredded.topic is None and HolderAnswered.topic is None and AffectedSubjectsFound.topic is None


async def test_recording_an_event_without_a_topic_is_refused_at_the_call() -> None:
    recorder = Recorder(source="urn:test", ledger=Any, vault=Any, pseudonym_key=b"k" * 32)  # type: ignore[arg-type]
    shredded = SubjectShredded(subject="a" * 64, key_id=None, reason="erasure request dsr_1 completed and told")
    with pytest.raises(ValueError, match=r"subject\.shredded has no topic of its own"):
        await recorder.record(None, shredded, subject="a" * 64)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="no topic of its own"):
        await recorder.record(None, shredded, subject="a" * 64, topic="")  # type: ignore[arg-type]
