"""What can be sliced: the metrics (a numerator over a denominator) and the dimensions (cohort attributes).

Each metric names the two rollup counters it is read from (``watchkeeper._rollup.COUNTERS``), and keeps its
definition as SQL conditions on a ``spans`` row too: the explorer's examples are the stored spans that meet them,
and the tests recount every rollup from the spans with them. Dimensions likewise have a SQL expression over a spans
row; the rollup processor computes the same values from the records (``_rollup.facts_of_span``).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import ColumnElement, and_, case, exists, func, literal_column, or_, select, true

from .._attributes import SIGNALS_KEY, label_paths
from .._rollup import COUNTERS, DEFAULT_PAIRS, NONE, OTHER, TOOL_ERROR_CLASSES
from .._rollup import DIMENSIONS as DIMENSION_NAMES
from ..errors import InputError
from ..store.tables import feedback, spans


def signal_label(dialect: str, name: str) -> ColumnElement[Any]:
    """The stored label of one signal (names come from this module's fixed lists, never from a request)."""
    if dialect == "postgresql":
        at = f"spans.attributes::jsonb -> '{SIGNALS_KEY}' -> '{name}'"
        return literal_column(f"coalesce(({at} ->> 0), ({at} ->> 'label'))")
    packed, before = label_paths(name)
    return func.coalesce(func.json_extract(spans.c.attributes, packed), func.json_extract(spans.c.attributes, before))


def _fed_back(kind: str) -> ColumnElement[bool]:
    fb = select(feedback.c.id).where(
        feedback.c.project_id == spans.c.project_id, feedback.c.trace_id == spans.c.trace_id, feedback.c.kind == kind
    )
    return exists(fb)


Cond = Callable[[str], ColumnElement[bool]]  # dialect name → SQL condition on a spans row


@dataclass(frozen=True, slots=True)
class Metric:
    """A rate: among the records that meet ``denominator``, the share that also meet ``numerator``.

    ``counters``: the rollup counters of the numerator and the denominator; ``num`` and ``den``: the same
    conditions on a stored spans row.
    """

    name: str
    title: str
    numerator: str  # in words, for the catalogue
    denominator: str
    unit: str  # "span" or "turn" (root span: one per trace)
    counters: tuple[str, str]
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
    return lambda d: signal_label(d, signal).in_(labels)


def _labelled(signal: str) -> Cond:
    return lambda d: and_(signal_label(d, signal).isnot(None), signal_label(d, signal) != "unknown")


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
            ("turns", "turns"),
            _all,
            _is_root,
            share=True,
        ),
        Metric(
            "errors", "Error rate", "spans with status error", "all spans", "span", ("errors", "spans"), _error, _all
        ),
        Metric(
            "errors.llm",
            "LLM call error rate",
            "LLM spans with status error",
            "LLM spans",
            "span",
            ("llm_errors", "llm_spans"),
            _error,
            _kinds("llm"),
        ),
        Metric(
            "errors.tool",
            "Tool call error rate",
            "tool and MCP spans with status error",
            "tool and MCP spans",
            "span",
            ("tool_span_errors", "tool_spans"),
            _error,
            _kinds("tool", "mcp"),
        ),
        Metric(
            "refusals",
            "Refusal rate",
            "LLM spans labelled full_refusal or partial_refusal",
            "LLM spans with a refusal label",
            "span",
            ("refusals", "refusal_labelled"),
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
            ("jailbreaks", "jailbreak_labelled"),
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
            ("injections", "injection_labelled"),
            lambda d: or_(
                signal_label(d, "prompt_injection") == "prompt_injection",
                signal_label(d, "indirect_injection") == "indirect_injection",
            ),
            lambda d: or_(
                signal_label(d, "prompt_injection").in_(("prompt_injection", "none")),
                signal_label(d, "indirect_injection").in_(("indirect_injection", "none")),
            ),
            signal="prompt_injection",
        ),
        Metric(
            "tool_errors",
            "Tool error rate (any class)",
            "tool and MCP spans whose tool_error label is not ok",
            "tool and MCP spans with a tool_error label",
            "span",
            ("tool_errors", "tool_error_labelled"),
            lambda d: signal_label(d, "tool_error") != "ok",
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
                (f"tool_error_{cls}", "tool_error_labelled"),
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
            ("corrections", "turns"),
            lambda _d: _fed_back("correction"),
            _is_root,
        ),
        Metric(
            "escalations",
            "Escalation rate",
            "turns handed over to a human (escalation feedback)",
            "all turns",
            "turn",
            ("escalations", "turns"),
            lambda _d: _fed_back("escalation"),
            _is_root,
        ),
    ]
    for m in ms:
        assert set(m.counters) <= set(COUNTERS), m.name
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
        Dimension("language", "Language (detected)", lambda d, _n: signal_label(d, "language")),
        Dimension("model", "Model", _col(func.coalesce(spans.c.response_model, spans.c.request_model))),
        Dimension("model_version", "Model version", _col(spans.c.model_version)),
        Dimension("prompt_version", "Prompt version", _col(spans.c.prompt_version)),
        Dimension("skill_version", "Skill version", _col(spans.c.skill_version)),
        Dimension("service_name", "Service", _col(spans.c.service_name)),
        Dimension("tool_name", "Tool name", _col(spans.c.tool_name)),
        Dimension("mcp_server", "MCP server", _col(spans.c.mcp_server)),
        Dimension("provider", "Provider", _col(spans.c.provider)),
        Dimension("kind", "Span kind", _col(spans.c.kind)),
        Dimension("tool_error_class", "Tool error class", lambda d, _n: signal_label(d, "tool_error"), outcome=True),
    )
}
assert tuple(DIMENSIONS) == DIMENSION_NAMES  # the rollup model counts exactly these


def metric(name: str, field: str = "metric") -> Metric:
    """The metric of that name; InputError naming ``field`` otherwise."""
    try:
        return METRICS[name]
    except KeyError:
        raise InputError(f"unknown metric {name!r}; known: {', '.join(METRICS)}", field=field) from None


__all__ = [
    "DEFAULT_PAIRS",
    "DIMENSIONS",
    "METRICS",
    "NONE",
    "OTHER",
    "Dimension",
    "Metric",
    "metric",
    "signal_label",
]
