"""Adding rollup increments to the store, in the transaction that stores the records they count.

The writer (``writer.py``) and ``watchkeeper rollups rebuild`` (``analytics/_rebuild.py``) both go through
:class:`Tally`: spans' increments come from the ``rollup`` processor (``_rollup.RollupDelta``); feedback counts on the
turn (root span) it is about, so it is resolved here, against the rows already stored: a turn counts as corrected
(escalated) once, when the later of the turn and its first correction (escalation) arrives. Values past a
dimension's cap are mapped to ``(other)`` by :class:`ValueCap` before the rows are added to with one UPSERT per row
(``ON CONFLICT DO UPDATE SET n = n + excluded.n`` on both engines).
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Iterable, Sequence
from typing import Any, ClassVar

from sqlalchemy import Connection, delete, func, select, text, update
from sqlalchemy.dialects import postgresql, sqlite

from .._rollup import (
    DAY_NS,
    DIMENSIONS,
    FACT_COLUMNS,
    NONE,
    OTHER,
    VALUE_COLUMNS,
    WIDTHS_S,
    Facts,
    Groups,
    RollupConfig,
    add_counter,
    add_facts,
    expand,
    facts_of_row,
    merge_groups,
)
from .tables import feedback, rollup_values, rollups, spans

CHUNK = 500  # ids per IN list
FEEDBACK_COUNTERS = {"correction": "corrections", "escalation": "escalations"}
_REFRESH_NS = DAY_NS  # a live value's last_ns is written again at most this often
_REFUSED_NS = 60 * 1_000_000_000  # a value refused for a full cap is asked about again after this long
_REFUSED_MAX = 10_000


# ---------------------------------------------------------------------------------------------------------------
# The cap


def _lock_key(project_id: int, dimension: str) -> int:
    digest = hashlib.sha256(f"watchkeeper.rollup_values:{project_id}:{dimension}".encode()).digest()
    return int.from_bytes(digest[:8], "big", signed=True)


class ValueCap:
    """Which values of each dimension have rows of their own: at most ``config.max_values`` live ones per project
    and dimension, first come first served; a value unseen for ``value_ttl_days`` gives its place up. Kept in the
    ``rollup_values`` table so every writer process maps a value the same way; cached here."""

    def __init__(self) -> None:
        self._live: dict[tuple[int, str], dict[str, int]] = {}
        self._refused: dict[tuple[int, str], dict[str, int]] = {}

    def mapping(
        self, conn: Connection, config: RollupConfig, project_id: int, dim: str, values: Iterable[str], now_ns: int
    ) -> dict[str, str]:
        """Each of ``values`` as it is counted: itself when it has (or gets) a place, else ``(other)``."""
        key = (project_id, dim)
        cut = now_ns - config.value_ttl_days * DAY_NS
        live = self._live.get(key)
        refused = self._refused.setdefault(key, {})
        wanted = {v for v in values if v not in (NONE, OTHER)}
        need = sorted(
            v for v in wanted if not (live is not None and live.get(v, -1) >= cut) and refused.get(v, 0) < now_ns
        )
        if need or live is None:
            live = self._admit(conn, config, project_id, dim, need, now_ns, cut)
            for v in need:
                if live.get(v, -1) < cut:
                    refused[v] = now_ns + _REFUSED_NS
            if len(refused) > _REFUSED_MAX:
                refused.clear()
        stale = [v for v in wanted if cut <= live.get(v, -1) < now_ns - _REFRESH_NS]
        if stale:
            conn.execute(
                update(rollup_values)
                .where(
                    rollup_values.c.project_id == project_id,
                    rollup_values.c.dimension == dim,
                    rollup_values.c.value.in_(stale),
                )
                .values(last_ns=now_ns)
            )
            for v in stale:
                live[v] = now_ns
        return {v: v if v == NONE or live.get(v, -1) >= cut else OTHER for v in values}

    def _admit(
        self,
        conn: Connection,
        config: RollupConfig,
        project_id: int,
        dim: str,
        need: Sequence[str],
        now_ns: int,
        cut: int,
    ) -> dict[str, int]:
        if conn.dialect.name == "postgresql" and need:  # writers of other processes admit values too
            conn.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": _lock_key(project_id, dim)})
        rows = conn.execute(
            select(rollup_values.c.value, rollup_values.c.last_ns).where(
                rollup_values.c.project_id == project_id, rollup_values.c.dimension == dim
            )
        ).all()
        live = {str(r.value): int(r.last_ns) for r in rows}
        active = sum(1 for t in live.values() if t >= cut)
        for v in need:
            if live.get(v, -1) >= cut or active >= config.max_values:
                continue
            if v in live:  # it had a place before and let it go: it gets one again
                conn.execute(
                    update(rollup_values)
                    .where(
                        rollup_values.c.project_id == project_id,
                        rollup_values.c.dimension == dim,
                        rollup_values.c.value == v,
                    )
                    .values(first_ns=now_ns, last_ns=now_ns)
                )
            else:
                conn.execute(
                    rollup_values.insert().values(
                        project_id=project_id, dimension=dim, value=v, first_ns=now_ns, last_ns=now_ns
                    )
                )
            live[v] = now_ns
            active += 1
        self._live[(project_id, dim)] = live
        return live

    def map_groups(self, conn: Connection, config: RollupConfig, groups: Groups, now_ns: int) -> Groups:
        """The groups with every value past its dimension's cap replaced by ``(other)`` (merged where they meet)."""
        by_dim: dict[tuple[int, int], set[str]] = {}
        for pid, _m, vals in groups:
            for i, v in enumerate(vals):
                by_dim.setdefault((pid, i), set()).add(v)
        maps = {(pid, i): self.mapping(conn, config, pid, DIMENSIONS[i], vs, now_ns) for (pid, i), vs in by_dim.items()}
        out: Groups = {}
        for (pid, m, vals), g in groups.items():
            mapped = tuple(maps[(pid, i)][v] for i, v in enumerate(vals))
            merge_groups(out, {(pid, m, mapped): g})
        return out


