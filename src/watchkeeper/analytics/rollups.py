"""Rates, latency and slices read from the rollups: O(buckets), not O(requests).

    from watchkeeper.analytics import rate_series, slices_with_traffic, latency_series

    rate_series(engine, project_id=1, metric="refusals", slice={"language": "de"}, start=a, end=b, bucket="1h")
    slices_with_traffic(engine, project_id=1, metric="refusals", dimensions=("language",), start=a, end=b)
    latency_series(engine, project_id=1, slice={"model": "gpt-4o"}, start=a, end=b, bucket="1m")[-1].quantile(0.95)

The writer keeps the rollups in step with the stored records (``store/_rollups.py``); this module only reads them,
and :func:`rebuild_rollups` (``watchkeeper rollups rebuild``) recomputes them from the stored spans. A bucket belongs
to a time range when its start lies in it (event time). The slice explorer reads through :class:`RollupReader`.
See docs/explorer.md; this API is stable: the alerting engine reads it too.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import BigInteger, Engine, func, literal_column, select

from .._rollup import (
    DIM_INDEX,
    DIMENSIONS,
    HIST,
    HOUR_NS,
    LATENCY_BINS,
    MINUTE_NS,
    N_VALUES,
    SEP,
    TPOT,
    VALUE_COLUMNS,
    C,
    age_cohort,
    check_new_days,
    dims_key,
    quantile_ms,
)
from ..errors import InputError
from ..store._rollups import PRIMARY_KEY, SLICE_INDEX, run_indexed
from ..store.tables import rollups
from .catalogue import METRICS, Metric, metric

DEFAULT_NEW_ACCOUNT_DAYS = 30
DEFAULT_MINUTE_DAYS = 7  # the rollup_minute_days setting's default: how long 1-minute buckets are kept
BUCKETS = {"1m": 60, "1h": 3600}
MAX_SERIES_BUCKETS = 50_000
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_DAY_NS = 86_400 * 1_000_000_000

Instant = datetime | int  # an aware datetime, or nanoseconds since the epoch


def to_ns(t: Instant, field: str) -> int:
    """Nanoseconds since the epoch of an aware datetime (or of an int, taken as nanoseconds)."""
    if isinstance(t, datetime):
        if t.tzinfo is None:
            raise InputError(f"{field} must be a timezone-aware datetime (UTC)", field=field)
        return (t - _EPOCH) // timedelta(microseconds=1) * 1000
    if isinstance(t, bool) or not isinstance(t, int):
        raise InputError(f"{field} must be a datetime or nanoseconds since the epoch", field=field)
    return t


def utc(ns: int) -> datetime:
    """The aware UTC datetime of a bucket start (whole minutes: no precision is lost)."""
    return _EPOCH + timedelta(microseconds=ns // 1000)


# ---------------------------------------------------------------------------------------------------------------
# Answers


@dataclass(frozen=True, slots=True)
class Count:
    """One bucket of a rate: ``numerator`` records of ``denominator`` eligible ones, from ``start`` (UTC)."""

    start: datetime
    numerator: int
    denominator: int

    @property
    def rate(self) -> float | None:
        return self.numerator / self.denominator if self.denominator else None


@dataclass(frozen=True, slots=True)
class LatencyBucket:
    """A latency histogram: ``bins`` maps bin b to the spans whose duration lies in [2^(b/4), 2^((b+1)/4)) ms
    (bin -1: under 1 ms; bin 80: 2^20 ms and more). Histograms merge by adding bins, so quantiles of any window
    are exact up to the bin width (within ~9%)."""

    start: datetime
    bins: Mapping[int, int] = field(default_factory=dict)
    bins_per_octave = 4
    unit = "ms"

    @property
    def total(self) -> int:
        return sum(self.bins.values())

    def quantile(self, q: float) -> float | None:
        """The q-quantile (0..1) in milliseconds, the bin's geometric centre; None when the bucket is empty."""
        dense = [0] * LATENCY_BINS
        for b, n in self.bins.items():
            dense[b + 1] += n
        return quantile_ms(dense, q)


def _latency(start_ns: int, vals: Sequence[int]) -> LatencyBucket:
    return LatencyBucket(utc(start_ns), {k - 1: n for k, n in enumerate(vals[HIST:TPOT]) if n})


@dataclass(frozen=True, slots=True)
class SliceCounts:
    """What the rollups hold about one slice over a window: per metric (numerator, denominator), and latency."""

    slice: Mapping[str, str]
    counts: Mapping[str, tuple[int, int]]
    latency: LatencyBucket


