"""Kafka in: holders' answers to our requests, and minor reports from the consent service."""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from services.common.contracts import HolderAnswered, MinorDataReported
from services.common.events import BREACH_EVENTS, CONSENT_EVENTS, DSAR_ANSWERS, CloudEvent
from services.common.runtime import ConsumerSpec, Runtime
from services.dsar import decisions, reports, service

log = logging.getLogger(__name__)


def _handlers(rt: Runtime) -> dict[Any, Any]:
    ctx = service.DsarContext.of(rt)

    async def on_answer(session: Any, _event: CloudEvent, answer: HolderAnswered) -> None:
        await service.record_answer(ctx, session, answer)

    async def on_minor_report(session: Any, _event: CloudEvent, report: MinorDataReported) -> None:
        await reports.open_from_report(
            ctx, session, subject=report.subject, report_id=report.report_id, contact=report.contact
        )

    return {HolderAnswered: on_answer, MinorDataReported: on_minor_report}


CONSUMERS = [
    ConsumerSpec(
        group="dsar.answers", topics=[CONSENT_EVENTS.name, BREACH_EVENTS.name, DSAR_ANSWERS.name], handlers=_handlers
    )
]


async def jobs_worker(rt: Runtime) -> None:
    ctx = service.DsarContext.of(rt)
    while True:
        await asyncio.sleep(ctx.settings.jobs_interval_seconds)
        try:
            await decisions.run_jobs(ctx)
        except Exception:
            log.exception("dsar jobs round failed")
