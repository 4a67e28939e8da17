"""The consent service: consent given, proven and withdrawn (`uvicorn --factory services.consent.main:create`)."""

from __future__ import annotations

from pathlib import Path

from fastapi import FastAPI

from services.common.app import create_app
from services.common.runtime import Runtime
from services.consent.handlers import CONSUMERS
from services.consent.settings import ConsentSettings


def build_runtime(settings: ConsentSettings | None = None) -> Runtime:
    return Runtime(settings or ConsentSettings(), Path(__file__).parent / "migrations", CONSUMERS)


def create(runtime: Runtime | None = None) -> FastAPI:
    return create_app(
        runtime or build_runtime(),
        routers=[],
        title="consent",
        description="Records consent and its withdrawal with evidence (GDPR Art. 7).",
    )
