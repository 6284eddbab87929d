"""Rollup benchmark: what maintaining rollups adds to ingest, and how fast the explorer's questions are on a store
whose rollups count 10 million spans.

    .venv/bin/python bench/rollups.py                      # SQLite; --engines sqlite,postgres for both
    .venv/bin/python bench/rollups.py --quick              # smaller: a smoke test

1. *maintenance vs ingest*: the ingest benchmark's workload (bench/_workload.py: OTLP protobuf, ~2 KB per span) is
   decoded and goes through the server's pipeline and writer (``Runtime.ingest_sync``), alternately with the
   ``rollup`` processor in the chain and without it (then the writer stores the spans and counts nothing), ``--rounds``
   times each, on fresh SQLite stores, in one process. Process CPU time per span (the writer thread's included);
   the ratio of the two is what rollups add (target ≤ 10%). The same again with the core chain only (redact and
   enrich left out), where the rest of ingest is cheapest, so the ratio is the worst case.
2. *queries on 10M spans*: the rollups of ``--spans`` synthetic spans over 30 days (cohorts, languages, models,
   tools, labels, latencies drawn from fixed distributions) are written through the real code path — ``facts_of_row``
   on a synthetic spans row, the cap, the 1-minute and 1-hour buckets, the UPSERT — without storing the spans
   themselves: the last ``--full-days`` days one draw per span, older days one draw per ``--weight`` spans (counted
   ``--weight`` times), and 1-minute buckets only for the last 7 days (what retention keeps). Then each question is
   asked ``--repeat`` times: p50 and p90 of wall time, next to the targets (30-day rate series ≤ 50 ms, top changed
   slices ≤ 500 ms).
"""

from __future__ import annotations

import argparse
import random
import statistics
import sys
import tempfile
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import orjson
from sqlalchemy import create_engine, func, select, text

sys.path.insert(0, str(Path(__file__).parent))
from _workload import requests
from watchkeeper._rollup import AGE_EDGES_DAYS, DAY_NS, HOUR_NS, RollupConfig, facts_of_row
from watchkeeper.analytics import (
    Slice,
    SliceExplorer,
    Window,
    latency_series,
    rate_series,
    slices_with_traffic,
)
from watchkeeper.config import Settings
from watchkeeper.ingest.otlp import decode_otlp
from watchkeeper.pipeline import Batch, Context, Enrich, Redact, Rollup
from watchkeeper.server._runtime import Runtime
from watchkeeper.store import make_engine, migrate
from watchkeeper.store._rollups import Tally, ValueCap
from watchkeeper.store.tables import rollups

SERIES_TARGET_MS = 50.0
TOP_TARGET_MS = 500.0
MAINTENANCE_TARGET = 0.10
PG_ADMIN = "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"

# ---------------------------------------------------------------------------------------------------------------
# 1. maintenance against ingest


def _ingest_cpu_us(root: Path, bodies: list[bytes], *, rollup: bool, core: bool) -> float:
    s = Settings(data_dir=str(root / uuid.uuid4().hex), max_future_s=10**10, auth=False)
    rt = Runtime(s)
    rt.start()
    drop: tuple[type, ...] = (() if rollup else (Rollup,)) + ((Redact, Enrich) if core else ())
    rt.chain = [p for p in rt.chain if not isinstance(p, drop)]
    total = 0
    t = time.process_time()
    for body in bodies:
        decoded = decode_otlp(body, "application/x-protobuf", max_string_chars=s.max_string_chars,
                              max_depth=s.max_depth)  # fmt: skip
        total += rt.ingest_sync(decoded, [], "otlp").spans
    cpu = time.process_time() - t
    rt.stop()
    return cpu / total * 1e6


