"""Rollups on both engines: maintained counts equal a naive recount from the spans, re-sent and late records included;
the cap and (other); the read API; rebuild equals incremental; retention; erasure leaves them alone."""

from __future__ import annotations

import itertools
import json
from datetime import UTC, datetime, timedelta

import pytest
from click.testing import CliRunner
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import Engine, delete, func, select

from watchkeeper._rollup import (
    AGE_BINS,
    HIST,
    N_VALUES,
    OTHER,
    C,
    RollupConfig,
    facts_of_row,
    facts_of_span,
    quantile_ms,
)
from watchkeeper.analytics import (
    Count,
    LatencyBucket,
    latency_series,
    rate_series,
    rebuild_rollups,
    slice_counts,
    slices_with_traffic,
)
from watchkeeper.analytics.rollups import RollupReader, cover
from watchkeeper.errors import InputError
from watchkeeper.privacy.retention import make_policy, purge
from watchkeeper.records import Feedback, FeedbackKind, Span, SpanKind, Status
from watchkeeper.store._codec import span_row
from watchkeeper.store._rollups import ValueCap
from watchkeeper.store.tables import rollup_values, rollups, spans

from ..test_records import spans as any_span
from .rollup_helpers import (
    DAY,
    MIN,
    NS,
    T0,
    H,
    dimension_sets,
    exact_latency,
    feedbacks,
    from_rollups,
    ingest,
    labels,
    records,
    recount,
    stored_rollups,
)

_projects = itertools.count(10)


def span(i: int, start: int, **kw: object) -> Span:
    base: dict[str, object] = {
        "trace_id": f"{i:032x}",
        "span_id": f"{i:016x}",
        "name": "s",
        "kind": SpanKind.LLM,
        "start_time_ns": start,
        "end_time_ns": start + 5 * 10**6,
    }
    base.update(kw)
    return Span(**base)  # type: ignore[arg-type]


# ---------------------------------------------------------------------------------------------------------------
# One span's facts


@given(any_span(), st.sampled_from([None, "en", "unknown"]), st.sampled_from([None, "full_refusal", "ok", "timeout"]))
def test_a_span_adds_the_same_from_its_record_and_from_its_stored_row(
    s: Span, lang: str | None, lab: str | None
) -> None:
    s.attributes.update(labels(language=lab and lang, refusal=lab, tool_error=lab))
    row = span_row(s, 3, T0, None)
    a, b = facts_of_span(s, 3), facts_of_row(row)
    assert (a.vals, a.incs, a.tokens, a.root, a.minute, a.trace_id) == (
        b.vals,
        b.incs,
        b.tokens,
        b.root,
        b.minute,
        b.trace_id,
    )


# ---------------------------------------------------------------------------------------------------------------
# Maintained counts equal a naive recount


@settings(max_examples=8, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    st.lists(
        st.tuples(st.lists(records(), max_size=25), st.lists(feedbacks(), max_size=4), st.sampled_from([None, 0, -1])),
        min_size=1,
        max_size=5,
    )
)
def test_rollups_equal_a_recount_from_the_spans_with_resent_and_late_records(
    db: Engine, plan: list[tuple[list[Span], list[Feedback], int | None]]
) -> None:
    pid = next(_projects)
    batches: list[tuple[list[Span], list[Feedback]]] = []
    for s, f, resend in plan:
        batches.append((s, f))
        if resend is not None:  # the client timed out and sends an earlier batch again, whole or in part
            old_s, old_f = batches[resend]
            batches.append((old_s[::2] if resend else old_s, old_f))
    ingest(db, batches, project_id=pid)
    start, end = T0 - 4 * DAY, T0 + 5 * H
    for dims in dimension_sets():
        assert from_rollups(db, pid, dims, H, start, end) == recount(db, pid, dims, H), dims
    for dims in [(), ("account_age",), ("language", "model_version")]:
        assert from_rollups(db, pid, dims, MIN, start, end) == recount(db, pid, dims, MIN), dims
    got = RollupReader(db, project_id=pid, minute_days=3650).series((), start, end, H, list(range(N_VALUES)))
    for b, want in exact_latency(db, pid, H).items():
        have = got[(b, ())]
        assert have[HIST:] == want[HIST:]
        assert [have[C["input_tokens"]], have[C["output_tokens"]]] == [
            want[C["input_tokens"]],
            want[C["output_tokens"]],
        ]


