"""Pseudonyms and per-subject encryption (crypto-shredding) for personal data."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import os
import secrets
import unicodedata
from datetime import UTC, datetime
from typing import Any

import orjson
from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.hashes import SHA256
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from sqlalchemy import delete
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col, select

from services.common.bulk import Writes, bulk_insert
from services.common.db import Tx
from services.common.models import SubjectKey, table_of


class ShreddedError(LookupError):
    """The subject's key was destroyed: its personal data can no longer be read."""


def normalise_email(email: str) -> str:
    return unicodedata.normalize("NFC", email.strip()).lower()


def pseudonym(key: bytes | Keyed, email: str) -> str:
    """HMAC-SHA256 of the normalised email: stable, not reversible without the key."""
    keyed = key if isinstance(key, Keyed) else Keyed(key)
    return keyed.mac(normalise_email(email).encode()).hex()


class Keyed:
    """HMAC-SHA256 with one key, keyed once: each MAC copies the keyed state (OpenSSL looks the digest up
    and hashes the padded key again on every `hmac.new` or `hmac.digest`, three times the cost of a copy)."""

    def __init__(self, key: bytes) -> None:
        self._keyed = hmac.new(key, digestmod=hashlib.sha256)

    def mac(self, message: bytes) -> bytes:
        h = self._keyed.copy()
        h.update(message)
        return h.digest()


def canonical_json(value: Any) -> bytes:
    """Sorted keys, no whitespace, UTF-8 (non-ASCII as it is): the bytes a ledger leaf hashes. orjson writes
    them at a fifth of the stdlib's CPU and, for every value without floats (no event has one), byte for
    byte what `json.dumps(sort_keys=True, separators=(",", ":"), ensure_ascii=False)` writes, which
    tests/unit/test_canonical_json.py checks. A value orjson refuses (a key that is not a string, an int
    beyond 64 bits) takes the stdlib's form."""
    try:
        return orjson.dumps(value, option=orjson.OPT_SORT_KEYS)
    except TypeError:
        return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


