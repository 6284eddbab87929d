"""The built-in detectors, registered exactly as a third-party plugin's would be, and how to configure one."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Mapping
from datetime import datetime
from typing import Any, TypeVar

from ._model import Detector, RateStream, Registry
from .canary import Canary
from .cusum import Drift
from .fdr import Decision, select_alerts
from .histograms import QuantileShift
from .spike import Spike

D = TypeVar("D", bound=Detector)


def builtin_detectors() -> list[Detector]:
    """Fresh instances of the built-ins with their default parameters: spike, drift, canary, quantile_shift."""
    return [Spike(), Drift(), Canary(), QuantileShift()]


def default_registry(*, entry_points: bool = False) -> Registry:
    """A registry of the built-ins (and, with ``entry_points``, of installed plugins)."""
    reg = Registry(builtin_detectors())
    if entry_points:
        reg.load_entry_points()
    return reg


def configure(detector: D, params: Mapping[str, Any]) -> D:
    """A copy of a built-in (dataclass) detector with some parameters changed; a precise error names an unknown
    parameter and lists the known ones."""
    if not dataclasses.is_dataclass(detector) or isinstance(detector, type):
        raise TypeError(f"detector {detector.name!r} is not configurable by parameters")
    known = [f.name for f in dataclasses.fields(detector) if f.name != "name"]
    unknown = sorted(set(params) - set(known))
    if unknown:
        raise ValueError(
            f"unknown parameter {', '.join(map(repr, unknown))} for detector {detector.name!r}; "
            f"known: {', '.join(known)}"
        )
    return dataclasses.replace(detector, **params)


def evaluate_family(
    detector: Detector,
    streams: Iterable[RateStream],
    at: datetime,
    *,
    sensitivity: float = 1.0,
    q: float = 0.01,
) -> dict[str, Decision]:
    """One tick of one detector over the slices of one rate: every stream's verdict, then :func:`select_alerts`."""
    return select_alerts((detector.evaluate(s, at, sensitivity=sensitivity) for s in streams), q=q)