def components(root: Path, bodies: list[bytes]) -> dict[str, float]:
    """CPU µs per span of the rollup work alone, measured directly: the processor, and what the writer adds to a
    transaction for it (the cap, the expansion into rows, the feedback lookups, the UPSERT), on a fresh store."""
    decoded = [decode_otlp(b, "application/x-protobuf", max_future_s=10**10) for b in bodies]
    n = sum(len(d) for d in decoded)
    ctx, proc = Context(1, "otlp", 0), Rollup()
    t = time.process_time()
    deltas = [proc(ctx, Batch(spans=d)).rollups for d in decoded]
    processor = time.process_time() - t
    engine = make_engine(f"sqlite:///{root / uuid.uuid4().hex}.db")
    migrate(engine)
    cap, cfg = ValueCap(), RollupConfig()
    t = time.process_time()
    for d in deltas:
        assert d is not None
        with engine.begin() as conn:
            tally = Tally(conn, cfg, cap)
            tally.add_groups(d.groups)
            tally.turns_with_feedback([f for f in d.facts if f.root])
            tally.apply()
    writer = time.process_time() - t
    engine.dispose()
    return {"processor_us": processor / n * 1e6, "writer_us": writer / n * 1e6}


def maintenance(root: Path, spans: int, rounds: int) -> dict[str, Any]:
    """CPU µs per span with and without the rollup processor, interleaved, for the default and the core chain; and
    the rollup work measured on its own."""
    bodies = [body for body, _n in requests(spans)]
    n = sum(n for _b, n in requests(spans))
    out: dict[str, Any] = {"spans": n}
    for chain in ("default", "core"):
        for rollup in (False, True):  # warm-up, not counted: pattern compilation, first-call caches
            _ingest_cpu_us(root, bodies[:4], rollup=rollup, core=chain == "core")
        with_, without = [], []
        for _ in range(rounds):
            without.append(_ingest_cpu_us(root, bodies, rollup=False, core=chain == "core"))
            with_.append(_ingest_cpu_us(root, bodies, rollup=True, core=chain == "core"))
        a, b = statistics.median(with_), statistics.median(without)
        out[chain] = {
            "with_us": a,
            "without_us": b,
            "ratio": a / b - 1,
            "rounds": list(zip(with_, without, strict=True)),
        }
    out["components"] = c = components(root, bodies)
    for chain in ("default", "core"):
        out[chain]["direct"] = (c["processor_us"] + c["writer_us"]) / out[chain]["without_us"]
    return out


# ---------------------------------------------------------------------------------------------------------------
# 2. a store of rollups for many spans


def _zipf(rng: random.Random, values: list[str], s: float = 1.1) -> Callable[[], str]:
    weights = [1 / (i + 1) ** s for i in range(len(values))]
    return lambda: rng.choices(values, weights)[0]


