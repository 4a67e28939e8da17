"""Signed tree heads as C2SP tlog-checkpoint signed notes, with Ed25519 (note signature type 0x01)."""

from __future__ import annotations

import base64
import hashlib
from dataclasses import dataclass

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

ED25519 = b"\x01"
SIG_PREFIX = "\u2014 "  # em dash and space start every signature line


class NoteError(ValueError):
    """A checkpoint note is malformed or its signature does not verify."""


@dataclass(frozen=True)
class Checkpoint:
    origin: str
    size: int
    root: bytes

    def body(self) -> str:
        return f"{self.origin}\n{self.size}\n{base64.b64encode(self.root).decode()}\n"


def _key_hash(name: str, public: bytes) -> bytes:
    return hashlib.sha256(name.encode() + b"\n" + ED25519 + public).digest()[:4]


def _raw_public(key: Ed25519PublicKey) -> bytes:
    return key.public_bytes(Encoding.Raw, PublicFormat.Raw)


class NoteSigner:
    def __init__(self, name: str, seed: bytes) -> None:
        if "+" in name or " " in name or not name:
            raise ValueError(f"invalid note key name {name!r}")
        self.name = name
        self._key = Ed25519PrivateKey.from_private_bytes(seed)
        self.public = _raw_public(self._key.public_key())
        self.key_hash = _key_hash(name, self.public)

    @property
    def verifier_key(self) -> str:
        """The vkey text: <name>+<hex key hash>+<base64(0x01 || public key)>."""
        return f"{self.name}+{self.key_hash.hex()}+{base64.b64encode(ED25519 + self.public).decode()}"

    def sign(self, checkpoint: Checkpoint) -> str:
        body = checkpoint.body()
        sig = self._key.sign(body.encode())
        return f"{body}\n{SIG_PREFIX}{self.name} {base64.b64encode(self.key_hash + sig).decode()}\n"


def parse_vkey(vkey: str, algorithm: bytes, what: str) -> tuple[str, bytes, Ed25519PublicKey]:
    """A verifier key `<name>+<hex key hash>+<base64(algorithm || Ed25519 public key)>`, checked: its name, its
    key hash (SHA-256 of name, newline, algorithm byte and key; first 4 bytes) and its public key."""
    try:
        name, hash_hex, key_b64 = vkey.strip().split("+", 2)
        raw = base64.b64decode(key_b64, validate=True)
    except ValueError as exc:
        raise NoteError(f"malformed {what} {vkey!r}") from exc
    if raw[:1] != algorithm or len(raw) != 33:
        raise NoteError(f"{what} is not of signature type 0x{algorithm.hex()} (Ed25519)")
    key_hash = hashlib.sha256(name.encode() + b"\n" + raw).digest()[:4]
    if key_hash.hex() != hash_hex:
        raise NoteError(f"{what} hash does not match its name and key")
    return name, key_hash, Ed25519PublicKey.from_public_bytes(raw[1:])


class NoteVerifier:
    def __init__(self, vkey: str) -> None:
        self.name, self.key_hash, self._key = parse_vkey(vkey, ED25519, "verifier key")

    def open(self, note: str) -> Checkpoint:
        """Verify the note's signature by this key and parse the checkpoint body."""
        body, sep, sigs = note.partition("\n\n")
        if not sep:
            raise NoteError("note has no signature block")
        body += "\n"
        found = False
        for line in sigs.splitlines():
            if not line.startswith(SIG_PREFIX):
                raise NoteError(f"malformed signature line {line!r}")
            name, _, sig_b64 = line[len(SIG_PREFIX) :].partition(" ")
            if name != self.name:
                continue
            try:
                blob = base64.b64decode(sig_b64, validate=True)
            except ValueError as exc:
                raise NoteError("signature is not base64") from exc
            if blob[:4] != self.key_hash:
                continue
            try:
                self._key.verify(blob[4:], body.encode())
            except InvalidSignature as exc:
                raise NoteError(f"signature by {self.name} does not verify") from exc
            found = True
        if not found:
            raise NoteError(f"note carries no signature by {self.name}")
        lines = body.split("\n")
        if len(lines) < 4:
            raise NoteError("checkpoint body needs origin, size and root lines")
        origin, size_text, root_b64 = lines[0], lines[1], lines[2]
        if not size_text.isdigit() or (size_text != "0" and size_text.startswith("0")):
            raise NoteError(f"checkpoint size {size_text!r} is not a decimal number")
        try:
            root = base64.b64decode(root_b64, validate=True)
        except ValueError as exc:
            raise NoteError("checkpoint root is not base64") from exc
        if len(root) != 32:
            raise NoteError("checkpoint root is not a SHA-256 hash")
        return Checkpoint(origin, int(size_text), root)
