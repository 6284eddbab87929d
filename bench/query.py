"""Query benchmark: with N spans stored (default 1,000,000), how fast are a trace tree and a filtered page?

Loads N spans (agent traces of 4 spans: root, LLM call, tool call, LLM call; 2 weeks of event time, realistic
cohorts) into a fresh SQLite store through the real pipeline and writer, starts `watchkeeper serve` on it, and
times HTTP requests over a keep-alive connection: p50 and p90 of each query, next to the targets.

    python bench/query.py --spans 1000000
"""

from __future__ import annotations

import argparse
import http.client
import json
import random
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

sys.path.insert(0, str(Path(__file__).parent))
from ingest_e2e import connect, peak_rss_mb, start_server, wait_for_log
from watchkeeper.config import Settings
from watchkeeper.records import (
    Account,
    LLMCall,
    Message,
    Span,
    SpanKind,
    Status,
    TokenUsage,
    ToolCall,
    Versions,
)
from watchkeeper.server._runtime import Runtime

DAY = 86_400 * 10**9
MODELS = ["gpt-4o", "gpt-4o-mini", "claude-sonnet-4", "gpt-4.1-mini"]
TOOLS = ["lookup_order", "search_kb", "issue_refund", "reset_password", "get_invoice", "update_address"]
REGIONS = ["us-east", "eu-west", "ap-south", "sa-east"]
CLIENTS = [("web", "2026.11.1"), ("ios", "4.12.0"), ("ios", "4.13.0"), ("android", "7.3.1")]


def make_trace(rng: random.Random, t0: int, i: int) -> list[Span]:
    tid = f"{rng.getrandbits(128):032x}"
    ids = [f"{rng.getrandbits(64):016x}" for _ in range(4)]
    model = rng.choice(MODELS)
    client, version = rng.choice(CLIENTS)
    ctx = {
        "session_id": f"sess-{rng.randrange(i // 3 + 1)}",
        "subject_id": f"subj_{rng.randrange(50_000):05x}",
        "account": Account(
            plan_tier=rng.choice(["free", "pro", "enterprise"]),
            region=rng.choice(REGIONS),
            client_name=client,
            client_version=version,
            locale=rng.choice(["en-US", "de-DE", "ja-JP"]),
        ),
        "versions": Versions(model=model, prompt=rng.choice(["support-v12", "support-v13"])),
        "service_name": "bench-agent",
    }
    tool = rng.choice(TOOLS)
    failed = rng.random() < 0.03
    text = "please help me with my order " * 15
    out = [
        Span(tid, ids[0], "agent.turn", t0, t0 + 2_000_000_000, kind=SpanKind.AGENT, status=Status.OK, **ctx),
        Span(
            tid,
            ids[1],
            f"chat {model}",
            t0 + 10**6,
            t0 + 700_000_000,
            kind=SpanKind.LLM,
            parent_span_id=ids[0],
            status=Status.OK,
            llm=LLMCall(
                provider="openai",
                request_model=model,
                response_model=model,
                input_messages=[Message("user", text)],
                usage=TokenUsage(600, 40, 256),
            ),
            **ctx,
        ),
        Span(
            tid,
            ids[2],
            f"execute_tool {tool}",
            t0 + 710_000_000,
            t0 + 900_000_000,
            kind=SpanKind.TOOL,
            parent_span_id=ids[0],
            status=Status.ERROR if failed else Status.OK,
            tool=ToolCall(name=tool, arguments={"id": i}, result={"ok": not failed}, is_error=failed),
            **ctx,
        ),
        Span(
            tid,
            ids[3],
            f"chat {model}",
            t0 + 910_000_000,
            t0 + 1_900_000_000,
            kind=SpanKind.LLM,
            parent_span_id=ids[0],
            status=Status.OK,
            llm=LLMCall(
                provider="openai",
                request_model=model,
                response_model=model,
                output_messages=[Message("assistant", text)],
                usage=TokenUsage(700, 120, 512),
            ),
            **ctx,
        ),
    ]
    return out


def load(data_dir: Path, n_spans: int, days: int = 14) -> tuple[float, list[str], list[str]]:
    rt = Runtime(Settings(data_dir=str(data_dir), max_future_s=10**9))
    rt.start()
    rng = random.Random(7)
    end = time.time_ns()
    start = end - days * DAY
    n_traces = n_spans // 4
    step = (end - start) // n_traces
    trace_ids: list[str] = []
    sessions: list[str] = []
    t0 = time.perf_counter()
    batch: list[Span] = []
    futures = []
    for i in range(n_traces):
        spans = make_trace(rng, start + i * step, i)
        batch.extend(spans)
        if i % 997 == 0:
            trace_ids.append(spans[0].trace_id)
            sessions.append(spans[0].session_id or "")
        if len(batch) >= 4000:
            futures.append(rt.writer.submit(rt.prepare(batch, [], "bench")))
            batch = []
            if len(futures) > 8:
                futures.pop(0).result(600)
    if batch:
        futures.append(rt.writer.submit(rt.prepare(batch, [], "bench")))
    for f in futures:
        f.result(600)
    rt.stop()
    return time.perf_counter() - t0, trace_ids, sessions


