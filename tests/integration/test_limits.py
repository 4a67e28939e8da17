"""Limits against abuse, over real sockets to the server as production runs it (privacy-serve):
each refusal is a problem with its 4xx, and nothing of the refused request is recorded."""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest

from services.common.auth import create_site_key, create_token
from services.common.limits import json_structure_problem
from tests.conftest import build_app, serve_production
from tests.notices import NOTICE

CAPTURE = {"email": "lang@example.nl", "channel": "opt_in_form", "notice": NOTICE}


def test_json_structure_is_judged_exactly() -> None:
    assert json_structure_problem(b"[" * 32 + b"]" * 32, 32, 1000) is None
    assert "deeper than 32" in str(json_structure_problem(b"[" * 33 + b"]" * 33, 32, 1000))
    assert "deeper than 3" in str(json_structure_problem(b'{"a": {"b": {"c": {"d": 1}}}}', 3, 1000))
    # brackets and commas inside strings, escaped quotes included, are text, not structure
    text = json.dumps({"note": '[[[[{{{{ "quoted" ,,,, \\ ]]]]', "x": [1, 2]}).encode()
    assert json_structure_problem(text, 3, 3) is None
    assert json_structure_problem(json.dumps(list(range(1000))).encode(), 32, 1000) is None
    assert "more than 1000 items" in str(json_structure_problem(json.dumps(list(range(1001))).encode(), 32, 1000))
    # an object's members are not array items; an inner array is counted on its own
    many_keys = json.dumps({f"k{i}": i for i in range(50)}).encode()
    assert json_structure_problem(many_keys, 32, 10) is None
    assert json_structure_problem(json.dumps([[1] * 5, [1] * 5, [1] * 5]).encode(), 32, 5) is None


@pytest.fixture
async def consent(make_settings: Any, sqlite_url: str) -> AsyncIterator[tuple[Any, str, dict[str, str]]]:
    settings = make_settings(
        "consent", sqlite_url, header_timeout_seconds=1, body_timeout_seconds=1, keep_alive_seconds=1
    )
    app = build_app("consent", settings)
    async with serve_production(app, settings) as address:
        key = await create_site_key(app.state.runtime.db, "website", ["https://www.example.nl"])
        admin = await create_token(app.state.runtime.db, "staff", ["admin", "dpo"])
        yield app, address, {"x-site-key": key, "authorization": f"Bearer {admin}"}


async def recorded(address: str, headers: dict[str, str]) -> int:
    async with httpx.AsyncClient(base_url=f"http://{address}", headers=headers) as client:
        r = await client.post("/admin/subjects/history", json={"email": "lang@example.nl"})
        return len(r.json()["records"])


async def exchange(address: str, *parts: bytes, pause: float = 0.0) -> tuple[bytes, float]:
    """Send `parts` over one connection, `pause` seconds apart; (everything answered, seconds taken)."""
    host, port = address.split(":")
    reader, writer = await asyncio.open_connection(host, int(port))
    started = time.monotonic()
    try:
        for i, part in enumerate(parts):
            if i and pause:
                await asyncio.sleep(pause)
            with contextlib.suppress(ConnectionError):
                writer.write(part)
                await writer.drain()
        answer = await asyncio.wait_for(reader.read(), 10)
        return answer, time.monotonic() - started
    finally:
        writer.close()


def problem_of(answer: bytes) -> tuple[int, dict[str, Any]]:
    head, _, body = answer.partition(b"\r\n\r\n")
    status = int(head.split(b" ")[1])
    assert b"content-type: application/problem+json" in head.lower(), head
    return status, json.loads(body)


def post(path: str, body: bytes, headers: dict[str, str], *, length: int | None = None) -> bytes:
    lines = [f"POST {path} HTTP/1.1", "host: test", "content-type: application/json"]
    lines += [f"{k}: {v}" for k, v in headers.items()]
    lines.append(f"content-length: {len(body) if length is None else length}")
    return ("\r\n".join(lines) + "\r\n\r\n").encode() + body


