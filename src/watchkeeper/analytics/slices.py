"""Slices: any rate over time for any slice, the slice against the rest, and the slices that changed most.

    explorer = SliceExplorer(engine)
    explorer.rate_series("refusals", Slice.of(model_version="gpt-4.1-mini-2025-04-14"), Window(a, b), "1h")
    explorer.compare("errors.tool", Slice.of(client="ios/4.13.0"), Window(a, b))
    explorer.top_changes("tool_errors", ["client"], current=Window(b - hour, b), baseline=Window(b - day, b - hour))

A metric is a numerator over a denominator (``catalogue.py``); every rate carries its counts and a Wilson score
interval. Top changes are ranked by a two-proportion z statistic, so a 3-of-5 slice does not outrank a 300-of-10,000
one, and each dimension keeps its ``cap`` largest values by volume, the rest folded into ``other``.

The counts come from the rollups (``rollups.py``): whole hours from 1-hour buckets and the minutes at a window's
edges from 1-minute buckets, so a question costs O(buckets × slices), not O(spans). A window counts the minutes that
start in it. Examples are the only question read from the ``spans`` table (metadata columns, never content).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import ColumnElement, Engine, and_, func, literal_column, not_, or_, select, true

from .._rollup import C
from ..errors import InputError
from ..store.queries import BUCKETS_S
from ..store.tables import spans
from ._stats import Change, Rate, diff_interval, wilson, z_score
from .catalogue import DEFAULT_PAIRS, DIMENSIONS, METRICS, NONE, OTHER, Dimension, Metric, metric, signal_label
from .rollups import DEFAULT_MINUTE_DAYS, RollupReader

NS = 1_000_000_000
DAY_NS = 86_400 * NS
MAX_BUCKETS = 2_000
MAX_DURATION_DAYS = 3650  # two of them before any end time still fit in a signed 64-bit nanosecond count

# ---------------------------------------------------------------------------------------------------------------
# Questions and answers


@dataclass(frozen=True, slots=True)
class Window:
    """Event time [start_ns, end_ns)."""

    start_ns: int
    end_ns: int

    def __post_init__(self) -> None:
        if self.end_ns <= self.start_ns:
            raise InputError("a window must end after it starts", field="to")


@dataclass(frozen=True, slots=True)
class Slice:
    """One value per dimension: a single dimension, or a configured pair."""

    dims: tuple[str, ...]
    values: tuple[str, ...]

    @classmethod
    def of(cls, **values: str) -> Slice:
        return cls(tuple(values), tuple(values.values()))

    @property
    def label(self) -> str:
        return " × ".join(self.values)

    @property
    def key(self) -> str:
        return " × ".join(self.dims)

    def as_dict(self) -> dict[str, str]:
        return dict(zip(self.dims, self.values, strict=True))


@dataclass(frozen=True, slots=True)
class Point:
    bucket_start_ns: int
    slice: Rate
    rest: Rate


@dataclass(frozen=True, slots=True)
class Comparison:
    """A slice against the rest of the traffic over one window (``change``: from the rest to the slice)."""

    metric: str
    slice: Slice
    window: Window
    slice_rate: Rate
    rest_rate: Rate
    change: Change


@dataclass(frozen=True, slots=True)
class Series:
    comparison: Comparison
    bucket: str
    points: list[Point]


@dataclass(frozen=True, slots=True)
class TopChange:
    """One slice's rate in the baseline and the current window; ``baseline_overall`` when the slice had fewer than
    ``min_count`` records in the baseline, so it is compared with the whole baseline traffic instead."""

    slice: Slice
    change: Change
    baseline_overall: bool = False

    @property
    def baseline(self) -> Rate:
        return self.change.before

    @property
    def current(self) -> Rate:
        return self.change.after


@dataclass(frozen=True, slots=True)
class Example:
    """Metadata of one record that counts in a metric's numerator; never content."""

    trace_id: str
    span_id: str
    name: str
    kind: str
    status: str
    start_ns: int
    duration_ms: float
    service_name: str | None
    model: str | None
    tool_name: str | None
    error_type: str | None
    label: str | None


_DURATION = re.compile(r"^(\d{1,5})(m|h|d)$")


