"""The slice explorer's queries on both engines: counts, rates, intervals, ranking, caps, buckets and cohorts."""

from __future__ import annotations

import itertools
import json
import math
from collections.abc import Iterator
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st
from sqlalchemy import Engine, insert

from watchkeeper.analytics import (
    NONE,
    OTHER,
    Slice,
    SliceExplorer,
    Window,
    diff_interval,
    parse_duration,
    rebuild_rollups,
    wilson,
    z_score,
)
from watchkeeper.errors import InputError
from watchkeeper.store.tables import feedback, spans

H = 3600 * 1_000_000_000
DAY = 24 * H
T0 = 1_790_000_000 * 1_000_000_000 // H * H  # an hour boundary
_ids = itertools.count(1)


def row(start: int, *, kind: str = "llm", status: str = "ok", root: bool = False, trace: int | None = None,
        signals: dict[str, str] | None = None, **cols: Any) -> dict[str, Any]:  # fmt: skip
    """A stored span row: ``signals`` maps signal name → label, as the enrich step stores them."""
    n = next(_ids)
    attrs = {
        "watchkeeper.signals": {k: {"label": v, "score": 1.0, "version": "t-1"} for k, v in (signals or {}).items()}
    }
    return {
        "project_id": 1,
        "trace_id": (trace or n).to_bytes(16, "big"),
        "span_id": n.to_bytes(8, "big"),
        "parent_span_id": None if root else (n + 10**9).to_bytes(8, "big"),
        "name": f"span {n}",
        "kind": kind,
        "status": status,
        "start_ns": start,
        "end_ns": start + 1_000_000,
        "source": "api",
        "schema_version": 1,
        "ingested_ns": start,
        "attributes": json.dumps(attrs) if signals else None,
        "payload": b"secret content",
        **cols,
    }


def store(db: Engine, rows: list[dict[str, Any]], fb: list[dict[str, Any]] = ()) -> SliceExplorer:  # type: ignore[assignment]
    """Rows written straight to the tables, as a store from before the rollups holds them; then the backfill."""
    keys = {k for r in rows for k in r}
    with db.begin() as conn:
        conn.execute(insert(spans), [{k: r.get(k) for k in keys} for r in rows])
        if fb:
            conn.execute(insert(feedback), list(fb))
    rebuild_rollups(db)
    return SliceExplorer(db)


def fb_row(trace: int, kind: str, at: int) -> dict[str, Any]:
    n = next(_ids)
    return {"project_id": 1, "feedback_id": f"fb-{n}", "trace_id": trace.to_bytes(16, "big"), "kind": kind,
            "time_ns": at, "source": "api", "schema_version": 1, "ingested_ns": at}  # fmt: skip


def refusals(region: str, hits: int, total: int, start: int, **cols: Any) -> Iterator[dict[str, Any]]:
    for i in range(total):
        label = "full_refusal" if i < hits else "full_compliance"
        yield row(start + i * 1000, region=region, signals={"refusal": label}, **cols)


# ---------------------------------------------------------------------------------------------------------------
# statistics


def test_wilson_interval_matches_the_published_values() -> None:
    lo, hi = wilson(3, 5)
    assert (round(lo, 4), round(hi, 4)) == (0.2307, 0.8824)
    lo, hi = wilson(300, 10_000)
    assert (round(lo, 4), round(hi, 4)) == (0.0268, 0.0335)
    assert wilson(0, 0) == (0.0, 1.0)
    assert wilson(0, 10)[0] == 0.0 and wilson(10, 10)[1] == 1.0


@given(st.integers(0, 2000), st.integers(1, 2000), st.integers(0, 2000), st.integers(1, 2000))
def test_intervals_hold_their_estimate(k1: int, n1: int, k2: int, n2: int) -> None:
    k1, k2 = min(k1, n1), min(k2, n2)
    lo, hi = wilson(k1, n1)
    assert 0.0 <= lo <= k1 / n1 <= hi <= 1.0
    d, dlo, dhi = diff_interval(k1, n1, k2, n2)
    assert -1.0 <= dlo <= d <= dhi <= 1.0
    assert math.isfinite(z_score(k1, n1, k2, n2))


