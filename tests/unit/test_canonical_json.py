"""canonical_json (the bytes a ledger leaf hashes) is what the stdlib's sorted compact UTF-8 JSON is, for
every value an event can hold: strings with any character (controls, quotes, non-ASCII, astral), ints,
booleans, null, lists and objects, nested."""

import json
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from services.common.crypto import canonical_json

text = st.text(alphabet=st.characters(exclude_categories=("Cs",)), max_size=40)
scalars = st.none() | st.booleans() | st.integers(min_value=-(2**63), max_value=2**63 - 1) | text
values = st.recursive(
    scalars, lambda inner: st.lists(inner, max_size=5) | st.dictionaries(text, inner, max_size=5), max_leaves=30
)


def stdlib(value: Any) -> bytes:
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


@settings(max_examples=400, deadline=None)
@given(values)
def test_the_same_bytes_as_the_stdlib(value: Any) -> None:
    assert canonical_json(value) == stdlib(value)


def test_every_control_character_and_the_escapes() -> None:
    value = {"s": "".join(chr(c) for c in range(0x20)) + '"\\/\x7f\u2028\u2029é😀', "é": 1, "e": 2, "z": [True, None]}
    assert canonical_json(value) == stdlib(value)


def test_keys_sort_by_code_point_as_the_stdlib_does() -> None:
    value = {"b": 1, "a": {"é": 1, "z": 2, "Z": 3, "😀": 4, "\uffff": 5}, "A": 0}
    assert canonical_json(value) == stdlib(value)


def test_values_orjson_refuses_take_the_stdlib_form() -> None:
    for value in ({1: "a", 2: "b"}, {"big": 2**70}):
        assert canonical_json(value) == stdlib(value)
