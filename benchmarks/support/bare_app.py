"""The baselines: a bare FastAPI endpoint that returns a constant (same server, same load tool), and one
that also validates the consent body, to show what parsing alone costs before any work is done."""

from fastapi import FastAPI

from services.consent.schemas import CaptureIn

app = FastAPI()
validating = FastAPI()
CONSTANT = {"status": "ok"}


@app.post("/v1/consents", status_code=201)
async def constant() -> dict[str, str]:
    return CONSTANT


@validating.post("/v1/consents", status_code=201)
async def validated(body: CaptureIn) -> dict[str, str]:
    return CONSTANT
