"""Fixtures: real Kafka (scripts/kafka.sh) and real PostgreSQL (scripts/postgres.sh), never stand-ins."""

from __future__ import annotations

import asyncio
import base64
import contextlib
import logging
import os
import secrets
import socket
import uuid
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import pytest
import uvicorn
from fastapi import FastAPI

KAFKA = os.environ.get("TEST_KAFKA_BOOTSTRAP", "127.0.0.1:9092")
PG_ADMIN = os.environ.get("TEST_POSTGRES_DSN", "postgresql://privacy:privacy@127.0.0.1:5432/postgres")
ROOT = Path(__file__).parent.parent


@pytest.fixture(scope="session")
async def kafka() -> str:
    """The real broker; the suite fails (not skips) when it is down: `make test` starts it."""
    from services.common.kafka import kafka_reachable

    try:
        await asyncio.wait_for(kafka_reachable(KAFKA), 10)
    except Exception as exc:
        pytest.fail(f"Kafka is not reachable at {KAFKA} ({exc!r}); run scripts/kafka.sh start")
    return KAFKA


@contextlib.asynccontextmanager
async def fresh_pg_database() -> AsyncIterator[str]:
    """A new PostgreSQL database, dropped afterwards; yields its SQLAlchemy URL."""
    name = "t_" + uuid.uuid4().hex[:12]
    try:
        admin = await asyncpg.connect(PG_ADMIN, timeout=10)
    except Exception as exc:
        pytest.fail(f"PostgreSQL is not reachable at {PG_ADMIN} ({exc!r}); run scripts/postgres.sh start")
    try:
        for attempt in range(5):
            try:
                await admin.execute(f'CREATE DATABASE "{name}"')
                break
            except asyncpg.exceptions.ObjectInUseError:  # template1 briefly busy (a concurrent create/drop)
                if attempt == 4:
                    raise
                await asyncio.sleep(0.5)
    finally:
        await admin.close()
    try:
        yield (PG_ADMIN.rsplit("/", 1)[0] + "/" + name).replace("postgresql://", "postgresql+asyncpg://", 1)
    finally:
        admin = await asyncpg.connect(PG_ADMIN, timeout=10)
        try:
            for attempt in range(10):
                try:
                    await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
                    break
                except asyncpg.exceptions.InsufficientPrivilegeError:
                    # an autovacuum worker in the database, on a server whose role lacks pg_signal_backend
                    # (scripts/postgres.sh grants it): it leaves within moments
                    if attempt == 9:
                        raise
                    await asyncio.sleep(0.5)
        finally:
            await admin.close()


@pytest.fixture
async def pg_url() -> AsyncIterator[str]:
    async with fresh_pg_database() as url:
        yield url


@pytest.fixture
def sqlite_url(tmp_path: Path) -> str:
    return f"sqlite+aiosqlite:///{tmp_path}/test.db"


@pytest.fixture(params=["sqlite", "postgres"])
async def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[str]:
    """Both backends: SQLite (the embedded default) and PostgreSQL (production)."""
    if request.param == "sqlite":
        yield f"sqlite+aiosqlite:///{tmp_path}/test.db"
    else:
        async with fresh_pg_database() as url:
            yield url


def b64key() -> str:
    return base64.b64encode(secrets.token_bytes(32)).decode()


SHARED_PSEUDONYM_KEY = b64key()
SHARED_SEALING_KEY = b64key()
SHARED_CENTRE_KEY = b64key()


@pytest.fixture
async def topic_prefix() -> AsyncIterator[str]:
    """Each test gets its own topics and consumer groups on the shared broker, deleted afterwards (a
    full run would otherwise leave thousands of partitions behind and slow the broker down)."""
    prefix = f"t{uuid.uuid4().hex[:10]}."
    USED_PREFIXES.add(prefix)
    yield prefix
    await delete_topics(prefix)