def test_durations_parse_and_bad_ones_name_the_parameter() -> None:
    assert parse_duration("90m", "window") == 90 * 60 * 1_000_000_000
    assert parse_duration("7d", "baseline") == 7 * DAY
    for bad in ("", "0h", "1w", "h", "-1h"):
        with pytest.raises(InputError) as e:
            parse_duration(bad, "baseline")
        assert e.value.field == "baseline"


# ---------------------------------------------------------------------------------------------------------------
# counts and rates


def test_a_slice_is_compared_with_the_rest_counting_only_labelled_spans(db: Engine) -> None:
    rows = [*refusals("eu", 4, 20, T0), *refusals("us", 1, 50, T0)]
    rows.append(row(T0 + 5, region="eu", signals={"refusal": "unknown"}))  # no answer: not in the denominator
    rows.append(row(T0 + 6, region="eu"))  # never labelled
    rows.append(row(T0 + 7, region="eu", kind="tool", signals={"tool_error": "ok"}))
    rows.append(row(T0 + 2 * H, region="eu", signals={"refusal": "full_refusal"}))  # outside the window
    ex = store(db, rows)
    c = ex.compare("refusals", Slice.of(region="eu"), Window(T0, T0 + H))
    assert (c.slice_rate.hits, c.slice_rate.total) == (4, 20)
    assert (c.rest_rate.hits, c.rest_rate.total) == (1, 50)
    assert c.slice_rate.value == 0.2
    assert c.slice_rate.interval == wilson(4, 20)
    assert c.change.diff == pytest.approx(0.2 - 0.02)
    assert c.change.low > 0 and c.change.significant


def test_partial_refusals_count_and_error_rates_use_the_spans_of_their_kind(db: Engine) -> None:
    rows = [
        row(T0, signals={"refusal": "partial_refusal"}, region="eu"),
        row(T0 + 1, signals={"refusal": "full_compliance"}, region="eu"),
        row(T0 + 2, kind="llm", status="error", region="eu"),
        row(T0 + 3, kind="tool", status="error", region="eu"),
        row(T0 + 4, kind="mcp", status="ok", region="eu"),
        row(T0 + 5, kind="agent", status="ok", root=True, region="eu"),
    ]
    ex = store(db, rows)
    w = Window(T0, T0 + H)
    eu = Slice.of(region="eu")
    assert ex.compare("refusals", eu, w).slice_rate == ex.compare("refusals", eu, w).slice_rate.__class__(1, 2)
    assert (ex.compare("errors", eu, w).slice_rate.hits, ex.compare("errors", eu, w).slice_rate.total) == (2, 6)
    llm = ex.compare("errors.llm", eu, w).slice_rate
    tool = ex.compare("errors.tool", eu, w).slice_rate
    assert (llm.hits, llm.total, tool.hits, tool.total) == (1, 3, 1, 2)


def test_injections_count_direct_and_indirect_and_tool_errors_by_class(db: Engine) -> None:
    rows = [
        row(T0, signals={"prompt_injection": "prompt_injection", "jailbreak": "jailbreak"}, region="eu"),
        row(T0 + 1, signals={"prompt_injection": "none", "jailbreak": "none"}, region="eu"),
        row(
            T0 + 2,
            kind="tool",
            signals={"indirect_injection": "indirect_injection", "tool_error": "timeout"},
            region="eu",
            tool_name="search",
        ),
        row(
            T0 + 3,
            kind="mcp",
            signals={"indirect_injection": "none", "tool_error": "auth"},
            region="eu",
            tool_name="search",
        ),
        row(T0 + 4, kind="mcp", signals={"tool_error": "ok"}, region="eu", tool_name="lookup"),
        row(T0 + 5, kind="mcp", signals={"tool_error": "unknown"}, region="eu", tool_name="lookup"),
    ]
    ex = store(db, rows)
    w = Window(T0, T0 + H)
    eu = Slice.of(region="eu")
    assert (ex.compare("injections", eu, w).slice_rate.hits, ex.compare("injections", eu, w).slice_rate.total) == (
        2,
        4,
    )
    assert ex.compare("jailbreaks", eu, w).slice_rate.value == 0.5
    assert ex.compare("tool_errors", eu, w).slice_rate.value == pytest.approx(2 / 3)
    assert ex.compare("tool_errors.timeout", eu, w).slice_rate.value == pytest.approx(1 / 3)
    by_tool = ex.compare("tool_errors", Slice.of(tool_name="search"), w)
    assert (by_tool.slice_rate.hits, by_tool.slice_rate.total, by_tool.rest_rate.total) == (2, 2, 1)
    by_class = ex.compare("errors", Slice.of(tool_error_class="timeout"), w)
    assert by_class.slice_rate.total == 1


