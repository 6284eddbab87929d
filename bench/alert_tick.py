"""How long one tick of the live alert engine takes on a store's rollups: every rule on every slice with traffic,
streams read from the rollups (``RollupSource``), the detectors, false-discovery control, the lifecycle.

    .venv/bin/python bench/alert_tick.py                 # SQLite, ~3,000 streams
    .venv/bin/python bench/alert_tick.py --engines sqlite,postgres
    .venv/bin/python bench/alert_tick.py --quick         # a smoke test

The rollups of ``--spans`` synthetic spans over ``--days`` days (bench/rollups.py's traffic: 12 regions, 24 clients,
20 languages, 8 models × 10 versions, 15 prompt versions, 40 tools, 6 MCP servers; the last day one draw per span,
older days one draw per ``--weight`` spans) are written through the real code path. The rules are the shipped
default set plus ``--extra`` copies of a refusal spike rule on the language × model version pair and the tool
errors rule on client × version (so the tick holds ~3,000 streams, the target's size). Then the engine ticks at the
current time (cold: every slice's hourly history is read), 5 minutes later (warm: the hourly histories are kept
within the hour, the last hours' 1-minute buckets are read again), and at the next hour (histories read again).
Process CPU time and wall time of each tick; target: one tick over 3,000 rate streams ≤ 30 s on one core.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).parent))
import rollups as rollup_bench
from watchkeeper._rollup import HOUR_NS
from watchkeeper.alerting import AlertEngine, load_rules, parse_rules
from watchkeeper.alerting.rollup_source import RollupSource, fdr_from_detectors
from watchkeeper.alerting.rules import default_rules_text
from watchkeeper.analytics.detectors import default_registry
from watchkeeper.store import make_engine, migrate

TARGET_S = 30.0
STREAMS_TARGET = 3000
MIN_NS = 60 * 1_000_000_000

EXTRA = """
  - alert: RefusalSpikeCopy{i}
    metric: refusals
    slices: [[language, model_version]]
    detector: spike
    severity: ticket
    bucket: 5m
    lookback: 7d
    annotations: {{summary: "copy {i}"}}
  - alert: ToolErrorSpikeCopy{i}
    metric: tool_errors
    slices: [[client_name, client_version], tool_name]
    detector: spike
    severity: ticket
    bucket: 5m
    lookback: 7d
    annotations: {{summary: "copy {i}"}}
"""


def rules_text(extra: int) -> str:
    text = default_rules_text()
    if not extra:
        return text
    head, sep, tail = text.partition("\nrules:\n")
    return head + sep + "".join(EXTRA.format(i=i) for i in range(extra)) + tail


def one(url: str, a: argparse.Namespace) -> dict[str, Any]:
    engine = make_engine(url)
    migrate(engine)
    built = rollup_bench.build(engine, a.spans, a.days, 1, a.weight)
    rules = parse_rules(rules_text(a.extra), file="bench-rules.yaml") if a.extra else load_rules()
    source = RollupSource(engine)
    eng = AlertEngine(rules, source=source, detectors=default_registry(), fdr=fdr_from_detectors())
    now = time.time_ns() // MIN_NS * MIN_NS
    ticks = []
    for label, at in (
        ("cold (histories read)", now),
        ("warm (+5 min)", now + 5 * MIN_NS),
        ("next hour (histories read again)", (now // HOUR_NS + 1) * HOUR_NS + MIN_NS),
    ):
        c, w = time.process_time(), time.perf_counter()
        report = eng.tick(at)
        ticks.append((label, report.tests, time.process_time() - c, time.perf_counter() - w))
    engine.dispose()
    return {"built": built, "ticks": ticks}


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--engines", default="sqlite", help="sqlite, postgres or both (comma-separated)")
    p.add_argument("--spans", type=int, default=3_000_000, help="spans whose rollups are written")
    p.add_argument("--days", type=int, default=15, help="days of history (the drift rules read 14)")
    p.add_argument("--weight", type=int, default=20, help="older days: one draw counted this many times")
    p.add_argument("--extra", type=int, default=3, help="extra copies of two many-slice rules")
    p.add_argument("--quick", action="store_true", help="300,000 spans, 8 days: a smoke test")
    a = p.parse_args()
    if a.quick:
        a.spans, a.days = 300_000, 8
    results = {}
    for name in [e.strip() for e in a.engines.split(",") if e.strip()]:
        if name == "sqlite":
            with tempfile.TemporaryDirectory(prefix="wk-tick-") as d:
                results[name] = one(f"sqlite:///{d}/tick.db", a)
        elif name == "postgres":
            url, drop = rollup_bench._pg_store()
            try:
                results[name] = one(url, a)
            finally:
                drop()
        else:
            p.error(f"unknown engine {name!r}")
    print(f"\nAlert engine tick: {a.spans:,} spans over {a.days} days, default rules + {a.extra} × 2 extra rules\n")
    print(f"{'engine':<9} {'tick':<34} {'streams':>8} {'CPU s':>7} {'wall s':>7}  target")
    print("-" * 80)
    for name, r in results.items():
        for label, tests, cpu, wall in r["ticks"]:
            scaled = cpu * STREAMS_TARGET / tests if tests else float("nan")
            met = "yes" if scaled <= TARGET_S else "NO"
            print(f"{name:<9} {label:<34} {tests:>8,} {cpu:>7.2f} {wall:>7.2f}  "
                  f"{scaled:.1f} s per {STREAMS_TARGET:,} (≤ {TARGET_S:.0f}): {met}")  # fmt: skip
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
