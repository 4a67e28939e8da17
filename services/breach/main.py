"""The breach service: the 72-hour register (`uvicorn --factory services.breach.main:create`)."""

from __future__ import annotations

from pathlib import Path

from fastapi import FastAPI

from services.breach import metrics
from services.breach.handlers import CONSUMERS
from services.breach.routes import router, suggestions
from services.breach.settings import BreachSettings
from services.common.app import create_app
from services.common.runtime import Runtime


def build_runtime(settings: BreachSettings | None = None) -> Runtime:
    rt = Runtime(settings or BreachSettings(), Path(__file__).parent / "migrations", CONSUMERS)
    metrics.register(rt)
    return rt


def create(runtime: Runtime | None = None) -> FastAPI:
    return create_app(
        runtime or build_runtime(),
        routers=[router, suggestions],
        title="breach",
        description="Breach register with the 72-hour clock to the Autoriteit Persoonsgegevens (GDPR Art. 33, 34).",
    )