class Traffic:
    """Synthetic span rows: only the columns the rollups read (no content)."""

    def __init__(self, seed: int = 7) -> None:
        rng = self.rng = random.Random(seed)
        self.region = _zipf(rng, ["us-east", "eu-west", "ap-south", "sa-east", "eu-north", "us-west", "ap-east",
                                  "me-central", "af-south", "ca-central", "eu-south", "ap-northeast"])  # fmt: skip
        self.tier = _zipf(rng, ["free", "pro", "team", "enterprise"])
        self.client = _zipf(rng, [f"{c}/{v}" for c in ("web", "ios", "android", "desktop")
                                  for v in ("4.10.0", "4.11.0", "4.12.0", "4.13.0", "4.13.1", "5.0.0")])  # fmt: skip
        self.locale = _zipf(
            rng, [f"{lang}-{r}" for lang in ("en", "de", "fr", "es", "pt", "ja") for r in ("US", "GB", "DE", "BR")]
        )
        self.language = _zipf(rng, ["en", "de", "fr", "es", "pt", "ja", "hi", "zh", "ko", "it", "nl", "pl", "ru",
                                    "tr", "ar", "sv", "id", "vi", "th", "uk"])  # fmt: skip
        self.model = _zipf(rng, ["gpt-4o", "gpt-4o-mini", "claude-sonnet-4", "gpt-4.1-mini", "gemini-2.5", "llama-4",
                                 "mistral-large", "o4-mini"])  # fmt: skip
        self.mver = _zipf(rng, [f"m-2025-{m:02d}" for m in range(1, 11)])
        self.prompt = _zipf(rng, [f"support-v{v}" for v in range(1, 16)])
        self.skill = _zipf(rng, [f"skill-{v}" for v in range(1, 9)])
        self.service = _zipf(rng, ["support-agent", "billing-agent", "search", "onboarding", "triage"])
        self.tool = _zipf(rng, [f"tool_{i}" for i in range(40)])
        self.mcp = _zipf(rng, ["billing-mcp", "crm-mcp", "kb-mcp", "files-mcp", "calendar-mcp", "mail-mcp"])

    def row(self, start_ns: int) -> dict[str, Any]:
        rng = self.rng
        kind = rng.choices(["llm", "tool", "mcp", "agent"], [50, 25, 10, 15])[0]
        client = self.client().split("/")
        sig: dict[str, Any] = {"language": {"label": self.language()}}
        if kind == "llm":
            sig["refusal"] = {
                "label": rng.choices(["full_compliance", "full_refusal", "partial_refusal"], [95, 3, 2])[0]
            }
            sig["jailbreak"] = {"label": rng.choices(["none", "jailbreak"], [99, 1])[0]}
            sig["prompt_injection"] = {"label": rng.choices(["none", "prompt_injection"], [99, 1])[0]}
        elif kind in ("tool", "mcp"):
            sig["tool_error"] = {"label": rng.choices(["ok", "timeout", "rate_limit", "auth", "not_found",
                                                       "server_error"], [90, 3, 2, 1, 2, 2])[0]}  # fmt: skip
            sig["indirect_injection"] = {"label": rng.choices(["none", "indirect_injection"], [995, 5])[0]}
        age = rng.choice([*[e - 0.5 for e in AGE_EDGES_DAYS], 900])
        llm = kind == "llm"
        return {
            "project_id": 1,
            "trace_id": rng.getrandbits(128).to_bytes(16, "big"),
            "parent_span_id": None if kind == "agent" else b"\x01" * 8,
            "kind": kind,
            "status": "error" if rng.random() < 0.02 else "ok",
            "start_ns": start_ns,
            "end_ns": start_ns + int(rng.lognormvariate(20.5, 0.9)),
            "region": self.region(),
            "plan_tier": self.tier(),
            "client_name": client[0],
            "client_version": client[1],
            "locale": self.locale(),
            "response_model": self.model() if llm else None,
            "request_model": None,
            "model_version": self.mver() if llm else None,
            "prompt_version": self.prompt(),
            "skill_version": self.skill() if rng.random() < 0.3 else None,
            "service_name": self.service(),
            "tool_name": self.tool() if kind in ("tool", "mcp") else None,
            "mcp_server": self.mcp() if kind == "mcp" else None,
            "provider": "openai" if llm else None,
            "account_created_ns": None if rng.random() < 0.1 else start_ns - int(age * DAY_NS),
            "attributes": orjson.dumps({"watchkeeper.signals": sig}).decode(),
            "input_tokens": rng.randrange(100, 2000) if llm else None,
            "output_tokens": rng.randrange(20, 600) if llm else None,
        }


def build(engine: Any, spans: int, days: int, full_days: int, weight: int, minute_days: int = 7) -> dict[str, Any]:
    """Writes the rollups of ``spans`` synthetic spans spread evenly over ``days`` days ending at the current hour."""
    end = time.time_ns() // HOUR_NS * HOUR_NS
    start = end - days * DAY_NS
    per_hour = spans / (days * 24)
    traffic, cap, cfg = Traffic(), ValueCap(), RollupConfig()
    draws = 0
    t0 = time.perf_counter()
    for h in range(days * 24):
        a = start + h * HOUR_NS
        w = 1 if a >= end - full_days * DAY_NS else weight
        facts = []
        for _ in range(round(per_hour / w)):
            f = facts_of_row(traffic.row(a + traffic.rng.randrange(HOUR_NS)))
            facts.extend([f] * w)
        draws += len(facts) // w
        with engine.begin() as conn:
            tally = Tally(conn, cfg, cap, widths=(60, 3600) if a >= end - minute_days * DAY_NS else (3600,))
            tally.add_facts(facts)
            tally.apply()
    build_s = time.perf_counter() - t0
    with engine.connect() as conn:
        rows = dict(conn.execute(select(rollups.c.width_s, func.count()).group_by(rollups.c.width_s)).all())
    return {"end_ns": end, "start_ns": start, "draws": draws, "build_s": build_s, "rows_1m": rows.get(60, 0),
            "rows_1h": rows.get(3600, 0)}  # fmt: skip