# ---------------------------------------------------------------------------------------------------------------
# The UPSERT


class _Upsert:
    """``INSERT ... ON CONFLICT (primary key) DO UPDATE SET n = n + excluded.n`` for every value column, compiled once
    per dialect and run through the driver's executemany. PostgreSQL gets NULL for 0 (a NULL takes no room in a row)
    and adds with coalesce; SQLite gets 0 (which takes no room either) and adds plainly, several times faster than
    coalesce over a hundred columns."""

    _cache: ClassVar[dict[str, _Upsert]] = {}

    def __init__(self, dialect: Any) -> None:
        ins: Any = postgresql.insert(rollups) if dialect.name == "postgresql" else sqlite.insert(rollups)
        ins = ins.values({c.name: None for c in rollups.columns})
        ex = ins.excluded
        stmt = ins.on_conflict_do_update(
            index_elements=[c.name for c in rollups.primary_key.columns],
            set_={
                n: func.coalesce(rollups.c[n] + ex[n], rollups.c[n], ex[n])
                if dialect.name == "postgresql"
                else rollups.c[n] + ex[n]
                for n in VALUE_COLUMNS
            },
        )
        compiled = stmt.compile(dialect=dialect)
        self.sql = str(compiled)
        self.positional = compiled.positional
        self.names = [c.name for c in rollups.columns]  # the primary key, then VALUE_COLUMNS
        order = list(compiled.positiontup or []) if compiled.positional else self.names
        self.perm = None if order == self.names else [self.names.index(n) for n in order]
        self.zero = None if dialect.name == "postgresql" else 0

    @classmethod
    def for_dialect(cls, dialect: Any) -> _Upsert:
        u = cls._cache.get(dialect.name)
        if u is None:
            u = cls._cache[dialect.name] = cls(dialect)
        return u

    def params(self, cells: dict[tuple[int, int, str, int, str], dict[int, int]]) -> list[Any]:
        """The parameter rows of the (sparse) cells, in key order (neighbouring rows share pages)."""
        out: list[Any] = []
        names, perm = self.names, self.perm
        blank = [self.zero] * len(VALUE_COLUMNS)
        for ck in sorted(cells):
            values = blank.copy()
            for i, v in cells[ck].items():
                values[i] = v
            row = (*ck, *values)
            if not self.positional:
                out.append(dict(zip(names, row, strict=True)))
            else:
                out.append(row if perm is None else tuple(row[i] for i in perm))
        return out


# ---------------------------------------------------------------------------------------------------------------
# One transaction's increments


def _chunks(items: Sequence[Any], n: int = CHUNK) -> Iterable[Sequence[Any]]:
    for i in range(0, len(items), n):
        yield items[i : i + n]


