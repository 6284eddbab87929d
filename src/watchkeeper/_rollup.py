"""The rollup model: what one span adds to the rollups — its slice values, its counters and its latency bin.

Shared by the three rooms that touch rollups, like ``content.py`` is for stored content: the ``rollup`` processor
(``pipeline/rollup.py``) turns a batch's records into increments, the writer (``store/_rollups.py``) adds them to
the ``rollups`` table in the transaction that stores the records, and the read side (``analytics/rollups.py``)
turns rows back into rates and latency quantiles. Only metadata columns and signal labels are read here, never
content, so erasing a subject's content never has to rewrite a rollup.

A rollup row is one (project, bucket width, bucket start, slice) with one column per counter and per latency bin.
A slice is the traffic as a whole (no dimension), one value of one dimension, or one value pair of a configured
pair of dimensions; every span has exactly one value per dimension (``(none)`` when absent), so the rows of one
dimension always add up to the whole traffic.
"""

from __future__ import annotations

import math
from bisect import bisect_right
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from itertools import pairwise
from typing import Any

from ._attributes import SIGNALS_KEY, load_attributes
from .records import Span

NONE = "(none)"  # the value of a dimension the record does not carry
OTHER = "(other)"  # every value past a dimension's cap, together
SEP = "\x1f"  # joins the values of a pair in the ``vals`` column (removed from values themselves)
MAX_VALUE_CHARS = 200  # longer values are cut: a slice value is a label, and it is part of the primary key
NS = 1_000_000_000
DAY_NS = 86_400 * NS
MINUTE_NS = 60 * NS
HOUR_NS = 3600 * NS
WIDTHS_S = (60, 3600)  # the two bucket widths kept: 1 minute and 1 hour

DIMENSIONS: tuple[str, ...] = (
    "account_age",
    "region",
    "plan_tier",
    "client",
    "client_name",
    "client_version",
    "locale",
    "language",
    "model",
    "model_version",
    "prompt_version",
    "skill_version",
    "service_name",
    "tool_name",
    "mcp_server",
    "provider",
    "kind",
    "tool_error_class",
)
DIM_INDEX = {d: i for i, d in enumerate(DIMENSIONS)}

DEFAULT_PAIRS: tuple[tuple[str, str], ...] = (
    ("language", "model_version"),
    ("client_name", "client_version"),
    ("mcp_server", "client"),
    ("region", "plan_tier"),
    ("model", "prompt_version"),
)

# Account age is kept in bins, so "new account" can mean any of these numbers of days at query time.
AGE_EDGES_DAYS: tuple[int, ...] = (1, 3, 7, 14, 30, 60, 90, 180, 365)
AGE_BINS: tuple[str, ...] = (
    "<1d",
    *(f"{a}d-{b}d" for a, b in pairwise(AGE_EDGES_DAYS)),
    f"{AGE_EDGES_DAYS[-1]}d+",
)
_AGE_EDGES_NS = tuple(d * DAY_NS for d in AGE_EDGES_DAYS)

TOOL_ERROR_CLASSES = ("timeout", "rate_limit", "auth", "not_found", "invalid_arguments", "server_error", "other")
_REFUSAL_LABELS = ("full_refusal", "partial_refusal", "full_compliance")

# The counters of a rollup row: the numerators and denominators of every metric of analytics.catalogue.
COUNTERS: tuple[str, ...] = (
    "spans",
    "errors",  # status error
    "turns",  # root spans: one per trace
    "llm_spans",
    "llm_errors",
    "tool_spans",  # tool and MCP spans
    "tool_span_errors",
    "refusal_labelled",  # LLM spans with a refusal label (refusal, partial refusal or compliance)
    "refusals",
    "jailbreak_labelled",
    "jailbreaks",
    "injection_labelled",  # direct or indirect injection label
    "injections",
    "tool_error_labelled",  # a tool_error label other than unknown
    "tool_errors",  # ... and not ok
    *(f"tool_error_{c}" for c in TOOL_ERROR_CLASSES),
    "corrections",  # turns the user corrected (feedback; added when either the turn or the feedback arrives last)
    "escalations",
    "input_tokens",
    "output_tokens",
)
C = {name: i for i, name in enumerate(COUNTERS)}