def test_a_resent_batch_is_not_counted_twice_and_a_late_span_lands_in_its_own_bucket(db: Engine) -> None:
    now_batch = [span(i, T0 + i * NS, account=_acc("eu")) for i in range(1, 6)]
    late = span(99, T0 - 2 * DAY + 7 * MIN, account=_acc("us"), status=Status.ERROR)
    ingest(db, [(now_batch, []), (now_batch, []), ([*now_batch[:2], late], []), ([late], [])])
    day_ago = rate_series(db, project_id=1, metric="errors", slice={"region": "us"}, start=T0 - 2 * DAY,
                          end=T0 - 2 * DAY + H, bucket="1m")  # fmt: skip
    assert [(c.numerator, c.denominator) for c in day_ago if c.denominator] == [(1, 1)]
    assert day_ago[7] == Count(_dt(T0 - 2 * DAY + 7 * MIN), 1, 1)
    eu = rate_series(db, project_id=1, metric="errors", slice={"region": "eu"}, start=T0, end=T0 + H, bucket="1h")
    assert eu == [Count(_dt(T0), 0, 5)]


def test_feedback_counts_once_on_its_turn_whichever_arrives_first(db: Engine) -> None:
    root = span(1, T0 + MIN, account=_acc("eu"))
    child = span(2, T0 + MIN, trace_id=root.trace_id, parent_span_id=root.span_id, account=_acc("eu"))
    early = Feedback(id="a", trace_id=f"{7:032x}", kind=FeedbackKind.CORRECTION, time_ns=T0)
    late_root = span(7, T0 + 2 * H, account=_acc("us"))
    fb = [
        Feedback(id="b", trace_id=root.trace_id, kind=FeedbackKind.CORRECTION, time_ns=T0 + 3 * H),
        Feedback(id="c", trace_id=root.trace_id, kind=FeedbackKind.CORRECTION, time_ns=T0 + 4 * H),
        Feedback(id="d", trace_id=root.trace_id, kind=FeedbackKind.ESCALATION, time_ns=T0 + 4 * H),
    ]
    ingest(db, [([root, child], []), ([], [early]), ([late_root], fb[:1]), ([], fb), ([], fb)])
    got = {
        m: rate_series(db, project_id=1, metric=m, slice={"region": r}, start=T0, end=T0 + 3 * H, bucket="1h")
        for m in ("corrections", "escalations")
        for r in ("eu",)
    } | {"us": rate_series(db, project_id=1, metric="corrections", slice={"region": "us"}, start=T0,
                           end=T0 + 3 * H, bucket="1h")}  # fmt: skip
    assert [(c.numerator, c.denominator) for c in got["corrections"]] == [(1, 1), (0, 0), (0, 0)]
    assert [(c.numerator, c.denominator) for c in got["escalations"]] == [(1, 1), (0, 0), (0, 0)]
    assert [(c.numerator, c.denominator) for c in got["us"]] == [(0, 0), (0, 0), (1, 1)]
    assert stored_rollups(db) == _rebuilt(db)


# ---------------------------------------------------------------------------------------------------------------
# Rebuild, cap, retention, erasure


def _rebuilt(db: Engine, config: RollupConfig | None = None) -> dict[tuple[object, ...], tuple[int, ...]]:
    rebuild_rollups(db, config=config, minute_days=3650)
    return stored_rollups(db)


