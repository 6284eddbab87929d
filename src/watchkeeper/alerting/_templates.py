"""Annotation templates: ``{{ $value }}``, ``{{ $expected }}``, ``{{ $slice }}``, ``{{ $metric }}`` and
``{{ $labels.NAME }}`` in a rule's annotations, filled in for one alert at one tick."""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence

from ._labels import rfc3339
from .lifecycle import Reading

TEMPLATE = re.compile(r"\{\{(.*?)\}\}")
VARIABLE = re.compile(r"^\s*\$(value|expected|slice|metric|labels\.([A-Za-z_][A-Za-z0-9_]*))\s*$")


def percent(x: float | None) -> str:
    """A rate as a percentage with three significant digits (``4.12%``); ``n/a`` when unknown."""
    return "n/a" if x is None else f"{x * 100:.3g}%"


def slice_text(dims: Sequence[str], labels: Mapping[str, str]) -> str:
    return ", ".join(f"{d}={labels.get(d, '')}" for d in dims) if dims else "all traffic"


def render(text: str, *, labels: Mapping[str, str], dims: Sequence[str], reading: Reading) -> str:
    """The template with its variables filled in (an unknown one is left as written; the rules check refuses it)."""

    def fill(m: re.Match[str]) -> str:
        v = VARIABLE.match(m.group(1))
        if v is None:
            return m.group(0)
        if v.group(2):
            return labels.get(v.group(2), "")
        return {
            "value": lambda: percent(reading.observed),
            "expected": lambda: percent(reading.expected),
            "slice": lambda: slice_text(dims, labels),
            "metric": lambda: labels.get("metric", ""),
        }[v.group(1)]()

    return TEMPLATE.sub(fill, text)


def fill(
    templates: Mapping[str, str], *, labels: Mapping[str, str], dims: Sequence[str], reading: Reading, window: str
) -> dict[str, str]:
    """The rule's annotations filled in, plus what the detector measured (observed, expected, band, p-value,
    window, estimated start), so a receiver shows the numbers without asking back."""
    out = {k: render(v, labels=labels, dims=dims, reading=reading) for k, v in templates.items()}
    out["observed"] = percent(reading.observed)
    out["expected"] = percent(reading.expected)
    if reading.band_low is not None and reading.band_high is not None:
        out["band"] = f"{percent(reading.band_low)} – {percent(reading.band_high)}"
    if reading.p_value is not None:
        out["p_value"] = f"{reading.p_value:.2g}"
    if reading.estimated_start_ns is not None:
        out["estimated_start"] = rfc3339(reading.estimated_start_ns)
    out["window"] = window
    return out