# Latency: a fixed log-spaced histogram, so two rows merge by adding bins and quantiles are read from the sum.
# Column hK (K = 1..80) holds durations in [2^((K-1)/4), 2^(K/4)) ms; h00 those under 1 ms, h81 those of 2^20 ms
# (17.5 min) and more. The read side numbers them b = K - 1 ("bin b covers [2^(b/4), 2^((b+1)/4)) ms").
BINS_PER_OCTAVE = 4
LATENCY_BINS = 20 * BINS_PER_OCTAVE + 2
HIST = len(COUNTERS)  # index of the first latency bin in a row's values
# Time per output token of LLM spans (the span's duration over its output tokens; OpenTelemetry's
# gen_ai.server.time_per_output_token, with the time to the first token included): the same scheme over 10 octaves.
# Column tK (K = 1..40) holds [2^((K-1)/4), 2^(K/4)) ms per token, t00 under 1 ms, t41 1,024 ms and more. A token
# throughput regression is this histogram's upper quantiles rising.
TPOT_BINS = 10 * BINS_PER_OCTAVE + 2
TPOT = HIST + LATENCY_BINS  # index of the first time-per-output-token bin
VALUE_COLUMNS: tuple[str, ...] = (
    *COUNTERS,
    *(f"h{i:02d}" for i in range(LATENCY_BINS)),
    *(f"t{i:02d}" for i in range(TPOT_BINS)),
)
N_VALUES = len(VALUE_COLUMNS)
# The histogram measures a rollup row keeps: name → the indexes of their bins among the values
MEASURE_BINS: dict[str, range] = {"latency": range(HIST, TPOT), "time_per_output_token": range(TPOT, N_VALUES)}


def _log_bin(ms: float, bins: int) -> int:
    if ms < 1.0:
        return 0
    return min(int(math.log2(ms) * BINS_PER_OCTAVE) + 1, bins - 1)


def latency_bin(duration_ns: int) -> int:
    """The histogram bin of a duration."""
    return _log_bin(duration_ns / 1e6, LATENCY_BINS)


def tpot_bin(duration_ns: int, output_tokens: int) -> int:
    """The time-per-output-token bin of an LLM span that produced ``output_tokens`` (≥ 1) in ``duration_ns``."""
    return _log_bin(duration_ns / 1e6 / output_tokens, TPOT_BINS)


def bin_ms(k: int) -> float:
    """The value a quantile falling in column ``k`` is reported as: the bin's geometric centre (within ~9%)."""
    return float(2 ** ((k - 0.5) / BINS_PER_OCTAVE))


def quantile_ms(counts: Sequence[int], q: float) -> float | None:
    """The q-quantile (0..1) in milliseconds of a latency histogram; None when it is empty."""
    total = sum(counts)
    if total == 0:
        return None
    rank = min(max(q, 0.0), 1.0) * total
    seen = 0
    for b, n in enumerate(counts):
        seen += n
        if n and seen >= rank:
            return bin_ms(b)
    return bin_ms(len(counts) - 1)


def age_bin(age_ns: int) -> str:
    """The stored account-age bin of an account ``age_ns`` old at the time of the span."""
    return AGE_BINS[bisect_right(_AGE_EDGES_NS, age_ns)]


def age_cohort(value: str, new_days: float) -> str:
    """``new`` or ``old`` for a stored age bin, accounts younger than ``new_days`` being new (a bin edge)."""
    if value not in AGE_BINS:
        return value  # (none), (other)
    i = AGE_BINS.index(value)
    return "new" if i < len(AGE_EDGES_DAYS) and AGE_EDGES_DAYS[i] <= new_days else "old"


def check_new_days(new_days: float) -> None:
    if new_days not in AGE_EDGES_DAYS:
        edges = ", ".join(str(d) for d in AGE_EDGES_DAYS)
        raise ValueError(f"new_account_days must be one of {edges} (the account ages rollups keep)")


def clean(value: Any) -> str:
    """A slice value as stored: (none) for absent, text without the pair separator, cut to MAX_VALUE_CHARS."""
    if value is None:
        return NONE
    v = value if isinstance(value, str) else str(value)
    if SEP in v:
        v = v.replace(SEP, " ")
    return v[:MAX_VALUE_CHARS] if len(v) > MAX_VALUE_CHARS else v


class _Cleaned(dict[str | None, str]):
    """clean() of the column values seen lately: a dict lookup instead of a call, per value of every span."""

    def __missing__(self, value: str | None) -> str:
        if len(self) >= 50_000:
            self.clear()
        out = self[value] = clean(value)
        return out


_CLEANED = _Cleaned()


@dataclass(frozen=True, slots=True)
class SliceSpec:
    """Which values of a span name one of its slices: ``key`` is the ``dims`` column ("" for all traffic)."""

    key: str
    idx: tuple[int, ...]


