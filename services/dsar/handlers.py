"""Kafka in: holders' answers to our requests."""

from __future__ import annotations

from typing import Any

from services.common.contracts import HolderAnswered
from services.common.events import BREACH_EVENTS, CONSENT_EVENTS, CloudEvent
from services.common.runtime import ConsumerSpec, Runtime
from services.consent.events import MinorDataReported
from services.dsar import service


def _handlers(rt: Runtime) -> dict[Any, Any]:
    async def on_answer(session: Any, _event: CloudEvent, answer: HolderAnswered) -> None:
        await service.record_answer(rt, session, answer)

    async def on_minor_report(session: Any, _event: CloudEvent, report: MinorDataReported) -> None:
        await service.open_from_report(rt, session, subject=report.subject, report_id=report.report_id)

    return {HolderAnswered: on_answer, MinorDataReported: on_minor_report}


CONSUMERS = [ConsumerSpec(group="dsar.answers", topics=[CONSENT_EVENTS.name, BREACH_EVENTS.name], handlers=_handlers)]
