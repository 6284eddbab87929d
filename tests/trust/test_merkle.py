"""The Merkle core against the published RFC 6962 vectors and against an independent, naive recursive tree."""

from __future__ import annotations

import base64
import hashlib
import json
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from watchkeeper.trust.merkle import (
    EMPTY_ROOT,
    CompactRange,
    MemoryTreeStore,
    MerkleTree,
    ProofError,
    leaf_hash,
    node_hash,
    root_from_inclusion_proof,
    root_from_leaf_hashes,
    root_of,
    verify_consistency,
    verify_inclusion,
)

from ..conftest import SHARED, unavailable

VECTORS = SHARED / "test-vectors" / "rfc6962-merkle"


# -- an independent reference: RFC 6962 §2.1 written as literally as possible, recursive, no shared code ----------


def _sha(b: bytes) -> bytes:
    return hashlib.sha256(b).digest()


def naive_mth(leaves: list[bytes]) -> bytes:
    n = len(leaves)
    if n == 0:
        return _sha(b"")
    if n == 1:
        return _sha(b"\x00" + leaves[0])
    k = 1
    while k * 2 < n:
        k *= 2
    return _sha(b"\x01" + naive_mth(leaves[:k]) + naive_mth(leaves[k:]))


def naive_path(m: int, leaves: list[bytes]) -> list[bytes]:
    n = len(leaves)
    if n <= 1:
        return []
    k = 1
    while k * 2 < n:
        k *= 2
    if m < k:
        return [*naive_path(m, leaves[:k]), naive_mth(leaves[k:])]
    return [*naive_path(m - k, leaves[k:]), naive_mth(leaves[:k])]


def naive_subproof(m: int, leaves: list[bytes], whole: bool) -> list[bytes]:
    n = len(leaves)
    if m == n:
        return [] if whole else [naive_mth(leaves)]
    k = 1
    while k * 2 < n:
        k *= 2
    if m <= k:
        return [*naive_subproof(m, leaves[:k], whole), naive_mth(leaves[k:])]
    return [*naive_subproof(m - k, leaves[k:], False), naive_mth(leaves[:k])]


def make_leaves(n: int) -> list[bytes]:
    return [f"leaf {i}".encode() for i in range(n)]


def tree_of(leaves: list[bytes], stride: int = 2, batch: int = 7) -> MerkleTree:
    tree = MerkleTree(MemoryTreeStore(stride=stride))
    for i in range(0, len(leaves), batch):
        tree.append_leaves(leaves[i : i + batch])
    return tree


# -- hasher known answers (transparency-dev rfc6962_test.go, reproduced in PROVENANCE.md) ------------------------


def test_the_hasher_gives_the_rfc6962_known_answers() -> None:
    assert EMPTY_ROOT.hex() == "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
    assert leaf_hash(b"").hex() == "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d"
    assert leaf_hash(b"L123456").hex() == "395aa064aa4c29f7010acfe3f25db9485bbd4b91897b6ad7ad547639252b4d56"
    assert node_hash(b"N123", b"N456").hex() == "aa217fe888e47007fa15edab33c2b492a722cb106c64667fc2b044444de66bbb"


def test_a_leaf_cannot_pass_for_a_node_and_children_are_ordered() -> None:
    h1, h2 = _sha(b"a"), _sha(b"b")
    assert leaf_hash(h1 + h2) != node_hash(h1, h2)
    assert node_hash(h1, h2) != node_hash(h2, h1)


def test_the_empty_tree_has_the_hash_of_the_empty_string_as_root() -> None:
    assert root_from_leaf_hashes([]) == EMPTY_ROOT
    assert MerkleTree(MemoryTreeStore()).root() == EMPTY_ROOT


# -- the 196 published vectors -----------------------------------------------------------------------------------


def _vector_files() -> list[Path]:
    if not VECTORS.is_dir():
        return []
    return sorted(p for p in VECTORS.rglob("*.json"))


def _b64(s: str) -> bytes:
    return base64.b64decode(s)


def _run_vector(kind: str, v: dict[str, Any]) -> None:
    proof = [_b64(p) for p in v["proof"] or []]
    if kind == "inclusion":
        verify_inclusion(v["leafIdx"], v["treeSize"], _b64(v["leafHash"]), proof, _b64(v["root"]))
    else:
        verify_consistency(v["size1"], v["size2"], proof, _b64(v["root1"]), _b64(v["root2"]))


