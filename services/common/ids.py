"""Random identifiers for the hot paths: the same operating-system randomness as `uuid.uuid4()`, read
4 KiB at a time instead of one system call and one UUID object per id (a capture makes four ids; in the
profile `uuid4` was 4 % of the request's time). A forked child starts with an empty buffer, so parent
and child never hand out the same bytes."""

from __future__ import annotations

import os
import threading

_CHUNK = 4096
_lock = threading.Lock()
_buffer = b""
_offset = 0


def _reset_after_fork() -> None:
    global _buffer, _offset, _lock
    _buffer, _offset, _lock = b"", 0, threading.Lock()


os.register_at_fork(after_in_child=_reset_after_fork)


def random_bytes(n: int) -> bytes:
    """n bytes from os.urandom, served from a buffer (n <= 4096)."""
    global _buffer, _offset
    with _lock:
        if _offset + n > len(_buffer):
            _buffer, _offset = os.urandom(max(_CHUNK, n)), 0
        out = _buffer[_offset : _offset + n]
        _offset += n
    return out


def uuid4_hex() -> str:
    """32 hex digits of a version-4 UUID (as `uuid.uuid4().hex`)."""
    raw = bytearray(random_bytes(16))
    raw[6] = (raw[6] & 0x0F) | 0x40
    raw[8] = (raw[8] & 0x3F) | 0x80
    return raw.hex()


def uuid4_str() -> str:
    """A version-4 UUID in its canonical 8-4-4-4-12 form (as `str(uuid.uuid4())`)."""
    h = uuid4_hex()
    return f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]}"