def timed(conn: http.client.HTTPConnection, path: str) -> float:
    t0 = time.perf_counter()
    conn.request("GET", path)
    r = conn.getresponse()
    r.read()
    dt = time.perf_counter() - t0
    if r.status != 200:
        raise SystemExit(f"{path} answered {r.status}")
    return dt * 1000


def measure(n_spans: int, repeat: int = 50, keep: str | None = None) -> dict[str, Any]:
    """Load ``n_spans`` (or reuse the store kept in ``keep``), start a server on it and time the queries."""
    tmp = Path(keep) if keep else Path(tempfile.mkdtemp(prefix="wk-query-"))
    marker = tmp / "bench-loaded.json"
    try:
        if keep and marker.exists() and json.loads(marker.read_text())["spans"] == n_spans:
            saved = json.loads(marker.read_text())
            load_s, trace_ids, sessions = None, saved["trace_ids"], saved["sessions"]
        else:
            if keep:
                shutil.rmtree(tmp, ignore_errors=True)
            load_s, trace_ids, sessions = load(tmp, n_spans)
            if keep:
                marker.write_text(json.dumps({"spans": n_spans, "trace_ids": trace_ids, "sessions": sessions}))
        server = start_server(["--data-dir", str(tmp)])
        conn = connect(server.port)
        catch_up_s = wait_for_log(conn)
        now = time.time_ns()
        rng = random.Random(1)
        day_ago = str(now - DAY)
        queries = {
            "trace tree (GET /api/v1/traces/{id})": (lambda: f"/api/v1/traces/{rng.choice(trace_ids)}", 20),
            "spans page: model, last 24 h": (
                lambda: "/api/v1/spans?" + urlencode({"model": rng.choice(MODELS), "from": day_ago}),
                50,
            ),
            "spans page: kind=tool, status=error": (lambda: "/api/v1/spans?kind=tool&status=error", 50),
            "spans page: region + client version": (
                lambda: "/api/v1/spans?" + urlencode({"region": rng.choice(REGIONS), "client_version": "4.13.0"}),
                50,
            ),
            "spans page: session": (lambda: "/api/v1/spans?" + urlencode({"session_id": rng.choice(sessions)}), 50),
            "spans page: tool name substring": (lambda: "/api/v1/spans?tool=refund", 50),
            "spans page: 3rd page via cursor": (None, 50),
            "traces page (GET /api/v1/traces)": (lambda: "/api/v1/traces", 50),
        }
        rows = []
        for name, (make, target) in queries.items():
            samples = []
            for _ in range(repeat):
                if make is None:
                    conn.request("GET", "/api/v1/spans?kind=llm&limit=50")
                    c1 = json.loads(conn.getresponse().read())["next_cursor"]
                    conn.request("GET", f"/api/v1/spans?kind=llm&limit=50&cursor={c1}")
                    c2 = json.loads(conn.getresponse().read())["next_cursor"]
                    samples.append(timed(conn, f"/api/v1/spans?kind=llm&limit=50&cursor={c2}"))
                else:
                    samples.append(timed(conn, make()))
            samples.sort()
            rows.append((name, statistics.median(samples), samples[int(len(samples) * 0.9)], target))
        rss = peak_rss_mb(server.proc.pid)
        server.proc.terminate()
        server.proc.wait(60)
        return {
            "spans": n_spans,
            "load_s": load_s,
            "queries": rows,
            "peak_rss_mb": rss,
            "ready_s": server.ready_s,
            "log_catch_up_s": catch_up_s,
        }
    finally:
        if not keep:
            shutil.rmtree(tmp, ignore_errors=True)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--spans", type=int, default=1_000_000)
    p.add_argument("--repeat", type=int, default=50)
    p.add_argument("--keep", help="keep the loaded store in this directory (and reuse it when present)")
    a = p.parse_args()
    r = measure(a.spans, a.repeat, a.keep)
    if r["load_s"] is not None:
        rate = a.spans / r["load_s"]
        print(f"loaded {a.spans:,} spans in {r['load_s']:.0f} s ({rate:,.0f} spans/s through pipeline+writer)")
    else:
        print(f"reusing the {a.spans:,} spans kept in {a.keep}")
    print(f"\nQueries over HTTP with {a.spans:,} spans stored (SQLite), {a.repeat} runs each")
    print(f"{'query':<42} {'p50 ms':>8} {'p90 ms':>8} {'target p50':>11}")
    for name, p50, p90, target in r["queries"]:
        mark = "" if p50 <= target else "  (over target)"
        print(f"{name:<42} {p50:>8.1f} {p90:>8.1f} {'≤' + str(target) + ' ms':>11}{mark}")
    print(f"server peak RSS {r['peak_rss_mb']:,.0f} MB; start-up {r['ready_s']:.2f} s (target ≤2 s); the log sealed "
          f"the loaded spans in {r['log_catch_up_s']:.1f} s before the queries were timed")  # fmt: skip


if __name__ == "__main__":
    main()