def test_the_vector_folder_is_there_in_ci() -> None:
    if not VECTORS.is_dir():
        unavailable(f"the RFC 6962 vectors are not at {VECTORS} (they live in ../shared beside the clone)")
    files = _vector_files()
    wanted = [json.loads(p.read_text())["wantErr"] for p in files]
    assert (len(files), wanted.count(False), wanted.count(True)) == (196, 12, 184)


@pytest.mark.parametrize("path", _vector_files(), ids=lambda p: str(p.relative_to(VECTORS)))
def test_each_published_vector_verifies_or_is_rejected_as_expected(path: Path) -> None:
    v = json.loads(path.read_text())
    kind = path.relative_to(VECTORS).parts[0]
    if v["wantErr"]:
        with pytest.raises(ProofError):
            _run_vector(kind, v)
    else:
        _run_vector(kind, v)


# -- guard checks -----------------------------------------------------------------------------------------------


def test_inclusion_guards_reject_bad_index_leaf_and_proof_length() -> None:
    leaves = make_leaves(5)
    tree = tree_of(leaves)
    root, proof, lh = tree.root(), tree.inclusion_proof(2), leaf_hash(leaves[2])
    verify_inclusion(2, 5, lh, proof, root)
    with pytest.raises(ProofError, match="not below the tree size"):
        verify_inclusion(5, 5, lh, proof, root)
    with pytest.raises(ProofError, match="leaf hash must be 32 bytes"):
        verify_inclusion(2, 5, lh[:31], proof, root)
    with pytest.raises(ProofError, match="has 3 hashes, got 4"):
        verify_inclusion(2, 5, lh, [*proof, proof[0]], root)
    with pytest.raises(ProofError, match="has 3 hashes, got 2"):
        verify_inclusion(2, 5, lh, proof[:-1], root)
    with pytest.raises(ProofError, match="different root"):
        verify_inclusion(2, 5, leaf_hash(b"other"), proof, root)
    with pytest.raises(ProofError, match="integer"):
        verify_inclusion(-1, 5, lh, proof, root)


def test_consistency_guards_reject_shrinking_empty_and_forked_trees() -> None:
    tree = tree_of(make_leaves(9))
    r4, r9 = tree.root(4), tree.root()
    with pytest.raises(ProofError, match="never shrinks"):
        verify_consistency(9, 4, [], r9, r4)
    with pytest.raises(ProofError, match="empty tree proves nothing"):
        verify_consistency(0, 9, [], EMPTY_ROOT, r9)
    with pytest.raises(ProofError, match="forked"):
        verify_consistency(9, 9, [], r9, r4)
    with pytest.raises(ProofError, match="equal sizes need an empty proof"):
        verify_consistency(9, 9, [r4], r9, r9)
    with pytest.raises(ProofError, match="cannot be empty"):
        verify_consistency(4, 9, [], r4, r9)
    proof = tree.consistency_proof(4)
    verify_consistency(4, 9, proof, r4, r9)
    with pytest.raises(ProofError, match="longer"):
        verify_consistency(4, 9, [*proof, r4], r4, r9)
    with pytest.raises(ProofError):
        verify_consistency(4, 9, proof[:-1], r4, r9)
    r5, proof5 = tree.root(5), tree.consistency_proof(5)
    verify_consistency(5, 9, proof5, r5, r9)
    with pytest.raises(ProofError, match="root of size 5"):
        verify_consistency(5, 9, proof5, r4, r9)
    with pytest.raises(ProofError, match="root of size 9"):
        verify_consistency(5, 9, proof5, r5, r4)


def test_the_store_refuses_proofs_beyond_its_size() -> None:
    tree = tree_of(make_leaves(3))
    with pytest.raises(ProofError, match="beyond the tree's size"):
        tree.inclusion_proof(0, 4)
    with pytest.raises(ProofError, match="not below"):
        tree.inclusion_proof(3)
    with pytest.raises(ProofError, match="between 1 and size2"):
        tree.consistency_proof(0)


# -- against the naive tree ------------------------------------------------------------------------------------


def test_every_proof_of_every_size_up_to_40_equals_the_naive_one_and_verifies() -> None:
    leaves = make_leaves(40)
    tree = tree_of(leaves, stride=2, batch=3)
    for n in range(1, 41):
        root = naive_mth(leaves[:n])
        assert tree.root(n) == root
        for i in range(n):
            proof = tree.inclusion_proof(i, n)
            assert proof == naive_path(i, leaves[:n])
            verify_inclusion(i, n, leaf_hash(leaves[i]), proof, root)
        for m in range(1, n + 1):
            proof = tree.consistency_proof(m, n)
            assert proof == naive_subproof(m, leaves[:n], True)
            verify_consistency(m, n, proof, naive_mth(leaves[:m]), root)


