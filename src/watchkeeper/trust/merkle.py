"""RFC 9162 §2.1 Merkle trees: hashing, roots, inclusion and consistency proofs, and an append-only tree over a store.

Hashing follows RFC 6962 / RFC 9162 exactly, with leaf/node domain separation:

    leaf hash = SHA-256(0x00 ‖ leaf bytes)        node hash = SHA-256(0x01 ‖ left ‖ right)
    root of 0 leaves = SHA-256("")                 the tree splits at the largest power of two below n

Verification (:func:`verify_inclusion`, :func:`verify_consistency`) is the RFC 9162 §2.1.3.2 / §2.1.4.2 algorithm with
the guard checks of transparency-dev/merkle in front of it; it needs nothing but ``hashlib``.

Proof generation reads a :class:`TreeStore`: the leaf hashes (level 0) plus the hashes of complete subtrees at every
``stride``-th level (8 → subtrees of 256, 65,536, 16.7 M … leaves), which is how Trillian/Tessera tiles work. Any
complete subtree is then one contiguous read of at most ``2**(stride-1)`` stored hashes, folded in memory, so a proof
for a tree of 10 million leaves reads O(log n) short ranges — in one call when the store can read several at once —
and never loads the tree. :class:`MerkleTree` appends with a compact range (the frontier: one hash per set bit of the
size), so the root after an append costs O(log n).
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Protocol

from ..errors import InputError

HASH_SIZE = 32
EMPTY_ROOT = hashlib.sha256(b"").digest()
MAX_TREE_SIZE = 2**63 - 1  # sizes travel as signed 64-bit integers in SQL and JSON

_CACHE_MIN_WIDTH = 16  # cache complete subtrees folded from at least this many stored hashes
_CACHE_SIZE = 65_536  # entries (about 6 MB)

_LEAF_PREFIX = hashlib.sha256(b"\x00")
_NODE_PREFIX = hashlib.sha256(b"\x01")


class ProofError(InputError):
    """A proof, a hash or a size does not verify; the message names which check failed."""

    status = 422
    title = "Proof does not verify"
    type_slug = "proof-invalid"


# ---------------------------------------------------------------------------------------------------------------
# Hashing


def leaf_hash(data: bytes) -> bytes:
    """The RFC 6962 hash of one leaf: SHA-256(0x00 ‖ data)."""
    h = _LEAF_PREFIX.copy()
    h.update(data)
    return h.digest()


def node_hash(left: bytes, right: bytes) -> bytes:
    """The RFC 6962 hash of an interior node: SHA-256(0x01 ‖ left ‖ right)."""
    h = _NODE_PREFIX.copy()
    h.update(left)
    h.update(right)
    return h.digest()


def python_pair_level(level: Sequence[bytes]) -> list[bytes]:
    """The next level up: pairs hashed, an unpaired last node promoted unchanged (RFC 6962's uneven split)."""
    copy = _NODE_PREFIX.copy

    def pair(left: bytes, right: bytes) -> bytes:
        h = copy()
        h.update(left + right)
        return h.digest()

    up = list(map(pair, level[0::2], level[1::2]))
    if len(level) & 1:
        up.append(level[-1])
    return up


try:  # the same in compiled code where the install built it (setup.py): verify folds a node per leaf
    from ._scan import pair_level as _pair_level
except ImportError:  # pragma: no cover - depends on the install
    _pair_level = python_pair_level


def root_from_leaf_hashes(hashes: Sequence[bytes]) -> bytes:
    """The root of the tree whose leaf hashes are ``hashes`` (recomputed level by level, the fast path)."""
    if not hashes:
        return EMPTY_ROOT
    level = hashes
    while len(level) > 1:
        level = _pair_level(level)
    return level[0]


def root_of(leaves: Iterable[bytes]) -> bytes:
    """The root of the tree over the raw ``leaves`` (each hashed with :func:`leaf_hash` first)."""
    return root_from_leaf_hashes([leaf_hash(d) for d in leaves])


def _split(n: int) -> int:
    """The largest power of two strictly below ``n`` (n ≥ 2)."""
    return 1 << ((n - 1).bit_length() - 1)


def _check_hash(value: object, what: str) -> bytes:
    if not isinstance(value, bytes | bytearray) or len(value) != HASH_SIZE:
        n = len(value) if isinstance(value, bytes | bytearray) else type(value).__name__
        raise ProofError(f"{what} must be {HASH_SIZE} bytes, got {n}", field=what)
    return bytes(value)


def _check_size(value: object, what: str) -> int:
    if not isinstance(value, int) or isinstance(value, bool) or not 0 <= value <= MAX_TREE_SIZE:
        raise ProofError(f"{what} must be an integer in [0, 2^63), got {value!r}", field=what)
    return value


def _check_proof(proof: Sequence[bytes], what: str) -> list[bytes]:
    return [_check_hash(p, f"{what}[{i}]") for i, p in enumerate(proof)]


# ---------------------------------------------------------------------------------------------------------------
# Verification (RFC 9162 §2.1.3.2 and §2.1.4.2)


def root_from_inclusion_proof(index: int, size: int, leaf: bytes, proof: Sequence[bytes]) -> bytes:
    """The root that ``proof`` yields for leaf hash ``leaf`` at ``index`` in a tree of ``size`` leaves."""
    _check_size(index, "index")
    _check_size(size, "size")
    r = _check_hash(leaf, "leaf hash")
    path = _check_proof(proof, "proof")
    if index >= size:
        raise ProofError(f"leaf index {index} is not below the tree size {size}", field="index")
    # the exact proof length, checked before any hashing: inner nodes + right-border nodes
    inner = (index ^ (size - 1)).bit_length()
    border = (index >> inner).bit_count()
    if len(path) != inner + border:
        raise ProofError(
            f"an inclusion proof for index {index} in a tree of {size} has {inner + border} hashes, got {len(path)}",
            field="proof",
        )
    fn, sn = index, size - 1
    for p in path:
        if sn == 0:  # unreachable after the length check; kept because it is the RFC's own guard
            raise ProofError("the inclusion proof is longer than the path to the root", field="proof")
        if fn & 1 or fn == sn:
            r = node_hash(p, r)
            if not fn & 1:
                while fn and not fn & 1:
                    fn >>= 1
                    sn >>= 1
        else:
            r = node_hash(r, p)
        fn >>= 1
        sn >>= 1
    if sn != 0:
        raise ProofError("the inclusion proof is shorter than the path to the root", field="proof")
    return r


def verify_inclusion(index: int, size: int, leaf: bytes, proof: Sequence[bytes], root: bytes) -> None:
    """Returns if ``proof`` shows leaf hash ``leaf`` at ``index`` in the tree of ``size`` with ``root``; else raises."""
    want = _check_hash(root, "root")
    got = root_from_inclusion_proof(index, size, leaf, proof)
    if got != want:
        raise ProofError(f"the inclusion proof for index {index} yields a different root for size {size}")


def verify_consistency(size1: int, size2: int, proof: Sequence[bytes], root1: bytes, root2: bytes) -> None:
    """Returns if ``proof`` shows the tree (size1, root1) is a prefix of (size2, root2); else raises ProofError."""
    _check_size(size1, "size1")
    _check_size(size2, "size2")
    if size2 < size1:
        raise ProofError(f"size2 ({size2}) is smaller than size1 ({size1}): a log never shrinks", field="size2")
    if size1 == 0:
        raise ProofError(
            "a consistency proof from the empty tree proves nothing (every tree extends it); start from a non-empty "
            "checkpoint",
            field="size1",
        )
    if size1 == size2:
        if len(proof):
            raise ProofError(f"equal sizes need an empty proof, got {len(proof)} hashes", field="proof")
        if bytes(root1) != bytes(root2):
            raise ProofError(f"two different roots for the same size {size1}: the log forked", field="root2")
        return
    first = _check_hash(root1, "root1")
    second = _check_hash(root2, "root2")
    path = _check_proof(proof, "proof")
    if not path:
        raise ProofError(f"a consistency proof from {size1} to {size2} cannot be empty", field="proof")
    # RFC 9162 §2.1.4.2; its own sn == 0 checks reject a proof that is too long or too short
    if size1 & (size1 - 1) == 0:
        path = [first, *path]
    fn, sn = size1 - 1, size2 - 1
    while fn & 1:
        fn >>= 1
        sn >>= 1
    fr = sr = path[0]
    for c in path[1:]:
        if sn == 0:
            raise ProofError("the consistency proof is longer than the path to the root", field="proof")
        if fn & 1 or fn == sn:
            fr = node_hash(c, fr)
            sr = node_hash(c, sr)
            if not fn & 1:
                while fn and not fn & 1:
                    fn >>= 1
                    sn >>= 1
        else:
            sr = node_hash(sr, c)
        fn >>= 1
        sn >>= 1
    if sn != 0:
        raise ProofError("the consistency proof is shorter than the path to the root", field="proof")
    if fr != first:
        raise ProofError(f"the consistency proof does not yield the root of size {size1}", field="root1")
    if sr != second:
        raise ProofError(f"the consistency proof does not yield the root of size {size2}", field="root2")


# ---------------------------------------------------------------------------------------------------------------
# Storage


class TreeStore(Protocol):
    """Where a tree's hashes live: level 0 (leaf hashes) and every ``stride``-th level of complete subtrees.

    A level-``L`` hash with index ``i`` is the root of leaves ``[i·2^L, (i+1)·2^L)``. Stored hashes never change once
    written, so the store is append-only; see docs/trust.md for the SQL table that backs it.

    A store may also offer ``hashes_many(spans) -> list of hashes per (level, start, end)``: :class:`MerkleTree`
    then asks for every span a proof or a root needs in that one call before folding (a SQL store answers it with
    one query instead of one per subtree; ``_sql.CursorTreeStore``).
    """

    @property
    def stride(self) -> int:
        """Every how many levels complete subtrees are stored (8 → 256-wide tiles)."""
        ...

    def size(self) -> int:
        """How many leaves the store holds."""
        ...

    def hashes(self, level: int, start: int, end: int) -> Sequence[bytes]:
        """The stored hashes at ``level`` (a multiple of ``stride``) with indices ``[start, end)``."""
        ...

    def append(self, size: int, new: Mapping[int, Sequence[bytes]]) -> None:
        """Adds the new hashes of each stored level (in index order) and records the new leaf count, atomically."""
        ...


class MemoryTreeStore:
    """A :class:`TreeStore` in memory: one contiguous ``bytearray`` per stored level (32 bytes a hash)."""

    def __init__(self, stride: int = 8) -> None:
        if not 1 <= stride <= 16:
            raise ValueError(f"stride must be between 1 and 16, got {stride}")
        self._stride = stride
        self._size = 0
        self._levels: dict[int, bytearray] = {}

    @property
    def stride(self) -> int:
        return self._stride

    def size(self) -> int:
        return self._size

    def hashes(self, level: int, start: int, end: int) -> list[bytes]:
        buf = self._levels.get(level, bytearray())
        if level % self._stride or not 0 <= start <= end or end * HASH_SIZE > len(buf):
            raise IndexError(f"no stored hashes at level {level} for [{start}, {end})")
        data = bytes(buf[start * HASH_SIZE : end * HASH_SIZE])
        return [data[i : i + HASH_SIZE] for i in range(0, len(data), HASH_SIZE)]

    def append(self, size: int, new: Mapping[int, Sequence[bytes]]) -> None:
        for level, hashes in new.items():
            self._levels.setdefault(level, bytearray()).extend(b"".join(hashes))
        self._size = size

    def stored_bytes(self) -> int:
        """Bytes held by the hash buffers (for benchmarks and capacity planning)."""
        return sum(len(b) for b in self._levels.values())


# ---------------------------------------------------------------------------------------------------------------
# The append-only tree


class CompactRange:
    """The right border of a tree of ``size`` leaves: one complete-subtree hash per set bit of the size.

    ``frontier[level]`` is the hash of the last complete subtree of ``2**level`` leaves that has no right sibling yet.
    This is all a writer needs to append and to compute the root; it is O(log n) and can be persisted as one row.
    """

    __slots__ = ("frontier", "size")

    def __init__(self, size: int = 0, frontier: Mapping[int, bytes] | None = None) -> None:
        self.size = size
        self.frontier: dict[int, bytes] = dict(frontier or {})
        if sorted(self.frontier) != [lv for lv in range(size.bit_length()) if size >> lv & 1]:
            raise ValueError(f"a compact range of size {size} needs exactly one hash per set bit of the size")

    def extend(
        self,
        leaf_hashes: Sequence[bytes],
        keep_every: int = 0,
        *,
        pair: Callable[[Sequence[bytes]], list[bytes]] | None = None,
    ) -> dict[int, list[bytes]]:
        """Appends leaf hashes; gives the new complete-subtree hashes at every ``keep_every``-th level (0: none).
        ``pair`` makes each level's parents (default: compiled where built, else :func:`python_pair_level`)."""
        pair_up = pair or _pair_level
        kept: dict[int, list[bytes]] = {}
        cur: Sequence[bytes] = leaf_hashes
        first = self.size  # index of cur[0] at the current level
        new_size = self.size + len(leaf_hashes)
        level = 0
        while cur:
            if keep_every and level % keep_every == 0:
                kept[level] = list(cur)
            if first & 1:  # the first new node is a right child: its left sibling waits on the frontier
                cur = [self.frontier.pop(level), *cur]
                first -= 1
            if len(cur) & 1:
                self.frontier[level] = cur[-1]
            else:
                self.frontier.pop(level, None)
            cur = pair_up(cur[: len(cur) & ~1]) if len(cur) > 1 else []
            first >>= 1
            level += 1
        self.size = new_size
        return kept

    def root(self) -> bytes:
        """The root of the tree so far (folding the frontier from the smallest subtree up)."""
        if not self.size:
            return EMPTY_ROOT
        levels = sorted(self.frontier)
        r = self.frontier[levels[0]]
        for lv in levels[1:]:
            r = node_hash(self.frontier[lv], r)
        return r


class MerkleTree:
    """An append-only RFC 6962 tree over a :class:`TreeStore`: append leaf hashes, read roots and proofs."""

    def __init__(self, store: TreeStore, compact: CompactRange | None = None) -> None:
        self.store = store
        self._cache: dict[tuple[int, int], bytes] = {}
        n = store.size()
        if compact is None:
            compact = CompactRange()
            if n:  # rebuild the frontier from stored nodes: one complete subtree per set bit
                start = 0
                for lv in reversed(range(n.bit_length())):
                    if n >> lv & 1:
                        compact.frontier[lv] = self._node(lv, start >> lv)
                        start += 1 << lv
                compact.size = n
        if compact.size != n:
            raise ValueError(f"the compact range has size {compact.size} but the store holds {n} leaves")
        self.compact = compact

    def size(self) -> int:
        return self.compact.size

    def append(self, leaf_hashes: Sequence[bytes]) -> int:
        """Appends leaf hashes (32 bytes each) and gives the new size."""
        for i, h in enumerate(leaf_hashes):
            _check_hash(h, f"leaf hash {i}")
        probe = CompactRange(self.compact.size, self.compact.frontier)
        kept = probe.extend(leaf_hashes, keep_every=self.store.stride)
        self.store.append(probe.size, kept)  # the store first: a failed write leaves the frontier unchanged
        self.compact = probe
        return probe.size

    def append_leaves(self, leaves: Iterable[bytes]) -> int:
        """Appends raw leaves (hashing each with :func:`leaf_hash`) and gives the new size."""
        return self.append([leaf_hash(d) for d in leaves])

    def root(self, size: int | None = None) -> bytes:
        """The root at ``size`` (default: now); an earlier size is read from the store in O(log n)."""
        if size is None or size == self.compact.size:
            return self.compact.root()
        self._check_within(size, "size")
        if not size:
            return EMPTY_ROOT
        self._prefetch([(0, size)])
        return self._range_root(0, size)

    def inclusion_proof(self, index: int, size: int | None = None) -> list[bytes]:
        """The audit path of leaf ``index`` in the tree of ``size`` leaves (default: now), leaf to root."""
        n = self.compact.size if size is None else size
        self._check_within(n, "size")
        if not 0 <= index < n:
            raise ProofError(f"leaf index {index} is not below the tree size {n}", field="index")
        ranges: list[tuple[int, int]] = []
        start, end, m = 0, n, index
        while end - start > 1:  # RFC 9162 §2.1.3.1 PATH, top-down; reversed at the end
            k = _split(end - start)
            if m < k:
                ranges.append((start + k, end))
                end = start + k
            else:
                ranges.append((start, start + k))
                start, m = start + k, m - k
        self._prefetch(ranges, also=[(0, index, index + 1)])  # the leaf hash too: the caller usually wants it next
        return [self._range_root(s, e) for s, e in reversed(ranges)]

    def consistency_proof(self, size1: int, size2: int | None = None) -> list[bytes]:
        """The proof that the tree of ``size1`` leaves is a prefix of the tree of ``size2`` (default: now)."""
        n = self.compact.size if size2 is None else size2
        self._check_within(n, "size2")
        if not 0 < size1 <= n:
            raise ProofError(f"size1 ({size1}) must be between 1 and size2 ({n})", field="size1")
        if size1 == n:
            return []
        ranges: list[tuple[int, int]] = []
        start, end, m, whole = 0, n, size1, True
        while m != end - start:  # RFC 9162 §2.1.4.1 SUBPROOF, top-down; reversed at the end
            k = _split(end - start)
            if m <= k:
                ranges.append((start + k, end))
                end = start + k
            else:
                ranges.append((start, start + k))
                start, m, whole = start + k, m - k, False
        if not whole:
            ranges.append((start, end))
        # with the roots at both sizes, which a caller checking the proof asks for next
        self._prefetch([*ranges, (0, size1), (0, n)] if n != self.compact.size else [*ranges, (0, size1)])
        return [self._range_root(s, e) for s, e in reversed(ranges)]

    # -- reading the store

    def _check_within(self, size: int, what: str) -> None:
        if not isinstance(size, int) or not 0 <= size <= self.compact.size:
            raise ProofError(f"{what} {size} is beyond the tree's size {self.compact.size}", field=what)

    def _span(self, level: int, index: int) -> tuple[int, int, int]:
        """The stored hashes (level, start, end) that the complete subtree (level, index) folds from."""
        base = level - level % self.store.stride
        width = 1 << (level - base)
        return base, index * width, (index + 1) * width

    def _prefetch(self, ranges: Sequence[tuple[int, int]], also: Sequence[tuple[int, int, int]] = ()) -> None:
        """Asks a store that can read many spans at once (``hashes_many``: a SQL store, one query instead of one per
        subtree) for every stored span the roots of ``ranges`` need and the cache lacks, before they are folded."""
        many = getattr(self.store, "hashes_many", None)
        if many is None:
            return
        need: dict[tuple[int, int, int], None] = {}
        for start, end in ranges:
            pos = start
            while pos < end:
                lv = (end - pos).bit_length() - 1
                if (lv, pos >> lv) not in self._cache:
                    need[self._span(lv, pos >> lv)] = None
                pos += 1 << lv
        for span in also:
            need.setdefault(span)
        if need:
            many(list(need))

    def _node(self, level: int, index: int) -> bytes:
        """The hash of the complete subtree of 2**level leaves starting at leaf ``index << level``."""
        span = self._span(level, index)
        width = span[2] - span[1]
        if width >= _CACHE_MIN_WIDTH:  # complete subtrees never change, so caching the costly folds is safe
            hit = self._cache.get((level, index))
            if hit is not None:
                return hit
        hashes = self.store.hashes(*span)
        if len(hashes) != width:
            raise ProofError(f"the store is missing hashes at level {span[0]}", field="store")
        h = root_from_leaf_hashes(hashes)
        if width >= _CACHE_MIN_WIDTH:
            if len(self._cache) >= _CACHE_SIZE:
                self._cache.clear()  # crude but safe under threads; the hot left subtrees come back at once
            self._cache[(level, index)] = h
        return h

    def _range_root(self, start: int, end: int) -> bytes:
        """MTH(D[start:end]) for a range RFC proofs ask for: ``start`` aligned to a power of two ≥ its length."""
        parts: list[bytes] = []
        pos = start
        while pos < end:
            lv = (end - pos).bit_length() - 1  # the largest complete subtree that fits, aligned because start is
            parts.append(self._node(lv, pos >> lv))
            pos += 1 << lv
        r = parts[-1]
        for p in reversed(parts[:-1]):
            r = node_hash(p, r)
        return r


__all__ = [
    "EMPTY_ROOT",
    "HASH_SIZE",
    "CompactRange",
    "MemoryTreeStore",
    "MerkleTree",
    "ProofError",
    "TreeStore",
    "leaf_hash",
    "node_hash",
    "python_pair_level",
    "root_from_inclusion_proof",
    "root_from_leaf_hashes",
    "root_of",
    "verify_consistency",
    "verify_inclusion",
]
