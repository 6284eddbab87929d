"""Recomputing stored labels after a detector's version changes (``watchkeeper signals backfill``)."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Engine, select, update

from .._attributes import SIGNALS_KEY as ATTRIBUTE
from .._attributes import dump_attributes, load_attributes
from ..content import ContentOpener
from ..store._codec import span_from_row
from ..store.tables import spans
from ._model import Registry
from .builtin import default_registry

_CHUNK = 1000


@dataclass(slots=True)
class BackfillReport:
    scanned: int = 0
    updated: int = 0
    without_content: int = 0  # spans whose content was purged or erased: their labels are kept as they are
    recomputed: Counter[str] = field(default_factory=Counter)  # by signal name

    def as_dict(self) -> dict[str, Any]:
        return {
            "scanned": self.scanned,
            "updated": self.updated,
            "without_content": self.without_content,
            "recomputed": dict(self.recomputed),
        }


def _stale(stored: Any, versions: dict[str, str]) -> list[str]:
    labels = stored.get(ATTRIBUTE) if isinstance(stored, dict) else None
    if not isinstance(labels, dict):
        return list(versions)
    return [n for n, v in versions.items() if not isinstance(labels.get(n), dict) or labels[n].get("version") != v]


def backfill(
    engine: Engine,
    *,
    registry: Registry | None = None,
    opener: ContentOpener | None = None,
    project_id: int = 1,
    dry_run: bool = False,
) -> BackfillReport:
    """Recompute the labels of stored spans whose stored detector version differs from the registry's."""
    from ..pipeline.enrich import label_span

    reg = registry if registry is not None else default_registry()
    versions = reg.versions()
    report = BackfillReport()
    last_id = 0
    while True:
        q = (
            select(*spans.c)
            .where(spans.c.project_id == project_id, spans.c.id > last_id)
            .order_by(spans.c.id)
            .limit(_CHUNK)
        )
        with engine.connect() as conn:
            rows = conn.execute(q).fetchall()
        if not rows:
            return report
        last_id = rows[-1].id
        updates: list[tuple[int, str | None]] = []
        for r in rows:
            report.scanned += 1
            attrs = load_attributes(r.attributes)
            stale = _stale(attrs, versions)
            if not stale:
                continue
            if r.payload is None:
                report.without_content += 1
                continue
            span = span_from_row(r, opener=opener)
            fresh = label_span(span, reg)
            labels = dict(attrs.get(ATTRIBUTE) or {})
            changed = False
            for name in stale:
                if name in fresh:
                    labels[name] = fresh[name]
                    report.recomputed[name] += 1
                    changed = True
            if changed:
                attrs[ATTRIBUTE] = labels
                updates.append((r.id, dump_attributes(attrs)))
        if updates and not dry_run:
            with engine.begin() as conn:
                for sid, text in updates:
                    conn.execute(update(spans).where(spans.c.id == sid).values(attributes=text))
        report.updated += len(updates)