def test_corrections_and_escalations_are_rates_per_turn(db: Engine) -> None:
    rows = [row(T0 + i, kind="agent", root=True, trace=5000 + i, plan_tier="pro" if i < 4 else "free")
            for i in range(10)]  # fmt: skip
    rows.append(row(T0 + 20, kind="llm", trace=5000, plan_tier="pro"))  # a child span: not a turn
    fb = [fb_row(5000, "correction", T0 + H), fb_row(5000, "correction", T0 + H), fb_row(5001, "escalation", T0),
          fb_row(5007, "correction", T0)]  # fmt: skip
    ex = store(db, rows, fb)
    w = Window(T0, T0 + H)
    c = ex.compare("corrections", Slice.of(plan_tier="pro"), w)
    assert (c.slice_rate.hits, c.slice_rate.total, c.rest_rate.hits, c.rest_rate.total) == (1, 4, 1, 6)
    e = ex.compare("escalations", Slice.of(plan_tier="pro"), w)
    assert (e.slice_rate.hits, e.slice_rate.total) == (1, 4)
    share = ex.compare("requests", Slice.of(plan_tier="pro"), w)
    assert (share.slice_rate.hits, share.slice_rate.total) == (4, 10)


# ---------------------------------------------------------------------------------------------------------------
# ranking, caps and buckets


def test_a_3_of_5_slice_does_not_outrank_a_300_of_10000_one(db: Engine) -> None:
    base, cur = Window(T0, T0 + H), Window(T0 + H, T0 + 2 * H)
    rows = [
        *refusals("tiny", 0, 5, base.start_ns),
        *refusals("tiny", 3, 5, cur.start_ns),
        *refusals("big", 100, 10_000, base.start_ns, client_name="x"),
        *refusals("big", 300, 10_000, cur.start_ns, client_name="x"),
    ]
    ex = store(db, rows)
    top = ex.top_changes("refusals", ["region"], current=cur, baseline=base, min_count=1)
    assert [t.slice.values for t in top] == [("big",), ("tiny",)]
    big, tiny = top
    assert (big.baseline.hits, big.baseline.total, big.current.hits, big.current.total) == (100, 10_000, 300, 10_000)
    assert (tiny.current.hits, tiny.current.total) == (3, 5)
    assert tiny.change.diff > big.change.diff  # the larger change, with far less evidence
    assert big.change.z > tiny.change.z > 0
    # the minimum count leaves small slices out altogether
    assert [t.slice.values for t in ex.top_changes("refusals", ["region"], current=cur, baseline=base)] == [("big",)]
    assert ex.top_changes("refusals", ["region"], current=cur, baseline=base, direction="down") == []


def test_every_dimension_ranks_singles_and_pairs_together(db: Engine) -> None:
    base, cur = Window(T0, T0 + H), Window(T0 + H, T0 + 2 * H)
    rows = [
        *refusals("eu", 5, 200, base.start_ns, client_name="ios", client_version="2"),
        *refusals("eu", 80, 200, cur.start_ns, client_name="ios", client_version="2"),
        *refusals("us", 5, 200, base.start_ns, client_name="web", client_version="2"),
        *refusals("us", 5, 200, cur.start_ns, client_name="web", client_version="2"),
    ]
    ex = store(db, rows)
    top = ex.top_changes("refusals", None, current=cur, baseline=base, limit=50)
    keys = {(t.slice.dims, t.slice.values) for t in top[:4]}
    assert (("region",), ("eu",)) in keys
    assert (("client_name", "client_version"), ("ios", "2")) in keys
    assert top[0].change.z == pytest.approx(top[1].change.z)  # the same records, sliced two ways
    one = ex.top_changes("refusals", ["region"], current=cur, baseline=base)
    assert one[0].change == next(t.change for t in top if t.slice == Slice.of(region="eu"))


