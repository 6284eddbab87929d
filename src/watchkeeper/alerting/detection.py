"""What the alert engine needs from the analytics room, as small protocols: a source of streams per slice (read
from the rollups) and detectors that judge one stream (spike, drift, canary, quantile shift), plus an optional
false-discovery control over the verdicts of one rule's slices at one tick.

The engine never looks inside a stream: the source builds it for a rule, a slice and the slice's parent (counts
``(start, numerator, denominator)`` per bucket in event time, or latency histograms, and for a canary the
incumbent's counts), and the rule's detector reads it. It reads only what a verdict says. Nothing here imports the
analytics implementations, so the engine is tested with a fake source and runs on the real rollups unchanged.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, ClassVar, Protocol, runtime_checkable

from .._registry import PluginRegistry
from ..analytics import Slice
from .rules import AlertRule

GLOBAL_SLICE = Slice((), ())


class GateLike(Protocol):
    @property
    def tested(self) -> bool: ...  # False: below the volume gate (or no baseline yet): never alerts


class Verdict(Protocol):
    """A detector's answer for one stream at one tick (the fields the engine reads)."""

    @property
    def fired(self) -> bool: ...

    @property
    def gate(self) -> GateLike: ...

    @property
    def pageable(self) -> bool: ...  # fired with enough volume to page on; otherwise at most a ticket

    @property
    def p_value(self) -> float | None: ...

    @property
    def observed_rate(self) -> float | None: ...

    @property
    def expected_rate(self) -> float | None: ...

    @property
    def band(self) -> tuple[float, float] | None: ...  # where the rate stays when nothing changed (low, high)

    @property
    def started_at(self) -> datetime | None: ...  # the estimated start of the change


@runtime_checkable
class Detector(Protocol):
    """A statistical test run on each stream at each tick; ``sensitivity`` scales its false-alarm budget (1: as
    tuned, 10: ten times as many false alarms and earlier detection)."""

    name: str

    def evaluate(self, stream: Any, at: datetime, *, sensitivity: float = 1.0) -> Verdict: ...


class DetectorRegistry(PluginRegistry[Detector]):
    protocol: ClassVar[Any] = Detector
    needs: ClassVar[str] = "a detector needs a name and evaluate(stream, at, *, sensitivity)"
    kind: ClassVar[str] = "detector"
    group: ClassVar[str] = "watchkeeper.detectors"


class SeriesSource(Protocol):
    """Slices and their streams, as of an evaluation time (the rollups room's reader behind an adapter)."""

    def slices_with_traffic(
        self, *, project_id: int, metric: str, dims: tuple[str, ...], start_ns: int, end_ns: int
    ) -> Sequence[Slice]: ...

    def stream(self, *, project_id: int, rule: AlertRule, slice: Slice, parent: Slice | None, at_ns: int) -> Any:
        """What ``rule``'s detector reads for ``slice`` at ``at_ns``: history over ``rule.lookback_ns`` in buckets
        of ``rule.bucket_ns`` (finer recent buckets as the detector needs), ``parent`` named for the volume gate and
        the parent-first test, the incumbent's counts for a canary."""
        ...


@dataclass(frozen=True, slots=True)
class SliceTest:
    """One rule tested on one slice at one tick: what false-discovery control decides over."""

    rule: AlertRule
    slice: Slice
    parent: Slice | None  # the slice one dimension up that the same rule tests (global for one dimension)
    stream: Any
    verdict: Verdict


# Given one rule's tests of one tick (its slices: one family), which fired verdicts may alert — one bool per test,
# in order: e.g. Benjamini–Hochberg over the family, parents first, a child only where it differs from its parent.
FalseDiscoveryControl = Callable[[Sequence[SliceTest]], Sequence[bool]]


__all__ = [
    "GLOBAL_SLICE",
    "Detector",
    "DetectorRegistry",
    "FalseDiscoveryControl",
    "GateLike",
    "SeriesSource",
    "SliceTest",
    "Verdict",
]
