"""The processors service: what the company's processors hold and do, reached through their APIs
(`uvicorn --factory services.processors.main:create`)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from fastapi import FastAPI

from services.common.app import create_app
from services.common.runtime import Runtime
from services.processors import metrics, recovery, worker
from services.processors.context import ProcessorsContext
from services.processors.handlers import CONSUMERS
from services.processors.routes import links, router
from services.processors.settings import ProcessorsSettings


def _tasks(rt: Runtime) -> Any:
    return worker.worker(ProcessorsContext.of(rt))


def build_runtime(settings: ProcessorsSettings | None = None) -> Runtime:
    rt = Runtime(
        settings or ProcessorsSettings(),
        Path(__file__).parent / "migrations",
        CONSUMERS,
        workers=[_tasks],
        reapply=recovery.REAPPLY,
    )
    ProcessorsContext.of(rt)  # a definition that cannot work stops the start here
    metrics.register(rt)
    return rt


def create(runtime: Runtime | None = None) -> FastAPI:
    return create_app(
        runtime or build_runtime(),
        routers=[router, links],
        title="processors",
        description="Withdrawals and data-subject requests carried to the processors of statement Art. 8: "
        "through their APIs (connectors are definitions), or as tracked instructions.",
    )
