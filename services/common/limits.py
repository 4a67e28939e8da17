"""Limits on what a request may make the server hold or wait for, enforced before any route runs.

- the body: at most `max_body_bytes` (413), and all of it within `body_timeout_seconds` of the headers
  (408: a client that trickles its body does not hold a worker)
- a JSON body: nested at most `json_max_depth` deep, and no array longer than `json_max_items` (400)
- a body of any type: no NUL character in its text (400; PostgreSQL cannot store one)
- a body needs a Content-Type, and a route that reads JSON takes JSON only (415), so that no check
  above is passed by calling the body something else
- the headers: at most `header_max_bytes` in all (431)

Each refusal is a problem (RFC 9457) and nothing of the request is processed. The server-side half
(a client that sends its headers slowly, idle keep-alive connections) is in `serving.py`."""

from __future__ import annotations

import asyncio
import re
from dataclasses import dataclass
from typing import Any

from starlette.exceptions import HTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from services.common.problems import raw

# a JSON string (escapes included) as one token, or one structural character
_TOKENS = re.compile(rb'"(?:[^"\\]|\\.)*"|[\[\]{},]', re.DOTALL)


CLOSE = {"connection": "close"}  # what is left of a refused body is not read as a next request


@dataclass(frozen=True)
class Limits:
    max_body_bytes: int = 64 * 1024
    body_timeout_seconds: float = 10.0
    json_max_depth: int = 32
    json_max_items: int = 1000
    header_max_bytes: int = 16 * 1024


def json_structure_problem(body: bytes, max_depth: int, max_items: int) -> str | None:
    """Why this JSON text nests too deep or holds too long an array, or None. The counts of brackets and
    commas bound both, so a usual body is judged by two C-speed counts; only a large one is scanned."""
    brackets = body.count(b"[") + body.count(b"{")
    if brackets <= max_depth and body.count(b",") < max_items:
        return None
    depth = 0
    items: list[int] = []  # per open container: commas so far (-1 for an object: not counted)
    for match in _TOKENS.finditer(body):
        token = match.group()
        if token in (b"[", b"{"):
            depth += 1
            if depth > max_depth:
                return f"the JSON body nests deeper than {max_depth} levels"
            items.append(0 if token == b"[" else -1)
        elif token in (b"]", b"}"):
            depth -= 1
            if items:
                items.pop()
        elif token == b"," and items and items[-1] >= 0:
            items[-1] += 1
            if items[-1] >= max_items:
                return f"a JSON array in the body holds more than {max_items} items"
    return None


def holds_nul(body: bytes, *, json_text: bool) -> bool:
    """A NUL character (U+0000) in the body's text: no database text column holds one (PostgreSQL
    refuses it), so it is refused on every backend before anything is stored."""
    if not json_text:
        return b"%00" in body or b"\x00" in body
    at = body.find(b"\\u0000")
    while at != -1:
        slashes = len(body[:at]) - len(body[:at].rstrip(b"\\"))
        if slashes % 2 == 0:  # the backslash starts an escape, it is not itself escaped
            return True
        at = body.find(b"\\u0000", at + 1)
    return False


def json_routes(app: Any) -> list[tuple[re.Pattern[str], frozenset[str]]]:
    """The routes of `app` whose body is JSON: a FastAPI body model that is not a form, or a lean route
    documenting an `application/json` request body (`errors.body_schema`)."""
    from fastapi import FastAPI, params

    from services.common.contract import api_routes

    found = []
    for route in api_routes(app) if isinstance(app, FastAPI) else []:
        field = route.body_field
        documented = ((route.openapi_extra or {}).get("requestBody") or {}).get("content", {})
        takes_json = (field is not None and not isinstance(field.field_info, params.Form)) or (
            field is None and "application/json" in documented
        )
        if takes_json:
            found.append((route.path_regex, frozenset(route.methods or ())))
    return found


class InputLimits:
    def __init__(self, app: ASGIApp, limits: Limits) -> None:
        self.app = app
        self.limits = limits
        self._json_routes: list[tuple[re.Pattern[str], frozenset[str]]] | None = None

    def _takes_json(self, scope: Scope) -> bool:
        if self._json_routes is None:
            self._json_routes = json_routes(scope.get("app"))
        path, method = scope.get("path", ""), scope["method"]
        return any(method in methods and pattern.match(path) for pattern, methods in self._json_routes)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        limits = self.limits
        headers = scope["headers"]
        size = sum(len(name) + len(value) + 4 for name, value in headers)
        if size > limits.header_max_bytes:
            detail = f"the request's headers take {size} bytes; at most {limits.header_max_bytes} are accepted"
            await _refuse(send, 431, detail, scope.get("path", ""))
            return
        length = content_length = media = None
        is_json = is_form = False
        for name, value in headers:
            if name == b"content-length":
                content_length = value
            elif name == b"content-type":
                media = value.split(b";")[0].strip().lower()
                is_json = media in (b"application/json", b"application/problem+json")
                is_form = media == b"application/x-www-form-urlencoded"
        if content_length is not None and content_length.isdigit():
            length = int(content_length)
            if length > limits.max_body_bytes:
                detail = f"request body larger than {limits.max_body_bytes} bytes"
                await _refuse(send, 413, detail, scope.get("path", ""))
                return
        if length == 0 or scope["method"] in ("GET", "HEAD", "OPTIONS"):
            await self.app(scope, receive, send)
            return
        if not is_json and self._takes_json(scope):
            given = media.decode("latin-1") if media else "no Content-Type"
            await _refuse(send, 415, f"this route takes application/json, not {given}", scope.get("path", ""))
            return
        deadline = asyncio.get_running_loop().time() + limits.body_timeout_seconds
        seen = 0
        held: list[bytes] = []

        async def limited_receive() -> Message:
            nonlocal seen
            try:
                async with asyncio.timeout_at(deadline):
                    message = await receive()
            except TimeoutError:
                # FastAPI passes an HTTPException through its body parsing: the client gets this answer.
                why = f"the body did not arrive within {limits.body_timeout_seconds:g} s"
                raise HTTPException(408, why, headers=CLOSE) from None
            if message["type"] == "http.request":
                chunk = message.get("body", b"")
                seen += len(chunk)
                if seen > limits.max_body_bytes:
                    raise HTTPException(413, f"request body larger than {limits.max_body_bytes} bytes", headers=CLOSE)
                if message.get("more_body"):
                    held.append(chunk)
                else:
                    whole = b"".join([*held, chunk]) if held else chunk
                    # every type: a form's %00, JSON's \u0000, and a raw NUL in anything else
                    nul = holds_nul(whole, json_text=is_json) if is_json or is_form else b"\x00" in whole
                    if nul:
                        raise HTTPException(400, "the body holds a NUL character (U+0000), which no text can")
                    if is_json:
                        structure = json_structure_problem(whole, limits.json_max_depth, limits.json_max_items)
                        if structure:
                            raise HTTPException(400, structure)
            return message

        await self.app(scope, limited_receive, send)


async def _refuse(send: Send, status: int, detail: str, path: str) -> None:
    headers, body = raw(status, detail, path, [(b"connection", b"close")])
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})
