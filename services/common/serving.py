"""Serve a service with uvicorn and the limits a public server needs (`privacy-serve consent`).

uvicorn closes idle keep-alive connections (`KEEP_ALIVE_SECONDS`), but it waits forever for a client
that opens a connection and sends its headers slowly or not at all, and its httptools parser takes
headers of any size. `GuardedHttpTools` adds both: the headers of each request must arrive within
`HEADER_TIMEOUT_SECONDS` (else the connection gets 408 and is closed) and take at most
`HEADER_MAX_BYTES` (else 431). The body's own limits are in `limits.py`."""

from __future__ import annotations

import argparse
import asyncio
import sys
from typing import Any

import uvicorn
from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol
from uvicorn.supervisors import Multiprocess

from services.common import registry
from services.common.problems import raw


class ServiceConfig(uvicorn.Config):
    """uvicorn's configuration plus the header limits (it travels to worker processes as it is)."""

    def __init__(self, app: Any, *, header_timeout: float, header_max_bytes: int, **kwargs: Any) -> None:
        super().__init__(app, **kwargs)
        self.header_timeout = header_timeout
        self.header_max_bytes = header_max_bytes


class GuardedHttpTools(HttpToolsProtocol):
    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self.header_timeout: float = getattr(self.config, "header_timeout", 10.0)
        self.header_max_bytes: int = getattr(self.config, "header_max_bytes", 16 * 1024)
        self._header_bytes = 0
        self._header_deadline: asyncio.TimerHandle | None = None
        self._arm()

    def _arm(self) -> None:
        self._disarm()
        self._header_deadline = self.loop.call_later(self.header_timeout, self._headers_too_slow)

    def _disarm(self) -> None:
        if self._header_deadline is not None:
            self._header_deadline.cancel()
            self._header_deadline = None

    def _refuse(self, status: int, detail: str) -> None:
        self._disarm()
        if self.transport.is_closing():
            return
        headers, body = raw(status, detail, self.url.split(b"?")[0].decode("latin-1") if self.url else "")
        phrase = {408: b"Request Timeout", 431: b"Request Header Fields Too Large"}[status]
        lines = [b"HTTP/1.1 %d %s\r\n" % (status, phrase)]
        lines += [name + b": " + value + b"\r\n" for name, value in headers]
        self.transport.write(b"".join([*lines, b"connection: close\r\n\r\n", body]))
        self.transport.close()

    def _headers_too_slow(self) -> None:
        self._header_deadline = None
        if self.cycle is not None and not self.cycle.response_complete:
            return  # a request is being answered: its body has its own deadline
        if self._header_bytes == 0 and self.cycle is None:
            self.transport.close()  # connected and said nothing: nobody to answer
            return
        self._refuse(408, f"the request's headers did not arrive within {self.header_timeout:g} s")

    def data_received(self, data: bytes) -> None:
        if self._header_deadline is None and (self.cycle is None or self.cycle.response_complete):
            self._arm()  # the first bytes of a next request on a kept-alive connection
        super().data_received(data)

    def on_message_begin(self) -> None:
        super().on_message_begin()
        self._header_bytes = 0

    def on_url(self, url: bytes) -> None:
        super().on_url(url)
        self._count(len(url))

    def on_header(self, name: bytes, value: bytes) -> None:
        super().on_header(name, value)
        self._count(len(name) + len(value) + 4)

    def _count(self, size: int) -> None:
        self._header_bytes += size
        if self._header_bytes > self.header_max_bytes and not self.transport.is_closing():
            self._refuse(431, f"the request's headers take more than {self.header_max_bytes} bytes")

    def on_headers_complete(self) -> None:
        self._disarm()
        if self.transport.is_closing():
            return
        super().on_headers_complete()

    def connection_lost(self, exc: Exception | None) -> None:
        self._disarm()
        super().connection_lost(exc)


def config(app: Any, settings: Any, *, host: str, port: int, **extra: Any) -> ServiceConfig:
    """The uvicorn configuration of a service, its limits from its settings. `app` is the application
    or, with `workers`, its factory's import string."""
    return ServiceConfig(
        app,
        host=host,
        port=port,
        http=GuardedHttpTools,
        header_timeout=settings.header_timeout_seconds,
        header_max_bytes=settings.header_max_bytes,
        timeout_keep_alive=int(max(1, settings.keep_alive_seconds)),
        h11_max_incomplete_event_size=settings.header_max_bytes,
        server_header=False,
        log_config=None,  # the service's JSON logs (configured by create_app) stay as they are
        # X-Forwarded-For/-Proto only from the proxies named in FORWARDED_ALLOW_IPS (none by default; uvicorn
        # itself would trust 127.0.0.1, so any caller on the host could choose its address and scheme)
        proxy_headers=bool(settings.forwarded_allow_ips),
        forwarded_allow_ips=settings.forwarded_allow_ips or "",
        **extra,
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="privacy-serve", description="Serve one service with its limits.")
    parser.add_argument("service", choices=registry.names())
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8000)
    parser.add_argument("--workers", type=int, default=1, help="processes (each with its own relay and consumers)")
    parser.add_argument("--access-log", action="store_true", help="log every request (uvicorn's access log)")
    parser.add_argument("--log-level", default=None, help="uvicorn's own log level (default: the service's)")
    args = parser.parse_args(argv)
    registration = registry.service(args.service)
    settings = registration.settings()  # the limits; each worker builds its own app
    extra: dict[str, Any] = {"access_log": args.access_log}
    if args.log_level:
        extra["log_level"] = args.log_level
    if args.workers > 1:
        extra.update(workers=args.workers, factory=True)
        many = config(registration.app, settings, host=args.host, port=args.port, **extra)
        Multiprocess(many, sockets=[many.bind_socket()]).run()
    else:
        app = registration.create_app()
        uvicorn.Server(config(app, settings, host=args.host, port=args.port, **extra)).run()
    return 0


if __name__ == "__main__":
    sys.exit(main())
