"""The log in SQL: the leaf of a stored span computed by the database, the tree's tables as a ``TreeStore``.

The record leaf (leaves.py, format version 1) is built by one SQL expression per engine, so the sequencer that
appends a row and the verifier that re-derives it run literally the same encoding, in C, without building a
``Span`` per row: SQLite returns the leaf as hex (``printf``/``hex``: no ``unhex`` before SQLite 3.41), PostgreSQL
as ``bytea`` (``int8send``/``int4send``). ``tests/trust/test_log.py`` checks the expression against
``record_leaf(span_from_row(row))`` on both engines for generated spans. On SQLite, verify encodes the columns in
Python instead (:func:`leaf_encoder`), where SQLite's ``printf`` string building is several times slower.

Every function here works on a raw DB-API cursor inside a transaction the caller owns.
"""

from __future__ import annotations

import struct
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from .leaves import FORMAT_VERSION, MAGIC, RECORD
from .merkle import HASH_SIZE, CompactRange

STRIDE = 8  # every 8th level of complete subtrees is stored (merkle.py, docs/trust.md)

# (tag, column, kind, nullable) in tag order: the leaf table of leaves.py, as columns of ``spans``
_LEAF_COLUMNS: tuple[tuple[int, str, str, bool], ...] = (
    (1, "project_id", "uint", False),
    (2, "trace_id", "bytes", False),
    (3, "span_id", "bytes", False),
    (4, "parent_span_id", "bytes", True),
    (5, "kind", "text", False),
    (6, "status", "text", False),
    (7, "start_ns", "uint", False),
    (8, "end_ns", "uint", False),
    (9, "ingested_ns", "uint", False),
    (10, "request_model", "text", True),
    (11, "response_model", "text", True),
    (12, "input_tokens", "uint", True),
    (13, "output_tokens", "uint", True),
    (14, "cached_tokens", "uint", True),
    (15, "tool_name", "text", True),
    (16, "error_code", "text", True),
    (17, "schema_version", "uint", False),
    (18, "payload_sha256", "bytes", True),
)


def _sqlite_field(tag: int, col: str, kind: str) -> str:
    t = f"'{tag:02x}'"
    if kind == "uint":
        return f"{t} || printf('%016x', {col})"
    if kind == "bytes":
        return f"{t} || printf('%08x', length({col})) || hex({col})"
    return f"{t} || printf('%08x', length(CAST({col} AS BLOB))) || hex({col})"  # hex() of text: its UTF-8 bytes


def _pg_field(tag: int, col: str, kind: str) -> str:
    t = f"decode('{tag:02x}', 'hex')"
    if kind == "uint":
        return f"{t} || int8send({col}::bigint)"
    if kind == "bytes":
        return f"{t} || int4send(length({col})) || {col}"
    return f"{t} || int4send(octet_length({col})) || convert_to({col}, 'UTF8')"


def leaf_sql(dialect: str, prefix: str = "") -> str:
    """The SQL expression giving a ``spans`` row's leaf: hex text on SQLite, ``bytea`` on PostgreSQL."""
    head = (MAGIC + bytes((FORMAT_VERSION, RECORD))).hex()
    parts: list[str] = []
    for tag, name, kind, nullable in _LEAF_COLUMNS:
        col = prefix + name
        if dialect == "sqlite":
            f = _sqlite_field(tag, col, kind)
            parts.append(f"(CASE WHEN {col} IS NULL THEN '' ELSE {f} END)" if nullable else f)
        else:
            f = _pg_field(tag, col, kind)
            parts.append(f"COALESCE({f}, ''::bytea)" if nullable else f)
    if dialect == "sqlite":
        return " || ".join([f"'{head}'", *parts])
    return " || ".join([f"decode('{head}', 'hex')", *parts])


def leaf_decoder(dialect: str) -> Callable[[Any], bytes]:
    """Turns the value :func:`leaf_sql` gives into the leaf bytes."""
    if dialect == "sqlite":
        return bytes.fromhex
    return bytes


LEAF_COLUMNS = ", ".join(name for _tag, name, _kind, _null in _LEAF_COLUMNS)
LEAF_LAYOUT = _LEAF_COLUMNS  # (tag, column, kind, nullable) in leaf order: what the compiled scanner encodes
LEAF_HEAD = MAGIC + bytes((FORMAT_VERSION, RECORD))  # a record leaf's first bytes

_U64 = struct.Struct(">Q").pack
_U32 = struct.Struct(">I").pack
_IDS = struct.Struct(">BQBI16sBI8s").pack  # tags 1–3 when the ids have their usual 16 and 8 bytes
_TIMES = struct.Struct(">BQBQBQ").pack  # tags 7–9
_TEXT_TAGS = (4, 5, 6, 10, 11, 15, 16)  # parent_span_id and the text fields, in tag order


def _text_field(tag: int, v: Any) -> bytes:
    """A bytes or text field (tag, length, raw or UTF-8 bytes). Refuses any other type: only a hand-edited database
    stores a number in these columns."""
    if type(v) is str:
        raw = v.encode("utf-8")
    elif type(v) is bytes:
        raw = v
    else:
        raise TypeError(f"a {type(v).__name__} where the leaf needs text or bytes")
    return bytes((tag,)) + _U32(len(raw)) + raw


