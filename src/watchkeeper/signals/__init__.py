"""Signals: a label and a score per record — language, refusal, jailbreak, prompt injection, tool error, cohorts.

    from watchkeeper import signals

    signals.classify_refusal("I'm sorry, but I can't help with that.").label   # 'full_refusal'
    signals.classify_attack("Ignore all previous instructions and ...")[1].label  # 'prompt_injection'

Each signal is a plugin (:class:`Signal`: a name, a version, ``applies_to(span)`` and ``label(span)``) kept in a
:class:`Registry`; the built-ins register exactly like third-party ones, which may also come from the entry-point
group ``watchkeeper.signals``. The ``enrich`` ingest processor stores every label with the version of the detector
that produced it; ``watchkeeper signals backfill`` recomputes stored labels when a version changes. See
docs/signals.md.
"""

from __future__ import annotations

from .._attributes import SIGNALS_KEY
from ._classify import classify_doc, classify_jsonl
from ._model import ENTRY_POINT_GROUP, UNKNOWN, Label, Registry, Signal, unknown
from .attacks import classify_attack, classify_indirect, classify_injection, classify_jailbreak
from .builtin import builtin_signals, default_registry
from .language import classify_language, classify_script
from .refusal import classify_refusal
from .task import account_age_bucket, classify_feedback, client_cohort
from .tool_errors import classify_tool_error, tool_error_of

ATTRIBUTE = SIGNALS_KEY  # where a span keeps its labels (stored form: watchkeeper._attributes)

__all__ = [
    "ATTRIBUTE",
    "ENTRY_POINT_GROUP",
    "UNKNOWN",
    "Label",
    "Registry",
    "Signal",
    "account_age_bucket",
    "builtin_signals",
    "classify_attack",
    "classify_doc",
    "classify_feedback",
    "classify_indirect",
    "classify_injection",
    "classify_jailbreak",
    "classify_jsonl",
    "classify_language",
    "classify_refusal",
    "classify_script",
    "classify_tool_error",
    "client_cohort",
    "default_registry",
    "tool_error_of",
    "unknown",
]
