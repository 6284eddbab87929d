"""Verifiable-log benchmark on a real SQLite store: sealing cost per span against ingest, verify speed, proof latency.

    .venv/bin/python bench/verify.py [--spans 1000000] [--ingest-spans 40000] [--samples 500] [--dir DIR]

1. *sealing vs ingest*: ``--ingest-spans`` spans of the ingest benchmark's workload (bench/_workload.py: OTLP
   protobuf, ~2 KB per span) are decoded and go through the server's pipeline and writer (``Runtime.ingest_sync``);
   then the sequencer appends them to the log. Both are
   measured in process CPU time, so the ratio is what sealing adds to ingest (target ≤ 10%).
2. *verify*: a store of ``--spans`` rows is filled (rows copied through the writer's INSERT), sequenced, signed;
   ``verify_store`` then reads every row, re-derives every leaf, folds the tree, checks every payload hash and the
   checkpoints; leaves/s on one core, reading included (target ≥ 500,000).
3. *proofs*: p50/p99 of an inclusion and a consistency proof served by ``LogReader`` from the SQL tree store.
"""

from __future__ import annotations

import argparse
import os
import random
import statistics
import sys
import tempfile
import time
from pathlib import Path

from watchkeeper.config import Settings
from watchkeeper.server._runtime import Runtime
from watchkeeper.store import make_engine, migrate
from watchkeeper.trust import verify_consistency, verify_inclusion
from watchkeeper.trust.log import Checkpointer, LogReader, Sequencer, ensure_log, load_or_create_signer
from watchkeeper.trust.verify import verify_store

VERIFY_TARGET = 500_000
SEAL_TARGET = 0.10
PROOF_TARGET_MS = 5.0


def ingest_and_seal(root: Path, n: int) -> tuple[float, float, int]:
    """CPU µs per span of ingest (OTLP decode + pipeline + writer) on the ingest benchmark's workload, and of
    sealing the same spans; and how many spans that was."""
    from watchkeeper.ingest.otlp import decode_otlp

    sys.path.insert(0, str(Path(__file__).parent))
    from _workload import requests

    s = Settings(data_dir=str(root / "ingest"), max_future_s=10**10)
    rt = Runtime(s)
    rt.start()
    bodies = [body for body, _n in requests(n)]
    t = time.process_time()
    total = 0
    for body in bodies:
        decoded = decode_otlp(body, "application/x-protobuf", max_string_chars=s.max_string_chars,
                              max_depth=s.max_depth)  # fmt: skip
        total += rt.ingest_sync(decoded, [], "otlp").spans
    ingest = time.process_time() - t
    rt.stop()
    engine = make_engine(s.url)
    ensure_log(engine)
    t = time.process_time()
    sealed = Sequencer(engine, batch=5000).drain()
    seal = time.process_time() - t
    engine.dispose()
    assert sealed == total, (sealed, total)
    return ingest / total * 1e6, seal / total * 1e6, total


