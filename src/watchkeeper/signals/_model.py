"""The signal contract: a :class:`Label` per record, the :class:`Signal` protocol, and the :class:`Registry`."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from importlib.metadata import entry_points
from typing import Any, Protocol, runtime_checkable

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


class Registry:
    """Signals keyed by name, in registration order."""

    def __init__(self, signals: Iterable[Signal] = ()) -> None:
        self._by_name: dict[str, Signal] = {}
        for s in signals:
            self.register(s)

    def register(self, signal: Signal, *, replace: bool = False) -> Signal:
        """Add a signal; a name already taken is an error unless ``replace``."""
        if not isinstance(signal, Signal):
            raise TypeError("a signal needs a name, a version, applies_to(span) and label(span)")
        if signal.name in self._by_name and not replace:
            raise ValueError(f"a signal named {signal.name!r} is already registered")
        self._by_name[signal.name] = signal
        return signal

    def unregister(self, name: str) -> None:
        del self._by_name[name]

    def get(self, name: str) -> Signal:
        return self._by_name[name]

    def names(self) -> list[str]:
        return list(self._by_name)

    def versions(self) -> dict[str, str]:
        """Each signal's current version, by name (what backfill compares stored labels against)."""
        return {n: s.version for n, s in self._by_name.items()}

    def __iter__(self) -> Iterator[Signal]:
        return iter(list(self._by_name.values()))

    def __len__(self) -> int:
        return len(self._by_name)

    def load_entry_points(self, group: str = ENTRY_POINT_GROUP) -> list[str]:
        """Register the signals installed packages declare in ``group``; the names added."""
        added = []
        for ep in entry_points(group=group):
            obj = ep.load()
            sig = obj if isinstance(obj, Signal) else obj()
            self.register(sig)
            added.append(sig.name)
        return added
