"""The ``enrich`` processor: runs every signal on every span and stores the labels as metadata.

It runs right after ``redact``, so detectors see redacted text only. Labels go to
``span.attributes["watchkeeper.signals"]`` as ``{name: {"label", "score", "version"}}`` (plus ``reason`` or
``evidence`` when set), next to the rest of the span's queryable metadata. A detector that raises is isolated: its
label becomes ``unknown`` with the reason ``detector failed``, the failure is counted in ``self.failures`` by signal
and exception type and logged the same way (never with payload text), and the span is stored as usual.
"""

from __future__ import annotations

import logging
from collections import Counter
from typing import Any

from ..records import Span
from ..signals import ATTRIBUTE, Registry, default_registry, unknown
from ._batch import Batch, Context

log = logging.getLogger("watchkeeper.pipeline.enrich")


def label_span(span: Span, registry: Registry, failures: Counter[tuple[str, str]] | None = None) -> dict[str, Any]:
    """The stored form of every applicable signal's label for one span."""
    out: dict[str, Any] = {}
    for sig in registry:
        try:
            if not sig.applies_to(span):
                continue
            out[sig.name] = sig.label(span).as_dict()
        except Exception as e:  # a plugin's bug must not lose the record; it is counted and logged
            etype = type(e).__name__
            if failures is not None:
                failures[(sig.name, etype)] += 1
            log.warning("signal failed; label set to unknown", extra={"signal": sig.name, "error_type": etype})
            out[sig.name] = unknown(getattr(sig, "version", "?"), "detector failed").as_dict()
    return out


class Enrich:
    """Processor: labels spans in place. ``failures`` counts detector exceptions by (signal, exception type)."""

    def __init__(self, registry: Registry | None = None) -> None:
        self.registry = registry if registry is not None else default_registry()
        self.failures: Counter[tuple[str, str]] = Counter()

    def __call__(self, ctx: Context, batch: Batch) -> Batch:
        for s in batch.spans:
            labels = label_span(s, self.registry, self.failures)
            if labels:
                s.attributes[ATTRIBUTE] = labels
        return batch
