"""Verifiable-log benchmark on real stores: sealing cost per span against ingest, verify speed, proof latency.

    .venv/bin/python bench/verify.py                                  # everything, SQLite (and PostgreSQL if up)
    .venv/bin/python bench/verify.py --only verify --spans 1000000    # one part
    .venv/bin/python bench/verify.py --only proofs --proof-leaves 10000000 --pg none

1. *seal*: ``--ingest-spans`` spans of the ingest benchmark's workload (bench/_workload.py: OTLP protobuf, ~2 KB
   per span) are decoded and go through the server's pipeline and writer (``Runtime.ingest_sync``); then the
   sequencer appends them to the log. Both in process CPU time: the ratio is what sealing adds (target ≤ 10%).
2. *verify*: a SQLite store of ``--spans`` rows is filled (the ingested rows copied with new ids), sequenced and
   signed; ``verify_store`` then reads every row, re-derives every leaf, folds the tree, checks every payload hash
   and the checkpoints: leaves/s on one core, reading included (target ≥ 500,000), with the compiled reader and
   with the Python reader (``compiled=False``) in the same run. Then p50/p99 of proofs served by ``LogReader``
   from that store.
2b. *verify-pg*: the same on a PostgreSQL store of ``--pg-spans`` rows (a fresh database, dropped afterwards): the
   compiled reader (a binary COPY parsed as it arrives) against the Python reader (the server computes each leaf).
3. *proofs*: a log of ``--proof-leaves`` synthetic leaves is appended to an empty store's tree tables
   (``merkle_nodes``/``merkle_logs``) in batches, the way the sequencer appends (``_sql.insert_nodes`` and the
   compact range) but without rows in ``spans``; then p50/p99 of inclusion and consistency proofs served from SQL
   by one ``LogReader`` (a server process keeps one; each request reads on one pooled connection in one read
   transaction), each verified, against 5 ms — on SQLite, and on PostgreSQL (a fresh database on ``--pg``, dropped
   afterwards) when it can be reached. The load average is printed with each measurement.

Work files go to ``--dir`` (kept) or a temporary directory (deleted at the end).
"""

from __future__ import annotations

import argparse
import os
import random
import shutil
import sqlite3
import statistics
import sys
import tempfile
import time
import uuid
from collections.abc import Callable
from pathlib import Path

from sqlalchemy import Engine, create_engine, insert, select, text

from watchkeeper.config import Settings
from watchkeeper.store import make_engine, migrate
from watchkeeper.trust import Signer, _sql, leaf_hash, verify_consistency, verify_inclusion
from watchkeeper.trust.log import (
    Checkpointer,
    LogReader,
    Sequencer,
    ensure_log,
    load_or_create_signer,
    locked,
    read_state,
)
from watchkeeper.trust.verify import verify_store

VERIFY_TARGET = 500_000
SEAL_TARGET = 0.10
PROOF_TARGET_MS = 5.0
PG_ADMIN = os.environ.get("WATCHKEEPER_BENCH_PG_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres")


def ingest_and_seal(root: Path, n: int) -> tuple[float, float, int]:
    """CPU µs per span of ingest (OTLP decode + pipeline + writer) on the ingest benchmark's workload, and of
    sealing the same spans; and how many spans that was."""
    from watchkeeper.ingest.otlp import decode_otlp
    from watchkeeper.server._runtime import Runtime

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


def fill(db_file: Path, template_db: str, target: int) -> None:
    """Copies the ingested rows (new ids) until the store holds ``target`` rows, in one SQLite transaction each."""
    db = sqlite3.connect(str(db_file))
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


def _pcts(xs: list[float]) -> tuple[float, float]:
    return statistics.median(xs), statistics.quantiles(xs, n=100)[98]


