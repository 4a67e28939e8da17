"""The consent service: consent given, proven and withdrawn (`uvicorn --factory services.consent.main:create`)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from fastapi import FastAPI

from services.common.app import create_app
from services.common.contract import mark_enum
from services.common.runtime import Runtime
from services.consent import kvk, processing, push_relay, recovery, retention, webhooks
from services.consent.admin_routes import router as admin_router
from services.consent.centre_routes import router as centre_router
from services.consent.context import ConsentContext
from services.consent.handlers import CONSUMERS
from services.consent.routes import router
from services.consent.schemas import PURPOSE_MARK
from services.consent.settings import ConsentSettings
from services.consent.site_routes import LANES
from services.consent.site_routes import router as site_router
from services.consent.system_routes import router as system_router


def _retention(rt: Runtime) -> Any:
    return retention.worker(ConsentContext.of(rt))


def _webhook_retries(rt: Runtime) -> Any:
    return webhooks.retry_worker(ConsentContext.of(rt))


def _register(rt: Runtime) -> Any:
    return processing.worker(ConsentContext.of(rt))


def _kvk_retries(rt: Runtime) -> Any:
    return kvk.worker(ConsentContext.of(rt))


def _pushes(rt: Runtime) -> Any:
    return push_relay.worker(ConsentContext.of(rt))


def build_runtime(settings: ConsentSettings | None = None) -> Runtime:
    rt = Runtime(
        settings or ConsentSettings(),
        Path(__file__).parent / "migrations",
        CONSUMERS,
        workers=[_retention, _webhook_retries, _register, _kvk_retries, _pushes],
        reapply=recovery.REAPPLY,
    )
    ConsentContext.of(rt)
    return rt


def create(runtime: Runtime | None = None) -> FastAPI:
    rt = runtime or build_runtime()
    purposes = sorted(ConsentContext.of(rt).catalogue.purposes)
    return create_app(
        rt,
        routers=[router, site_router, centre_router, admin_router, system_router],
        title="consent",
        description="Records consent and its withdrawal with evidence (GDPR Art. 7), double opt-in, "
        "cookies, ActiveCampaign unsubscribes; receipts backed by the ledger.",
        readable_anywhere=frozenset({"/v1/banner"}),
        lanes=LANES,
        openapi_hooks=(lambda document: mark_enum(document, PURPOSE_MARK, purposes),),
    )
