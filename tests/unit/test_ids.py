"""Buffered random ids: valid version-4 UUIDs, never repeated, and a forked child never repeats its parent."""

from __future__ import annotations

import os
import uuid

from services.common.ids import random_bytes, uuid4_hex, uuid4_str


def test_ids_are_version_4_uuids_and_distinct() -> None:
    ids = [uuid4_str() for _ in range(20_000)]
    assert len(set(ids)) == len(ids)
    for text in ids[:500]:
        parsed = uuid.UUID(text)
        assert str(parsed) == text and parsed.version == 4 and parsed.variant == uuid.RFC_4122
    h = uuid4_hex()
    assert len(h) == 32 and uuid.UUID(hex=h).version == 4


def test_buffer_refills_and_serves_large_requests() -> None:
    chunks = [random_bytes(1000) for _ in range(10)]  # crosses the 4 KiB buffer twice
    assert all(len(c) == 1000 for c in chunks) and len(set(chunks)) == 10
    assert len(random_bytes(10_000)) == 10_000


def test_a_forked_child_does_not_repeat_the_parent() -> None:
    uuid4_hex()  # the parent's buffer is filled
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:  # child: report its next id and leave at once
        os.write(write, uuid4_hex().encode())
        os._exit(0)
    os.close(write)
    child = os.read(read, 64).decode()
    os.close(read)
    os.waitpid(pid, 0)
    assert len(child) == 32 and child != uuid4_hex()