def dims_key(dims: Iterable[str]) -> str:
    """The ``dims`` column of a set of dimensions: their names in alphabetical order, joined by ``|``."""
    return "|".join(sorted(dims))


@dataclass(frozen=True, slots=True)
class RollupConfig:
    """What the rollups keep: each dimension alone, the configured ``pairs``, and at most ``max_values`` values per
    dimension (a value not seen for ``value_ttl_days`` gives its place up); more go to ``(other)``."""

    pairs: tuple[tuple[str, str], ...] = DEFAULT_PAIRS
    max_values: int = 100
    value_ttl_days: int = 30

    def __post_init__(self) -> None:
        for p in self.pairs:
            if len(p) != 2 or p[0] == p[1] or any(d not in DIM_INDEX for d in p):
                raise ValueError(f"pair {p!r} must name two different known dimensions")
        if self.max_values < 1:
            raise ValueError("max_values must be at least 1")
        if self.value_ttl_days < 1:
            raise ValueError("value_ttl_days must be at least 1")

    @property
    def slices(self) -> tuple[SliceSpec, ...]:
        out = [SliceSpec("", ())] + [SliceSpec(d, (i,)) for i, d in enumerate(DIMENSIONS)]
        seen = set()
        for p in self.pairs:
            key = dims_key(p)
            if key not in seen:
                seen.add(key)
                out.append(SliceSpec(key, tuple(DIM_INDEX[d] for d in sorted(p))))
        return tuple(out)


def parse_pairs(text: str) -> tuple[tuple[str, str], ...]:
    """Pairs from ``a:b,c:d`` (the ``rollup_pairs`` setting); ValueError naming what is wrong."""
    out: list[tuple[str, str]] = []
    for item in text.split(","):
        item = item.strip()
        if not item:
            continue
        parts = [p.strip() for p in item.split(":")]
        if len(parts) != 2 or any(p not in DIM_INDEX for p in parts) or parts[0] == parts[1]:
            raise ValueError(
                f"rollup_pairs: {item!r} is not two different dimensions as a:b; known: {', '.join(DIMENSIONS)}"
            )
        out.append((parts[0], parts[1]))
    return tuple(out)


# ---------------------------------------------------------------------------------------------------------------
# What one span adds


class Facts:
    """The rollup view of one span: where it counts (project, minute, values) and what it adds."""

    __slots__ = ("incs", "minute", "project_id", "root", "start_ns", "tokens", "trace_id", "vals")

    def __init__(
        self,
        project_id: int,
        start_ns: int,
        trace_id: bytes,
        root: bool,
        vals: tuple[str, ...],
        incs: tuple[int, ...],
        tokens: tuple[int, int],
    ) -> None:
        self.project_id = project_id
        self.start_ns = start_ns
        self.minute = start_ns // MINUTE_NS
        self.trace_id = trace_id
        self.root = root
        self.vals = vals
        self.incs = incs  # indexes of the values this span adds one to (counters and its latency bin)
        self.tokens = tokens


def _label(signals: Any, name: str) -> Any:
    if not isinstance(signals, dict):
        return None
    entry = signals.get(name)
    return entry.get("label") if isinstance(entry, dict) else None