def fill(engine: object, template_db: str, target: int) -> None:
    """Copies the ingested rows (new ids) until the store holds ``target`` rows, in one SQLite transaction each."""
    import sqlite3

    db = sqlite3.connect(str(engine))
    db.execute("ATTACH DATABASE ? AS src", (template_db,))
    cols = [r[1] for r in db.execute("PRAGMA src.table_info(spans)") if r[1] not in ("id", "log_index")]
    n = db.execute("SELECT count(*) FROM main.spans").fetchone()[0]
    src_n = db.execute("SELECT count(*) FROM src.spans").fetchone()[0]
    k = 0
    while n < target:
        k += 1
        take = min(src_n, target - n)
        sel = ", ".join(f"CAST(substr(trace_id, 5, 12) || x'{k:08x}' AS BLOB)" if c == "trace_id" else c for c in cols)
        db.execute(f"INSERT INTO main.spans ({', '.join(cols)}) SELECT {sel} FROM src.spans ORDER BY id LIMIT {take}")
        db.commit()
        n += take
    db.execute("UPDATE main.spans SET payload_sha256 = NULL")
    db.commit()
    db.close()


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--spans", type=int, default=1_000_000)
    ap.add_argument("--ingest-spans", type=int, default=40_000)
    ap.add_argument("--samples", type=int, default=500)
    ap.add_argument("--dir", help="Work directory (default: a temporary one)")
    args = ap.parse_args()
    root = Path(args.dir or tempfile.mkdtemp(prefix="wk-bench-verify-"))
    random.seed(7)
    ok = True

    ingest_us, seal_us, ingested = ingest_and_seal(root, args.ingest_spans)
    ratio = seal_us / ingest_us
    ok &= ratio <= SEAL_TARGET
    print(f"ingest (OTLP decode + pipeline + writer), CPU: {ingest_us:7.1f} µs/span ({ingested:,} spans)")
    print(f"sealing (sequencer), CPU:                      {seal_us:7.1f} µs/span → adds {ratio:.1%} "
          f"(target ≤ {SEAL_TARGET:.0%})")  # fmt: skip

    big = root / "big" / "watchkeeper.db"
    engine = make_engine(f"sqlite:///{big}")
    migrate(engine)
    t = time.perf_counter()
    fill(big, str(root / "ingest" / "watchkeeper.db"), args.spans)
    fill_s = time.perf_counter() - t
    st = ensure_log(engine)
    signer, _ = load_or_create_signer(root / "big" / "key", st.origin)
    t = time.perf_counter()
    n = Sequencer(engine, batch=20_000).drain()
    seq_s = time.perf_counter() - t
    Checkpointer(engine, root / "big" / "key").run_once(force=True)
    size_mb = sum(os.path.getsize(p) for p in big.parent.glob("watchkeeper.db*")) / 2**20
    print(f"store: {n:,} spans ({size_mb:,.0f} MiB) filled in {fill_s:.1f} s, sequenced in {seq_s:.1f} s "
          f"({n / seq_s:,.0f} spans/s)")  # fmt: skip

    best = float("inf")
    for _ in range(2):
        c = time.process_time()
        t = time.perf_counter()
        report = verify_store(engine, [signer.verifier])
        wall = time.perf_counter() - t
        cpu = time.process_time() - c
        assert report.ok and report.size == n, report.as_dict()
        best = min(best, wall)
    rate = n / best
    ok &= rate >= VERIFY_TARGET
    print(f"verify: {n:,} leaves in {best:.2f} s wall ({cpu:.2f} s CPU) = {rate:,.0f} leaves/s "
          f"(target ≥ {VERIFY_TARGET:,})")  # fmt: skip

    reader = LogReader(engine)
    inc: list[float] = []
    con: list[float] = []
    for _ in range(args.samples):
        i = random.randrange(n)
        t = time.perf_counter()
        size, leaf, proof, root_hash = reader.inclusion(i, n)
        inc.append((time.perf_counter() - t) * 1e3)
        verify_inclusion(i, size, leaf, proof, root_hash)
        m = random.randrange(1, n)
        t = time.perf_counter()
        _n, cproof, r1, r2 = reader.consistency(m, n)
        con.append((time.perf_counter() - t) * 1e3)
        verify_consistency(m, n, cproof, r1, r2)
    for name, xs in (("inclusion", inc), ("consistency", con)):
        p99 = statistics.quantiles(xs, n=100)[98]
        ok &= p99 <= PROOF_TARGET_MS
        print(f"{name} proof from SQL, {n:,} leaves: p50 {statistics.median(xs):.2f} ms, p99 {p99:.2f} ms "
              f"(target ≤ {PROOF_TARGET_MS} ms)")  # fmt: skip
    engine.dispose()
    print("all targets met" if ok else "SOME TARGETS MISSED")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
