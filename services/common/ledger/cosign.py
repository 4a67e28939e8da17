"""C2SP tlog-cosignature: a witness's timestamped Ed25519 signature (type 0x04) over a checkpoint, checked
against the witness's verifier key. Pure: ledger-verify and the service both use it."""

from __future__ import annotations

import base64
import struct

from cryptography.exceptions import InvalidSignature

from services.common.ledger.note import SIG_PREFIX, NoteError, parse_vkey

COSIGNATURE_V1 = b"\x04"


class CosignatureVerifier:
    """A witness's verifier key, `<name>+<hex key hash>+<base64(0x04 || Ed25519 public key)>`."""

    def __init__(self, vkey: str) -> None:
        self.name, self.key_hash, self._key = parse_vkey(vkey, COSIGNATURE_V1, "witness key")
        self.vkey = vkey.strip()

    def check(self, body: str, line: str) -> int:
        """Verify one signature line over the checkpoint `body`; returns the cosignature's UNIX time."""
        if not line.startswith(SIG_PREFIX):
            raise NoteError(f"malformed signature line {line!r}")
        name, _, sig_b64 = line[len(SIG_PREFIX) :].partition(" ")
        try:
            blob = base64.b64decode(sig_b64, validate=True)
        except ValueError as exc:
            raise NoteError("cosignature is not base64") from exc
        if name != self.name or blob[:4] != self.key_hash or len(blob) != 4 + 8 + 64:
            raise NoteError(f"not a cosignature by {self.name}")
        (when,) = struct.unpack(">Q", blob[4:12])
        try:
            self._key.verify(blob[12:], f"cosignature/v1\ntime {when}\n{body}".encode())
        except InvalidSignature as exc:
            raise NoteError(f"cosignature by {self.name} does not verify") from exc
        return int(when)

    def find(self, note: str) -> int:
        """The time of this witness's valid cosignature among a note's signature lines (NoteError if none)."""
        body, sep, sigs = note.partition("\n\n")
        if not sep:
            raise NoteError("note has no signature block")
        for line in sigs.splitlines():
            try:
                return self.check(body + "\n", line)
            except NoteError:
                continue
        raise NoteError(f"no valid cosignature by {self.name}")


def quorum(note: str, vkeys: list[str], needed: int) -> list[str]:
    """The names of the given witnesses whose cosignature on `note` verifies; NoteError below `needed`."""
    found = []
    for vkey in vkeys:
        verifier = CosignatureVerifier(vkey)
        try:
            verifier.find(note)
        except NoteError:
            continue
        if verifier.name not in found:
            found.append(verifier.name)
    if len(found) < needed:
        said = ", ".join(found) or "none of them"
        raise NoteError(f"{len(found)} of the {needed} witness cosignatures needed ({said} cosigned)")
    return found


def with_cosignatures(note: str, lines: list[str]) -> str:
    """The checkpoint's note with the witnesses' lines added after the service's own."""
    return note + "".join(line.rstrip("\n") + "\n" for line in lines)