def parse_duration(text: str, field: str) -> int:
    """Nanoseconds from ``15m``, ``6h`` or ``7d``; InputError naming ``field`` otherwise."""
    m = _DURATION.match(text.strip())
    if not m or int(m.group(1)) == 0:
        raise InputError(f"{field} must be a duration such as 15m, 6h or 7d", field=field)
    ns = int(m.group(1)) * {"m": 60, "h": 3600, "d": 86400}[m.group(2)] * NS
    if ns > MAX_DURATION_DAYS * DAY_NS:
        raise InputError(f"{field} must be at most {MAX_DURATION_DAYS} days", field=field)
    return ns


class SliceExplorer:
    """Answers slice questions from the rollups (examples: from the stored spans) of one project.

    ``cap``: values kept per dimension, largest by volume first, the rest in ``other``; ``pair_cap`` the same for
    the value pairs of a pair of dimensions;
    ``new_account_days``: accounts younger than this at the time of the span are ``new`` (``account_age``; one of
    the account ages rollups keep: 1, 3, 7, 14, 30, 60, 90, 180 or 365);
    ``pairs``: the dimension pairs that may be sliced together (the ``rollup_pairs`` setting);
    ``minute_days``: how long 1-minute rollups are kept (``rollup_minute_days``): older window edges are whole hours.
    """

    def __init__(
        self,
        engine: Engine,
        *,
        project_id: int = 1,
        cap: int = 10,
        pair_cap: int = 50,
        new_account_days: float = 30.0,
        pairs: Iterable[tuple[str, str]] = DEFAULT_PAIRS,
        minute_days: int = DEFAULT_MINUTE_DAYS,
    ) -> None:
        if cap < 1 or pair_cap < 1:
            raise ValueError("cap and pair_cap must be at least 1")
        if not new_account_days > 0:
            raise ValueError("new_account_days must be positive")
        self.engine = engine
        self.project_id = project_id
        self.cap = cap
        self.pair_cap = pair_cap
        self.new_ns = int(new_account_days * DAY_NS)
        self.pairs = tuple(tuple(p) for p in pairs)
        for p in self.pairs:
            if len(p) != 2 or any(d not in DIMENSIONS for d in p):
                raise ValueError(f"pair {p!r} must name two known dimensions")
        self._dialect = engine.dialect.name
        self.reader = RollupReader(
            engine, project_id=project_id, new_account_days=new_account_days, minute_days=minute_days
        )

    # -- the catalogue ------------------------------------------------------------------------------------------

    def dimension_sets(self) -> list[tuple[str, ...]]:
        """Every single dimension (but outcomes) and every configured pair: what "every dimension" ranks."""
        return [(d.name,) for d in DIMENSIONS.values() if not d.outcome] + [tuple(p) for p in self.pairs]

    def check_dims(self, dims: Sequence[str], field: str = "dimension") -> tuple[str, ...]:
        """The dimensions as given when they are one known dimension or a configured pair (in either order)."""
        dims = tuple(d.strip() for d in dims)
        for d in dims:
            if d not in DIMENSIONS:
                raise InputError(f"unknown dimension {d!r}; known: {', '.join(DIMENSIONS)}", field=field)
        if len(dims) == 1:
            return dims
        for p in self.pairs:
            if dims == p or dims[::-1] == p:
                return p
        pairs = ", ".join(" × ".join(p) for p in self.pairs)
        raise InputError(f"slice one dimension or a configured pair ({pairs})", field=field)

    def check_slice(self, s: Slice, field: str = "value") -> Slice:
        dims = self.check_dims(s.dims)
        if len(s.values) != len(dims):
            raise InputError(f"give one value per dimension ({len(dims)})", field=field)
        if dims != s.dims:  # a pair given in the other order
            return Slice(dims, s.values[::-1])
        return s

    # -- the questions ------------------------------------------------------------------------------------------

    def compare(self, metric_name: str, s: Slice, window: Window) -> Comparison:
        """The slice's rate against the rest of the traffic over the window."""
        m, s = metric(metric_name), self.check_slice(s)
        if OTHER in s.values:
            rows = self._grouped(m, s.dims, window)
            member = self._membership(s, rows)
            k_s = n_s = k_r = n_r = 0
            for _b, vals, k, n in rows:
                if member(vals):
                    k_s, n_s = k_s + k, n_s + n
                else:
                    k_r, n_r = k_r + k, n_r + n
            return self._comparison(m, s, window, k_s, n_s, k_r, n_r)
        # the rest is the whole traffic less the slice: every span has one value per dimension
        k_s, n_s = _total(self._grouped(m, s.dims, window, values=s.values))
        k_w, n_w = _total(self._grouped(m, (), window))
        return self._comparison(m, s, window, k_s, n_s, k_w - k_s, n_w - n_s)

    def rate_series(self, metric_name: str, s: Slice, window: Window, bucket: str = "1h") -> Series:
        """The slice's and the rest's rate per time bucket over the window, with the window's totals."""
        m, s = metric(metric_name), self.check_slice(s)
        width = _bucket_ns(bucket, window)
        first, last = window.start_ns // width, (window.end_ns - 1) // width
        acc = {b: [0, 0, 0, 0] for b in range(first, last + 1)}
        if OTHER in s.values:
            rows = self._grouped(m, s.dims, window, width)
            member = self._membership(s, rows)
            for b, vals, k, n in rows:
                a = acc[b]
                if member(vals):
                    a[0], a[1] = a[0] + k, a[1] + n
                else:
                    a[2], a[3] = a[2] + k, a[3] + n
        else:
            for b, _vals, k, n in self._grouped(m, (), window, width):
                acc[b][2], acc[b][3] = k, n
            for b, _vals, k, n in self._grouped(m, s.dims, window, width, values=s.values):
                a = acc[b]
                a[0], a[1], a[2], a[3] = a[0] + k, a[1] + n, a[2] - k, a[3] - n
        points = []
        for b in sorted(acc):
            k_s, n_s, k_r, n_r = acc[b]
            sl, rest = self._rates(m, k_s, n_s, k_r, n_r)
            points.append(Point(b * width, sl, rest))
        tot = [sum(acc[b][i] for b in acc) for i in range(4)]
        return Series(self._comparison(m, s, window, *tot), bucket, points)

    def top_changes(
        self,
        metric_name: str,
        dims: Sequence[str] | None,
        *,
        current: Window,
        baseline: Window,
        min_count: int = 30,
        limit: int = 20,
        direction: str = "both",
    ) -> list[TopChange]:
        """Slices ranked by how surely their rate changed from the baseline to the current window.

        The statistic is the pooled two-proportion z (evidence, not size of change), so small slices need a large
        change to rank high; slices with fewer than ``min_count`` records in the current window are left out.
        ``dims`` None means every dimension and configured pair. ``direction``: ``up``, ``down`` or ``both``.
        """
        m = metric(metric_name)
        if min_count < 1:
            raise InputError("min_count must be at least 1", field="min_count")
        if direction not in ("up", "down", "both"):
            raise InputError("direction must be up, down or both", field="direction")
        sets = [self.check_dims(dims)] if dims else self.dimension_sets()
        if baseline.end_ns > current.start_ns:
            raise InputError("the baseline must end before the current window starts", field="baseline")
        out: list[TopChange] = []
        for ds, rows in self._rows_per_set(m, sets, current, baseline):
            out += self._rank(m, ds, rows, min_count)
        if direction == "up":
            out = [t for t in out if t.change.diff > 0]
            out.sort(key=lambda t: -t.change.z)
        elif direction == "down":
            out = [t for t in out if t.change.diff < 0]
            out.sort(key=lambda t: t.change.z)
        else:
            out.sort(key=lambda t: -abs(t.change.z))
        return out[:limit]

    def examples(self, metric_name: str, s: Slice, window: Window, *, limit: int = 20) -> list[Example]:
        """The newest records of the slice that count in the metric's numerator: ids and metadata, no content."""
        m, s = metric(metric_name), self.check_slice(s)
        if not 1 <= limit <= 200:
            raise InputError("limit must be between 1 and 200", field="limit")
        exprs = [self._dim(d) for d in s.dims]
        if OTHER in s.values:
            rows = self._grouped(m, s.dims, window)
            kept = self._kept(rows)
            cond = and_(true(), *[e == v for e, v in zip(exprs, s.values, strict=True) if v != OTHER])
            named = [and_(*[e == v for e, v in zip(exprs, key, strict=True)]) for key in kept if _fits(key, s)]
            slice_cond: ColumnElement[bool] = and_(cond, not_(or_(*named)) if named else true())
        else:
            slice_cond = and_(*[e == v for e, v in zip(exprs, s.values, strict=True)])
        label = (
            signal_label(self._dialect, m.signal).label("label") if m.signal else literal_column("NULL").label("label")
        )
        num = true() if m.share else m.num(self._dialect)
        q = (
            select(
                spans.c.trace_id,
                spans.c.span_id,
                spans.c.name,
                spans.c.kind,
                spans.c.status,
                spans.c.start_ns,
                spans.c.end_ns,
                spans.c.service_name,
                func.coalesce(spans.c.response_model, spans.c.request_model).label("model"),
                spans.c.tool_name,
                spans.c.error_type,
                label,
            )
            .where(*self._where(m, window), slice_cond, num)
            .order_by(spans.c.start_ns.desc(), spans.c.id.desc())
            .limit(limit)
        )
        with self.engine.connect() as conn:
            return [
                Example(
                    trace_id=r.trace_id.hex(),
                    span_id=r.span_id.hex(),
                    name=r.name,
                    kind=r.kind,
                    status=r.status,
                    start_ns=int(r.start_ns),
                    duration_ms=(int(r.end_ns) - int(r.start_ns)) / 1e6,
                    service_name=r.service_name,
                    model=r.model,
                    tool_name=r.tool_name,
                    error_type=r.error_type,
                    label=r.label,
                )
                for r in conn.execute(q)
            ]

    # -- the counting -------------------------------------------------------------------------------------------

    def _dim(self, name: str) -> ColumnElement[Any]:
        return func.coalesce(DIMENSIONS[name].expr(self._dialect, self.new_ns), NONE)

    def _where(self, m: Metric, window: Window) -> list[ColumnElement[bool]]:
        return [
            spans.c.project_id == self.project_id,
            spans.c.start_ns >= window.start_ns,
            spans.c.start_ns < window.end_ns,
            m.den(self._dialect),
        ]

    def _columns(self, m: Metric) -> list[int]:
        """The rollup columns of (hits, total): for a share, the slice's turns as both (its share is n/all n)."""
        return [C["turns"], C["turns"]] if m.share else [C[m.counters[0]], C[m.counters[1]]]

    def _grouped(
        self,
        m: Metric,
        dims: Sequence[str],
        window: Window,
        width: int | None = None,
        current_ns: int | None = None,
        values: Sequence[str] | None = None,
    ) -> list[tuple[int, tuple[str, ...], int, int]]:
        """(bucket, values, hits, total) per bucket and slice with a total; with ``current_ns`` the bucket is the
        side of the window: 1 from ``current_ns`` on, else 0. ``values``: one slice only."""
        cols = self._columns(m)
        r = self.reader
        if width is not None:
            got = r.series(dims, window.start_ns, window.end_ns, width, cols, values=values)
        else:
            got = r.sums(dims, window.start_ns, window.end_ns, cols, values=values, split_ns=current_ns)
        return [(b, vals, k, n) for (b, vals), (k, n) in got.items() if n > 0]

    def _kept(self, rows: Iterable[tuple[Any, tuple[str, ...], int, int]]) -> set[tuple[str, ...]]:
        """The ``cap`` slices with the most records (ties by name, so the choice is stable); values the rollups
        already folded into (other) are never kept apart."""
        volume: dict[tuple[str, ...], int] = {}
        for _b, vals, _k, n in rows:
            if OTHER not in vals:
                volume[vals] = volume.get(vals, 0) + n
        cap = self.cap if all(len(v) == 1 for v in volume) else self.pair_cap
        return set(sorted(volume, key=lambda v: (-volume[v], v))[:cap])

    def _membership(
        self, s: Slice, rows: list[tuple[Any, tuple[str, ...], int, int]]
    ) -> Callable[[tuple[str, ...]], bool]:
        if OTHER not in s.values:
            return lambda vals: vals == s.values
        kept = self._kept(rows)
        return lambda vals: vals not in kept and _fits(vals, s)

    def _rates(self, m: Metric, k_s: int, n_s: int, k_r: int, n_r: int) -> tuple[Rate, Rate]:
        if m.share:
            return Rate(n_s, n_s + n_r), Rate(n_r, n_s + n_r)
        return Rate(k_s, n_s), Rate(k_r, n_r)

    def _comparison(self, m: Metric, s: Slice, w: Window, k_s: int, n_s: int, k_r: int, n_r: int) -> Comparison:
        sl, rest = self._rates(m, k_s, n_s, k_r, n_r)
        return Comparison(m.name, s, w, sl, rest, Change.between(rest, sl))

    def _rows_per_set(
        self, m: Metric, sets: list[tuple[str, ...]], current: Window, baseline: Window
    ) -> Iterable[tuple[tuple[str, ...], list[tuple[int, tuple[str, ...], int, int]]]]:
        """(side, values, hits, total) of each dimension set, every set read in one query per bucket range: side 0
        is the baseline, 1 the current window."""
        cols = self._columns(m)
        r = self.reader
        if baseline.end_ns == current.start_ns:  # adjacent windows (the usual case): one read, split by side
            got = r.sums_of(sets, baseline.start_ns, current.end_ns, cols, split_ns=current.start_ns)
        else:
            base = r.sums_of(sets, baseline.start_ns, baseline.end_ns, cols)
            cur = r.sums_of(sets, current.start_ns, current.end_ns, cols)
            got = {ds: {**base[ds], **{(1, v): x for (_side, v), x in cur[ds].items()}} for ds in sets}
        for ds in sets:
            yield ds, [(side, vals, k, n) for (side, vals), (k, n) in got[ds].items() if n > 0]

    def _rank(
        self, m: Metric, dims: tuple[str, ...], rows: list[tuple[int, tuple[str, ...], int, int]], min_count: int
    ) -> list[TopChange]:
        kept = self._kept(rows)
        acc: dict[tuple[str, ...], list[int]] = {}
        for side, vals, k, n in rows:
            key = vals if vals in kept else tuple(OTHER for _ in dims)
            a = acc.setdefault(key, [0, 0, 0, 0])
            i = 2 if side else 0
            a[i], a[i + 1] = a[i] + k, a[i + 1] + n
        tot = [sum(a[i] for a in acc.values()) for i in range(4)]
        out = []
        for key, (kb, nb, kc, nc) in acc.items():
            if m.share:
                before, after = Rate(nb, tot[1]), Rate(nc, tot[3])
            else:
                before, after = Rate(kb, nb), Rate(kc, nc)
            if nc < min_count:
                continue
            overall = nb < min_count and not m.share
            if overall:
                before = Rate(tot[0], tot[1])
            if before.total == 0:
                continue
            out.append(TopChange(Slice(dims, key), Change.between(before, after), overall))
        return out


