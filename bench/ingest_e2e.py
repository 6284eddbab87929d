"""End-to-end ingest benchmark: OTLP/HTTP protobuf in batches of 512 → acknowledged, committed and queryable.

Starts a real `watchkeeper serve` (with `--workers N` for N server processes on one port), sends pre-built requests
from client threads in this process over keep-alive connections, and reports:
  - spans/s from the first request to the last acknowledgement (every ack means committed; the count is then
    checked in the store, so "acknowledged" is also "queryable");
  - server CPU time per span (all server processes, user + system), the number that does not depend on how busy
    the machine is;
  - bytes on disk per span once the verifiable log has sealed every span (SQLite: main file + WAL after a
    checkpoint; PostgreSQL: the spans table with indexes);
  - server start-up time (process spawn → /readyz answers 200);
  - peak server RSS, and under overload (a tiny queue, many clients) that 429s are answered and RSS stays bounded.

    python bench/ingest_e2e.py --engine sqlite --spans 200000 --processes 1 2
    python bench/ingest_e2e.py --engine postgres --processes 1 2
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import queue
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).parent))
import _workload

PG_ADMIN = os.environ.get("WATCHKEEPER_BENCH_PG_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class Server:
    proc: subprocess.Popen[bytes]
    port: int
    ready_s: float


SERVE = [sys.executable, "-m", "watchkeeper.cli", "serve"]
# --core-chain: the same server with the content processors (redact, enrich) as pass-throughs (see that file)
SERVE_CORE_CHAIN = [sys.executable, str(Path(__file__).parent / "_serve_core_chain.py"), "serve"]


def start_server(args: list[str], env_extra: dict[str, str] | None = None, *, serve: list[str] = SERVE) -> Server:
    port = free_port()
    # auth off: the clients send no API key (loopback only; ingest is measured, not the key check)
    env = dict(os.environ, WATCHKEEPER_LOG_LEVEL="warning", WATCHKEEPER_AUTH="false", **(env_extra or {}))
    t0 = time.perf_counter()
    log = tempfile.TemporaryFile()  # noqa: SIM115 - the server writes to it for its whole life; shown if it fails to start
    proc = subprocess.Popen(
        [*serve, "--port", str(port), *args],
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    while True:
        if proc.poll() is not None:
            log.seek(0)
            tail = log.read()[-3000:].decode(errors="replace")
            raise SystemExit(f"server {' '.join(args)} exited with {proc.returncode}:\n{tail}")
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/readyz", timeout=1) as r:
                if r.status == 200:
                    return Server(proc, port, time.perf_counter() - t0)
        except OSError:
            pass
        if time.perf_counter() - t0 > 60:
            proc.kill()
            raise SystemExit("server did not become ready in 60 s")
        time.sleep(0.01)


def listening_sockets(port: int) -> int:
    """How many sockets listen on ``port`` (each `serve --workers` worker has its own, in one SO_REUSEPORT group)."""
    n = 0
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            lines = Path(table).read_text().splitlines()[1:]
        except OSError:
            continue
        for line in lines:
            fields = line.split()
            if fields[3] == "0A" and int(fields[1].rsplit(":", 1)[1], 16) == port:
                n += 1
    return n


def wait_for_workers(server: Server, workers: int, timeout: float = 30) -> float:
    """Seconds from spawn until all ``workers`` listen ("ready" is the first one; this is full capacity)."""
    t0 = time.perf_counter()
    while listening_sockets(server.port) < workers:
        if time.perf_counter() - t0 > timeout:
            raise SystemExit(f"only {listening_sockets(server.port)} of {workers} workers listen after {timeout} s")
        time.sleep(0.01)
    return server.ready_s + time.perf_counter() - t0


def connect(port: int, timeout: float = 120) -> http.client.HTTPConnection:
    """A keep-alive connection with Nagle off, as curl and browsers use."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    conn.connect()
    assert conn.sock is not None
    conn.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    return conn


def process_tree(pid: int) -> list[int]:
    """``pid`` and all its descendants (a `serve --workers N` parent and its workers)."""
    out = [pid]
    for p in out:
        try:
            for tid in os.listdir(f"/proc/{p}/task"):
                out += [int(c) for c in Path(f"/proc/{p}/task/{tid}/children").read_text().split()]
        except OSError:
            pass
    return out


