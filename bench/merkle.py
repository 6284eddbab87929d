"""Merkle benchmark: root recomputation speed on one core, and proof latency with 10 million leaves.

    .venv/bin/python bench/merkle.py [--leaves 10000000] [--root-leaves 1000000] [--samples 2000] [--stride 8]

1. *verify*: recompute the root of ``--root-leaves`` leaf hashes (what an auditor's fsck does after reading the leaf
   hashes), best of 3, against the target of 500,000 leaves/s on one core; and the same from raw leaf bytes.
2. *build*: append ``--leaves`` leaf hashes to an in-memory tree store (batches of 65,536) through the compact
   range, as the writer would; reports time, stored bytes and the process's peak RSS.
3. *proofs*: p50/p99 latency of an inclusion proof (random index, current size), a consistency proof (random old
   size → current size) and an inclusion proof at a random historical size, each verified, against 5 ms.
"""

from __future__ import annotations

import argparse
import random
import resource
import statistics
import sys
import time

from watchkeeper.trust.merkle import (
    MemoryTreeStore,
    MerkleTree,
    leaf_hash,
    root_from_leaf_hashes,
    verify_consistency,
    verify_inclusion,
)

VERIFY_TARGET = 500_000  # leaves/s
PROOF_TARGET_MS = 5.0
BATCH = 65_536


def _leaf(i: int) -> bytes:
    return b"leaf %d" % i


def bench_verify(n: int) -> tuple[float, float]:
    leaves = [_leaf(i) for i in range(n)]
    hashes = [leaf_hash(d) for d in leaves]
    best_hashes = best_raw = float("inf")
    for _ in range(3):
        t = time.perf_counter()
        root_from_leaf_hashes(hashes)
        best_hashes = min(best_hashes, time.perf_counter() - t)
        t = time.perf_counter()
        root_from_leaf_hashes([leaf_hash(d) for d in leaves])
        best_raw = min(best_raw, time.perf_counter() - t)
    return n / best_hashes, n / best_raw


def build(n: int, stride: int) -> tuple[MerkleTree, float, int]:
    store = MemoryTreeStore(stride=stride)
    tree = MerkleTree(store)
    t = time.perf_counter()
    for start in range(0, n, BATCH):
        tree.append([leaf_hash(_leaf(i)) for i in range(start, min(n, start + BATCH))])
    return tree, time.perf_counter() - t, store.stored_bytes()


def _pcts(samples: list[float]) -> tuple[float, float]:
    qs = statistics.quantiles(samples, n=100)
    return statistics.median(samples), qs[98]


def bench_proofs(tree: MerkleTree, samples: int, rng: random.Random) -> dict[str, tuple[float, float]]:
    n = tree.size()
    root = tree.root()
    out: dict[str, tuple[float, float]] = {}

    times: list[float] = []
    for _ in range(samples):
        i = rng.randrange(n)
        t = time.perf_counter()
        proof = tree.inclusion_proof(i)
        times.append((time.perf_counter() - t) * 1e3)
        verify_inclusion(i, n, leaf_hash(_leaf(i)), proof, root)
    out["inclusion proof (size n)"] = _pcts(times)

    times = []
    for _ in range(samples):
        m = rng.randrange(1, n)
        t = time.perf_counter()
        proof = tree.consistency_proof(m)
        times.append((time.perf_counter() - t) * 1e3)
        verify_consistency(m, n, proof, tree.root(m), root)
    out["consistency proof (m → n)"] = _pcts(times)

    times = []
    for _ in range(samples):
        size = rng.randrange(1, n)
        i = rng.randrange(size)
        t = time.perf_counter()
        proof = tree.inclusion_proof(i, size)
        hist_root = tree.root(size)
        times.append((time.perf_counter() - t) * 1e3)
        verify_inclusion(i, size, leaf_hash(_leaf(i)), proof, hist_root)
    out["inclusion proof + root at an old size"] = _pcts(times)
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--leaves", type=int, default=10_000_000)
    ap.add_argument("--root-leaves", type=int, default=1_000_000)
    ap.add_argument("--samples", type=int, default=2000)
    ap.add_argument("--stride", type=int, default=8)
    ap.add_argument("--seed", type=int, default=7)
    args = ap.parse_args()
    rng = random.Random(args.seed)

    per_s_hashes, per_s_raw = bench_verify(args.root_leaves)
    tree, build_s, stored = build(args.leaves, args.stride)
    proofs = bench_proofs(tree, args.samples, rng)
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024

    print(f"Merkle benchmark — Python {'.'.join(map(str, sys.version_info[:3]))}, one core, hashlib")
    print(f"root of {args.leaves:,} leaves: {tree.root().hex()[:16]}… (stride {args.stride})\n")
    print(f"| {'measure':<42} | {'value':>16} | {'target':>14} | ok |")
    print(f"|{'-' * 44}|{'-' * 18}|{'-' * 16}|----|")

    def row(name: str, value: str, target: str, ok: bool | None) -> None:
        mark = "" if ok is None else ("yes" if ok else "NO")
        print(f"| {name:<42} | {value:>16} | {target:>14} | {mark:<3}|")

    row(f"verify: root from {args.root_leaves:,} leaf hashes", f"{per_s_hashes:,.0f}/s", "≥ 500,000/s",
        per_s_hashes >= VERIFY_TARGET)  # fmt: skip
    row("verify: root from raw leaves (hash + tree)", f"{per_s_raw:,.0f}/s", "", None)
    row(f"build: append {args.leaves:,} leaves", f"{build_s:,.1f} s", "", None)
    row("build: appends per second", f"{args.leaves / build_s:,.0f}/s", "", None)
    row("store: hash bytes held", f"{stored / 2**20:,.0f} MiB", "", None)
    row("process peak RSS", f"{peak_mb:,.0f} MiB", "", None)
    for name, (p50, p99) in proofs.items():
        row(f"{name} p50", f"{p50:.3f} ms", "≤ 5 ms", p50 <= PROOF_TARGET_MS)
        row(f"{name} p99", f"{p99:.3f} ms", "", None)


if __name__ == "__main__":
    main()
