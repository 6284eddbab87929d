"""Slices: any rate over time for any slice, the slice against the rest, and the slices that changed most.

    explorer = SliceExplorer(engine)
    explorer.rate_series("refusals", Slice.of(model_version="gpt-4.1-mini-2025-04-14"), Window(a, b), "1h")
    explorer.compare("errors.tool", Slice.of(client="ios/4.13.0"), Window(a, b))
    explorer.top_changes("tool_errors", ["client"], current=Window(b - hour, b), baseline=Window(b - day, b - hour))

A metric is a numerator over a denominator, both conditions on stored spans (or on turns, i.e. root spans, for the
feedback metrics); every rate carries its counts and a Wilson score interval. Top changes are ranked by a
two-proportion z statistic, so a 3-of-5 slice does not outrank a 300-of-10,000 one, and each dimension keeps its
``cap`` largest values by volume, the rest folded into ``other``.

Everything is computed from the ``spans`` and ``feedback`` tables at query time (one grouped scan of the window per
question). Maintained rollups can later answer the same methods with the same results: nothing outside this module
knows where the counts come from.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import ColumnElement, Engine, and_, case, exists, func, literal_column, not_, or_, select, true

from ..errors import InputError
from ..store.queries import BUCKETS_S
from ..store.tables import feedback, spans
from ._stats import Change, Rate, diff_interval, wilson, z_score

NONE = "(none)"  # the value of a slice whose dimension is absent on the record
OTHER = "(other)"  # every value past a dimension's cap, together
NS = 1_000_000_000
DAY_NS = 86_400 * NS
MAX_BUCKETS = 2_000
MAX_DURATION_DAYS = 3650  # two of them before any end time still fit in a signed 64-bit nanosecond count
MAX_GROUPS = 50_000
COMBINED_MAX_GROUPS = 100_000  # cells of the one scan that ranks every dimension; past it, one scan per dimension
SIGNALS_KEY = "watchkeeper.signals"
TOOL_ERROR_CLASSES = ("timeout", "rate_limit", "auth", "not_found", "invalid_arguments", "server_error", "other")

# ---------------------------------------------------------------------------------------------------------------
# Metrics and dimensions


def _signal(dialect: str, name: str) -> ColumnElement[Any]:
    """The stored label of one signal (names come from this module's fixed lists, never from a request)."""
    if dialect == "postgresql":
        return literal_column(f"(spans.attributes::jsonb -> '{SIGNALS_KEY}' -> '{name}' ->> 'label')")
    return func.json_extract(spans.c.attributes, f'$."{SIGNALS_KEY}".{name}.label')


def _fed_back(kind: str) -> ColumnElement[bool]:
    fb = select(feedback.c.id).where(
        feedback.c.project_id == spans.c.project_id, feedback.c.trace_id == spans.c.trace_id, feedback.c.kind == kind
    )
    return exists(fb)


Cond = Callable[[str], ColumnElement[bool]]  # dialect name → SQL condition on a spans row


@dataclass(frozen=True, slots=True)
class Metric:
    """A rate: among the records that meet ``denominator``, the share that also meet ``numerator``."""

    name: str
    title: str
    numerator: str  # in words, for the catalogue
    denominator: str
    unit: str  # "span" or "turn" (root span: one per trace)
    num: Cond = field(repr=False, compare=False)
    den: Cond = field(repr=False, compare=False)
    signal: str | None = None  # the signal whose label the examples show
    share: bool = False  # the rate is the slice's share of all records (``requests``)

    def describe(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "title": self.title,
            "numerator": self.numerator,
            "denominator": self.denominator,
            "unit": self.unit,
            "signal": self.signal,
        }


def _is_root(_d: str) -> ColumnElement[bool]:
    return spans.c.parent_span_id.is_(None)


def _error(_d: str) -> ColumnElement[bool]:
    return spans.c.status == "error"


def _kinds(*kinds: str) -> Cond:
    return lambda _d: spans.c.kind.in_(kinds)


def _label_in(signal: str, labels: Sequence[str]) -> Cond:
    return lambda d: _signal(d, signal).in_(labels)


def _labelled(signal: str) -> Cond:
    return lambda d: and_(_signal(d, signal).isnot(None), _signal(d, signal) != "unknown")


def _all(_d: str) -> ColumnElement[bool]:
    return true()


def _catalogue() -> dict[str, Metric]:
    refusal_labels = ("full_refusal", "partial_refusal", "full_compliance")
    ms = [
        Metric(
            "requests",
            "Share of requests",
            "turns (root spans) in the slice",
            "all turns",
            "turn",
            _all,
            _is_root,
            share=True,
        ),
        Metric("errors", "Error rate", "spans with status error", "all spans", "span", _error, _all),
        Metric(
            "errors.llm",
            "LLM call error rate",
            "LLM spans with status error",
            "LLM spans",
            "span",
            _error,
            _kinds("llm"),
        ),
        Metric(
            "errors.tool",
            "Tool call error rate",
            "tool and MCP spans with status error",
            "tool and MCP spans",
            "span",
            _error,
            _kinds("tool", "mcp"),
        ),
        Metric(
            "refusals",
            "Refusal rate",
            "LLM spans labelled full_refusal or partial_refusal",
            "LLM spans with a refusal label",
            "span",
            _label_in("refusal", refusal_labels[:2]),
            _label_in("refusal", refusal_labels),
            signal="refusal",
        ),
        Metric(
            "jailbreaks",
            "Jailbreak attempt rate",
            "spans labelled jailbreak",
            "spans with a jailbreak label",
            "span",
            _label_in("jailbreak", ("jailbreak",)),
            _label_in("jailbreak", ("jailbreak", "none")),
            signal="jailbreak",
        ),
        Metric(
            "injections",
            "Injection rate (direct + indirect)",
            "spans labelled prompt_injection or indirect_injection",
            "spans with a prompt_injection or indirect_injection label",
            "span",
            lambda d: or_(
                _signal(d, "prompt_injection") == "prompt_injection",
                _signal(d, "indirect_injection") == "indirect_injection",
            ),
            lambda d: or_(
                _signal(d, "prompt_injection").in_(("prompt_injection", "none")),
                _signal(d, "indirect_injection").in_(("indirect_injection", "none")),
            ),
            signal="prompt_injection",
        ),
        Metric(
            "tool_errors",
            "Tool error rate (any class)",
            "tool and MCP spans whose tool_error label is not ok",
            "tool and MCP spans with a tool_error label",
            "span",
            lambda d: _signal(d, "tool_error") != "ok",
            _labelled("tool_error"),
            signal="tool_error",
        ),
    ]
    for cls in TOOL_ERROR_CLASSES:
        ms.append(
            Metric(
                f"tool_errors.{cls}",
                f"Tool error rate: {cls}",
                f"tool and MCP spans labelled {cls}",
                "tool and MCP spans with a tool_error label",
                "span",
                _label_in("tool_error", (cls,)),
                _labelled("tool_error"),
                signal="tool_error",
            )
        )
    ms += [
        Metric(
            "corrections",
            "Correction rate",
            "turns the user corrected (correction feedback)",
            "all turns",
            "turn",
            lambda _d: _fed_back("correction"),
            _is_root,
        ),
        Metric(
            "escalations",
            "Escalation rate",
            "turns handed over to a human (escalation feedback)",
            "all turns",
            "turn",
            lambda _d: _fed_back("escalation"),
            _is_root,
        ),
    ]
    return {m.name: m for m in ms}


METRICS: dict[str, Metric] = _catalogue()


@dataclass(frozen=True, slots=True)
class Dimension:
    name: str
    title: str
    expr: Callable[[str, int], ColumnElement[Any]] = field(repr=False, compare=False)  # (dialect, new_ns) → SQL
    # an outcome rather than a cohort (the tool error class): sliced when asked for, but left out of "every
    # dimension" rankings, where it would only restate the error metrics it is made of
    outcome: bool = False


def _col(c: ColumnElement[Any]) -> Callable[[str, int], ColumnElement[Any]]:
    return lambda _d, _n: c


def _account_age(_d: str, new_ns: int) -> ColumnElement[Any]:
    created = spans.c.account_created_ns
    return case((created.is_(None), None), (spans.c.start_ns - created < new_ns, "new"), else_="old")


def _client(_d: str, _n: int) -> ColumnElement[Any]:
    name, version = spans.c.client_name, spans.c.client_version
    return case((name.is_(None), None), else_=name + "/" + func.coalesce(version, "?"))


DIMENSIONS: dict[str, Dimension] = {
    d.name: d
    for d in (
        Dimension("account_age", "Account age (new / old)", _account_age),
        Dimension("region", "Region", _col(spans.c.region)),
        Dimension("plan_tier", "Plan tier", _col(spans.c.plan_tier)),
        Dimension("client", "Client (name/version)", _client),
        Dimension("client_name", "Client name", _col(spans.c.client_name)),
        Dimension("client_version", "Client version", _col(spans.c.client_version)),
        Dimension("locale", "Locale", _col(spans.c.locale)),
        Dimension("language", "Language (detected)", lambda d, _n: _signal(d, "language")),
        Dimension("model", "Model", _col(func.coalesce(spans.c.response_model, spans.c.request_model))),
        Dimension("model_version", "Model version", _col(spans.c.model_version)),
        Dimension("prompt_version", "Prompt version", _col(spans.c.prompt_version)),
        Dimension("skill_version", "Skill version", _col(spans.c.skill_version)),
        Dimension("service_name", "Service", _col(spans.c.service_name)),
        Dimension("tool_name", "Tool name", _col(spans.c.tool_name)),
        Dimension("mcp_server", "MCP server", _col(spans.c.mcp_server)),
        Dimension("provider", "Provider", _col(spans.c.provider)),
        Dimension("kind", "Span kind", _col(spans.c.kind)),
        Dimension("tool_error_class", "Tool error class", lambda d, _n: _signal(d, "tool_error"), outcome=True),
    )
}

DEFAULT_PAIRS: tuple[tuple[str, str], ...] = (
    ("language", "model_version"),
    ("client_name", "client_version"),
    ("mcp_server", "client"),
    ("region", "plan_tier"),
    ("model", "prompt_version"),
)


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


def metric(name: str, field: str = "metric") -> Metric:
    try:
        return METRICS[name]
    except KeyError:
        raise InputError(f"unknown metric {name!r}; known: {', '.join(METRICS)}", field=field) from None


class SliceExplorer:
    """Answers slice questions from the stored spans and feedback of one project.

    ``cap``: values kept per dimension, largest by volume first, the rest in ``other``; ``pair_cap`` the same for
    the value pairs of a pair of dimensions;
    ``new_account_days``: accounts younger than this at the time of the span are ``new`` (``account_age``);
    ``pairs``: the dimension pairs that may be sliced together.
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
        rows = self._grouped(m, s.dims, window)
        member = self._membership(s, rows)
        k_s = n_s = k_r = n_r = 0
        for _b, vals, k, n in rows:
            if member(vals):
                k_s, n_s = k_s + k, n_s + n
            else:
                k_r, n_r = k_r + k, n_r + n
        return self._comparison(m, s, window, k_s, n_s, k_r, n_r)

    def rate_series(self, metric_name: str, s: Slice, window: Window, bucket: str = "1h") -> Series:
        """The slice's and the rest's rate per time bucket over the window, with the window's totals."""
        m, s = metric(metric_name), self.check_slice(s)
        width = _bucket_ns(bucket, window)
        rows = self._grouped(m, s.dims, window, width)
        member = self._membership(s, rows)
        first, last = window.start_ns // width, (window.end_ns - 1) // width
        acc = {b: [0, 0, 0, 0] for b in range(first, last + 1)}
        for b, vals, k, n in rows:
            a = acc[int(b or 0)]
            if member(vals):
                a[0], a[1] = a[0] + k, a[1] + n
            else:
                a[2], a[3] = a[2] + k, a[3] + n
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
        label = _signal(self._dialect, m.signal).label("label") if m.signal else literal_column("NULL").label("label")
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

    def _grouped(
        self,
        m: Metric,
        dims: Sequence[str],
        window: Window,
        width: int | None = None,
        current_ns: int | None = None,
        max_groups: int = MAX_GROUPS,
    ) -> list[tuple[int, tuple[str, ...], int, int]]:
        """(bucket, values, hits, total) per bucket and slice. With ``current_ns`` the bucket is the side of the
        window: 1 from ``current_ns`` on, else 0."""
        cols: list[Any] = []
        if width is not None:
            cols.append(self._floor(width).label("b"))
        elif current_ns is not None:
            cols.append(case((spans.c.start_ns >= current_ns, 1), else_=0).label("b"))
        else:
            cols.append(literal_column("0").label("b"))
        cols += [self._dim(d).label(f"d{i}") for i, d in enumerate(dims)]
        num = true() if m.share else m.num(self._dialect)
        cols += [func.sum(case((num, 1), else_=0)).label("k"), func.count().label("n")]
        groups: list[ColumnElement[Any]] = [literal_column(f"d{i}") for i in range(len(dims))]
        if width is not None or current_ns is not None:
            groups.insert(0, literal_column("b"))
        q = select(*cols).where(*self._where(m, window))
        if groups:
            q = q.group_by(*groups)
        out: list[tuple[int, tuple[str, ...], int, int]] = []
        with self.engine.connect() as conn:
            for r in conn.execute(q):
                if len(out) >= max_groups:
                    raise _TooManyCells(
                        f"more than {max_groups} (bucket, slice) cells; use a larger bucket or a shorter window",
                        field="bucket",
                    )
                vals = tuple(str(getattr(r, f"d{i}")) for i in range(len(dims)))
                out.append((int(r.b), vals, int(r.k or 0), int(r.n)))
        return out

    def _floor(self, width: int) -> ColumnElement[Any]:
        if self._dialect == "postgresql":
            return func.div(spans.c.start_ns, width)
        return spans.c.start_ns.op("/")(literal_column(str(width)))  # event times are positive: truncation = floor

    def _kept(self, rows: Iterable[tuple[Any, tuple[str, ...], int, int]]) -> set[tuple[str, ...]]:
        """The ``cap`` slices with the most records (ties by name, so the choice is stable)."""
        volume: dict[tuple[str, ...], int] = {}
        for _b, vals, _k, n in rows:
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

    def _side_rows(
        self, m: Metric, dims: tuple[str, ...], current: Window, baseline: Window, max_groups: int = MAX_GROUPS
    ) -> list[tuple[int, tuple[str, ...], int, int]]:
        """(side, values, hits, total): side 0 is the baseline, 1 the current window."""
        if baseline.end_ns == current.start_ns:  # adjacent windows (the usual case): one scan, split by side
            whole = Window(baseline.start_ns, current.end_ns)
            return self._grouped(m, dims, whole, current_ns=current.start_ns, max_groups=max_groups)
        rows = [(0, v, k, n) for _b, v, k, n in self._grouped(m, dims, baseline, max_groups=max_groups)]
        return rows + [(1, v, k, n) for _b, v, k, n in self._grouped(m, dims, current, max_groups=max_groups)]

    def _rows_per_set(
        self, m: Metric, sets: list[tuple[str, ...]], current: Window, baseline: Window
    ) -> Iterable[tuple[tuple[str, ...], list[tuple[int, tuple[str, ...], int, int]]]]:
        """The side rows of each dimension set. Several sets come from one scan grouped by every dimension they
        use (a pass over the rows costs more than the grouping), unless that makes too many cells."""
        if len(sets) == 1:
            yield sets[0], self._side_rows(m, sets[0], current, baseline)
            return
        every = tuple(dict.fromkeys(d for ds in sets for d in ds))
        try:
            full = self._side_rows(m, every, current, baseline, max_groups=COMBINED_MAX_GROUPS)
        except _TooManyCells:
            for ds in sets:
                yield ds, self._side_rows(m, ds, current, baseline)
            return
        for ds in sets:
            idx = [every.index(d) for d in ds]
            acc: dict[tuple[int, tuple[str, ...]], list[int]] = {}
            for side, vals, k, n in full:
                a = acc.setdefault((side, tuple(vals[i] for i in idx)), [0, 0])
                a[0] += k
                a[1] += n
            yield ds, [(side, vals, k, n) for (side, vals), (k, n) in acc.items()]

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


class _TooManyCells(InputError):
    pass


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
