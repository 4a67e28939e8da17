"""JSON logs, one object per line, carrying the request id of the request being served."""

from __future__ import annotations

import contextvars
import json
import logging
import sys
import time
from typing import Any

from starlette.requests import ClientDisconnect
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from services.common import telemetry
from services.common.ids import uuid4_hex

request_id: contextvars.ContextVar[str | None] = contextvars.ContextVar("request_id", default=None)

_STANDARD = set(logging.LogRecord("", 0, "", 0, "", (), None).__dict__) | {"message", "asctime", "color_message"}


class JsonFormatter(logging.Formatter):
    def __init__(self, service: str) -> None:
        super().__init__()
        self.service = service

    def format(self, record: logging.LogRecord) -> str:
        out: dict[str, Any] = {
            "time": time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(record.created)) + f".{int(record.msecs):03d}Z",
            "level": record.levelname.lower(),
            "service": self.service,
            "logger": record.name,
            "message": record.getMessage(),
        }
        rid = request_id.get()
        if rid:
            out["request_id"] = rid
        traced = telemetry.ids()
        if traced is not None:
            out["trace_id"], out["span_id"] = traced
        out.update({k: v for k, v in record.__dict__.items() if k not in _STANDARD and not k.startswith("_")})
        if record.exc_info:
            out["exception"] = self.formatException(record.exc_info)
        return json.dumps(out, default=str, ensure_ascii=False)


def configure_logging(service: str, level: str = "INFO") -> None:
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JsonFormatter(service))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    for name in ("uvicorn", "uvicorn.error"):
        logging.getLogger(name).handlers[:] = []
        logging.getLogger(name).propagate = True
    logging.getLogger("uvicorn.access").disabled = True  # replaced by the request log below
    logging.getLogger("aiokafka").setLevel(logging.WARNING)
    coordinator = logging.getLogger("aiokafka.consumer.group_coordinator")
    coordinator.filters[:] = [CoordinatorNotYet()]
    logging.getLogger("httpx").setLevel(logging.WARNING)  # its request lines name URLs with personal data


class CoordinatorNotYet(logging.Filter):
    """A new broker creates its group coordinator on first use, and aiokafka logs each retry until then
    as an error. It is the normal course of a first start: said once, as what it is."""

    said = False

    def filter(self, record: logging.LogRecord) -> bool:
        if "CoordinatorNotAvailable" not in record.getMessage():
            return True
        if not CoordinatorNotYet.said:
            CoordinatorNotYet.said = True
            logging.getLogger("services.common.consumer").info(
                "Kafka's group coordinator is not available yet (a new broker creates it on first use); "
                "the consumers retry until it is"
            )
        return False


REQUEST_LOG = logging.getLogger("request")


class Served:
    """One request's context, from `begin` to `finish`: its id (echoed), its span, its time."""

    __slots__ = ("attached", "metrics", "rid", "span", "started", "token")

    def __init__(self, scope: Scope) -> None:
        headers = dict(scope["headers"])
        incoming = headers.get(b"x-request-id", b"").decode("latin-1")
        self.rid = incoming if 0 < len(incoming) <= 100 and incoming.isprintable() else uuid4_hex()
        self.token = request_id.set(self.rid)
        self.started = time.perf_counter()
        runtime = getattr(scope["app"].state, "runtime", None)
        tracing = getattr(runtime, "tracing", None)
        self.metrics = getattr(runtime, "metrics", None)
        self.span: Any = None
        self.attached: Any = None
        if tracing is not None:
            traceparent = headers.get(b"traceparent", b"").decode("latin-1")
            self.span, self.attached = tracing.server_span(scope["method"], traceparent or None)

    def header(self) -> tuple[bytes, bytes]:
        return (b"x-request-id", self.rid.encode())

    def finish(self, scope: Scope, route: str, status: int) -> None:
        """Metrics, the request's log line (the route's template, never the path: paths carry tokens, signed
        links and the webhook secret among them) and the span's end."""
        seconds = time.perf_counter() - self.started
        if self.metrics is not None:
            self.metrics.request(scope["method"], route, status, seconds)
        if scope["path"] not in ("/healthz", "/readyz") and REQUEST_LOG.isEnabledFor(logging.INFO):
            extra = {"status": status, "duration_ms": round(seconds * 1000, 2)}
            REQUEST_LOG.info("%s %s %s", scope["method"], route, status, extra=extra)
        if self.span is not None:
            telemetry.Tracing.end_server_span(self.span, self.attached, f"{scope['method']} {route}", route, status)
        request_id.reset(self.token)


class RequestContext:
    """Assigns a request id (or keeps a sane incoming X-Request-ID), echoes it, logs each request, and gives it
    its metrics and span (`Served`; the fast lane, fastlane.py, gives its answers the same)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        served = Served(scope)
        status = 500

        async def send_with_id(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                message.setdefault("headers", [])
                message["headers"] = [*message["headers"], served.header()]
            await send(message)

        try:
            await self.app(scope, receive, send_with_id)
        except ClientDisconnect:
            # The client left before its request was read (a load tool stopping, a closed tab): nobody to
            # answer and nothing accepted, so not a server error with a traceback.
            status = 499
        finally:
            served.finish(scope, getattr(scope.get("route"), "path", None) or "(no route)", status)
