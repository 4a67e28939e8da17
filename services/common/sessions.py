"""Sessions in a cookie: the content sealed with AES-256-GCM (confidential and tamper-proof), with an idle
expiry and an absolute one inside, and a per-session CSRF token for the forms. HttpOnly, SameSite=Strict,
Secure over https. Ending a session for good (sign-out) is the caller's: a copied cookie stays sealed, so
the caller keeps the session id (`sid`) it ended where every worker reads it."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import os
import secrets
import time
from typing import Any

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from fastapi import Request, Response


class CookieSessions:
    def __init__(self, secret: bytes, *, name: str, path: str, idle_seconds: int, max_seconds: int = 12 * 3600) -> None:
        # a key of its own, derived from the service's link key: a session never opens as anything else
        self._aead = AESGCM(hmac.new(secret, f"session:{name}".encode(), hashlib.sha256).digest())
        self.name = name
        self.path = path
        self.idle_seconds = idle_seconds
        self.max_seconds = max_seconds  # from sign-in, however busy the session: a stolen cookie ends too

    def seal(self, data: dict[str, Any]) -> str:
        nonce = os.urandom(12)
        body = json.dumps({**data, "exp": int(time.time()) + self.idle_seconds}, separators=(",", ":")).encode()
        return base64.urlsafe_b64encode(nonce + self._aead.encrypt(nonce, body, self.name.encode())).decode()

    def open(self, request: Request) -> dict[str, Any] | None:
        """The session of this request, or None (none, tampered with, or idle too long)."""
        raw = request.cookies.get(self.name)
        if not raw or len(raw) > 4000:
            return None
        try:
            blob = base64.urlsafe_b64decode(raw)
            data: dict[str, Any] = json.loads(self._aead.decrypt(blob[:12], blob[12:], self.name.encode()))
        except (ValueError, InvalidTag):
            return None
        now = time.time()
        if not isinstance(data, dict) or data.get("exp", 0) < now or data.get("born", 0) + self.max_seconds < now:
            return None
        return data

    def start(self, response: Response, request: Request, data: dict[str, Any]) -> dict[str, Any]:
        """A new session (a fresh CSRF token and session id, its absolute lifetime from now) on `response`."""
        data = {**data, "csrf": secrets.token_urlsafe(24), "sid": secrets.token_urlsafe(16), "born": int(time.time())}
        self.keep(response, request, data)
        return data

    def keep(self, response: Response, request: Request, data: dict[str, Any]) -> None:
        """Set (or renew, for the idle timeout) the session cookie."""
        response.set_cookie(
            self.name,
            self.seal({k: v for k, v in data.items() if k != "exp"}),
            max_age=self.idle_seconds,
            path=self.path,
            httponly=True,
            secure=request.url.scheme == "https",
            samesite="strict",
        )

    def end(self, response: Response, request: Request) -> None:
        response.delete_cookie(
            self.name, path=self.path, httponly=True, secure=request.url.scheme == "https", samesite="strict"
        )


def csrf_ok(session: dict[str, Any] | None, given: str | None) -> bool:
    expected = (session or {}).get("csrf")
    return bool(expected and given) and hmac.compare_digest(str(expected), str(given))
