"""The Merkle code against the public transparency-dev/merkle vectors (see tests/data)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from services.common.ledger import merkle
from services.common.ledger.merkle import ProofError

V = json.loads((Path(__file__).parent.parent / "data" / "transparency_dev_merkle_vectors.json").read_text())
LEAVES = [merkle.leaf_hash(bytes.fromhex(x)) for x in V["leaves"]]
ROOTS = [bytes.fromhex(x) for x in V["roots"]]
SOME = bytes.fromhex(V["some_hash"])
EMPTY = bytes.fromhex(V["hasher"]["empty_root"])


def h(xs: list[str]) -> list[bytes]:
    return [bytes.fromhex(x) for x in xs]


def stored_nodes(n: int) -> dict[tuple[int, int], bytes]:
    frontier: list[bytes] = []
    nodes: dict[tuple[int, int], bytes] = {}
    for i in range(n):
        frontier, new = merkle.append_leaf(frontier, i, LEAVES[i])
        nodes.update({(lvl, idx): hh for lvl, idx, hh in new})
    return nodes


def test_hasher() -> None:
    assert merkle.EMPTY_ROOT.hex() == V["hasher"]["empty_root"]
    assert merkle.leaf_hash(b"").hex() == V["hasher"]["empty_leaf"]
    assert merkle.leaf_hash(b"L123456").hex() == V["hasher"]["leaf_L123456"]
    assert merkle.node_hash(b"N123", b"N456").hex() == V["hasher"]["node_N123_N456"]


@pytest.mark.parametrize("n", range(1, 9))
def test_roots(n: int) -> None:
    assert merkle.root_of(LEAVES[:n]) == ROOTS[n - 1]
    frontier: list[bytes] = []
    for i in range(n):
        frontier, _ = merkle.append_leaf(frontier, i, LEAVES[i])
    assert merkle.frontier_root(frontier) == ROOTS[n - 1]


@pytest.mark.parametrize("case", V["inclusion"], ids=lambda c: f"{c['index']}@{c['size']}")
def test_inclusion_generated_and_verified(case: dict[str, object]) -> None:
    index, size = int(case["index"]), int(case["size"])  # type: ignore[call-overload]
    proof = h(case["proof"])  # type: ignore[arg-type]
    nodes = stored_nodes(size)
    assert merkle.inclusion_proof(index, size, lambda lv, ix: nodes[(lv, ix)]) == proof
    merkle.verify_inclusion(index, size, LEAVES[index], proof, ROOTS[size - 1])


def corrupt_inclusion(index: int, size: int, proof: list[bytes], root: bytes, leaf: bytes):  # type: ignore[no-untyped-def]
    probes = [
        (index - 1, size, root, leaf, proof, "index - 1"),
        (index + 1, size, root, leaf, proof, "index + 1"),
        (index ^ 2, size, root, leaf, proof, "index ^ 2"),
        (index, size * 2, root, leaf, proof, "size * 2"),
        (index, size // 2, root, leaf, proof, "size / 2"),
        (index, size, root, b"WrongLeaf", proof, "wrong leaf"),
        (index, size, EMPTY, leaf, proof, "empty root"),
        (index, size, SOME, leaf, proof, "random root"),
        (index, size, root, leaf, [*proof, b""], "trailing garbage"),
        (index, size, root, leaf, [*proof, root], "trailing root"),
        (index, size, root, leaf, [b"", *proof], "preceding garbage"),
        (index, size, root, leaf, [root, *proof], "preceding root"),
    ]
    for i in range(len(proof)):
        wrong = list(proof)
        wrong[i] = bytes([wrong[i][0] ^ 8]) + wrong[i][1:]
        probes.append((index, size, root, leaf, wrong, f"flipped bit in proof[{i}]"))
    if proof:
        probes.append((index, size, root, leaf, proof[:-1], "removed component"))
    if len(proof) > 1:
        probes.append((index, size, root, leaf, [SOME, proof[0], *proof[1:]], "inserted component"))
    return probes


@pytest.mark.parametrize("case", V["inclusion"][1:], ids=lambda c: f"{c['index']}@{c['size']}")
def test_inclusion_corruptions_fail(case: dict[str, object]) -> None:
    index, size = int(case["index"]), int(case["size"])  # type: ignore[call-overload]
    proof = h(case["proof"])  # type: ignore[arg-type]
    for i, s, root, leaf, p, desc in corrupt_inclusion(index, size, proof, ROOTS[size - 1], LEAVES[index]):
        with pytest.raises(ProofError):
            merkle.verify_inclusion(i, s, leaf, p, root)
            pytest.fail(f"verified a corrupted proof: {desc}")


@pytest.mark.parametrize("case", V["consistency"], ids=lambda c: f"{c['size1']}-{c['size2']}")
def test_consistency_generated_and_verified(case: dict[str, object]) -> None:
    m, n = int(case["size1"]), int(case["size2"])  # type: ignore[call-overload]
    proof = h(case["proof"])  # type: ignore[arg-type]
    nodes = stored_nodes(n)
    assert merkle.consistency_proof(m, n, lambda lv, ix: nodes[(lv, ix)]) == proof
    merkle.verify_consistency(m, n, ROOTS[m - 1], ROOTS[n - 1], proof)


@pytest.mark.parametrize("case", V["consistency"][1:], ids=lambda c: f"{c['size1']}-{c['size2']}")
def test_consistency_corruptions_fail(case: dict[str, object]) -> None:
    m, n = int(case["size1"]), int(case["size2"])  # type: ignore[call-overload]
    proof = h(case["proof"])  # type: ignore[arg-type]
    r1, r2 = ROOTS[m - 1], ROOTS[n - 1]
    probes = [
        (m - 1, n, r1, r2, proof, "size1 - 1"),
        (m + 1, n, r1, r2, proof, "size1 + 1"),
        (m ^ 2, n, r1, r2, proof, "size1 ^ 2"),
        (m, n * 2, r1, r2, proof, "size2 * 2"),
        (m, n // 2, r1, r2, proof, "size2 / 2"),
        (m, n, b"WrongRoot", r2, proof, "wrong root1"),
        (m, n, r1, b"WrongRoot", proof, "wrong root2"),
        (m, n, r2, r1, proof, "swapped roots"),
        (m, n, r1, r2, [], "empty proof"),
        (m, n, r1, r2, [*proof, b""], "trailing garbage"),
        (m, n, r1, r2, [*proof, r1], "trailing root1"),
        (m, n, r1, r2, [*proof, r2], "trailing root2"),
        (m, n, r1, r2, [b"", *proof], "preceding garbage"),
        (m, n, r1, r2, [r1, *proof], "preceding root1"),
        (m, n, r1, r2, [r2, *proof], "preceding root2"),
        (m, n, r1, r2, [proof[0], *proof], "preceding proof[0]"),
        (m, n, r1, r2, proof[:-1], "truncated proof"),
    ]
    for i in range(len(proof)):
        wrong = list(proof)
        wrong[i] = bytes([wrong[i][0] ^ 16]) + wrong[i][1:]
        probes.append((m, n, r1, r2, wrong, f"flipped bit in proof[{i}]"))
    for s1, s2, a, b, p, desc in probes:
        with pytest.raises(ProofError):
            merkle.verify_consistency(s1, s2, a, b, p)
            pytest.fail(f"verified a corrupted proof: {desc}")


@pytest.mark.parametrize(
    ("s1", "s2", "r1", "r2", "proof", "ok"),
    [
        (0, 0, b"r1", b"r2", [], False),
        (1, 1, b"r1", b"r2", [], False),
        (0, 0, b"r1", b"r1", [], True),
        (0, 1, b"r1", b"r2", [], True),
        (1, 1, b"r2", b"r2", [], True),
        (1, 0, b"r1", b"r2", [], False),
        (2, 1, b"r1", b"r2", [], False),
        (1, 2, b"r1", b"r2", [], False),
        (0, 0, EMPTY, EMPTY, [EMPTY], False),
        (0, 1, EMPTY, EMPTY, [EMPTY], False),
        (1, 1, EMPTY, EMPTY, [EMPTY], False),
    ],
)
def test_consistency_edge_cases(s1: int, s2: int, r1: bytes, r2: bytes, proof: list[bytes], ok: bool) -> None:
    if ok:
        merkle.verify_consistency(s1, s2, r1, r2, proof)
    else:
        with pytest.raises(ProofError):
            merkle.verify_consistency(s1, s2, r1, r2, proof)


@pytest.mark.parametrize(("index", "size"), [(0, 0), (0, 1), (1, 0), (2, 1)])
def test_inclusion_edge_cases(index: int, size: int) -> None:
    for leaf, root in ((SOME, b""), (b"", EMPTY), (SOME, EMPTY)):
        with pytest.raises(ProofError):
            merkle.verify_inclusion(index, size, leaf, [], root)


def test_every_proof_of_a_larger_tree_round_trips() -> None:
    """All inclusion and consistency proofs up to 40 leaves, generated from stored nodes, verify."""
    leaves = [merkle.leaf_hash(str(i).encode()) for i in range(40)]
    frontier: list[bytes] = []
    nodes: dict[tuple[int, int], bytes] = {}
    roots = [merkle.EMPTY_ROOT]
    for i, leaf in enumerate(leaves):
        frontier, new = merkle.append_leaf(frontier, i, leaf)
        nodes.update({(lv, ix): hh for lv, ix, hh in new})
        roots.append(merkle.frontier_root(frontier))
        assert roots[-1] == merkle.root_of(leaves[: i + 1])

    def get(lv: int, ix: int) -> bytes:
        return nodes[(lv, ix)]

    for n in range(1, 41):
        for i in range(n):
            merkle.verify_inclusion(i, n, leaves[i], merkle.inclusion_proof(i, n, get), roots[n])
        for m in range(0, n + 1):
            merkle.verify_consistency(m, n, roots[m], roots[n], merkle.consistency_proof(m, n, get))