def _facts(
    project_id: int,
    trace_id: bytes,
    parent: Any,
    kind: str,
    status: str,
    start_ns: int,
    end_ns: int,
    cols: tuple[Any, ...],
    created_ns: int | None,
    signals: Any,
    tokens: tuple[int, int],
) -> Facts:
    """``cols``: region, plan_tier, client_name, client_version, locale, model, model_version, prompt_version,
    skill_version, service_name, tool_name, mcp_server, provider (as the span columns hold them)."""
    (region, tier, cname, cver, locale, model, mver, pver, sver, service, tool, mcp, provider) = cols
    lang = _label(signals, "language")
    te = _label(signals, "tool_error")
    cl = _CLEANED  # column values are text or None; labels may be any JSON, so they go through clean()
    vals = (
        NONE if created_ns is None else age_bin(start_ns - created_ns),
        cl[region],
        cl[tier],
        NONE if cname is None else cl[f"{cname}/{cver if cver is not None else '?'}"],
        cl[cname],
        cl[cver],
        cl[locale],
        clean(lang),
        cl[model],
        cl[mver],
        cl[pver],
        cl[sver],
        cl[service],
        cl[tool],
        cl[mcp],
        cl[provider],
        cl[kind],
        clean(te),
    )
    incs = [C["spans"], HIST + latency_bin(max(0, end_ns - start_ns))]
    error = status == "error"
    if error:
        incs.append(C["errors"])
    if parent is None:
        incs.append(C["turns"])
    if kind == "llm":
        incs.append(C["llm_spans"])
        if error:
            incs.append(C["llm_errors"])
        elif tokens[1] > 0 and end_ns > start_ns:
            incs.append(TPOT + tpot_bin(end_ns - start_ns, tokens[1]))
    elif kind in ("tool", "mcp"):
        incs.append(C["tool_spans"])
        if error:
            incs.append(C["tool_span_errors"])
    if signals:
        refusal = _label(signals, "refusal")
        if refusal in _REFUSAL_LABELS:
            incs.append(C["refusal_labelled"])
            if refusal != "full_compliance":
                incs.append(C["refusals"])
        jb = _label(signals, "jailbreak")
        if jb in ("jailbreak", "none"):
            incs.append(C["jailbreak_labelled"])
            if jb == "jailbreak":
                incs.append(C["jailbreaks"])
        pi, ii = _label(signals, "prompt_injection"), _label(signals, "indirect_injection")
        if pi in ("prompt_injection", "none") or ii in ("indirect_injection", "none"):
            incs.append(C["injection_labelled"])
            if pi == "prompt_injection" or ii == "indirect_injection":
                incs.append(C["injections"])
        if te is not None and te != "unknown":
            incs.append(C["tool_error_labelled"])
            if te != "ok":
                incs.append(C["tool_errors"])
                if te in TOOL_ERROR_CLASSES:
                    incs.append(C[f"tool_error_{te}"])
    return Facts(project_id, start_ns, trace_id, parent is None, vals, tuple(incs), tokens)


def facts_of_span(s: Span, project_id: int) -> Facts:
    """What a span record adds (as the ``spans`` row ``store._codec.span_row`` makes of it would)."""
    llm, tool, acc, ver = s.llm, s.tool, s.account, s.versions
    model = (llm.response_model if llm.response_model is not None else llm.request_model) if llm else None
    cols = (
        acc.region,
        acc.plan_tier,
        acc.client_name,
        acc.client_version,
        acc.locale,
        model,
        ver.model,
        ver.prompt,
        ver.skill,
        s.service_name,
        tool.name if tool else None,
        tool.mcp_server if tool else None,
        llm.provider if llm else None,
    )
    tokens = (llm.usage.input_tokens or 0, llm.usage.output_tokens or 0) if llm else (0, 0)
    return _facts(
        project_id,
        bytes.fromhex(s.trace_id),
        s.parent_span_id,
        s.kind.value,
        s.status.value,
        s.start_time_ns,
        s.end_time_ns,
        cols,
        acc.created_at_ns,
        s.attributes.get(SIGNALS_KEY),
        tokens,
    )


# the ``spans`` columns :func:`facts_of_row` reads
FACT_COLUMNS: tuple[str, ...] = (
    "project_id",
    "trace_id",
    "parent_span_id",
    "kind",
    "status",
    "start_ns",
    "end_ns",
    "region",
    "plan_tier",
    "client_name",
    "client_version",
    "locale",
    "response_model",
    "request_model",
    "model_version",
    "prompt_version",
    "skill_version",
    "service_name",
    "tool_name",
    "mcp_server",
    "provider",
    "account_created_ns",
    "attributes",
    "input_tokens",
    "output_tokens",
)


def facts_of_row(m: Mapping[Any, Any]) -> Facts:
    """What a stored ``spans`` row adds (the columns of FACT_COLUMNS)."""
    signals = load_attributes(m["attributes"]).get(SIGNALS_KEY)
    model = m["response_model"] if m["response_model"] is not None else m["request_model"]
    cols = (
        m["region"],
        m["plan_tier"],
        m["client_name"],
        m["client_version"],
        m["locale"],
        model,
        m["model_version"],
        m["prompt_version"],
        m["skill_version"],
        m["service_name"],
        m["tool_name"],
        m["mcp_server"],
        m["provider"],
    )
    return _facts(
        int(m["project_id"]),
        bytes(m["trace_id"]),
        m["parent_span_id"],
        m["kind"],
        m["status"],
        int(m["start_ns"]),
        int(m["end_ns"]),
        cols,
        m["account_created_ns"],
        signals,
        (int(m["input_tokens"] or 0), int(m["output_tokens"] or 0)),
    )


# ---------------------------------------------------------------------------------------------------------------
# Increments