class Tally:
    """The increments of one transaction: add spans (or their groups), resolve feedback against stored turns, then
    :meth:`apply` them. ``widths``: the bucket widths written (both, except when a rebuild leaves some out)."""

    def __init__(
        self,
        conn: Connection,
        config: RollupConfig,
        cap: ValueCap,
        now_ns: int | None = None,
        widths: Sequence[int] = WIDTHS_S,
    ) -> None:
        self.conn = conn
        self.config = config
        self.cap = cap
        self.now_ns = time.time_ns() if now_ns is None else now_ns
        self.widths = tuple(widths)
        self.groups: Groups = {}

    def add_groups(self, groups: Groups) -> None:
        merge_groups(self.groups, groups)

    def add_facts(self, facts: Iterable[Facts]) -> None:
        add_facts(self.groups, facts)

    def turns_with_feedback(self, roots: Sequence[Facts]) -> None:
        """Counts newly stored turns whose trace already had a correction or escalation (before this transaction's
        feedback is inserted)."""
        by_pid: dict[int, list[Facts]] = {}
        for f in roots:
            by_pid.setdefault(f.project_id, []).append(f)
        for pid, fs in by_pid.items():
            traces = sorted({f.trace_id for f in fs})
            kinds: dict[bytes, set[str]] = {}
            for chunk in _chunks(traces):
                q = select(feedback.c.trace_id, feedback.c.kind).where(
                    feedback.c.project_id == pid,
                    feedback.c.trace_id.in_(chunk),
                    feedback.c.kind.in_(FEEDBACK_COUNTERS),
                )
                for r in self.conn.execute(q):
                    kinds.setdefault(bytes(r.trace_id), set()).add(r.kind)
            for f in fs:
                for kind in kinds.get(f.trace_id, ()):
                    add_counter(self.groups, f, FEEDBACK_COUNTERS[kind])

    def first_feedback(self, rows: Sequence[dict[str, Any]]) -> list[tuple[int, bytes, str]]:
        """The (project, trace, kind) of feedback rows about to be inserted that are the trace's first of their kind
        (call before inserting them)."""
        wanted: dict[tuple[int, bytes, str], None] = {}
        for r in rows:
            if r["kind"] in FEEDBACK_COUNTERS:
                wanted[(int(r["project_id"]), bytes(r["trace_id"]), r["kind"])] = None
        by_pid: dict[int, list[bytes]] = {}
        for pid, trace, _k in wanted:
            by_pid.setdefault(pid, []).append(trace)
        for pid, traces in by_pid.items():
            for chunk in _chunks(sorted(set(traces))):
                q = select(feedback.c.trace_id, feedback.c.kind).where(
                    feedback.c.project_id == pid,
                    feedback.c.trace_id.in_(chunk),
                    feedback.c.kind.in_(FEEDBACK_COUNTERS),
                )
                for row in self.conn.execute(q):
                    wanted.pop((pid, bytes(row.trace_id), row.kind), None)
        return list(wanted)

    def feedback_turns(self, firsts: Sequence[tuple[int, bytes, str]]) -> None:
        """Counts the stored turns of traces that just received their first correction or escalation."""
        by_pid: dict[int, dict[bytes, list[str]]] = {}
        for pid, trace, kind in firsts:
            by_pid.setdefault(pid, {}).setdefault(trace, []).append(kind)
        cols = [spans.c[n] for n in FACT_COLUMNS]
        for pid, traces in by_pid.items():
            for chunk in _chunks(sorted(traces)):
                q = select(*cols).where(
                    spans.c.project_id == pid, spans.c.trace_id.in_(chunk), spans.c.parent_span_id.is_(None)
                )
                for r in self.conn.execute(q):
                    f = facts_of_row(r._mapping)
                    for kind in traces[f.trace_id]:
                        add_counter(self.groups, f, FEEDBACK_COUNTERS[kind])

    def apply(self, cursor: Any | None = None) -> int:
        """Maps capped values to (other) and adds the increments to the rollup rows; returns the rows written."""
        if not self.groups:
            return 0
        mapped = self.cap.map_groups(self.conn, self.config, self.groups, self.now_ns)
        cells = expand(mapped, self.config.slices, self.widths)
        up = _Upsert.for_dialect(self.conn.dialect)
        params = up.params(cells)
        cur = cursor if cursor is not None else self.conn.connection.driver_connection.cursor()  # type: ignore[union-attr]
        try:
            cur.executemany(up.sql, params)
        finally:
            if cursor is None:
                cur.close()
        self.groups = {}
        return len(params)


# ---------------------------------------------------------------------------------------------------------------
# Reading the set of slices, purging old buckets

PRIMARY_KEY = "sqlite_autoindex_rollups_1"  # SQLite's name for the primary key of a WITHOUT ROWID table
SLICE_INDEX = "ix_rollups_slice"


