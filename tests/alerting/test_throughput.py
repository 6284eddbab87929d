"""Token throughput regressions: the rollups keep a time-per-output-token histogram of LLM spans, and the shipped
TokenThroughputRegression rule finds a model that got slower per token."""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path

from tests._rollup_rows import MIN_NS, SLOT_NS, span_row, write_slots
from watchkeeper._rollup import DAY_NS, MEASURE_BINS, TPOT, Facts, facts_of_row, tpot_bin
from watchkeeper.alerting import AlertEngine, AlertState, load_rules
from watchkeeper.alerting.rollup_source import RollupSource, fdr_from_detectors
from watchkeeper.analytics.detectors import HistogramStream, default_registry
from watchkeeper.store import make_engine, migrate


def test_an_llm_span_is_counted_by_its_time_per_output_token_and_an_error_is_not() -> None:
    assert tpot_bin(4 * 10**9, 200) == tpot_bin(20 * 10**6, 1)  # 20 ms per token either way
    assert tpot_bin(10**6, 2) == 0 and tpot_bin(3600 * 10**9, 1) == len(MEASURE_BINS["time_per_output_token"]) - 1
    ok = facts_of_row(span_row(0, 1, duration_ns=4 * 10**9, output_tokens=200))
    assert TPOT + tpot_bin(4 * 10**9, 200) in ok.incs
    failed = facts_of_row({**span_row(0, 2, duration_ns=4 * 10**9, output_tokens=200), "status": "error"})
    no_tokens = facts_of_row(span_row(0, 3, output_tokens=0))
    assert not [i for i in (*failed.incs, *no_tokens.incs) if i in MEASURE_BINS["time_per_output_token"]]


def test_the_shipped_rule_finds_a_model_that_got_three_times_slower_per_token(tmp_path: Path) -> None:
    engine = make_engine(f"sqlite:///{tmp_path}/wk.db")
    migrate(engine)
    now = time.time_ns() // MIN_NS * MIN_NS
    onset = now - 60 * MIN_NS

    def slot(t: int, fact: Callable[..., Facts]) -> list[Facts]:
        slow = 3 if t >= onset else 1  # ~20 ms per token, then ~60 ms for gpt-4o; claude unchanged
        out = []
        for ms, n in ((700, 10), (850, 14), (1000, 14), (1200, 12), (1450, 6), (1800, 4)):
            out += [fact(model="gpt-4o", duration_ns=slow * ms * 10**6)] * n
            out += [fact(model="claude-sonnet-4", duration_ns=ms * 10**6)] * n
        return out

    write_slots(engine, now - 9 * DAY_NS, now, slot)
    rules = load_rules()
    source = RollupSource(engine)
    stream = source.stream(project_id=1, rule=rules.rule("TokenThroughputRegression"),
                           slice=next(iter(source.slices_with_traffic(project_id=1, metric="time_per_output_token",
                                                                     dims=("model",), start_ns=onset, end_ns=now))),
                           parent=None, at_ns=now)  # fmt: skip
    assert isinstance(stream, HistogramStream) and stream.hourly and stream.recent
    alerts = AlertEngine(rules, source=source, detectors=default_registry(), fdr=fdr_from_detectors())
    for at in range(onset - 10 * MIN_NS, now + 1, SLOT_NS):
        alerts.tick(at)
    firing = [a for a in alerts.alerts.values() if a.state is AlertState.FIRING]
    assert {(a.rule, a.labels.get("slice"), a.labels.get("model")) for a in firing} >= {
        ("TokenThroughputRegression", "model", "gpt-4o")
    }
    assert not [a for a in alerts.alerts.values() if a.labels.get("model") == "claude-sonnet-4"]
    engine.dispose()