def metric_counts(m: Metric, vals: Sequence[int], whole: Sequence[int]) -> tuple[int, int]:
    """A metric's (numerator, denominator) from a slice's values; ``whole``: the whole traffic's (for shares)."""
    if m.share:
        return vals[C["turns"]], whole[C["turns"]]
    num, den = m.counters
    return vals[C[num]], vals[C[den]]


# ---------------------------------------------------------------------------------------------------------------
# Reading


def _ceil(ns: int, width_ns: int) -> int:
    return -(-ns // width_ns) * width_ns


def cover(start_ns: int, end_ns: int, minute_floor_ns: int | None = None) -> list[tuple[int, int, int]]:
    """(width_s, lo, hi): bucket ranges whose union counts the minutes starting in [start, end) — whole hours from
    1-hour rows, the minutes at either edge from 1-minute rows. Minutes before ``minute_floor_ns`` (no longer kept)
    are replaced by the hour they start in, so an old window's edges fall on whole hours."""
    s, e = _ceil(start_ns, MINUTE_NS), _ceil(end_ns, MINUTE_NS)
    if e <= s:
        return []
    floor = minute_floor_ns if minute_floor_ns is not None else s
    hs, he = _ceil(s, HOUR_NS), e // HOUR_NS * HOUR_NS
    out: list[tuple[int, int, int]] = []
    if hs >= he:  # no whole hour inside
        if s >= floor:
            return [(60, s, e)]
        lo = s // HOUR_NS * HOUR_NS
        return [(3600, lo, max(he, lo + HOUR_NS))]
    if s < hs:
        out.append((60, s, hs) if s >= floor else (3600, s // HOUR_NS * HOUR_NS, hs))
    out.append((3600, hs, he))
    if he < e and he >= floor:
        out.append((60, he, e))
    return out


@dataclass(frozen=True, slots=True)
class _Key:
    """How a set of dimensions is stored: its ``dims`` column and the order of its values."""

    dims: tuple[str, ...]
    column: str
    order: tuple[int, ...]  # position in ``dims`` of each stored value

    @classmethod
    def of(cls, dims: Sequence[str]) -> _Key:
        for d in dims:
            if d not in DIM_INDEX:
                raise InputError(f"unknown dimension {d!r}; known: {', '.join(DIMENSIONS)}", field="dimension")
        if len(dims) > 2 or len(set(dims)) != len(dims):
            raise InputError("a slice is the whole traffic, one dimension or a pair", field="dimension")
        stored = sorted(dims)
        return cls(tuple(dims), dims_key(dims), tuple(dims.index(d) for d in stored))

    def values(self, stored: str) -> tuple[str, ...]:
        """The slice's values in ``dims`` order from the ``vals`` column."""
        if not self.dims:
            return ()
        parts = stored.split(SEP) if len(self.dims) > 1 else [stored]
        out = [""] * len(self.dims)
        for pos, v in zip(self.order, parts, strict=True):
            out[pos] = v
        return tuple(out)

    def stored(self, values: Sequence[str]) -> str:
        return SEP.join(values[pos] for pos in self.order)


class RollupReader:
    """Sums of rollup rows for one project: by slice value, by time bucket, or by side of a split time.

    Account-age bins are read as ``new`` / ``old`` for ``new_account_days`` (a bin edge); ``minute_days``: how long
    1-minute buckets are kept (the ``rollup_minute_days`` setting), so older edges are read from whole hours.
    """

    def __init__(
        self,
        engine: Engine,
        *,
        project_id: int = 1,
        new_account_days: float = DEFAULT_NEW_ACCOUNT_DAYS,
        minute_days: int = DEFAULT_MINUTE_DAYS,
        now_ns: int | None = None,
    ) -> None:
        try:
            check_new_days(new_account_days)
        except ValueError as e:
            raise InputError(str(e), field="new_account_days") from None
        self.engine = engine
        self.project_id = project_id
        self.new_days = new_account_days
        self.minute_days = minute_days
        self._now_ns = now_ns

    @property
    def minute_floor_ns(self) -> int:
        now = self._now_ns if self._now_ns is not None else int(datetime.now(UTC).timestamp() * 1e9)
        return now - self.minute_days * _DAY_NS

    def _map(self, key: _Key, values: tuple[str, ...]) -> tuple[str, ...]:
        if "account_age" not in key.dims:
            return values
        i = key.dims.index("account_age")
        return (*values[:i], age_cohort(values[i], self.new_days), *values[i + 1 :])

    def _query(
        self,
        keys: Sequence[_Key],
        ranges: Iterable[tuple[int, int, int, int]],
        columns: Sequence[int],
        *,
        stored_vals: str | None = None,
        group_ns: int | None = None,
    ) -> Iterable[tuple[_Key, int, tuple[str, ...], list[int]]]:
        """(key, side, values in dims order, the columns summed) per slice value of each (width_s, lo, hi, side)
        range; with ``group_ns``, per slice value and bucket of that width instead (its start in place of side)."""
        by_column = {k.column: k for k in keys}
        sums = [func.sum(rollups.c[VALUE_COLUMNS[i]]) for i in columns]
        with self.engine.connect() as conn:
            if group_ns is not None:
                b, n = rollups.c.bucket_ns, literal_column(str(int(group_ns)), BigInteger)
                g: Any = func.div(b, n) if conn.dialect.name == "postgresql" else b.op("/")(n)
            for width, lo, hi, side in ranges:
                where = [
                    rollups.c.project_id == self.project_id,
                    rollups.c.width_s == width,
                    rollups.c.dims.in_(list(by_column)) if len(by_column) > 1 else rollups.c.dims == keys[0].column,
                    rollups.c.bucket_ns >= lo,
                    rollups.c.bucket_ns < hi,
                ]
                if stored_vals is not None:
                    where.append(rollups.c.vals == stored_vals)
                if group_ns == width * 1_000_000_000:  # one row per slice value and bucket already
                    cols = [rollups.c[VALUE_COLUMNS[i]] for i in columns]
                    q: Any = select(rollups.c.dims, rollups.c.vals, g, *cols).where(*where)
                elif group_ns is not None:
                    q = (
                        select(rollups.c.dims, rollups.c.vals, g, *sums)
                        .where(*where)
                        .group_by(rollups.c.dims, rollups.c.vals, g)
                    )
                else:
                    q = (
                        select(rollups.c.dims, rollups.c.vals, *sums)
                        .where(*where)
                        .group_by(rollups.c.dims, rollups.c.vals)
                    )
                start = 2 if group_ns is None else 3
                for r in run_indexed(conn, q, SLICE_INDEX if stored_vals is not None else PRIMARY_KEY):
                    key = by_column[r[0]]
                    at = side if group_ns is None else int(r[2]) * group_ns
                    yield key, at, self._map(key, key.values(r[1])), [int(x) if x else 0 for x in r[start:]]

    def sums(
        self,
        dims: Sequence[str],
        start_ns: int,
        end_ns: int,
        columns: Sequence[int],
        *,
        values: Sequence[str] | None = None,
        split_ns: int | None = None,
    ) -> dict[tuple[int, tuple[str, ...]], list[int]]:
        """{(side, values): sums} over the window; side is 1 from ``split_ns`` on (0 without a split)."""
        return self.sums_of([tuple(dims)], start_ns, end_ns, columns, values=values, split_ns=split_ns)[tuple(dims)]

    def sums_of(
        self,
        sets: Sequence[tuple[str, ...]],
        start_ns: int,
        end_ns: int,
        columns: Sequence[int],
        *,
        values: Sequence[str] | None = None,
        split_ns: int | None = None,
    ) -> dict[tuple[str, ...], dict[tuple[int, tuple[str, ...]], list[int]]]:
        """:meth:`sums` for several dimension sets at once (one query per bucket range)."""
        keys = [_Key.of(ds) for ds in sets]
        out: dict[tuple[str, ...], dict[tuple[int, tuple[str, ...]], list[int]]] = {k.dims: {} for k in keys}
        stored = keys[0].stored(values) if values is not None and "account_age" not in keys[0].dims else None
        for key, side, vals, sums in self._query(
            keys, self._ranges(start_ns, end_ns, split_ns), columns, stored_vals=stored
        ):
            if values is not None and vals != tuple(values):
                continue
            acc = out[key.dims].setdefault((side, vals), [0] * len(columns))
            for i, v in enumerate(sums):
                acc[i] += v
        return out

    def series(
        self,
        dims: Sequence[str],
        start_ns: int,
        end_ns: int,
        width_ns: int,
        columns: Sequence[int],
        *,
        values: Sequence[str] | None = None,
    ) -> dict[tuple[int, tuple[str, ...]], list[int]]:
        """{(bucket index, values): sums} for buckets of ``width_ns`` (a multiple of an hour is read from whole
        hours where it can, narrower buckets from 1-minute rows)."""
        key = _Key.of(dims)
        if width_ns % HOUR_NS == 0:
            ranges = [(w, lo, hi, 0) for w, lo, hi in cover(start_ns, end_ns, self.minute_floor_ns)]
        else:
            ranges = [(60, _ceil(start_ns, MINUTE_NS), _ceil(end_ns, MINUTE_NS), 0)]
        stored = key.stored(values) if values is not None and "account_age" not in key.dims else None
        out: dict[tuple[int, tuple[str, ...]], list[int]] = {}
        for _k, bucket_ns, vals, sums in self._query([key], ranges, columns, stored_vals=stored, group_ns=width_ns):
            if values is not None and vals != tuple(values):
                continue
            acc = out.setdefault((bucket_ns // width_ns, vals), [0] * len(columns))
            for i, v in enumerate(sums):
                acc[i] += v
        return out

    def _ranges(self, start_ns: int, end_ns: int, split_ns: int | None) -> list[tuple[int, int, int, int]]:
        floor = self.minute_floor_ns
        if split_ns is None:
            return [(w, lo, hi, 0) for w, lo, hi in cover(start_ns, end_ns, floor)]
        # each side is covered on its own (side 1 from the split on), so no bucket is counted on both
        return [(w, lo, hi, 0) for w, lo, hi in cover(start_ns, split_ns, floor)] + [
            (w, lo, hi, 1) for w, lo, hi in cover(split_ns, end_ns, floor)
        ]


ALL_VALUES = tuple(range(N_VALUES))


# ---------------------------------------------------------------------------------------------------------------
# The public questions


def _metric_of(name: str) -> Metric:
    return metric(name)


def _slice(slice: Mapping[str, str]) -> tuple[tuple[str, ...], tuple[str, ...]]:
    if not isinstance(slice, Mapping):
        raise InputError("slice must map dimension names to values", field="slice")
    dims = tuple(slice)
    _Key.of(dims)
    return dims, tuple(str(slice[d]) for d in dims)


def _bucket(bucket: str, start_ns: int, end_ns: int) -> tuple[int, int, int]:
    if bucket not in BUCKETS:
        raise InputError(f"bucket must be one of: {', '.join(BUCKETS)}", field="bucket")
    width = BUCKETS[bucket] * 1_000_000_000
    first, last = _ceil(start_ns, width) // width, _ceil(end_ns, width) // width
    if last - first > MAX_SERIES_BUCKETS:
        raise InputError(f"more than {MAX_SERIES_BUCKETS} buckets; use 1h or a shorter range", field="bucket")
    return width, first, last


def _raw_series(
    engine: Engine,
    project_id: int,
    dims: tuple[str, ...],
    values: tuple[str, ...],
    start_ns: int,
    end_ns: int,
    bucket: str,
    columns: Sequence[int],
    new_account_days: float,
) -> tuple[int, range, dict[int, list[int]]]:
    width, first, last = _bucket(bucket, start_ns, end_ns)
    reader = RollupReader(engine, project_id=project_id, new_account_days=new_account_days)
    key = _Key.of(dims)
    stored = key.stored(values) if "account_age" not in dims else None
    ranges = [(width // 1_000_000_000, first * width, last * width, 0)]
    out: dict[int, list[int]] = {}
    for _k, b, vals, sums in reader._query([key], ranges, columns, stored_vals=stored, group_ns=width):
        if vals != values:
            continue
        acc = out.setdefault(b // width, [0] * len(columns))
        for i, v in enumerate(sums):
            acc[i] += v
    return width, range(first, last), out


def rate_series(
    engine: Engine,
    *,
    project_id: int,
    metric: str,
    slice: Mapping[str, str],
    start: Instant,
    end: Instant,
    bucket: str,
    new_account_days: float = DEFAULT_NEW_ACCOUNT_DAYS,
) -> list[Count]:
    """A metric's counts in one slice per bucket ("1m" or "1h") whose start lies in [start, end), in time order,
    with empty buckets as zeros. ``slice``: {} for the whole traffic, {dimension: value}, or a configured pair's
    two values; ``account_age`` takes ``new`` / ``old``. A pair that ``rollup_pairs`` does not name has no rows."""
    m = _metric_of(metric)
    dims, values = _slice(slice)
    s, e = to_ns(start, "start"), to_ns(end, "end")
    num, den = (C["turns"], C["turns"]) if m.share else (C[m.counters[0]], C[m.counters[1]])
    width, buckets, got = _raw_series(engine, project_id, dims, values, s, e, bucket, [num, den], new_account_days)
    whole: dict[int, list[int]] = {}
    if m.share:
        _w, _b, whole = _raw_series(engine, project_id, (), (), s, e, bucket, [den], new_account_days)
    out = []
    for b in buckets:
        k, n = got.get(b, (0, 0))
        if m.share:
            n = whole.get(b, [0])[0]
        out.append(Count(utc(b * width), k, n))
    return out


def latency_series(
    engine: Engine,
    *,
    project_id: int,
    slice: Mapping[str, str],
    start: Instant,
    end: Instant,
    bucket: str,
    new_account_days: float = DEFAULT_NEW_ACCOUNT_DAYS,
) -> list[LatencyBucket]:
    """The latency histogram of every span in the slice per bucket ("1m" or "1h") starting in [start, end); slice
    by ``kind`` (or a model, a tool) to read one kind of call. Empty buckets have no bins."""
    dims, values = _slice(slice)
    s, e = to_ns(start, "start"), to_ns(end, "end")
    hist = list(range(HIST, TPOT))
    width, buckets, got = _raw_series(engine, project_id, dims, values, s, e, bucket, hist, new_account_days)
    return [LatencyBucket(utc(b * width), {k - 1: n for k, n in enumerate(got.get(b, ())) if n}) for b in buckets]


def slice_counts(
    engine: Engine,
    *,
    project_id: int,
    dimensions: Sequence[str],
    start: Instant,
    end: Instant,
    new_account_days: float = DEFAULT_NEW_ACCOUNT_DAYS,
    minute_days: int = DEFAULT_MINUTE_DAYS,
) -> list[SliceCounts]:
    """Every metric's counts and the latency of each slice of ``dimensions`` (() for the whole traffic) over the
    minutes starting in [start, end), largest slices first (by spans)."""
    s, e = to_ns(start, "start"), to_ns(end, "end")
    reader = RollupReader(engine, project_id=project_id, new_account_days=new_account_days, minute_days=minute_days)
    dims = tuple(dimensions)
    got = reader.sums(dims, s, e, ALL_VALUES)
    whole = reader.sums((), s, e, ALL_VALUES).get((0, ()), [0] * N_VALUES) if dims else None
    out = []
    for (_side, vals), sums in sorted(got.items(), key=lambda kv: (-kv[1][C["spans"]], kv[0][1])):
        w = whole if whole is not None else sums
        counts = {name: metric_counts(m, sums, w) for name, m in METRICS.items()}
        out.append(SliceCounts(dict(zip(dims, vals, strict=True)), counts, _latency(s, sums)))
    return out


def slices_with_traffic(
    engine: Engine,
    *,
    project_id: int,
    metric: str,
    dimensions: tuple[str, ...],
    start: Instant,
    end: Instant,
    min_denominator: int = 0,
    new_account_days: float = DEFAULT_NEW_ACCOUNT_DAYS,
    minute_days: int = DEFAULT_MINUTE_DAYS,
) -> list[dict[str, str]]:
    """The slices of ``dimensions`` whose denominator of ``metric`` over the minutes starting in [start, end) is at
    least ``min_denominator`` (and more than 0), largest first; [{}] for () when the whole traffic has any."""
    m = _metric_of(metric)
    s, e = to_ns(start, "start"), to_ns(end, "end")
    reader = RollupReader(engine, project_id=project_id, new_account_days=new_account_days, minute_days=minute_days)
    col = C["turns"] if m.share else C[m.counters[1]]
    got = reader.sums(tuple(dimensions), s, e, [col])
    found = [(n[0], vals) for (_side, vals), n in got.items() if n[0] > 0 and n[0] >= min_denominator]
    found.sort(key=lambda x: (-x[0], x[1]))
    return [dict(zip(dimensions, vals, strict=True)) for _n, vals in found]


__all__ = [
    "Count",
    "LatencyBucket",
    "RollupReader",
    "SliceCounts",
    "cover",
    "latency_series",
    "metric_counts",
    "rate_series",
    "slice_counts",
    "slices_with_traffic",
    "to_ns",
    "utc",
]