# Every test's prefix, for a last sweep when the run ends: a runtime stopped while its topics were being
# created can have a topic appear just after the test's own deletion listed them (about one test in three).
USED_PREFIXES: set[str] = set()


def pytest_sessionfinish(session: pytest.Session) -> None:
    if USED_PREFIXES:
        asyncio.run(delete_topics(tuple(USED_PREFIXES)))


async def delete_topics(prefix: str | tuple[str, ...]) -> None:
    from services.common.kafka import delete_topics as delete

    try:
        await delete(KAFKA, prefix)
    except Exception as exc:  # cleanup only: the test itself has passed or failed already
        logging.getLogger(__name__).warning("could not delete topics %s*: %r", prefix, exc)


@pytest.fixture
def make_settings(tmp_path: Path, topic_prefix: str) -> Callable[..., Any]:
    """Settings with explicit secrets (not dev mode), as production would have them."""

    def make(service: str, database_url: str, **overrides: Any) -> Any:
        from services.common.cli import settings_for

        env = {
            "DEV_MODE": "0",
            "DATABASE_URL": database_url,
            "KAFKA_BOOTSTRAP_SERVERS": KAFKA,
            "KAFKA_TOPIC_PREFIX": topic_prefix,
            "LEDGER_SIGNING_KEY": b64key(),
            "PSEUDONYM_KEY": SHARED_PSEUDONYM_KEY,
            "SEALING_KEY": SHARED_SEALING_KEY,
            "CENTRE_KEY": SHARED_CENTRE_KEY,
            "KEY_ENCRYPTION_KEY": b64key(),
            "ACTIVECAMPAIGN_WEBHOOK_SECRET": secrets.token_urlsafe(16),
            "LINK_SIGNING_KEY": b64key(),
            "MAIL_ENABLED": "0",
            "OUTBOX_POLL_SECONDS": "0.05",
        }
        env.update({k.upper(): str(v) for k, v in overrides.items()})
        prefix = service.upper() + "_"
        with _environ({prefix + k: v for k, v in env.items()} | {"PRIVACY_VAR_DIR": str(tmp_path / "var")}):
            return settings_for(service)

    return make


@contextlib.contextmanager
def _environ(values: dict[str, str]) -> Any:
    old = {k: os.environ.get(k) for k in values}
    os.environ.update(values)
    try:
        yield
    finally:
        for k, v in old.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v


def build_app(service: str, settings: Any) -> FastAPI:
    if service == "consent":
        from services.consent.main import build_runtime, create
    elif service == "dsar":
        from services.dsar.main import build_runtime, create  # type: ignore[assignment]
    elif service == "processors":
        from services.processors.main import build_runtime, create  # type: ignore[assignment]
    else:
        from services.breach.main import build_runtime, create  # type: ignore[assignment]
    return create(build_runtime(settings))


@contextlib.asynccontextmanager
async def running(app: FastAPI, *, form_text: bool = True) -> AsyncIterator[httpx.AsyncClient]:
    """Run the app's lifespan (migrations, relay, consumers) and give an HTTP client to it. For consent, the
    tests' form text is put on file first (one ledger entry; `form_text=False` for a test of the ledger alone)."""
    async with app.router.lifespan_context(app):
        if app.title == "consent" and form_text:
            from tests.notices import put_on_file

            await put_on_file(app.state.runtime)  # the tests' own form text, on file (tests/notices.py)
        transport = httpx.ASGITransport(app=app, client=("203.0.113.7", 50000))
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
            yield client


async def eventually(check: Callable[[], Any], *, within: float = 30.0, interval: float = 0.1) -> Any:
    """Poll an async or sync check until it returns a truthy value."""
    deadline = asyncio.get_running_loop().time() + within
    while True:
        result = check()
        if asyncio.iscoroutine(result):
            result = await result
        if result:
            return result
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError(f"condition not met within {within}s")
        await asyncio.sleep(interval)