async def test_deep_or_long_json_is_400_and_nothing_is_recorded(consent: Any) -> None:
    _app, address, headers = consent
    deep = json.dumps({**CAPTURE, "purposes": [{"purpose": "leads", "granted": True}], "note": None})
    deep = deep[:-1] + ', "extra": ' + "[" * 40 + "]" * 40 + "}"
    long = json.dumps({**CAPTURE, "purposes": [{"purpose": "leads", "granted": True}] * 1001})
    for body, why in ((deep, "deeper than 32"), (long, "more than 1000 items")):
        async with httpx.AsyncClient(base_url=f"http://{address}") as client:
            r = await client.post("/v1/consents", content=body, headers={**headers, "content-type": "application/json"})
        assert r.status_code == 400 and why in r.json()["detail"], r.text
        assert r.headers["content-type"] == "application/problem+json"
    assert await recorded(address, headers) == 0


async def test_large_headers_are_431(consent: Any) -> None:
    _app, address, _headers = consent
    big = b"GET /v1/purposes HTTP/1.1\r\nhost: t\r\nx-big: " + b"a" * 20_000 + b"\r\n\r\n"
    answer, _ = await exchange(address, big)
    status, problem = problem_of(answer)
    assert status == 431 and "16384 bytes" in problem["detail"]
    # many small headers add up just the same
    many = b"".join(b"x-h%d: %s\r\n" % (i, b"b" * 100) for i in range(200))
    status, _ = problem_of((await exchange(address, b"GET /v1/purposes HTTP/1.1\r\nhost: t\r\n" + many + b"\r\n"))[0])
    assert status == 431


async def test_a_client_that_sends_its_headers_slowly_gets_408(consent: Any) -> None:
    _app, address, _headers = consent
    answer, took = await exchange(address, b"GET /v1/purposes HTTP/1.1\r\n", b"host: t\r\n", b"x: y\r\n", pause=0.6)
    status, problem = problem_of(answer)
    assert status == 408 and "headers did not arrive within 1 s" in problem["detail"]
    assert 0.9 < took < 3
    # a connection that says nothing at all is closed, with nobody to answer
    answer, took = await exchange(address)
    assert answer == b"" and took < 3


async def test_a_client_that_sends_its_body_slowly_gets_408_and_nothing_is_recorded(consent: Any) -> None:
    _app, address, headers = consent
    body = json.dumps({**CAPTURE, "purposes": [{"purpose": "leads", "granted": True}]}).encode()
    request = post("/v1/consents", body, headers)
    cut = len(request) - len(body) + 10
    answer, took = await exchange(address, request[:cut], request[cut : cut + 5], request[cut + 5 :], pause=0.7)
    status, problem = problem_of(answer)
    assert status == 408 and "within 1 s" in problem["detail"] and took < 3
    assert await recorded(address, headers) == 0
    # the same body sent at once is taken: the limit is the only reason for the refusal
    answer, _ = await exchange(address, request.replace(b"content-type", b"connection: close\r\ncontent-type", 1))
    assert answer.startswith(b"HTTP/1.1 201"), answer[:200]
    assert await recorded(address, headers) == 1


async def test_an_idle_kept_alive_connection_is_closed(consent: Any) -> None:
    _app, address, _headers = consent
    host, port = address.split(":")
    reader, writer = await asyncio.open_connection(host, int(port))
    writer.write(b"GET /healthz HTTP/1.1\r\nhost: t\r\n\r\n")
    first = await reader.readuntil(b'{"status":"ok"}')
    assert first.startswith(b"HTTP/1.1 200")
    started = time.monotonic()
    assert await asyncio.wait_for(reader.read(), 5) == b""  # closed by the server
    assert time.monotonic() - started < 3
    writer.close()


async def test_a_large_body_is_413_by_length_or_while_it_streams(consent: Any) -> None:
    _app, address, headers = consent
    big = b'{"note": "' + b"x" * 70_000 + b'"}'
    status, problem = problem_of((await exchange(address, post("/v1/consents", big, headers)))[0])
    assert status == 413 and "65536 bytes" in problem["detail"]
    chunked = (
        b"POST /v1/consents HTTP/1.1\r\nhost: t\r\ncontent-type: application/json\r\n"
        + "".join(f"{k}: {v}\r\n" for k, v in headers.items()).encode()
        + b"transfer-encoding: chunked\r\n\r\n"
        + b"".join(b"%x\r\n%s\r\n" % (10_000, b"y" * 10_000) for _ in range(8))
        + b"0\r\n\r\n"
    )
    status, _ = problem_of((await exchange(address, chunked))[0])
    assert status == 413
    assert await recorded(address, headers) == 0