def test_a_slice_new_in_the_current_window_is_compared_with_all_baseline_traffic(db: Engine) -> None:
    base, cur = Window(T0, T0 + H), Window(T0 + H, T0 + 2 * H)
    rows = [*refusals("eu", 2, 100, base.start_ns), *refusals("new", 20, 40, cur.start_ns)]
    top = store(db, rows).top_changes("refusals", ["region"], current=cur, baseline=base)
    assert top[0].slice.values == ("new",) and top[0].baseline_overall
    assert (top[0].baseline.hits, top[0].baseline.total) == (2, 100)


def test_values_past_the_cap_fold_into_other(db: Engine) -> None:
    rows = []
    for i in range(8):  # tool t0 has the most records, t7 the fewest
        for j in range(20 - 2 * i):
            rows.append(row(T0 + j, kind="tool", tool_name=f"t{i}", status="error" if j == 0 else "ok"))
    ex = SliceExplorer(store(db, rows).engine, cap=3)
    w = Window(T0, T0 + H)
    top = ex.top_changes("errors.tool", ["tool_name"], current=w, baseline=Window(T0 - H, T0), min_count=1)
    assert top == []  # nothing in the baseline: every slice is compared with an empty baseline
    rows_before = [row(T0 - H + j, kind="tool", tool_name=f"t{i}") for i in range(8) for j in range(20)]
    store(db, rows_before)
    top = ex.top_changes("errors.tool", ["tool_name"], current=w, baseline=Window(T0 - H, T0), min_count=1)
    names = {t.slice.values[0]: t for t in top}
    assert set(names) == {"t0", "t1", "t2", OTHER}
    other = names[OTHER]
    assert (other.current.hits, other.current.total) == (5, sum(20 - 2 * i for i in range(3, 8)))
    series = ex.compare("errors.tool", Slice.of(tool_name=OTHER), w)
    assert (series.slice_rate.hits, series.slice_rate.total) == (other.current.hits, other.current.total)
    examples = ex.examples("errors.tool", Slice.of(tool_name=OTHER), w)
    assert sorted(e.tool_name or "" for e in examples) == ["t3", "t4", "t5", "t6", "t7"]
    assert sorted(e.tool_name or "" for e in ex.examples("errors.tool", Slice.of(tool_name="t1"), w)) == ["t1"]


def test_rates_over_time_fill_every_bucket_for_the_slice_and_the_rest(db: Engine) -> None:
    rows = [
        *refusals("eu", 1, 4, T0),
        *refusals("us", 2, 2, T0 + 10),
        *refusals("eu", 3, 3, T0 + 2 * H + 5),  # nothing at all in the second hour
    ]
    ex = store(db, rows)
    s = ex.rate_series("refusals", Slice.of(region="eu"), Window(T0, T0 + 3 * H), "1h")
    assert [p.bucket_start_ns for p in s.points] == [T0, T0 + H, T0 + 2 * H]
    assert [(p.slice.hits, p.slice.total) for p in s.points] == [(1, 4), (0, 0), (3, 3)]
    assert [(p.rest.hits, p.rest.total) for p in s.points] == [(2, 2), (0, 0), (0, 0)]
    assert s.points[1].slice.value is None
    assert (s.comparison.slice_rate.hits, s.comparison.slice_rate.total) == (4, 7)
    with pytest.raises(InputError) as e:
        ex.rate_series("refusals", Slice.of(region="eu"), Window(T0, T0 + 3 * H), "2h")
    assert e.value.field == "bucket"
    with pytest.raises(InputError) as e:
        ex.rate_series("refusals", Slice.of(region="eu"), Window(T0, T0 + 300 * DAY), "1m")
    assert e.value.field == "bucket"


