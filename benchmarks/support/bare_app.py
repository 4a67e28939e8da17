"""The baselines: a bare FastAPI endpoint that returns a constant (same server, same load tool), one that
also validates the consent body, to show what parsing alone costs before any work is done, and the naive
durable write a user would otherwise build: validate, then one row per request through asyncpg in its own
transaction (NAIVE_DSN: the PostgreSQL database; the table is made at start)."""

import contextlib
import os
import uuid
from collections.abc import AsyncIterator

import asyncpg
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


@contextlib.asynccontextmanager
async def _pool(app: FastAPI) -> AsyncIterator[None]:
    app.state.pool = await asyncpg.create_pool(os.environ["NAIVE_DSN"], min_size=2, max_size=10)
    async with app.state.pool.acquire() as conn:
        await conn.execute(
            "CREATE TABLE IF NOT EXISTS naive_consents (id text PRIMARY KEY, body jsonb NOT NULL,"
            " created_at timestamptz NOT NULL DEFAULT now())"
        )
    yield
    await app.state.pool.close()


naive = FastAPI(lifespan=_pool)


@naive.post("/v1/consents", status_code=201)
async def inserted(body: CaptureIn) -> dict[str, str]:
    async with naive.state.pool.acquire() as conn, conn.transaction():
        await conn.execute(
            "INSERT INTO naive_consents (id, body) VALUES ($1, $2)", uuid.uuid4().hex, body.model_dump_json()
        )
    return CONSTANT
