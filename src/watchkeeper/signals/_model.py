"""The signal contract: a :class:`Label` per record, the :class:`Signal` protocol, and the :class:`Registry`."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Protocol, runtime_checkable

from .._registry import PluginRegistry
from ..records import Span

ENTRY_POINT_GROUP = "watchkeeper.signals"
UNKNOWN = "unknown"


@dataclass(frozen=True, slots=True)
class Label:
    """What one signal says about one record: a label, a score in [0, 1], the detector version, and why.

    ``label`` is ``unknown`` when the signal cannot answer (no text, binary text, a missing output); ``reason`` then
    says which. ``evidence`` names the rules or families that fired (never payload text).
    """

    label: str
    score: float
    version: str
    reason: str = ""
    evidence: tuple[str, ...] = field(default=())

    def as_dict(self) -> dict[str, Any]:
        """The stored form: ``{"label", "score", "version"}`` plus ``reason`` / ``evidence`` when set."""
        d: dict[str, Any] = {"label": self.label, "score": round(self.score, 4), "version": self.version}
        if self.reason:
            d["reason"] = self.reason
        if self.evidence:
            d["evidence"] = list(self.evidence)
        return d


def unknown(version: str, reason: str) -> Label:
    """The answer of a signal that cannot tell: label ``unknown``, score 0, and the reason."""
    return Label(UNKNOWN, 0.0, version, reason)


@runtime_checkable
class Signal(Protocol):
    """A detector run on each ingested span: ``applies_to`` picks spans, ``label`` answers for one."""

    name: str
    version: str

    def applies_to(self, span: Span) -> bool: ...

    def label(self, span: Span) -> Label: ...


class Registry(PluginRegistry[Signal]):
    """Signals keyed by name, in registration order (entry-point group ``watchkeeper.signals``)."""

    protocol = Signal
    needs = "a signal needs a name, a version, applies_to(span) and label(span)"
    kind = "signal"
    group = ENTRY_POINT_GROUP

    def versions(self) -> dict[str, str]:
        """Each signal's current version, by name (what backfill compares stored labels against)."""
        return {n: s.version for n, s in self._by_name.items()}