def measure_proofs(engine: Engine, n: int, samples: int, rng: random.Random) -> dict[str, tuple[float, ...]]:
    """p50/p99 ms of proofs served by one LogReader, wall and CPU time: the first ``samples`` requests of each kind
    (subtree cache filling) and the next ``samples`` (a server that has been up for a while). Each is verified.

    Wall time includes waiting for a core: on a shared machine its p99 is mostly other processes' time slices, so
    CPU time (this process only) is reported beside it."""
    reader = LogReader(engine)
    out: dict[str, tuple[float, ...]] = {}
    for phase in ("first", "warm"):
        times: dict[str, list[tuple[float, float]]] = {"inclusion": [], "consistency": []}
        for _ in range(samples):
            i, m = rng.randrange(n), rng.randrange(1, n)
            c, t = time.process_time(), time.perf_counter()
            size, leaf, proof, root_hash = reader.inclusion(i, n)
            times["inclusion"].append(((time.perf_counter() - t) * 1e3, (time.process_time() - c) * 1e3))
            verify_inclusion(i, size, leaf, proof, root_hash)
            c, t = time.process_time(), time.perf_counter()
            _n, cproof, r1, r2 = reader.consistency(m, n)
            times["consistency"].append(((time.perf_counter() - t) * 1e3, (time.process_time() - c) * 1e3))
            verify_consistency(m, n, cproof, r1, r2)
        for name, xs in times.items():
            out[f"{name}, {phase} {samples}"] = (*_pcts([w for w, _c in xs]), *_pcts([c for _w, c in xs]))
    return out


def _load() -> str:
    """The load average, printed beside proof latencies: their wall time includes waiting for a core."""
    return "load average " + ", ".join(f"{x:.2f}" for x in os.getloadavg())


def print_proofs(where: str, n: int, results: dict[str, tuple[float, ...]]) -> bool:
    ok = True
    print(f"  ({where}: {_load()} when the measurement ended)")
    for name, (p50, p99, c50, c99) in results.items():
        met = p99 <= PROOF_TARGET_MS
        ok &= met or "first" in name
        print(f"  {where}, {n:,} leaves, {name} requests: wall p50 {p50:.2f} ms, p99 {p99:.2f} ms; CPU p50 "
              f"{c50:.2f} ms, p99 {c99:.2f} ms (target ≤ {PROOF_TARGET_MS} ms){'' if met else ' MISSED'}")  # fmt: skip
    return ok


def append_synthetic(engine: Engine, n: int, batch: int = 1 << 17) -> float:
    """Appends synthetic leaves to the records log of an empty store until it holds ``n``: each batch in one
    transaction that writes level 0 and every 8th level and the new compact range, as the sequencer does. Gives
    the seconds it took."""
    d = engine.dialect.name
    p = _sql.param(d)
    save = f"UPDATE merkle_logs SET size={p}, frontier={p}, root={p}, updated_ns={p} WHERE id={p}"
    ensure_log(engine)
    t = time.perf_counter()
    while True:
        st = read_state(engine)
        assert st is not None
        if st.size >= n:
            break
        hashes = [leaf_hash(b"bench leaf %d" % i) for i in range(st.size, min(n, st.size + batch))]
        compact = _sql.decode_frontier(st.size, st.frontier)
        kept = compact.extend(hashes, keep_every=_sql.STRIDE)
        with locked(engine) as cur:
            _sql.insert_nodes(cur, d, 1, kept, st.size)
            cur.execute(save, (compact.size, _sql.encode_frontier(compact), compact.root(), time.time_ns(), 1))
    return time.perf_counter() - t


def _pg_database() -> tuple[str, Callable[[], None]] | None:
    admin = create_engine(PG_ADMIN, isolation_level="AUTOCOMMIT")
    name = f"wk_bench_{uuid.uuid4().hex[:8]}"
    try:
        with admin.connect() as conn:
            conn.execute(text(f'CREATE DATABASE "{name}"'))
    except Exception as e:
        print(f"  PostgreSQL at {PG_ADMIN} not reachable ({type(e).__name__}): skipped")
        admin.dispose()
        return None

    def drop() -> None:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()

    return PG_ADMIN.rsplit("/", 1)[0] + "/" + name, drop


def bench_seal(root: Path, n: int) -> bool:
    ingest_us, seal_us, ingested = ingest_and_seal(root, n)
    ratio = seal_us / ingest_us
    print(f"ingest (OTLP decode + pipeline + writer), CPU: {ingest_us:7.1f} µs/span ({ingested:,} spans)")
    print(f"sealing (sequencer), CPU:                      {seal_us:7.1f} µs/span → adds {ratio:.1%} "
          f"(target ≤ {SEAL_TARGET:.0%})")  # fmt: skip
    return ratio <= SEAL_TARGET


