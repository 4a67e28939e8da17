"""Signed, expiring links (unsubscribe, history) and random single-use tokens (double opt-in)."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import secrets
import time
from typing import Any

import orjson

from services.common.crypto import Keyed


class LinkError(ValueError):
    """The link is malformed, forged or expired."""


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


class LinkSigner:
    """`<payload>.<mac>`: payload is compact JSON with an action and an expiry; HMAC-SHA256 over it."""

    def __init__(self, key: bytes) -> None:
        self._key = Keyed(key)

    def sign(self, action: str, ttl_seconds: int | None, **claims: Any) -> str:
        body = {"a": action, **claims}
        if ttl_seconds is not None:
            body["exp"] = int(time.time()) + ttl_seconds
        payload = _b64(orjson.dumps(body, option=orjson.OPT_SORT_KEYS))
        return f"{payload}.{_b64(self._mac(payload))}"

    def open(self, token: str, action: str) -> dict[str, Any]:
        payload, dot, mac = token.partition(".")
        if not dot or len(token) > 2000:
            raise LinkError("malformed link")
        try:
            given = _unb64(mac)
        except (ValueError, TypeError) as exc:
            raise LinkError("malformed link") from exc
        if not hmac.compare_digest(given, self._mac(payload)):
            raise LinkError("link signature does not match")
        claims: dict[str, Any] = json.loads(_unb64(payload))
        if claims.get("a") != action:
            raise LinkError("link is for another action")
        if "exp" in claims and claims["exp"] < time.time():
            raise LinkError("link expired")
        return claims

    def _mac(self, payload: str) -> bytes:
        return self._key.mac(payload.encode())


def new_single_use_token() -> tuple[str, str]:
    """(token for the link, SHA-256 hex to store): only the hash is kept."""
    token = secrets.token_urlsafe(32)
    return token, token_hash(token)


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


# --- the privacy centre's word to dsar ------------------------------------------------------------------
# The centre (consent) has checked, with a single-use mailed link, that the person controls the address.
# It says so to dsar in a short-lived assertion signed with the key both share (CENTRE_KEY), sent in one
# header from server to server; dsar records "privacy centre sign-in" as the identity check.

CENTRE_HEADER = "x-privacy-centre"
CENTRE_ASSERTION_SECONDS = 120


def centre_assertion(key: bytes, email: str) -> str:
    return LinkSigner(key).sign("centre", CENTRE_ASSERTION_SECONDS, e=email)


def open_centre_assertion(key: bytes, token: str) -> str:
    """The address the centre vouches for; LinkError when forged, expired or not an assertion."""
    claims = LinkSigner(key).open(token, "centre")
    email = claims.get("e")
    if not isinstance(email, str) or "exp" not in claims:
        raise LinkError("malformed assertion")
    return email
