"""The routing tree: which receivers an alert goes to, and with which grouping and timers.

As in Alertmanager (``dispatch/route.go``): an alert enters at the root and descends depth-first, left to right,
into the first child whose matchers it satisfies; a child with ``continue: true`` lets the search go on to its
next siblings. When no child matches, the node itself is the match. A child inherits every setting it does not
set. A route's key — its ancestors' matchers and its own, ``{}/{severity="page"}`` — starts every group key.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from ._labels import NS, labelset_string
from .matchers import Matcher, matchers_string, matches_all, sorted_matchers

GROUP_WAIT_NS = 30 * NS
GROUP_INTERVAL_NS = 300 * NS
REPEAT_INTERVAL_NS = 4 * 3600 * NS
GROUP_BY_ALL = "..."


@dataclass(frozen=True, slots=True)
class RouteOpts:
    receiver: str
    group_by: tuple[str, ...] = ()
    group_by_all: bool = False
    group_wait_ns: int = GROUP_WAIT_NS
    group_interval_ns: int = GROUP_INTERVAL_NS
    repeat_interval_ns: int = REPEAT_INTERVAL_NS


@dataclass(frozen=True, slots=True)
class RouteSpec:
    """One node as the rules file gives it: unset fields (None) are inherited from the parent."""

    receiver: str | None = None
    matchers: tuple[Matcher, ...] = ()
    group_by: tuple[str, ...] | None = None
    group_wait_ns: int | None = None
    group_interval_ns: int | None = None
    repeat_interval_ns: int | None = None
    continue_: bool = False
    routes: tuple[RouteSpec, ...] = ()


@dataclass(frozen=True, slots=True)
class Route:
    matchers: tuple[Matcher, ...]
    opts: RouteOpts
    key: str  # Alertmanager's Route.Key: not unique in general
    id: str  # the ancestors' ids, the matchers and the position among siblings: unique
    continue_: bool = False
    routes: tuple[Route, ...] = field(default=())

    def match(self, labels: Mapping[str, str]) -> list[Route]:
        """The routes an alert with ``labels`` is delivered through (empty when the root's matchers fail)."""
        if not matches_all(self.matchers, labels):
            return []
        found: list[Route] = []
        for child in self.routes:
            hits = child.match(labels)
            found += hits
            if hits and not child.continue_:
                break
        return found or [self]

    def group_labels(self, labels: Mapping[str, str]) -> dict[str, str]:
        if self.opts.group_by_all:
            return dict(labels)
        return {k: labels[k] for k in self.opts.group_by if k in labels}

    def group_key(self, labels: Mapping[str, str]) -> str:
        """Alertmanager's group key: ``{route key}:{group labels}``, e.g. ``{}/{severity="page"}:{alertname="X"}``."""
        return f"{self.key}:{labelset_string(self.group_labels(labels))}"

    def walk(self) -> list[Route]:
        out = [self]
        for child in self.routes:
            out += child.walk()
        return out


def build_route(spec: RouteSpec, parent: Route | None = None, position: int | None = None) -> Route:
    """The route tree from its spec; the root must name a receiver (checked when the rules file is read)."""
    base = parent.opts if parent is not None else RouteOpts(receiver="")
    group_by, by_all = base.group_by, base.group_by_all
    if spec.group_by is not None:
        by_all = GROUP_BY_ALL in spec.group_by
        group_by = () if by_all else tuple(sorted(set(spec.group_by)))
    opts = RouteOpts(
        receiver=spec.receiver or base.receiver,
        group_by=group_by,
        group_by_all=by_all,
        group_wait_ns=base.group_wait_ns if spec.group_wait_ns is None else spec.group_wait_ns,
        group_interval_ns=base.group_interval_ns if spec.group_interval_ns is None else spec.group_interval_ns,
        repeat_interval_ns=base.repeat_interval_ns if spec.repeat_interval_ns is None else spec.repeat_interval_ns,
    )
    matchers = tuple(sorted_matchers(spec.matchers))
    key = (parent.key + "/" if parent is not None else "") + matchers_string(matchers)
    # unlike Alertmanager's Route.ID (key + position), built from the parent's id, so it is unique in any tree
    rid = (parent.id + "/" if parent is not None else "") + matchers_string(matchers)
    rid += "" if position is None else f"#{position}"
    node = Route(matchers=matchers, opts=opts, key=key, id=rid, continue_=spec.continue_)
    children = tuple(build_route(c, node, i) for i, c in enumerate(spec.routes))
    return Route(matchers=matchers, opts=opts, key=key, id=rid, continue_=spec.continue_, routes=children)


__all__ = ["GROUP_BY_ALL", "Route", "RouteOpts", "RouteSpec", "build_route"]