def _time(fn: Callable[[], object], repeat: int) -> tuple[float, float]:
    fn()  # warm: the page cache, the compiled statements
    ms = []
    for _ in range(repeat):
        t = time.perf_counter()
        fn()
        ms.append((time.perf_counter() - t) * 1000)
    ms.sort()
    return statistics.median(ms), ms[min(len(ms) - 1, int(len(ms) * 0.9))]


def questions(engine: Any, end: int, repeat: int) -> list[tuple[str, float, float, float | None]]:
    """(question, p50 ms, p90 ms, target ms or None) for each question the explorer and the alerting engine ask."""
    ex = SliceExplorer(engine)
    now = time.time_ns()  # windows end now, unaligned, as the page asks by default
    month = Window(end - 30 * DAY_NS, end)
    hour, day = Window(now - HOUR_NS, now), Window(now - 25 * HOUR_NS, now - HOUR_NS)
    qs: list[tuple[str, Callable[[], object], float | None]] = [
        ("rate_series, 30 days × 1h, one slice (language=de)",
         lambda: rate_series(engine, project_id=1, metric="refusals", slice={"language": "de"}, start=month.start_ns,
                             end=month.end_ns, bucket="1h"), SERIES_TARGET_MS),
        ("rate_series, 30 days × 1h, a pair (language × model_version)",
         lambda: rate_series(engine, project_id=1, metric="refusals", slice={"language": "de",
                             "model_version": "m-2025-01"}, start=month.start_ns, end=month.end_ns, bucket="1h"),
         SERIES_TARGET_MS),
        ("explorer series, 30 days × 1h, slice and rest (client=ios/4.13.0)",
         lambda: ex.rate_series("errors.tool", Slice.of(client="ios/4.13.0"), month, "1h"), SERIES_TARGET_MS),
        ("explorer series, 30 days × 1d, (other) of tool_name (reads every value)",
         lambda: ex.rate_series("tool_errors", Slice.of(tool_name="(other)"), month, "1d"), None),
        ("explorer compare, 30 days, one slice",
         lambda: ex.compare("refusals", Slice.of(language="ja"), month), SERIES_TARGET_MS),
        ("top changes, every dimension and pair, 1h vs 24h before",
         lambda: ex.top_changes("errors.tool", None, current=hour, baseline=day), TOP_TARGET_MS),
        ("top changes, every dimension and pair, 24h vs 7d before",
         lambda: ex.top_changes("refusals", None, current=Window(now - DAY_NS, now),
                                baseline=Window(now - 8 * DAY_NS, now - DAY_NS)), TOP_TARGET_MS),
        ("top changes, one dimension (client), 1h vs 24h before",
         lambda: ex.top_changes("errors.tool", ["client"], current=hour, baseline=day), TOP_TARGET_MS),
        ("slices_with_traffic, language × model_version, last hour",
         lambda: slices_with_traffic(engine, project_id=1, metric="refusals", dimensions=("language",
                                     "model_version"), start=now - HOUR_NS, end=now), SERIES_TARGET_MS),
        ("latency_series, 24 hours × 1m, one model (82 bins a bucket)",
         lambda: latency_series(engine, project_id=1, slice={"model": "gpt-4o"}, start=now - DAY_NS, end=now,
                                bucket="1m"), None),
    ]  # fmt: skip
    return [(name, *_time(fn, repeat), target) for name, fn, target in qs]


def _pg_store() -> tuple[str, Callable[[], None]]:
    admin = create_engine(PG_ADMIN, isolation_level="AUTOCOMMIT")
    name = f"rollup_bench_{uuid.uuid4().hex[:8]}"
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))

    def drop() -> None:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()

    return PG_ADMIN.rsplit("/", 1)[0] + "/" + name, drop


def _print_maintenance(m: dict[str, Any], rounds: int) -> None:
    c = m["components"]
    print(f"\nmaintenance vs ingest ({m['spans']:,} spans per run, {rounds} interleaved runs each, CPU µs/span):")
    print(f"  rollup work alone: processor {c['processor_us']:.1f} + writer {c['writer_us']:.1f} = "
          f"{c['processor_us'] + c['writer_us']:.1f} µs/span")  # fmt: skip
    for chain in ("default", "core"):
        x = m[chain]
        note = "" if chain == "default" else ", informational"
        print(f"  {chain:<8} chain: without rollups {x['without_us']:7.1f}, with {x['with_us']:7.1f} → "
              f"{x['ratio']:+.1%} (A/B, medians); rollup work alone / without = {x['direct']:.1%} "
              f"(target ≤ {MAINTENANCE_TARGET:.0%}{note})", flush=True)  # fmt: skip