def _uint_field(tag: int, v: Any) -> bytes:
    return b"" if v is None else bytes((tag,)) + _U64(v)  # struct refuses a float, a string or a negative number


def _bytes(v: Any) -> bytes:
    if type(v) is not bytes:
        raise TypeError(f"a {type(v).__name__} where the leaf needs bytes")
    return v


class _Field(dict[Any, bytes]):
    """The encoded field of each distinct text or bytes value seen: kinds, models and tool names repeat, so most
    rows encode them with dictionary lookups. Only ``str`` and ``bytes`` values are kept, never a number (which
    could compare equal to another type's number)."""

    def __init__(self, tag: int) -> None:
        super().__init__({None: b""})
        self._tag = tag

    def __missing__(self, v: Any) -> bytes:
        out = _text_field(self._tag, v)
        if len(self) < 100_000:
            self[v] = out
        return out


def leaf_encoder() -> Callable[[Sequence[Any]], bytes]:
    """Encodes the leaf of a row whose first 18 values are :data:`LEAF_COLUMNS` as the driver returns them (text as
    ``str`` or as the stored ``bytes``); raises TypeError or struct.error for a value of the wrong type, whatever
    it has encoded before. What verify re-derives leaves with on SQLite; tested equal to ``record_leaf``."""
    head = LEAF_HEAD
    par, kind, status, req, resp, tool, err = (_Field(tag) for tag in _TEXT_TAGS)

    def encode(r: Sequence[Any]) -> bytes:
        pid, tid, sid, p, k, s, t1, t2, t3, m1, m2, i1, i2, i3, tn, ec, v, ps = r[:18]
        if type(tid) is bytes and type(sid) is bytes and len(tid) == 16 and len(sid) == 8:
            ids = _IDS(1, pid, 2, 16, tid, 3, 8, sid)
        else:
            ids = b"\x01" + _U64(pid) + _text_field(2, _bytes(tid)) + _text_field(3, _bytes(sid))
        return b"".join((
            head, ids, par[p], kind[k], status[s], _TIMES(7, t1, 8, t2, 9, t3), req[m1], resp[m2],
            _uint_field(12, i1), _uint_field(13, i2), _uint_field(14, i3), tool[tn], err[ec], _uint_field(17, v),
            b"" if ps is None else _text_field(18, _bytes(ps)),
        ))  # fmt: skip

    return encode


def param(dialect: str) -> str:
    """The DB-API placeholder of the engine's driver (sqlite3: qmark, psycopg: format)."""
    return "?" if dialect == "sqlite" else "%s"


# ---------------------------------------------------------------------------------------------------------------
# The tree's state


def encode_frontier(compact: CompactRange) -> bytes:
    """The compact range as stored: one hash per set bit of the size, the largest subtree first."""
    return b"".join(compact.frontier[lv] for lv in sorted(compact.frontier, reverse=True))


def decode_frontier(size: int, blob: bytes) -> CompactRange:
    levels = [lv for lv in reversed(range(size.bit_length())) if size >> lv & 1]
    if len(blob) != HASH_SIZE * len(levels):
        raise ValueError(f"the stored frontier has {len(blob)} bytes; a tree of {size} needs {HASH_SIZE * len(levels)}")
    return CompactRange(size, {lv: bytes(blob[i * HASH_SIZE : (i + 1) * HASH_SIZE]) for i, lv in enumerate(levels)})


def insert_nodes(cur: Any, dialect: str, log_id: int, kept: Mapping[int, Sequence[bytes]], first: int) -> None:
    """Stores the new level-0 and every-8th-level hashes an append of leaves ``[first, …)`` produced."""
    p = param(dialect)
    sql = f"INSERT INTO merkle_nodes (log_id, level, idx, hash) VALUES ({p}, {p}, {p}, {p})"  # noqa: S608 - fixed
    rows: list[tuple[int, int, int, bytes]] = []
    for level, hashes in kept.items():
        start = first >> level  # the node holding leaf ``first`` was incomplete before, so it is the first new one
        rows.extend((log_id, level, start + i, h) for i, h in enumerate(hashes))
    if rows:
        cur.executemany(sql, rows)


def _runs(spans: Sequence[tuple[int, int, int]]) -> list[tuple[int, int, int]]:
    """The spans' (level, start, end) merged where they touch or overlap at one level, in (level, start) order."""
    out: list[tuple[int, int, int]] = []
    for level, start, end in sorted(spans):
        if out and out[-1][0] == level and start <= out[-1][2]:
            out[-1] = (level, out[-1][1], max(end, out[-1][2]))
        else:
            out.append((level, start, end))
    return out