@settings(max_examples=5, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.lists(st.tuples(st.lists(records(), max_size=30), st.lists(feedbacks(), max_size=4)), min_size=1, max_size=3))
def test_a_rebuild_from_the_spans_equals_the_incremental_rollups(
    db: Engine, batches: list[tuple[list[Span], list[Feedback]]]
) -> None:
    with db.begin() as conn:
        conn.execute(delete(rollups))
        conn.execute(delete(spans))
    config = RollupConfig(max_values=2)
    ingest(db, batches, config=config)
    incremental = stored_rollups(db)
    assert _rebuilt(db, config) == incremental
    with db.begin() as conn:  # a store from before the rollups: the rebuild makes them
        conn.execute(delete(rollups))
    assert _rebuilt(db, config) == incremental


def test_values_past_the_cap_are_counted_as_other_and_the_totals_still_add_up(db: Engine) -> None:
    config = RollupConfig(max_values=2)
    batch = [span(i, T0 + i * NS, account=_acc(f"r{i % 5}")) for i in range(1, 41)]
    ingest(db, [(batch[:3], []), (batch, [])], config=config)
    got = slice_counts(db, project_id=1, dimensions=("region",), start=T0, end=T0 + H)
    by_value = {c.slice["region"]: c.counts["errors"][1] for c in got}
    assert by_value == {"r1": 8, "r2": 8, OTHER: 24}  # r1 and r2 came first
    with db.connect() as conn:
        assert conn.execute(select(func.count()).select_from(rollup_values).where(
            rollup_values.c.dimension == "region")).scalar() == 2  # fmt: skip
    pair = slices_with_traffic(db, project_id=1, metric="errors", dimensions=("region", "plan_tier"),
                               start=T0, end=T0 + H)  # fmt: skip
    assert {p["region"] for p in pair} == {"r1", "r2", OTHER}


def test_a_value_unseen_for_the_ttl_gives_its_place_up(db: Engine) -> None:
    config = RollupConfig(max_values=1, value_ttl_days=30)
    cap = ValueCap()
    with db.begin() as conn:
        assert cap.mapping(conn, config, 1, "region", {"eu", "(none)"}, T0) == {"eu": "eu", "(none)": "(none)"}
        assert cap.mapping(conn, config, 1, "region", {"us"}, T0 + DAY) == {"us": OTHER}
        assert cap.mapping(conn, config, 1, "region", {"eu"}, T0 + 20 * DAY) == {"eu": "eu"}  # seen: kept
        assert cap.mapping(conn, config, 1, "region", {"us"}, T0 + 45 * DAY) == {"us": OTHER}
        assert cap.mapping(conn, config, 1, "region", {"us"}, T0 + 52 * DAY) == {"us": "us"}  # eu gave its place up
    with db.begin() as conn:  # another writer process sees the same
        assert ValueCap().mapping(conn, config, 1, "region", {"eu", "us"}, T0 + 52 * DAY) == {"eu": OTHER, "us": "us"}