class Inbox:
    """A real SMTP server (aiosmtpd) on a free local port, keeping what it receives."""

    def __init__(self) -> None:
        from aiosmtpd.controller import Controller

        self.messages: list[Any] = []
        self.envelope_senders: list[str] = []
        inbox = self

        class Handler:
            async def handle_RCPT(
                self,
                server: Any,
                session: Any,
                envelope: Any,
                address: str,
                rcpt_options: Any,
            ) -> str:
                if address.startswith("bounce"):  # a mailbox that does not exist
                    return "550 5.1.1 no such user"
                envelope.rcpt_tos.append(address)
                return "250 OK"

            async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
                import email
                from email import policy

                inbox.messages.append(email.message_from_bytes(envelope.content, policy=policy.default))
                inbox.envelope_senders.append(envelope.mail_from)
                return "250 OK"

        import socket

        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            self.port = s.getsockname()[1]
        self.controller = Controller(Handler(), hostname="127.0.0.1", port=self.port)

    def to(self, address: str) -> list[Any]:
        return [m for m in self.messages if m["To"] == address]


@pytest.fixture
def smtp() -> Any:
    for attempt in range(3):  # the free port we picked may be taken before the server binds it
        inbox = Inbox()
        try:
            inbox.controller.start()
            break
        except Exception:
            if attempt == 2:
                raise
    yield inbox
    inbox.controller.stop()


@contextlib.asynccontextmanager
async def system(
    make_settings: Callable[..., Any], services: tuple[str, ...], overrides: dict[str, dict[str, Any]] | None = None
) -> AsyncIterator[tuple[dict[str, Any], dict[str, Any]]]:
    """Several services, each on its own fresh PostgreSQL database, with their consumers ready on the broker."""
    async with contextlib.AsyncExitStack() as stack:
        apps = {}
        for service in services:
            url = await stack.enter_async_context(fresh_pg_database())
            apps[service] = build_app(service, make_settings(service, url, **(overrides or {}).get(service, {})))
        clients = {name: await stack.enter_async_context(running(app)) for name, app in apps.items()}
        for app in apps.values():
            await eventually(app.state.runtime.consumers[0].ready.is_set, within=60)
        yield apps, clients


@contextlib.asynccontextmanager
async def serve(app: FastAPI, port: int = 0) -> AsyncIterator[str]:
    """Serve an ASGI app with uvicorn on 127.0.0.1 (lifespan included) until the block ends."""
    config = uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", lifespan="on", access_log=False)
    async with _serving(config) as address:
        yield f"http://{address}"


@contextlib.asynccontextmanager
async def serve_production(app: FastAPI, settings: Any) -> AsyncIterator[str]:
    """Serve an app as `privacy-serve` does (its protocol, limits and timeouts); yields host:port."""
    from services.common.serving import config

    async with _serving(config(app, settings, host="127.0.0.1", port=0, log_level="warning")) as address:
        yield address


@contextlib.asynccontextmanager
async def _serving(config: uvicorn.Config) -> AsyncIterator[str]:
    server = uvicorn.Server(config)
    task = asyncio.create_task(server.serve())
    while not server.started:
        if task.done():
            task.result()
            raise RuntimeError("uvicorn stopped before it started")
        await asyncio.sleep(0.02)
    bound = server.servers[0].sockets[0].getsockname()[1]
    if getattr(config.app, "title", None) == "consent":
        from tests.notices import put_on_file

        await put_on_file(config.app.state.runtime)  # type: ignore[union-attr]  # the tests' form text
    try:
        yield f"127.0.0.1:{bound}"
    finally:
        server.should_exit = True
        await task


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def all_routes(app: FastAPI) -> list[Any]:
    """Every route of the app with its full path (`app.routes` hides included routers)."""
    from services.common.contract import routes_of

    routes = routes_of(app)
    assert any(getattr(r, "path", "") == "/healthz" for r in routes), "FastAPI's route listing changed"
    return routes