def time_verify(engine: Engine, signer: Signer, n: int, compiled: bool, runs: int) -> tuple[float, float, str]:
    """Best wall and CPU seconds of ``runs`` verifications of a store of ``n`` sealed spans (each must pass), and
    which reader ran."""
    best_wall = best_cpu = float("inf")
    reader = ""
    for _ in range(runs):
        c = time.process_time()
        t = time.perf_counter()
        report = verify_store(engine, [signer.verifier], compiled=compiled)
        best_wall = min(best_wall, time.perf_counter() - t)
        best_cpu = min(best_cpu, time.process_time() - c)
        assert report.ok and report.size == n, report.as_dict()
        reader = report.reader
    return best_wall, best_cpu, reader


def bench_verify(root: Path, spans: int, ingest_spans: int, samples: int, rng: random.Random) -> bool:
    if not (root / "ingest" / "watchkeeper.db").exists():  # the rows the store is filled with
        ingest_and_seal(root, ingest_spans)
    big = root / "big" / "watchkeeper.db"
    engine = make_engine(f"sqlite:///{big}")
    migrate(engine)
    t = time.perf_counter()
    fill(big, str(root / "ingest" / "watchkeeper.db"), spans)
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
    rates = {}
    for compiled, label in ((True, "compiled reader"), (False, "Python reader (baseline, --python-only)")):
        best_wall, best_cpu, reader = time_verify(engine, signer, n, compiled, 3 if compiled else 2)
        rates[compiled] = n / best_cpu
        print(f"verify, {label} ({reader}): {n:,} leaves, best of {3 if compiled else 2}: {best_wall:.2f} s wall, "
              f"{best_cpu:.2f} s CPU = {n / best_cpu:,.0f} leaves/s CPU, {n / best_wall:,.0f} wall"
              + (f" (target ≥ {VERIFY_TARGET:,})" if compiled else ""))  # fmt: skip
    rate = rates[True]
    print(f"  compiled / Python: {rates[True] / rates[False]:.2f}×  ({_load()})")
    ok = print_proofs("SQLite", n, measure_proofs(engine, n, samples, rng))
    engine.dispose()
    return rate >= VERIFY_TARGET and ok


def fill_pg(engine: Engine, template_db: str, target: int) -> None:
    """Copies the ingested rows of the SQLite template into PostgreSQL, then copies them inside PostgreSQL (new
    trace ids) until the store holds ``target`` rows."""
    from watchkeeper.store.tables import spans

    src = make_engine(f"sqlite:///{template_db}")
    cols = [c for c in spans.c if c.name not in ("id", "log_index", "payload_sha256")]
    with src.connect() as s_conn, engine.begin() as d_conn:
        rows = [dict(r._mapping) for r in s_conn.execute(select(*cols).order_by(spans.c.id))]
        for i in range(0, len(rows), 5000):
            d_conn.execute(insert(spans), rows[i : i + 5000])
    src.dispose()
    names = [c.name for c in cols]
    src_n = len(rows)
    n, k = src_n, 0
    while n < target:
        k += 1
        take = min(src_n, target - n)
        sel = ", ".join(
            f"substring(trace_id from 5 for 12) || decode('{k:08x}', 'hex')" if c == "trace_id" else c for c in names
        )
        with engine.begin() as conn:
            conn.execute(text(f"INSERT INTO spans ({', '.join(names)}) SELECT {sel} FROM spans "
                              f"WHERE id <= {src_n} ORDER BY id LIMIT {take}"))  # fmt: skip
        n += take