@settings(max_examples=60, deadline=None)
@given(
    n=st.integers(1, 300),
    stride=st.integers(1, 9),
    batch=st.integers(1, 64),
    data=st.data(),
)
def test_random_sizes_proofs_equal_the_naive_tree_and_verify(
    n: int, stride: int, batch: int, data: st.DataObject
) -> None:
    leaves = make_leaves(n)
    tree = tree_of(leaves, stride=stride, batch=batch)
    root = naive_mth(leaves)
    assert tree.root() == root == root_of(leaves)
    indices = data.draw(st.lists(st.integers(0, n - 1), min_size=1, max_size=8))
    for i in indices:
        proof = tree.inclusion_proof(i)
        assert proof == naive_path(i, leaves)
        verify_inclusion(i, n, leaf_hash(leaves[i]), proof, root)
        m = i + 1
        cproof = tree.consistency_proof(m)
        assert cproof == naive_subproof(m, leaves, True)
        verify_consistency(m, n, cproof, naive_mth(leaves[:m]), root)


@settings(max_examples=60, deadline=None)
@given(n=st.integers(1, 300), data=st.data())
def test_a_proof_verifies_only_while_the_leaf_is_unchanged(n: int, data: st.DataObject) -> None:
    leaves = make_leaves(n)
    tree = tree_of(leaves, stride=3, batch=50)
    i = data.draw(st.integers(0, n - 1))
    proof = tree.inclusion_proof(i)
    altered = data.draw(st.binary(max_size=16).filter(lambda b: b != leaves[i]))
    with pytest.raises(ProofError):
        verify_inclusion(i, n, leaf_hash(altered), proof, tree.root())
    if proof:  # flip one bit in one proof hash
        j = data.draw(st.integers(0, len(proof) - 1))
        bit = data.draw(st.integers(0, 255))
        bad = bytearray(proof[j])
        bad[bit // 8] ^= 1 << (bit % 8)
        with pytest.raises(ProofError):
            verify_inclusion(i, n, leaf_hash(leaves[i]), [*proof[:j], bytes(bad), *proof[j + 1 :]], tree.root())


@settings(max_examples=40, deadline=None)
@given(sizes=st.lists(st.integers(0, 40), min_size=1, max_size=10))
def test_the_compact_range_root_equals_the_naive_root_after_any_batches(sizes: list[int]) -> None:
    cr = CompactRange()
    leaves: list[bytes] = []
    for k in sizes:
        new = [f"x{len(leaves) + j}".encode() for j in range(k)]
        leaves += new
        cr.extend([leaf_hash(d) for d in new])
        assert cr.root() == naive_mth(leaves)
        assert sorted(cr.frontier) == [b for b in range(len(leaves).bit_length()) if len(leaves) >> b & 1]


def test_a_tree_reopened_on_its_store_rebuilds_the_same_frontier() -> None:
    leaves = make_leaves(1000)
    store = MemoryTreeStore(stride=4)
    MerkleTree(store).append_leaves(leaves)
    reopened = MerkleTree(store)
    assert reopened.root() == naive_mth(leaves)
    reopened.append_leaves([b"one more"])
    assert reopened.root() == naive_mth([*leaves, b"one more"])


def test_root_from_inclusion_proof_for_the_only_leaf_is_its_hash() -> None:
    assert root_from_inclusion_proof(0, 1, leaf_hash(b"x"), []) == leaf_hash(b"x")


@settings(max_examples=20, deadline=None)
@given(n=st.integers(41, 300), stride=st.integers(1, 9))
def test_every_inclusion_and_consistency_proof_of_a_random_size_equals_the_naive_one(n: int, stride: int) -> None:
    leaves = make_leaves(n)
    tree = tree_of(leaves, stride=stride, batch=97)
    root = naive_mth(leaves)
    prefix_roots = [b""] + [naive_mth(leaves[:m]) for m in range(1, n + 1)]
    for i in range(n):
        proof = tree.inclusion_proof(i)
        assert proof == naive_path(i, leaves)
        verify_inclusion(i, n, leaf_hash(leaves[i]), proof, root)
    for m in range(1, n + 1):
        proof = tree.consistency_proof(m)
        assert proof == naive_subproof(m, leaves, True)
        verify_consistency(m, n, proof, prefix_roots[m], root)