class CursorTreeStore:
    """A read-only :class:`~watchkeeper.trust.TreeStore` over ``merkle_nodes``, through a query function.

    ``query(sql, params)`` runs one SELECT and gives its rows; the caller decides which connection (and which
    transaction) that is. ``size`` is the tree size the caller read from ``merkle_logs``. Stored hashes never change,
    so the store keeps what it read: :meth:`hashes_many` reads every span a proof needs in one query (MerkleTree
    asks for them before folding), spans that touch or overlap read as one run, and :meth:`hashes` then answers from
    memory, slicing a run that holds the span (the leaf hash of an inclusion proof: the run of its band's siblings).
    Make one store per request.
    """

    def __init__(self, query: Callable[[str, tuple[Any, ...]], list[Any]], dialect: str, log_id: int, size: int):
        self._query = query
        self._log_id = log_id
        self._size = size
        p = param(dialect)
        self._sql = (
            f"SELECT hash FROM merkle_nodes WHERE log_id = {p} AND level = {p} AND idx >= {p} AND idx < {p} "  # noqa: S608
            "ORDER BY idx"
        )
        self._sqlite = dialect == "sqlite"
        self._read: dict[tuple[int, int, int], list[bytes]] = {}

    @property
    def stride(self) -> int:
        return STRIDE

    def size(self) -> int:
        return self._size

    def set_size(self, size: int) -> None:
        self._size = size

    def _check(self, level: int, start: int, end: int) -> None:
        if level % STRIDE or not 0 <= start <= end or end > (self._size >> level):
            raise IndexError(f"no stored hashes at level {level} for [{start}, {end})")

    def _held(self, level: int, start: int, end: int) -> list[bytes] | None:
        """The span's hashes from what was read (the span itself, or a run that holds it); None if not read."""
        if start == end:
            return []
        got = self._read.get((level, start, end))
        if got is None:
            for (lv, lo, hi), hashes in self._read.items():
                if lv == level and lo <= start and end <= hi:
                    return hashes[start - lo : end - lo]
        return got

    def hashes(self, level: int, start: int, end: int) -> list[bytes]:
        self._check(level, start, end)
        got = self._held(level, start, end)
        if got is None:
            got = [bytes(r[0]) for r in self._query(self._sql, (self._log_id, level, start, end))]
        return got

    def hashes_many(self, spans: Sequence[tuple[int, int, int]]) -> list[list[bytes]]:
        """:meth:`hashes` of each ``(level, start, end)``; the ones not read yet in one query, each run of spans that
        touch or overlap joined in index order into one value (so a proof costs one round trip, not one per
        subtree, and one index range scan per run)."""
        for span in spans:
            self._check(*span)
        todo = [s for s in dict.fromkeys(spans) if self._held(*s) is None]
        if todo:
            runs = _runs(todo)
            missing: list[tuple[int, int, int]] = []
            for run, hashes in zip(runs, self._joined(runs), strict=True):
                if len(hashes) == run[2] - run[1]:
                    self._read[run] = hashes
                else:  # a hash is missing (a damaged store): read the run's spans apart, each with what it has
                    missing.extend(s for s in todo if s[0] == run[0] and run[1] <= s[1] and s[2] <= run[2])
            if missing:
                for span, hashes in zip(missing, self._joined(missing), strict=True):
                    self._read[span] = hashes
        return [self._held(*s) or [] for s in spans]

    def _joined(self, spans: list[tuple[int, int, int]]) -> list[list[bytes]]:
        joined = self._joined_sqlite(spans) if self._sqlite else self._joined_pg(spans)
        return [[data[i : i + HASH_SIZE] for i in range(0, len(data), HASH_SIZE)] for data in joined]

    def _joined_sqlite(self, spans: list[tuple[int, int, int]]) -> list[bytes]:
        # one scalar subquery a span (SQLite plans them in microseconds and caches the statement)
        one = (
            "(SELECT CAST(group_concat(hash, '') AS BLOB) FROM (SELECT hash FROM merkle_nodes "
            "WHERE log_id = ? AND level = ? AND idx >= ? AND idx < ? ORDER BY idx))"
        )
        (row,) = self._query("SELECT " + ", ".join([one] * len(spans)), tuple(
            v for level, start, end in spans for v in (self._log_id, level, start, end)))  # fmt: skip
        return [bytes(v or b"") for v in row]

    def _joined_pg(self, spans: list[tuple[int, int, int]]) -> list[bytes]:
        # one statement text whatever the number of spans, so PostgreSQL plans it once per connection (psycopg
        # prepares it), where one subquery a span cost about 0.25 ms of planning each
        rows = self._query(
            "SELECT s.q, string_agg(m.hash, ''::bytea ORDER BY m.idx) "
            "FROM unnest(%s::smallint[], %s::bigint[], %s::bigint[]) WITH ORDINALITY AS s(level, lo, hi, q) "
            "JOIN merkle_nodes m ON m.log_id = %s AND m.level = s.level AND m.idx >= s.lo AND m.idx < s.hi "
            "GROUP BY s.q",
            ([lv for lv, _s, _e in spans], [st for _l, st, _e in spans], [e for _l, _s, e in spans], self._log_id),
        )
        out = [b""] * len(spans)
        for q, data in rows:
            out[int(q) - 1] = bytes(data)
        return out

    def append(self, size: int, new: Mapping[int, Sequence[bytes]]) -> None:
        raise NotImplementedError("the sequencer appends (trust/log.py); this store only reads")