def bench_verify_pg(root: Path, spans_n: int, ingest_spans: int) -> bool:
    """verify on a PostgreSQL store of ``spans_n`` rows: the compiled reader (binary COPY in the verifier's own
    transaction) against the Python reader (the server computes each leaf) in the same run."""
    if not (root / "ingest" / "watchkeeper.db").exists():  # the rows the store is filled with
        ingest_and_seal(root, ingest_spans)
    made = _pg_database()
    if made is None:
        return True
    url, drop = made
    try:
        engine = make_engine(url)
        migrate(engine)
        t = time.perf_counter()
        fill_pg(engine, str(root / "ingest" / "watchkeeper.db"), spans_n)
        fill_s = time.perf_counter() - t
        st = ensure_log(engine)
        signer, _ = load_or_create_signer(root / "pg-key", st.origin)
        t = time.perf_counter()
        n = Sequencer(engine, batch=20_000).drain()
        seq_s = time.perf_counter() - t
        Checkpointer(engine, root / "pg-key").run_once(force=True)
        print(f"PostgreSQL store: {n:,} spans filled in {fill_s:.1f} s, sequenced in {seq_s:.1f} s")
        rates = {}
        for compiled in (True, False):
            best_wall, best_cpu, reader = time_verify(engine, signer, n, compiled, 2)
            rates[compiled] = n / best_wall
            print(f"verify on PostgreSQL, {reader} reader: {n:,} leaves, best of 2: {best_wall:.2f} s wall "
                  f"= {n / best_wall:,.0f} leaves/s, client CPU {best_cpu:.2f} s = {n / best_cpu:,.0f}/s")  # fmt: skip
        print(f"  compiled / Python (wall): {rates[True] / rates[False]:.2f}×  ({_load()})")
        engine.dispose()
    finally:
        drop()
    return True


def bench_proofs(root: Path, leaves: int, samples: int, pg: bool, rng: random.Random) -> bool:
    ok = True
    db = root / "proofs" / "watchkeeper.db"
    engine = make_engine(f"sqlite:///{db}")
    migrate(engine)
    build_s = append_synthetic(engine, leaves)
    mb = sum(os.path.getsize(p) for p in db.parent.glob("watchkeeper.db*")) / 2**20
    print(f"SQLite: {leaves:,} leaves appended in {build_s:.0f} s ({leaves / build_s:,.0f}/s), {mb:,.0f} MiB")
    ok &= print_proofs("SQLite", leaves, measure_proofs(engine, leaves, samples, rng))
    engine.dispose()
    if pg:
        made = _pg_database()
        if made is not None:
            url, drop = made
            try:
                engine = make_engine(url)
                migrate(engine)
                build_s = append_synthetic(engine, leaves)
                print(f"PostgreSQL: {leaves:,} leaves appended in {build_s:.0f} s ({leaves / build_s:,.0f}/s)")
                ok &= print_proofs("PostgreSQL", leaves, measure_proofs(engine, leaves, samples, rng))
                engine.dispose()
            finally:
                drop()
    return ok


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--only", choices=["seal", "verify", "verify-pg", "proofs"], action="append",
                    help="run only these parts")  # fmt: skip
    ap.add_argument("--spans", type=int, default=1_000_000, help="rows in the verify store")
    ap.add_argument("--ingest-spans", type=int, default=40_000)
    ap.add_argument("--proof-leaves", type=int, default=10_000_000, help="leaves in the proof-latency log")
    ap.add_argument("--samples", type=int, default=500, help="proofs of each kind per measurement")
    ap.add_argument("--pg", default="auto", choices=["auto", "none"],
                    help="also measure proofs and verify on PostgreSQL")  # fmt: skip
    ap.add_argument("--pg-spans", type=int, default=200_000, help="rows in the PostgreSQL verify store (0: none)")
    ap.add_argument("--dir", help="work directory, kept (default: a temporary one, deleted)")
    args = ap.parse_args()
    parts = args.only or ["seal", "verify", "verify-pg", "proofs"]
    root = Path(args.dir or tempfile.mkdtemp(prefix="wk-bench-verify-"))
    rng = random.Random(7)
    ok = True
    try:
        if "seal" in parts:
            ok &= bench_seal(root, args.ingest_spans)
        if "verify" in parts:
            ok &= bench_verify(root, args.spans, args.ingest_spans, args.samples, rng)
        if "verify-pg" in parts and args.pg == "auto" and args.pg_spans:
            ok &= bench_verify_pg(root, args.pg_spans, args.ingest_spans)
        if "proofs" in parts:
            ok &= bench_proofs(root, args.proof_leaves, args.samples, args.pg == "auto", rng)
    finally:
        if not args.dir:
            shutil.rmtree(root, ignore_errors=True)
    print("all targets met" if ok else "SOME TARGETS MISSED")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
