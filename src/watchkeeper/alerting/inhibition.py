"""Inhibition: a firing alert mutes the notifications of others, as Alertmanager's ``inhibit_rules`` do.

A rule mutes every *target* alert while some firing *source* alert has the same values for the ``equal`` labels
(an absent label equals an absent one). An alert that matches both sides never mutes itself or another alert that
matches both sides. Muted alerts still fire and are stored, with the fingerprints that inhibit them; only their
notifications are held back.

Two families come built in, made from the rules file (rules.py): a parent slice's alert inhibits its children's
for the same metric (global ⇒ ``language=fr`` ⇒ ``language=fr, model_version=m``), and a ``page`` inhibits the
``ticket`` for the same metric and slice. Rules of the file's ``inhibit_rules`` come on top.

A parent's page mutes a child's page only at ticks where the parent's own change is still detected
(``while_detected``), not while it is merely kept firing (``keep_firing_for``): the engine stops alerting on a parent
once a child explains its rise, and that child's page is the one that names where the incident is.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

from ._labels import slice_key
from .matchers import Matcher, matches_all

CONFIG = "config"
PARENT_SLICE = "parent-slice"
PAGE_OVER_TICKET = "page-over-ticket"


@dataclass(frozen=True, slots=True)
class InhibitRule:
    source: tuple[Matcher, ...]
    target: tuple[Matcher, ...]
    equal: tuple[str, ...] = ()
    origin: str = CONFIG  # config | parent-slice | page-over-ticket
    while_detected: bool = False  # a source inhibits only while its change is detected, not while kept firing

    def describe(self) -> str:
        src = ", ".join(str(m) for m in self.source)
        tgt = ", ".join(str(m) for m in self.target)
        eq = f" with equal {', '.join(self.equal)}" if self.equal else ""
        detected = " while its change is detected" if self.while_detected else ""
        return f"{{{src}}} inhibits {{{tgt}}}{eq}{detected} ({self.origin})"


class Inhibitor:
    """Answers "which firing alerts inhibit this one?" over one snapshot of the firing alerts. ``detected``: the
    fingerprints of the firing alerts whose change is detected at this tick (default: all of them), the only sources
    of the ``while_detected`` rules."""

    def __init__(
        self,
        rules: Sequence[InhibitRule],
        firing: Iterable[tuple[str, Mapping[str, str]]],
        detected: Iterable[str] | None = None,
    ) -> None:
        self.rules = list(rules)
        alerts = list(firing)
        now = None if detected is None else set(detected)
        # the source side of each rule, matched once per snapshot
        self._sources = [
            [
                (fp, labels)
                for fp, labels in alerts
                if matches_all(r.source, labels) and (now is None or not r.while_detected or fp in now)
            ]
            for r in self.rules
        ]

    def inhibited_by(self, fingerprint: str, labels: Mapping[str, str]) -> list[str]:
        """Fingerprints of the firing alerts that inhibit the alert ``labels`` (sorted; empty: not inhibited)."""
        found: set[str] = set()
        for rule, sources in zip(self.rules, self._sources, strict=True):
            if not matches_all(rule.target, labels):
                continue
            two_sided = matches_all(rule.source, labels)
            for fp, src in sources:
                if fp == fingerprint:
                    continue
                if any(src.get(n, "") != labels.get(n, "") for n in rule.equal):
                    continue
                if two_sided and matches_all(rule.target, src):
                    continue
                found.add(fp)
        return sorted(found)


def builtin_inhibitions(slice_sets: Iterable[tuple[str, ...]]) -> list[InhibitRule]:
    """The built-in rules for the slice sets the rules test: a parent slice inhibits its children for the same
    metric (a ticket only their tickets, so a ticket never hides a page; a page their pages only while its own change
    is detected); a page inhibits the ticket for the same metric and slice."""
    sets: list[tuple[str, ...]] = []
    for s in slice_sets:
        if s not in sets:
            sets.append(s)
    dims = sorted({d for s in sets for d in s})
    out = []
    page, ticket = Matcher.make("severity", "=", "page"), Matcher.make("severity", "=", "ticket")
    for parent in sets:
        for child in sets:
            if set(parent) < set(child):
                src, tgt = Matcher.make("slice", "=", slice_key(parent)), Matcher.make("slice", "=", slice_key(child))
                equal = ("metric", *parent)
                out.append(InhibitRule((src, page), (tgt, page), equal, PARENT_SLICE, while_detected=True))
                out.append(InhibitRule((src, page), (tgt, ticket), equal, PARENT_SLICE))
                out.append(InhibitRule((src, ticket), (tgt, ticket), equal, PARENT_SLICE))
    if sets:
        out.append(InhibitRule((page,), (ticket,), ("metric", "slice", *dims), PAGE_OVER_TICKET))
    return out


__all__ = ["CONFIG", "PAGE_OVER_TICKET", "PARENT_SLICE", "InhibitRule", "Inhibitor", "builtin_inhibitions"]