def run_indexed(conn: Connection, stmt: Any, index: str) -> Any:
    """Runs a statement on ``rollups``; on SQLite through the index named, so the plan does not hang on statistics:
    without them SQLite may read a dimension's whole history through the other index to save a sort."""
    if conn.dialect.name != "sqlite":
        return conn.execute(stmt)
    compiled = stmt.compile(dialect=conn.dialect, compile_kwargs={"render_postcompile": True})
    sql = str(compiled).replace("FROM rollups", f"FROM rollups INDEXED BY {index}", 1)
    return conn.exec_driver_sql(sql, tuple(compiled.params[k] for k in compiled.positiontup or ()))


def stored_dims(conn: Connection, project_id: int) -> list[str]:
    """The ``dims`` values a project's rollups hold (one index probe each, not a scan of the rows)."""
    out: set[str] = set()
    for width in WIDTHS_S:
        q = text(
            "WITH RECURSIVE d(dims) AS ("
            "SELECT min(dims) FROM rollups WHERE project_id = :p AND width_s = :w "
            "UNION ALL SELECT (SELECT min(dims) FROM rollups WHERE project_id = :p AND width_s = :w AND dims > d.dims) "
            "FROM d WHERE d.dims IS NOT NULL) SELECT dims FROM d WHERE dims IS NOT NULL"
        )
        out.update(str(d) for d in conn.execute(q, {"p": project_id, "w": width}).scalars())
    return sorted(out)


def purge_buckets(
    engine: Any, project_id: int, cutoffs: dict[int, int], *, batch_size: int, stop: Any = None
) -> tuple[int, int]:
    """Deletes rollup rows whose bucket starts before its width's cutoff (``{width_s: cutoff_ns}``), oldest buckets
    first, about ``batch_size`` rows per transaction; returns (rows, transactions)."""
    count = batches = 0
    with engine.connect() as conn:
        dims = stored_dims(conn, project_id)
    for width, cutoff in cutoffs.items():
        for d in dims:
            step = 1  # buckets per transaction, adapted to the rows a bucket holds
            while stop is None or not stop.is_set():
                slice_ = (rollups.c.project_id == project_id, rollups.c.width_s == width, rollups.c.dims == d)
                with engine.begin() as conn:
                    oldest = run_indexed(
                        conn, select(func.min(rollups.c.bucket_ns)).where(*slice_), PRIMARY_KEY
                    ).scalar()
                    if oldest is None or oldest >= cutoff:
                        break
                    end = min(cutoff, oldest + step * width * 1_000_000_000)
                    gone = delete(rollups).where(*slice_, rollups.c.bucket_ns >= oldest, rollups.c.bucket_ns < end)
                    n = run_indexed(conn, gone, PRIMARY_KEY).rowcount
                count, batches = count + n, batches + 1
                step = max(1, min(step * 4, step * batch_size // max(n, 1)))
    return count, batches


# ---------------------------------------------------------------------------------------------------------------
# Re-sent records


def unstored(conn: Connection, rows: Sequence[dict[str, Any]], keys: tuple[str, ...], table: Any) -> list[bool]:
    """Per row: whether it is new — not stored yet, and the first of its key among ``rows``. ``keys``: the project
    column, then the key's leading column (looked up through the unique index), then any others."""
    stored: set[tuple[Any, ...]] = set()
    by_pid: dict[int, set[Any]] = {}
    for r in rows:
        by_pid.setdefault(int(r["project_id"]), set()).add(r[keys[1]])
    cols = [table.c[k] for k in keys]
    for pid, firsts in by_pid.items():
        for chunk in _chunks(sorted(firsts)):
            for row in conn.execute(select(*cols).where(table.c.project_id == pid, table.c[keys[1]].in_(chunk))):
                stored.add(tuple(bytes(x) if isinstance(x, memoryview) else x for x in row))
    out = []
    for r in rows:
        k = tuple(r[k] for k in keys)
        out.append(k not in stored)
        stored.add(k)
    return out


SPAN_KEY = ("project_id", "trace_id", "span_id")
FEEDBACK_KEY = ("project_id", "feedback_id")


__all__ = [
    "FEEDBACK_COUNTERS",
    "FEEDBACK_KEY",
    "PRIMARY_KEY",
    "SLICE_INDEX",
    "SPAN_KEY",
    "Tally",
    "ValueCap",
    "purge_buckets",
    "run_indexed",
    "stored_dims",
    "unstored",
]