def test_retention_drops_minute_buckets_first_and_erasure_never_touches_rollups(db: Engine) -> None:
    now = T0 + H
    old = span(1, now - 10 * DAY, account=_acc("eu"), subject_id="alice")
    recent = span(2, now - DAY, account=_acc("eu"), subject_id="alice")
    ingest(db, [([old, recent], [])])
    widths = lambda: sorted({(w, b) for (_p, w, _d, b, _v) in stored_rollups(db)})  # noqa: E731
    assert len(widths()) == 4
    report = purge(db, make_policy("default", {"aggregates": 400}), now)
    assert [w for w, _b in widths()] == [60, 3600, 3600]  # the 10-day-old minute went (rollup_minute_days = 7)
    assert report.count("aggregates") > 0
    purge(db, make_policy("default", {"aggregates": 5}), now)
    assert widths() == [(60, (now - DAY) // MIN * MIN), (3600, (now - DAY) // H * H)]
    from watchkeeper.privacy.erasure import erase_subject

    before = stored_rollups(db)
    erase_subject(db, "alice")
    assert stored_rollups(db) == before


# ---------------------------------------------------------------------------------------------------------------
# The read API


def test_rate_series_fills_empty_buckets_with_zeros_in_utc_and_checks_its_arguments(db: Engine) -> None:
    batch = [span(1, T0 + 5 * MIN, status=Status.ERROR, account=_acc("eu")), span(2, T0 + 3 * H), span(3, T0 + 7 * MIN)]
    ingest(db, [(batch, [])])
    got = rate_series(db, project_id=1, metric="errors", slice={}, start=_dt(T0), end=_dt(T0 + 4 * H), bucket="1h")
    assert got == [
        Count(_dt(T0), 1, 2),
        Count(_dt(T0 + H), 0, 0),
        Count(_dt(T0 + 2 * H), 0, 0),
        Count(_dt(T0 + 3 * H), 0, 1),
    ]
    assert got[0].start.tzinfo is UTC and got[0].rate == 0.5 and got[1].rate is None
    mins = rate_series(db, project_id=1, metric="errors", slice={"region": "eu"}, start=T0 + 30 * NS,
                       end=T0 + 10 * MIN, bucket="1m")  # fmt: skip
    assert len(mins) == 9 and mins[4] == Count(_dt(T0 + 5 * MIN), 1, 1)  # buckets starting in the range
    share = rate_series(db, project_id=1, metric="requests", slice={"region": "eu"}, start=T0, end=T0 + H, bucket="1h")
    assert share == [Count(_dt(T0), 1, 2)]  # both spans of the hour are turns; one is in the slice
    bad = [({"bucket": "5m"}, "bucket"), ({"metric": "nope"}, "metric"), ({"slice": {"planet": "x"}}, "dimension"),
           ({"start": datetime(2026, 1, 1)}, "start")]  # fmt: skip
    for kw, field in bad:
        args = {"project_id": 1, "metric": "errors", "slice": {}, "start": T0, "end": T0 + H, "bucket": "1h"} | kw
        with pytest.raises(InputError) as e:
            rate_series(db, **args)  # type: ignore[arg-type]
        assert e.value.field == field


def test_slices_with_traffic_are_largest_first_and_respect_the_minimum(db: Engine) -> None:
    batch = [span(i, T0 + i * NS, account=_acc("eu" if i % 3 else "us"), attributes=labels(language="de"))
             for i in range(1, 31)]  # fmt: skip
    ingest(db, [(batch, [])])
    kw = {"project_id": 1, "metric": "errors", "start": T0, "end": T0 + H}
    assert slices_with_traffic(db, dimensions=("region",), **kw) == [{"region": "eu"}, {"region": "us"}]  # type: ignore[arg-type]
    assert slices_with_traffic(db, dimensions=("region",), min_denominator=11, **kw) == [{"region": "eu"}]  # type: ignore[arg-type]
    assert slices_with_traffic(db, dimensions=(), **kw) == [{}]  # type: ignore[arg-type]
    pairs = slices_with_traffic(db, dimensions=("model_version", "language"), **kw)  # type: ignore[arg-type]
    assert pairs == [{"model_version": "(none)", "language": "de"}]
    assert slices_with_traffic(db, project_id=1, metric="refusals", dimensions=("region",), start=T0, end=T0 + H) == []


def test_latency_quantiles_come_from_the_merged_histograms_within_a_bin(db: Engine) -> None:
    durations_ms = [1, 2, 3, 5, 8, 13, 21, 34, 55, 89, 144, 233, 377, 610, 987]
    batch = [span(i, T0 + i * NS, end_time_ns=T0 + i * NS + d * 10**6, kind=SpanKind.TOOL)
             for i, d in enumerate(durations_ms, 1)]  # fmt: skip
    ingest(db, [(batch, [])])
    [bucket] = latency_series(db, project_id=1, slice={"kind": "tool"}, start=T0, end=T0 + H, bucket="1h")
    assert isinstance(bucket, LatencyBucket) and bucket.total == len(durations_ms)
    for q in (0.5, 0.9, 0.99):
        exact = sorted(durations_ms)[min(len(durations_ms) - 1, int(q * len(durations_ms)))]
        assert abs(bucket.quantile(q) - exact) / exact <= 0.2  # type: ignore[operator]
    assert LatencyBucket(_dt(T0)).quantile(0.5) is None
    assert quantile_ms([0] * 82, 0.5) is None


def test_windows_are_covered_by_whole_hours_and_edge_minutes() -> None:
    assert cover(T0 + 30 * NS, T0 + 3 * H + 10 * MIN) == [(60, T0 + MIN, T0 + H), (3600, T0 + H, T0 + 3 * H),
                                                         (60, T0 + 3 * H, T0 + 3 * H + 10 * MIN)]  # fmt: skip
    assert cover(T0, T0 + 20 * MIN) == [(60, T0, T0 + 20 * MIN)]
    # minutes no longer kept: the edges fall on whole hours
    assert cover(T0 + 10 * MIN, T0 + 3 * H + 10 * MIN, minute_floor_ns=T0 + 5 * H) == [
        (3600, T0, T0 + H),
        (3600, T0 + H, T0 + 3 * H),
    ]
    assert cover(T0 + 10 * MIN, T0 + 20 * MIN, minute_floor_ns=T0 + 5 * H) == [(3600, T0, T0 + H)]


def test_account_age_is_kept_in_bins_and_read_for_any_bin_edge(db: Engine) -> None:
    batch = [
        span(i, T0 + i * NS, account=_acc("eu", created=T0 - d * DAY)) for i, d in enumerate([0, 2, 10, 45, 400], 1)
    ]
    ingest(db, [(batch, [])])
    for days, new in [(1, 1), (7, 2), (30, 3), (60, 4), (365, 4)]:
        got = rate_series(db, project_id=1, metric="errors", slice={"account_age": "new"}, start=T0, end=T0 + H,
                          bucket="1h", new_account_days=days)  # fmt: skip
        assert got[0].denominator == new, days
    with pytest.raises(InputError) as e:
        rate_series(db, project_id=1, metric="errors", slice={}, start=T0, end=T0 + H, bucket="1h", new_account_days=10)
    assert e.value.field == "new_account_days"
    assert len(AGE_BINS) == 10


def test_the_rebuild_command_recounts_a_store_and_reports_what_it_did(tmp_path: object) -> None:
    from watchkeeper.cli import main
    from watchkeeper.store import make_engine, migrate

    url = f"sqlite:///{tmp_path}/w.db"
    engine = make_engine(url)
    migrate(engine)
    ingest(engine, [([span(i, T0 + i * MIN) for i in range(1, 4)], [])])
    before = stored_rollups(engine)
    with engine.begin() as conn:
        conn.execute(delete(rollups))
    r = CliRunner().invoke(main, ["rollups", "rebuild", "--database-url", url])
    assert r.exit_code == 0, r.output
    report = json.loads(r.output)
    assert report["spans"] == 3 and report["hours"] == 1 and report["from_ns"] == T0
    assert stored_rollups(engine) == before
    r = CliRunner().invoke(main, ["rollups", "rebuild", "--database-url", url, "--from", "2000", "--to", "1000"])
    assert r.exit_code != 0 and "'from' must be before 'to'" in r.output
    engine.dispose()


def _acc(region: str, created: int | None = None) -> object:
    from watchkeeper.records import Account

    return Account(region=region, created_at_ns=created)


def _dt(ns: int) -> datetime:
    return datetime(1970, 1, 1, tzinfo=UTC) + timedelta(microseconds=ns // 1000)
