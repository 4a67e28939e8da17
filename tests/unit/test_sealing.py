"""Issue 35 item 1: one key, one purpose. What crosses Kafka between our services is sealed with SEALING_KEY
(its key id in each value, so that it can be rotated), never with PSEUDONYM_KEY, which a system that
follows consent.state.v1 might hold; values sealed the old way keep opening."""

from __future__ import annotations

import base64
import json
import os

import pytest
from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.hashes import SHA256
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from services.common.contracts import SealingKeys, open_fragment, seal_fragment

PSEUDONYM_KEY, SEALING_KEY, NEXT_KEY = os.urandom(32), os.urandom(32), os.urandom(32)
DATA = {"email": "anna@example.nl", "records": [1, 2]}


def sealed_the_old_way(pseudonym_key: bytes, context: str, data: dict[str, object]) -> str:
    """As services sealed before key ids (from the pseudonym key), written out here on purpose."""
    key = HKDF(SHA256(), 32, salt=None, info=f"dsar-fragment:{context}".encode()).derive(pseudonym_key)
    nonce = os.urandom(12)
    return base64.b64encode(nonce + AESGCM(key).encrypt(nonce, json.dumps(data).encode(), None)).decode()


def test_a_sealed_value_names_its_key_and_the_pseudonym_key_opens_nothing_new() -> None:
    keys = SealingKeys("k1", SEALING_KEY, legacy=PSEUDONYM_KEY)
    sealed = seal_fragment(keys, "dsr_1", DATA)
    assert sealed.startswith("s1.k1.") and open_fragment(keys, "dsr_1", sealed) == DATA
    with pytest.raises(InvalidTag):  # a system holding only PSEUDONYM_KEY
        open_fragment(SealingKeys("k1", PSEUDONYM_KEY), "dsr_1", sealed)
    with pytest.raises(InvalidTag):  # one request's value opens as no other's
        open_fragment(keys, "dsr_2", sealed)


def test_a_rotated_key_still_opens_what_it_sealed() -> None:
    old = SealingKeys("k1", SEALING_KEY)
    sealed = seal_fragment(old, "q_1", DATA)
    rotated = SealingKeys("k2", NEXT_KEY, older={"k1": SEALING_KEY})
    assert open_fragment(rotated, "q_1", sealed) == DATA
    assert seal_fragment(rotated, "q_1", DATA).startswith("s1.k2.")
    with pytest.raises(ValueError, match="neither SEALING_KEY_ID nor a retired key"):
        open_fragment(SealingKeys("k2", NEXT_KEY), "q_1", sealed)


def test_values_sealed_before_key_ids_keep_opening_until_switched_off() -> None:
    legacy = sealed_the_old_way(PSEUDONYM_KEY, "dsr_old", DATA)
    assert open_fragment(SealingKeys("k1", SEALING_KEY, legacy=PSEUDONYM_KEY), "dsr_old", legacy) == DATA
    with pytest.raises(ValueError, match="switched off"):
        open_fragment(SealingKeys("k1", SEALING_KEY), "dsr_old", legacy)
