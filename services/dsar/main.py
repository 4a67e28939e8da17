"""The dsar service: data-subject requests on the legal clock (`uvicorn --factory services.dsar.main:create`)."""

from __future__ import annotations

from pathlib import Path

from fastapi import FastAPI

from services.common.app import create_app
from services.common.runtime import Runtime
from services.dsar import metrics
from services.dsar.admin_routes import router as admin_router
from services.dsar.handlers import CONSUMERS, jobs_worker
from services.dsar.routes import router
from services.dsar.service import DsarContext
from services.dsar.settings import DsarSettings


def build_runtime(settings: DsarSettings | None = None) -> Runtime:
    rt = Runtime(settings or DsarSettings(), Path(__file__).parent / "migrations", CONSUMERS, workers=[jobs_worker])
    DsarContext.of(rt)
    metrics.register(rt)
    return rt


def create(runtime: Runtime | None = None) -> FastAPI:
    return create_app(
        runtime or build_runtime(),
        routers=[router, admin_router],
        title="dsar",
        description="Access, erasure and rectification requests across every system, "
        "within one calendar month (GDPR Art. 12, 15-17).",
    )