def _total(rows: Iterable[tuple[int, tuple[str, ...], int, int]]) -> tuple[int, int]:
    k = n = 0
    for _b, _v, hits, total in rows:
        k, n = k + hits, n + total
    return k, n


def _fits(vals: tuple[str, ...], s: Slice) -> bool:
    """Whether values match the slice's named (non-``other``) values."""
    return all(v == w or w == OTHER for v, w in zip(vals, s.values, strict=True))


def _bucket_ns(bucket: str, window: Window) -> int:
    if bucket not in BUCKETS_S:
        raise InputError(f"bucket must be one of: {', '.join(BUCKETS_S)}", field="bucket")
    width = BUCKETS_S[bucket] * NS
    if (window.end_ns - window.start_ns) // width > MAX_BUCKETS:
        raise InputError(f"more than {MAX_BUCKETS} buckets; use a larger bucket or a shorter window", field="bucket")
    return width


__all__ = [
    "DEFAULT_PAIRS",
    "DIMENSIONS",
    "METRICS",
    "NONE",
    "OTHER",
    "Change",
    "Comparison",
    "Dimension",
    "Example",
    "Metric",
    "Point",
    "Rate",
    "Series",
    "Slice",
    "SliceExplorer",
    "TopChange",
    "Window",
    "diff_interval",
    "metric",
    "parse_duration",
    "wilson",
    "z_score",
]
