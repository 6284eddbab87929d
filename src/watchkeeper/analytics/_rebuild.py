"""Recomputing rollups from the stored spans (``watchkeeper rollups rebuild``).

For stores that held spans before the rollups existed, after ``watchkeeper signals backfill`` changed stored labels,
or after ``rollup_pairs`` gained a pair. Hour by hour, each in one transaction that holds the writers' turn (the
SQLite lock file; on PostgreSQL an exclusive lock on ``rollups``, which writers wait for before adding their own
increments): the hour's rollup rows are deleted and counted again from its spans and their feedback. Ingest goes on
meanwhile; a record committed during the rebuild is counted by the rebuild or by its writer, never by both.

Hours whose spans retention has deleted would come out short, so the default range is the stored spans' own.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Engine, delete, func, select, text

from .._rollup import FACT_COLUMNS, HOUR_NS, WIDTHS_S, RollupConfig, facts_of_row
from ..errors import InputError
from ..store._rollups import PRIMARY_KEY, Tally, ValueCap, run_indexed, stored_dims
from ..store.tables import rollups, spans
from ..store.writer import write_turn
from .rollups import DEFAULT_MINUTE_DAYS, Instant, to_ns

_DAY_NS = 86_400 * 1_000_000_000


@dataclass(frozen=True, slots=True)
class RebuildReport:
    """What a rebuild did: the hours [start_ns, end_ns) it recounted, the spans it read and the rows it wrote."""

    start_ns: int
    end_ns: int
    hours: int
    spans: int
    rows: int

    def as_dict(self) -> dict[str, Any]:
        return {"from_ns": self.start_ns, "to_ns": self.end_ns, "hours": self.hours, "spans": self.spans,
                "rows": self.rows}  # fmt: skip


def rebuild_rollups(
    engine: Engine,
    *,
    config: RollupConfig | None = None,
    project_id: int = 1,
    start: Instant | None = None,
    end: Instant | None = None,
    minute_days: int = DEFAULT_MINUTE_DAYS,
    now_ns: int | None = None,
) -> RebuildReport:
    """Recounts the rollups of the whole hours that hold [start, end) (default: every stored span's) from the spans
    and feedback stored now. 1-minute buckets are written only for the last ``minute_days`` days, as retention
    would keep them."""
    cfg = config if config is not None else RollupConfig()
    with engine.connect() as conn:
        lo, hi = conn.execute(
            select(func.min(spans.c.start_ns), func.max(spans.c.start_ns)).where(spans.c.project_id == project_id)
        ).one()
    s = to_ns(start, "from") if start is not None else lo
    e = to_ns(end, "to") if end is not None else (hi + 1 if hi is not None else None)
    if s is None or e is None:
        return RebuildReport(0, 0, 0, 0, 0)
    if e <= s:
        raise InputError("'from' must be before 'to'", field="from")
    s, e = s // HOUR_NS * HOUR_NS, -(-e // HOUR_NS) * HOUR_NS
    now = time.time_ns() if now_ns is None else now_ns
    minute_floor = now - minute_days * _DAY_NS
    cap = ValueCap()
    with engine.connect() as conn:
        dims = sorted({*stored_dims(conn, project_id), *(sl.key for sl in cfg.slices)})
    n_spans = n_rows = 0
    cols = [spans.c[n] for n in FACT_COLUMNS]
    for a in range(s, e, HOUR_NS):
        b = a + HOUR_NS
        with write_turn(engine), engine.begin() as conn:
            if conn.dialect.name == "postgresql":
                conn.execute(text("LOCK TABLE rollups IN EXCLUSIVE MODE"))
            gone = delete(rollups).where(
                rollups.c.project_id == project_id,
                rollups.c.width_s.in_(WIDTHS_S),
                rollups.c.dims.in_(dims),
                rollups.c.bucket_ns >= a,
                rollups.c.bucket_ns < b,
            )
            run_indexed(conn, gone, PRIMARY_KEY)
            q = select(*cols).where(spans.c.project_id == project_id, spans.c.start_ns >= a, spans.c.start_ns < b)
            facts = [facts_of_row(r._mapping) for r in conn.execute(q)]
            if not facts:
                continue
            widths = WIDTHS_S if b > minute_floor else (3600,)
            tally = Tally(conn, cfg, cap, now, widths=widths)
            tally.add_facts(facts)
            tally.turns_with_feedback([f for f in facts if f.root])
            n_rows += tally.apply()
            n_spans += len(facts)
    return RebuildReport(s, e, (e - s) // HOUR_NS, n_spans, n_rows)


__all__ = ["RebuildReport", "rebuild_rollups"]