# ---------------------------------------------------------------------------------------------------------------
# cohorts, pairs and input errors


def test_new_and_old_accounts_follow_the_configured_number_of_days(db: Engine) -> None:
    at = T0 + 60
    rows = [
        row(at, account_created_ns=at - 10 * DAY, signals={"jailbreak": "jailbreak"}),
        row(at, account_created_ns=at - 40 * DAY, signals={"jailbreak": "none"}),
        row(at, account_created_ns=None, signals={"jailbreak": "none"}),
    ]
    ex = store(db, rows)
    w = Window(T0, T0 + H)
    assert ex.compare("jailbreaks", Slice.of(account_age="new"), w).slice_rate.total == 1
    assert ex.compare("jailbreaks", Slice.of(account_age="old"), w).slice_rate.total == 1
    assert ex.compare("jailbreaks", Slice.of(account_age=NONE), w).slice_rate.total == 1
    week = SliceExplorer(db, new_account_days=7)
    assert week.compare("jailbreaks", Slice.of(account_age="new"), w).slice_rate.total == 0
    assert week.compare("jailbreaks", Slice.of(account_age="old"), w).slice_rate.total == 2
    longer = SliceExplorer(db, new_account_days=60)
    assert longer.compare("jailbreaks", Slice.of(account_age="new"), w).slice_rate.value == 0.5


def test_a_configured_pair_slices_by_both_values_in_either_order(db: Engine) -> None:
    rows = [
        row(T0, signals={"language": "de", "refusal": "full_refusal"}, model_version="m1"),
        row(T0 + 1, signals={"language": "de", "refusal": "full_compliance"}, model_version="m2"),
        row(T0 + 2, signals={"language": "fr", "refusal": "full_compliance"}, model_version="m1"),
    ]
    ex = store(db, rows)
    w = Window(T0, T0 + H)
    a = ex.compare("refusals", Slice(("language", "model_version"), ("de", "m1")), w)
    b = ex.compare("refusals", Slice(("model_version", "language"), ("m1", "de")), w)
    assert a == b
    assert (a.slice_rate.hits, a.slice_rate.total, a.rest_rate.total) == (1, 1, 2)
    with pytest.raises(InputError) as e:
        ex.compare("refusals", Slice(("language", "region"), ("de", "eu")), w)
    assert e.value.field == "dimension"


@pytest.mark.parametrize(
    ("call", "field"),
    [
        (lambda ex, w: ex.compare("nope", Slice.of(region="eu"), w), "metric"),
        (lambda ex, w: ex.compare("errors", Slice.of(planet="mars"), w), "dimension"),
        (lambda ex, w: ex.top_changes("errors", ["region"], current=w, baseline=w), "baseline"),
        (
            lambda ex, w: ex.top_changes("errors", ["region"], current=w, baseline=Window(0, 1), min_count=0),
            "min_count",
        ),
        (lambda ex, w: ex.examples("errors", Slice.of(region="eu"), w, limit=0), "limit"),
    ],
)
def test_bad_questions_name_the_parameter(db: Engine, call: Any, field: str) -> None:
    with pytest.raises(InputError) as e:
        call(SliceExplorer(db), Window(T0, T0 + H))
    assert e.value.field == field


def test_examples_give_metadata_newest_first_and_never_content(db: Engine) -> None:
    rows = [row(T0 + i, kind="mcp", status="error" if i % 2 else "ok", region="eu", tool_name="pay",
                error_type="mcp.MCPError" if i % 2 else None) for i in range(6)]  # fmt: skip
    ex = store(db, rows)
    found = ex.examples("errors.tool", Slice.of(region="eu"), Window(T0, T0 + H), limit=2)
    assert [e.start_ns for e in found] == [T0 + 5, T0 + 3]
    assert all(e.status == "error" and e.error_type == "mcp.MCPError" and len(e.trace_id) == 32 for e in found)
    assert "payload" not in found[0].__slots__ and "secret" not in repr(found)
