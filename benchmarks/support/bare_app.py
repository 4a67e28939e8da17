"""The baseline: a bare FastAPI endpoint that returns a constant (same server, same load tool)."""

from fastapi import FastAPI

app = FastAPI()
CONSTANT = {"status": "ok"}


@app.post("/v1/consents", status_code=201)
async def constant() -> dict[str, str]:
    return CONSTANT