def _print_store(name: str, b: dict[str, Any]) -> None:
    print(f"\n{name}: rollups of {b['spans']:,} spans over 30 days ({b['draws']:,} draws), written in "
          f"{b['build_s']:.0f} s: {b['rows_1h']:,} 1-hour rows, {b['rows_1m']:,} 1-minute rows")  # fmt: skip
    width = max(len(q[0]) for q in b["questions"])
    print(f"  {'question':<{width}}  {'p50 ms':>7}  {'p90 ms':>7}  target  met")
    for q, p50, p90, target in b["questions"]:
        if target is None:
            print(f"  {q:<{width}}  {p50:7.1f}  {p90:7.1f}      -  -")
        else:
            print(f"  {q:<{width}}  {p50:7.1f}  {p90:7.1f}  ≤ {target:3.0f}  {'yes' if p50 <= target else 'NO'}")
    sys.stdout.flush()


def measure(a: argparse.Namespace, echo: bool = True) -> dict[str, Any]:
    """Runs the parts ``a`` asks for, printing each as soon as it is done (when ``echo``)."""
    root = Path(a.dir or tempfile.mkdtemp(prefix="wk-bench-rollups-"))
    out: dict[str, Any] = {}
    if a.ingest_spans:
        out["maintenance"] = maintenance(root, a.ingest_spans, a.rounds)
        if echo:
            _print_maintenance(out["maintenance"], a.rounds)
    for name in a.engines.split(","):
        if not name:
            continue
        drop: Callable[[], None] = lambda: None  # noqa: E731
        url = f"sqlite:///{root / 'queries.db'}"
        if name == "postgres":
            url, drop = _pg_store()
        engine = make_engine(url)
        try:
            migrate(engine)
            built = build(engine, a.spans, 30, a.full_days, a.weight, a.minute_days)
            if name == "postgres":
                with engine.connect() as conn:
                    conn.execute(text("ANALYZE rollups"))
            out[name] = {**built, "spans": a.spans, "questions": questions(engine, built["end_ns"], a.repeat)}
            if echo:
                _print_store(name, out[name])
        finally:
            engine.dispose()
            drop()
    return out


def met(r: dict[str, Any]) -> bool:
    """Whether every target was met in a result of :func:`measure`."""
    # the rollup work measured alone decides: the A/B of whole ingest runs spreads ±10% on a shared machine
    ok = r.get("maintenance", {}).get("default", {}).get("direct", 0.0) <= MAINTENANCE_TARGET
    for name in ("sqlite", "postgres"):
        for _q, p50, _p90, target in r.get(name, {}).get("questions", ()):
            ok &= target is None or p50 <= target
    return ok


def arguments(argv: list[str] | None = None) -> argparse.Namespace:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--quick", action="store_true", help="smaller sizes: a smoke test, not the published numbers")
    ap.add_argument("--spans", type=int, default=10_000_000, help="spans the rollups count (default 10M)")
    ap.add_argument("--full-days", type=int, default=2, help="recent days drawn one draw per span")
    ap.add_argument("--weight", type=int, default=10, help="spans per draw on older days")
    ap.add_argument("--minute-days", type=int, default=7, help="recent days with 1-minute buckets (retention's 7)")
    ap.add_argument("--ingest-spans", type=int, default=20_000, help="spans per maintenance run (0: skip)")
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--repeat", type=int, default=20)
    ap.add_argument("--engines", default="sqlite", help=f"stores to query: sqlite, postgres ({PG_ADMIN}) or both")
    ap.add_argument("--dir", help="work directory (default: a temporary one)")
    a = ap.parse_args(argv)
    if a.quick:
        a.spans, a.ingest_spans, a.rounds, a.repeat, a.full_days = 1_000_000, 5_000, 1, 5, 1
    return a


def main() -> int:
    return 0 if met(measure(arguments())) else 1


if __name__ == "__main__":
    sys.exit(main())