GroupKey = tuple[int, int, tuple[str, ...]]  # (project, minute, values of every dimension)
Groups = dict[GroupKey, dict[int, int]]  # → sparse values: index in VALUE_COLUMNS → amount


def add_facts(groups: Groups, facts: Iterable[Facts]) -> Groups:
    """Adds spans to per-minute groups of identical slice values (the first, cheap level of aggregation)."""
    tin, tout = C["input_tokens"], C["output_tokens"]
    for f in facts:
        key = (f.project_id, f.minute, f.vals)
        g = groups.get(key)
        if g is None:
            g = groups[key] = {}
        for i in f.incs:
            g[i] = g.get(i, 0) + 1
        a, b = f.tokens
        if a:
            g[tin] = g.get(tin, 0) + a
        if b:
            g[tout] = g.get(tout, 0) + b
    return groups


def add_counter(groups: Groups, f: Facts, counter: str, n: int = 1) -> None:
    """Adds ``n`` to one counter in the slices of a span (feedback counted on the turn it is about)."""
    key = (f.project_id, f.minute, f.vals)
    g = groups.get(key)
    if g is None:
        g = groups[key] = {}
    i = C[counter]
    g[i] = g.get(i, 0) + n


def merge_groups(into: Groups, other: Groups) -> Groups:
    for key, vals in other.items():
        g = into.get(key)
        if g is None:
            into[key] = dict(vals)
            continue
        for i, v in vals.items():
            g[i] = g.get(i, 0) + v
    return into


@dataclass(slots=True)
class RollupDelta:
    """What a batch of spans adds to the rollups: per-span facts, in span order (so that only the rows actually
    inserted are counted when a batch is re-sent), and the same facts already summed per minute and slice values
    (what the writer adds in the usual case, where every row is new)."""

    config: RollupConfig
    facts: list[Facts]
    groups: Groups = field(default_factory=dict)

    @classmethod
    def of(cls, facts: list[Facts], config: RollupConfig) -> RollupDelta:
        return cls(config, facts, add_facts({}, facts))


CellKey = tuple[int, int, str, int, str]  # (project, width_s, dims, bucket start ns, vals): the primary key


def expand(
    groups: Groups, slices: Sequence[SliceSpec], widths: Sequence[int] = WIDTHS_S
) -> dict[CellKey, dict[int, int]]:
    """The rollup rows the groups add to (sparse: value index → amount): each group counted in every slice, in a
    1-minute and a 1-hour bucket."""
    minute: dict[tuple[int, int, str, str], dict[int, int]] = {}
    getters = [(s.key, s.idx) for s in slices]
    for (pid, m, vals), g in groups.items():
        items = list(g.items())
        for key, idx in getters:
            if not idx:
                v = ""
            elif len(idx) == 1:
                v = vals[idx[0]]
            else:
                v = SEP.join(vals[i] for i in idx)
            ck = (pid, m, key, v)
            cell = minute.get(ck)
            if cell is None:
                minute[ck] = dict(items)
                continue
            for i, n in items:
                cell[i] = cell.get(i, 0) + n
    out: dict[CellKey, dict[int, int]] = {}
    for width in widths:
        if width == 60:  # the minute cells are the 1-minute rows
            out.update(((pid, 60, key, m * MINUTE_NS, v), cell) for (pid, m, key, v), cell in minute.items())
            continue
        per = width // 60
        for (pid, m, key, v), cell in minute.items():
            ck2 = (pid, width, key, (m // per) * per * MINUTE_NS, v)
            row = out.get(ck2)
            if row is None:
                out[ck2] = dict(cell)
                continue
            for i, n in cell.items():
                row[i] = row.get(i, 0) + n
    return out


__all__ = [
    "AGE_BINS",
    "AGE_EDGES_DAYS",
    "COUNTERS",
    "DEFAULT_PAIRS",
    "DIMENSIONS",
    "FACT_COLUMNS",
    "LATENCY_BINS",
    "MEASURE_BINS",
    "NONE",
    "OTHER",
    "TPOT",
    "TPOT_BINS",
    "VALUE_COLUMNS",
    "Facts",
    "RollupConfig",
    "RollupDelta",
    "SliceSpec",
    "add_counter",
    "add_facts",
    "age_bin",
    "age_cohort",
    "bin_ms",
    "clean",
    "dims_key",
    "expand",
    "facts_of_row",
    "facts_of_span",
    "latency_bin",
    "merge_groups",
    "parse_pairs",
    "quantile_ms",
    "tpot_bin",
]