class SubjectVault:
    """Per-subject AES-256-GCM data keys, wrapped with the key-encryption key (KEK) at rest."""

    def __init__(self, kek: bytes) -> None:
        if len(kek) != 32:
            raise ValueError("the key-encryption key must be 32 bytes (AES-256)")
        self._kek = AESGCM(kek)
        self._kek_bytes = kek
        self._purpose_keys: dict[str, AESGCM] = {}

    def _wrap(self, key_id: str, key: bytes) -> bytes:
        nonce = os.urandom(12)
        return nonce + self._kek.encrypt(nonce, key, key_id.encode())

    def _unwrap(self, key_id: str, wrapped: bytes) -> bytes:
        return self._kek.decrypt(wrapped[:12], wrapped[12:], key_id.encode())

    async def key_for(self, session: AsyncSession, subject: str, *, create: bool = True) -> tuple[str, bytes]:
        row = (await session.execute(select(SubjectKey).where(col(SubjectKey.subject) == subject))).scalar_one_or_none()
        if row is not None:
            return row.key_id, self._unwrap(row.key_id, row.wrapped_key)
        if not create:
            raise ShreddedError(subject)
        key_id = "k_" + secrets.token_hex(12)
        key = AESGCM.generate_key(bit_length=256)
        session.add(SubjectKey(subject=subject, key_id=key_id, wrapped_key=self._wrap(key_id, key)))
        await session.flush()
        return key_id, key

    async def keys_for_many(
        self, where: AsyncSession | Tx, subjects: set[str], writes: Writes | None = None, *, create: bool = True
    ) -> dict[str, tuple[str, bytes]]:
        """Every subject's key in one query, creating the missing ones in one insert (group commit; with
        `writes`, the insert is added there for the caller to send). With `create=False` a subject without a
        key (never seen, or erased) is left out: reading what was kept never makes a key for an erased subject."""
        table = table_of(SubjectKey)
        tx = Tx.of(where)
        found = await tx.rows_in(table, ("subject", "key_id", "wrapped_key"), "subject", subjects)
        keys = {subject: (key_id, self._unwrap(key_id, wrapped)) for subject, key_id, wrapped in found}
        if not create:
            return keys
        new = []
        for subject in subjects - keys.keys():
            key_id, key = "k_" + secrets.token_hex(12), AESGCM.generate_key(bit_length=256)
            keys[subject] = (key_id, key)
            new.append(
                {
                    "subject": subject,
                    "key_id": key_id,
                    "wrapped_key": self._wrap(key_id, key),
                    "created_at": datetime.now(UTC),
                }
            )
        if writes is not None:
            writes.insert(table, new)
        elif new:
            await bulk_insert(tx, table, new)
        return keys

    @staticmethod
    def seal(subject: str, key_id: str, key: bytes, data: dict[str, Any]) -> str:
        """Encrypt with a key already in hand (see `keys_for_many`)."""
        nonce = os.urandom(12)
        return base64.b64encode(
            nonce + AESGCM(key).encrypt(nonce, canonical_json(data), f"{subject}:{key_id}".encode())
        ).decode()

    def seal_unattributed(self, purpose: str, data: bytes) -> bytes:
        """Encrypt what arrives before anyone can say whose it is (a webhook body, stored before it is
        parsed), with a key derived from the KEK for `purpose`. It is not shredded with a subject: keep such
        data only as long as its purpose needs, then delete it."""
        nonce = os.urandom(12)
        return nonce + self._purpose_key(purpose).encrypt(nonce, data, None)

    def open_unattributed(self, purpose: str, blob: bytes) -> bytes:
        return self._purpose_key(purpose).decrypt(blob[:12], blob[12:], None)

    def _purpose_key(self, purpose: str) -> AESGCM:
        found = self._purpose_keys.get(purpose)
        if found is None:  # derived once per purpose (the ledger's journal seals with one on every commit)
            found = self._purpose_keys[purpose] = AESGCM(
                HKDF(SHA256(), 32, salt=None, info=purpose.encode()).derive(self._kek_bytes)
            )
        return found

    @staticmethod
    def open(subject: str, key_id: str, key: bytes, ciphertext: str) -> dict[str, Any]:
        """Decrypt with a key already in hand; a ciphertext that does not open with it is `ShreddedError`."""
        blob = base64.b64decode(ciphertext)
        try:
            plain = AESGCM(key).decrypt(blob[:12], blob[12:], f"{subject}:{key_id}".encode())
        except InvalidTag as exc:
            raise ShreddedError("ciphertext does not open with the subject's key") from exc
        value: dict[str, Any] = json.loads(plain)
        return value

    async def encrypt(self, session: AsyncSession, subject: str, data: dict[str, Any]) -> tuple[str, str]:
        """Encrypt personal data for a subject; returns (key id, base64 nonce||ciphertext)."""
        key_id, key = await self.key_for(session, subject)
        return key_id, self.seal(subject, key_id, key, data)

    async def decrypt(self, session: AsyncSession, subject: str, key_id: str, ciphertext: str) -> dict[str, Any]:
        row = (await session.execute(select(SubjectKey).where(col(SubjectKey.subject) == subject))).scalar_one_or_none()
        if row is None or row.key_id != key_id:
            raise ShreddedError(f"key {key_id} of subject {subject[:12]}… no longer exists")
        return self.open(subject, key_id, self._unwrap(row.key_id, row.wrapped_key), ciphertext)

    def open_key(self, row: SubjectKey) -> bytes:
        """The data key of a `SubjectKey` row read by the caller."""
        return self._unwrap(row.key_id, row.wrapped_key)

    def open_row(self, subject: str, key_id: str, wrapped_key: bytes, ciphertext: str) -> dict[str, Any]:
        """Decrypt with a key row fetched in the caller's own (bulk) query."""
        return self.open(subject, key_id, self._unwrap(key_id, wrapped_key), ciphertext)

    @staticmethod
    async def shred_many(session: AsyncSession, subjects: set[str]) -> int:
        """Destroy the keys of many subjects at once; returns how many there were."""
        result = await session.execute(delete(SubjectKey).where(col(SubjectKey.subject).in_(sorted(subjects))))
        return int(result.rowcount or 0)  # type: ignore[attr-defined]

    @staticmethod
    async def shred(session: AsyncSession, subject: str) -> str | None:
        """Destroy the subject's key; returns its id, or None when there was none."""
        row = (await session.execute(select(SubjectKey).where(col(SubjectKey.subject) == subject))).scalar_one_or_none()
        if row is None:
            return None
        await session.execute(delete(SubjectKey).where(col(SubjectKey.subject) == subject))
        return row.key_id