def cpu_seconds(pids: list[int]) -> float:
    """User + system CPU time of these processes so far."""
    ticks = 0
    for p in pids:
        try:
            fields = Path(f"/proc/{p}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        ticks += int(fields[11]) + int(fields[12])
    return ticks / os.sysconf("SC_CLK_TCK")


def peak_rss_mb(pid: int) -> float:
    """The largest peak RSS of ``pid`` and its descendants (per process, not summed)."""
    peak = float("nan")
    for p in process_tree(pid):
        try:
            for line in Path(f"/proc/{p}/status").read_text().splitlines():
                if line.startswith("VmHWM:"):
                    mb = int(line.split()[1]) / 1024
                    peak = mb if peak != peak else max(peak, mb)
        except OSError:
            pass
    return peak


def send_all(ports: list[int], bodies: list[tuple[bytes, int]], clients: int) -> tuple[float, int, int]:
    """Send every body once (retrying 429/503 after Retry-After); returns (seconds, spans acked, 429 answers)."""
    work: queue.Queue[tuple[bytes, int]] = queue.Queue()
    for b in bodies:
        work.put(b)
    acked = 0
    throttled = 0
    failures: list[str] = []
    lock = threading.Lock()

    def client(k: int) -> None:
        try:
            send(k)
        except BaseException as e:  # a client thread's failure must end the run, not vanish with the thread
            with lock:
                failures.append(str(e) or type(e).__name__)

    def send(k: int) -> None:
        nonlocal acked, throttled
        conn = connect(ports[k % len(ports)])
        while True:
            try:
                body, n = work.get_nowait()
            except queue.Empty:
                break
            while True:
                conn.request("POST", "/v1/traces", body=body, headers={"Content-Type": "application/x-protobuf"})
                r = conn.getresponse()
                r.read()
                if r.status == 200:
                    with lock:
                        acked += n
                    break
                if r.status in (429, 503):
                    with lock:
                        throttled += 1
                    time.sleep(float(r.getheader("Retry-After", "1")) / 10)
                    continue
                raise SystemExit(f"unexpected {r.status}")
        conn.close()

    threads = [threading.Thread(target=client, args=(k,)) for k in range(clients)]
    t0 = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    if failures:
        raise SystemExit(f"{len(failures)} client(s) failed: {failures[0]}")
    return time.perf_counter() - t0, acked, throttled


def wait_for_log(conn: http.client.HTTPConnection, limit_s: float = 3600) -> float:
    """Seconds until the server has appended every stored span to its verifiable log (its sequencer runs behind
    the writer: a span is acknowledged when it is stored, and sealed into the log shortly after)."""
    t0 = time.perf_counter()
    while True:
        conn.request("GET", "/metrics")
        body = conn.getresponse().read().decode()
        delay = next(
            (float(ln.split()[-1]) for ln in body.splitlines() if ln.startswith("watchkeeper_log_merge_delay_seconds")),
            None,
        )
        if delay is None:
            raise SystemExit("the server's /metrics has no watchkeeper_log_merge_delay_seconds")
        if delay == 0:
            return time.perf_counter() - t0
        if time.perf_counter() - t0 > limit_s:
            raise SystemExit(f"the log did not catch up in {limit_s:.0f} s")
        time.sleep(0.5)  # polling a server's progress, not timing anything


def count_spans(url: str) -> int:
    from sqlalchemy import create_engine, text

    e = create_engine(url)
    with e.connect() as c:
        n = int(c.execute(text("SELECT count(*) FROM spans")).scalar() or 0)
    e.dispose()
    return n


def sqlite_bytes(data_dir: Path) -> int:
    import sqlite3

    db = data_dir / "watchkeeper.db"
    con = sqlite3.connect(db)
    con.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    con.close()
    return sum(p.stat().st_size for p in data_dir.glob("watchkeeper.db*"))


def pg_bytes(url: str) -> int:
    from sqlalchemy import create_engine, text

    e = create_engine(url)
    with e.connect() as c:
        n = int(c.execute(text("SELECT pg_total_relation_size('spans')")).scalar() or 0)
    e.dispose()
    return n


def pg_database() -> tuple[str, Any]:
    from sqlalchemy import create_engine, text

    admin = create_engine(PG_ADMIN, isolation_level="AUTOCOMMIT")
    name = f"wk_bench_{uuid.uuid4().hex[:8]}"
    with admin.connect() as c:
        c.execute(text(f'CREATE DATABASE "{name}"'))

    def drop() -> None:
        with admin.connect() as c:
            c.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()

    return PG_ADMIN.rsplit("/", 1)[0] + "/" + name, drop


def run(engine: str, total: int, processes: int, clients: int, *, core_chain: bool = False) -> dict[str, Any]:
    """One server (``--workers processes``) on a fresh store; ``clients`` threads send ``total`` spans."""
    bodies = list(_workload.requests(total))
    wire = sum(len(b) for b, _ in bodies) / sum(n for _, n in bodies)
    tmp = Path(tempfile.mkdtemp(prefix="wk-bench-"))
    drop = None
    try:
        if engine == "sqlite":
            args = ["--data-dir", str(tmp)]
            url = f"sqlite:///{tmp / 'watchkeeper.db'}"
        else:
            url, drop = pg_database()
            args = ["--database-url", url]
            # schema first, so the servers do not race to create it
            subprocess.run(
                [sys.executable, "-m", "watchkeeper.cli", "migrate", *args], check=True, stdout=subprocess.DEVNULL
            )
        server = start_server([*args, "--workers", str(processes)], serve=SERVE_CORE_CHAIN if core_chain else SERVE)
        all_ready_s = wait_for_workers(server, processes)  # so every worker gets its share of the connections
        pids = process_tree(server.proc.pid)
        cpu0 = cpu_seconds(pids)
        seconds, acked, throttled = send_all([server.port], bodies, clients)
        cpu = cpu_seconds(pids) - cpu0
        stored = count_spans(url)
        # the store's size once the log has sealed every span (the steady state of a server that ingests as it goes)
        log_s = wait_for_log(connect(server.port))
        rss = peak_rss_mb(server.proc.pid)
        server.proc.terminate()
        server.proc.wait(60)
        disk = sqlite_bytes(tmp) if engine == "sqlite" else pg_bytes(url)
        return {
            "engine": engine,
            "core_chain": core_chain,
            "processes": processes,
            "spans": acked,
            "stored": stored,
            "spans_per_s": acked / seconds,
            "server_cpu_us_per_span": cpu / max(acked, 1) * 1e6,
            "disk_bytes_per_span": disk / max(stored, 1),
            "wire_bytes_per_span": wire,
            "ready_s": server.ready_s,
            "all_workers_ready_s": all_ready_s,
            "log_catch_up_s": log_s,
            "peak_rss_mb": rss,
            "throttled": throttled,
        }
    finally:
        if drop is not None:
            drop()
        shutil.rmtree(tmp, ignore_errors=True)


def overload(total: int, clients: int) -> dict[str, Any]:
    """A tiny queue and many clients: the server must answer 429 and keep its memory bounded."""
    bodies = list(_workload.requests(total))
    tmp = Path(tempfile.mkdtemp(prefix="wk-bench-"))
    try:
        server = start_server(["--data-dir", str(tmp)], {"WATCHKEEPER_QUEUE_MAX_RECORDS": "2048"})
        seconds, acked, throttled = send_all([server.port], bodies, clients)
        rss = peak_rss_mb(server.proc.pid)
        server.proc.terminate()
        server.proc.wait(60)
        stored = count_spans(f"sqlite:///{tmp / 'watchkeeper.db'}")
        return {
            "spans": acked,
            "stored": stored,
            "throttled": throttled,
            "peak_rss_mb": rss,
            "spans_per_s": acked / seconds,
        }
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--engine", choices=["sqlite", "postgres", "both"], default="both")
    p.add_argument("--spans", type=int, default=200_000)
    p.add_argument("--processes", type=int, nargs="*", default=[1, 2], help="server processes (serve --workers N)")
    p.add_argument("--clients", type=int, default=4, help="client connections per server process")
    p.add_argument("--overload-clients", type=int, default=16)
    p.add_argument("--json", action="store_true", help="print results as JSON too")
    p.add_argument(
        "--core-chain",
        action="store_true",
        help="measuring aid: redact and enrich as pass-throughs, to see what the rest of the path costs",
    )
    a = p.parse_args()
    results = []
    for engine in ("sqlite", "postgres"):
        if a.engine in (engine, "both"):
            for n in a.processes:
                results.append(run(engine, a.spans, n, a.clients * n, core_chain=a.core_chain))
    over = overload(min(a.spans, 100_000), a.overload_clients)

    title = "End-to-end ingest, OTLP/HTTP protobuf, batches of 512 (acknowledged = committed = queryable)"
    print(f"\n{title}{', CORE CHAIN ONLY (measuring aid)' if a.core_chain else ''}")
    print(
        f"{'engine':<10} {'procs':>5} {'spans':>8} {'spans/s':>9} {'target':>8} {'CPU µs/span':>11} "
        f"{'disk B/span':>12} {'target':>7} {'wire B/span':>11} {'ready s':>8} {'peak RSS MB':>11}"
    )
    for r in results:
        target = "≥20,000" if r["engine"] == "sqlite" else "scales"
        print(
            f"{r['engine']:<10} {r['processes']:>5} {r['stored']:>8} {r['spans_per_s']:>9,.0f} {target:>8} "
            f"{r['server_cpu_us_per_span']:>11,.0f} {r['disk_bytes_per_span']:>12,.0f} {'≤1,536':>7} "
            f"{r['wire_bytes_per_span']:>11,.0f} {r['ready_s']:>8.2f} {r['peak_rss_mb']:>11,.0f}"
        )
        if r["stored"] != r["spans"]:
            print(f"  !! acknowledged {r['spans']} but stored {r['stored']}")
    print(
        f"\nOverload (queue of 2,048 records, {a.overload_clients} clients): {over['throttled']} answers 429, "
        f"{over['stored']:,} of {over['spans']:,} spans stored, peak RSS {over['peak_rss_mb']:,.0f} MB"
    )
    print(
        "Reference (issue #2, same workload, measured elsewhere on this machine): Arize Phoenix 20.x on SQLite "
        "≈55 spans/s, 3.8 KB on disk per span, ~0.9 GB peak RSS, 23 s to start."
    )
    if a.json:
        print(json.dumps({"runs": results, "overload": over}, indent=2))


if __name__ == "__main__":
    main()
