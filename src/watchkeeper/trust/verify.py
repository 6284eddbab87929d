"""``watchkeeper verify``: re-derive the records log from the store and check it against pinned keys, offline.

In one read snapshot of the store, with nothing but the verifier keys the auditor pinned:

1. every checkpoint note is opened with the pinned keys (signed-note rules; a retired key only up to its size);
   two valid checkpoints of one size with different roots are a fork, a smaller size after a larger one a rollback;
2. every sequenced row's leaf is re-derived (the SQL leaf encoding of _sql.py), hashed, and compared with the
   stored leaf hash; the tree is folded again from those hashes, every stored 8th-level node is compared, and the
   root at each checkpoint's size (and at ``--against``'s) must equal the signed root — which also proves each
   checkpoint extends the previous one, from the leaves rather than from a proof the store supplies;
3. every payload is classified (leaves.classify_payload): present and matching, absent under a purge or erasure on
   record (``privacy_events`` + ``erased_traces``; a purge whose cutoff is later than its own start is refused), or
   tampered;
4. rows and hashes beyond the tree, a tree shorter than a signed checkpoint, and a stored compact range that differs
   from the recomputed one are reported. Rows not sequenced yet are counted, not failed.

The report names the first bad leaf index. Rows are read in ranges of ``chunk`` leaf indices; a range's logged leaf
hashes come back as one value and are compared with the re-derived ones in one comparison, and only a range that
differs is read again hash by hash to name the first bad index.

On a SQLite file the rows of a range are first read by the compiled scanner (``_scan.c``, built at install where a
C compiler and the SQLite and OpenSSL headers are there): its own read-only connection and read transaction, the
same leaf encoding (the layout is passed from :mod:`._sql`), every payload hashed against its committed value. It
answers only when every row of the range is there and regular; otherwise — a row gone, a value of the wrong type,
a payload absent or not matching — the range is read again by the Python path from this verifier's own snapshot,
which classifies and reports. Leaves below the snapshot's tree size never change once sealed (a purge or erasure
only empties a payload, which the scanner does not excuse), so the scanner's later snapshot vouches for nothing
the verifier's snapshot would not. The report says which reader ran (``reader``) and how many ranges the Python
path read (``python_ranges``).

The Python path reads through a raw driver cursor, ``_BATCH`` rows at a time (memory stays bounded whatever the
log's size or the payloads'); its time goes to handing ~20 values a row from the driver to Python and to three
SHA-256 objects a row (leaf, payload, tree node). docs/benchmarks.md has the numbers.
"""

from __future__ import annotations

import contextlib
import struct
import time
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from hashlib import sha256
from typing import Any, Protocol

from sqlalchemy import Engine

from . import _sql
from .checkpoint import CheckpointError, Verifier, VerifierSet, open_checkpoint
from .leaves import LeafError, PayloadState, RecordLeaf, Removal, classify_payload, decode_leaf
from .log import RECORDS_LOG
from .merkle import CompactRange, leaf_hash, python_pair_level

try:
    from . import _scan
except ImportError:  # built by setup.py where the install can compile it; verify is the same without, only slower
    _scan = None  # type: ignore[assignment]

CHUNK = 1 << 16
_BATCH = 1024  # rows held at once while a chunk is read
_MMAP_BYTES = 1 << 40  # SQLite caps it at its compiled SQLITE_MAX_MMAP_SIZE
_MAX_PROBLEMS = 50


@dataclass(frozen=True)
class Problem:
    kind: str  # leaf | row-missing | hash-missing | payload | node | checkpoint | fork | rollback | root | truncated
    #            beyond-tree | state | purge | unsigned
    detail: str
    index: int | None = None

    def as_dict(self) -> dict[str, Any]:
        return {"kind": self.kind, "index": self.index, "detail": self.detail}


@dataclass
class VerifyReport:
    origin: str | None = None
    size: int = 0
    checkpoints: int = 0
    checkpoints_valid: int = 0
    last_checkpoint_size: int | None = None
    against_size: int | None = None
    unsigned: int = 0
    unsequenced: int = 0
    rows_deleted: int = 0
    payloads: Counter[str] = field(default_factory=Counter)
    problems: list[Problem] = field(default_factory=list)
    problem_count: int = 0
    seconds: float = 0.0
    reader: str = "python"  # "compiled" when the compiled scanner read the rows (see the module docstring)
    python_ranges: int = 0  # ranges of leaves the Python path read (all of them without the compiled scanner)

    @property
    def ok(self) -> bool:
        return self.problem_count == 0

    @property
    def first_bad_index(self) -> int | None:
        idx = [p.index for p in self.problems if p.index is not None]
        return min(idx) if idx else None

    def add(self, kind: str, detail: str, index: int | None = None) -> None:
        self.problem_count += 1
        if len(self.problems) < _MAX_PROBLEMS or (
            index is not None and (self.first_bad_index is None or index < self.first_bad_index)
        ):
            self.problems.append(Problem(kind, detail, index))

    def as_dict(self) -> dict[str, Any]:
        return {
            "ok": self.ok,
            "origin": self.origin,
            "size": self.size,
            "first_bad_index": self.first_bad_index,
            "checkpoints": self.checkpoints,
            "checkpoints_valid": self.checkpoints_valid,
            "last_checkpoint_size": self.last_checkpoint_size,
            "against_size": self.against_size,
            "unsigned_leaves": self.unsigned,
            "unsequenced_rows": self.unsequenced,
            "rows_deleted_by_purge": self.rows_deleted,
            "payloads": {s.value: self.payloads.get(s.value, 0) for s in PayloadState},
            "problem_count": self.problem_count,
            "problems": [p.as_dict() for p in sorted(self.problems, key=_order)],
            "seconds": round(self.seconds, 3),
            "reader": self.reader,
            "python_ranges": self.python_ranges,
        }


def _order(p: Problem) -> tuple[int, int]:
    return (0 if p.index is not None else 1, p.index or 0)


class _Snapshot:
    """One read transaction on a raw driver connection: every query sees the same state of the store.

    On SQLite the connection also maps the database file into memory for the duration (``mmap_size``: a page read
    then costs no system call; SQLite maps up to its compiled limit, 2 GiB in Debian's build, and reads the rest),
    and :meth:`blobs` and :meth:`batches` return text as the stored bytes (no UTF-8 decoding; leaves are bytes
    anyway). Both are undone before the connection goes back to the pool.
    """

    def __init__(self, engine: Engine) -> None:
        self.dialect = engine.dialect.name
        db = engine.url.database
        # the database file the compiled scanner may open (not an in-memory or URI-named database)
        self.file = db if self.dialect == "sqlite" and db and db != ":memory:" and not db.startswith("file:") else None
        self._conn = engine.connect()
        raw: Any = self._conn.connection.dbapi_connection
        self._raw = raw
        self._cur: Any = raw.cursor()
        self._mmap: int | None = None
        if self.dialect == "sqlite":
            self._mmap = int(self._cur.execute("PRAGMA mmap_size").fetchone()[0])
            self._cur.execute(f"PRAGMA mmap_size = {_MMAP_BYTES}")
            self._cur.execute("BEGIN")
        else:
            self._cur.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY")
            # every range is read in log_index order: through its index, never a bitmap scan and a sort, which the
            # planner picks when the table's statistics lag behind the log (a range past the histogram looks tiny)
            # and which then spills tens of MB to disk per range
            self._cur.execute("SET LOCAL enable_sort = off")
        self.p = _sql.param(self.dialect)

    def all(self, sql: str, params: tuple[Any, ...] = ()) -> list[Any]:
        self._cur.execute(sql, params)
        return list(self._cur.fetchall())

    @contextlib.contextmanager
    def _raw_text(self) -> Iterator[None]:
        if self.dialect != "sqlite":  # psycopg gives bytea as bytes already
            yield
            return
        before = self._raw.text_factory
        self._raw.text_factory = bytes
        try:
            yield
        finally:
            self._raw.text_factory = before

    def blobs(self, sql: str, params: tuple[Any, ...] = ()) -> list[Any]:
        """:meth:`all`, with text values as the stored bytes."""
        with self._raw_text():
            return self.all(sql, params)

    def batches(self, sql: str, params: tuple[Any, ...]) -> Iterator[list[Any]]:
        """The rows of one query, :data:`_BATCH` at a time, text as stored bytes: memory bounded by the batch,
        whatever the payloads weigh (PostgreSQL: through a server-side cursor, else the driver holds every row)."""
        if self.dialect != "sqlite":
            with self._raw.cursor(name="watchkeeper_verify") as cur:
                cur.execute(sql, params)
                while rows := cur.fetchmany(_BATCH):
                    yield rows
            return
        with self._raw_text():
            self._cur.execute(sql, params)
            while rows := self._cur.fetchmany(_BATCH):
                yield rows

    def copy_out(self, sql: str) -> Iterator[Any]:
        """The chunks of a ``COPY … TO STDOUT`` run in this snapshot's transaction (PostgreSQL)."""
        with self._raw.cursor() as cur, cur.copy(sql) as copy:
            yield from copy

    def close(self) -> None:
        try:
            self._cur.close()
            self._raw.rollback()
            if self._mmap is not None:
                self._raw.execute(f"PRAGMA mmap_size = {self._mmap}")
        finally:
            self._conn.close()


def _removals(snap: _Snapshot, report: VerifyReport) -> tuple[list[Removal], int]:
    """The purges and erasures on record that may excuse an absent payload, and how many rows metadata purges
    deleted; refuses (and reports) removal records that contradict themselves."""
    events = snap.all(
        "SELECT id, project_id, action, data_class, cutoff_ns, started_ns, finished_ns, count FROM privacy_events "
        "WHERE action IN ('purge', 'erase') ORDER BY id"
    )
    traces: dict[int, set[bytes]] = {}
    for ev_id, trace_id in snap.all("SELECT event_id, trace_id FROM erased_traces"):
        traces.setdefault(int(ev_id), set()).add(bytes(trace_id))
    out: list[Removal] = []
    deleted_budget = 0
    for ev_id, pid, action, data_class, cutoff, started, finished, count in events:
        if finished < started:
            report.add("purge", f"privacy event {ev_id} finished before it started; it covers nothing")
            continue
        if action == "purge":
            if cutoff is None or cutoff > started:
                report.add(
                    "purge",
                    f"purge {ev_id} claims a cutoff later than its own start (backdated); it covers nothing",
                )
                continue
            if data_class == "metadata":
                deleted_budget += int(count)
                continue
            out.append(Removal("purge", int(pid), int(finished), cutoff_ns=int(cutoff)))
        else:
            out.append(Removal("erase", int(pid), int(finished), trace_ids=frozenset(traces.get(int(ev_id), ()))))
    return out, deleted_budget


@dataclass(frozen=True)
class _Target:
    size: int
    root: bytes
    label: str


def verify_store(
    engine: Engine,
    pinned: Iterable[Verifier],
    *,
    against: str | None = None,
    strict: bool = False,
    chunk: int = CHUNK,
    log_id: int = RECORDS_LOG,
    compiled: bool = True,
) -> VerifyReport:
    """Checks the records log of the store behind ``engine`` (see the module docstring); never writes.
    ``compiled=False`` reads and hashes every leaf in Python only (the same checks, slower)."""
    t0 = time.perf_counter()
    report = VerifyReport()
    keys = VerifierSet(list(pinned))
    snap = _Snapshot(engine)
    try:
        _verify(snap, keys, report, against=against, strict=strict, chunk=chunk, log_id=log_id, compiled=compiled)
    finally:
        snap.close()
    report.seconds = time.perf_counter() - t0
    return report


def _verify(
    snap: _Snapshot,
    keys: VerifierSet,
    report: VerifyReport,
    *,
    against: str | None,
    strict: bool,
    chunk: int,
    log_id: int,
    compiled: bool,
) -> None:
    p = snap.p
    report.unsequenced = int(snap.all("SELECT count(*) FROM spans WHERE log_index IS NULL")[0][0])
    state = snap.all(f"SELECT origin, size, frontier, root FROM merkle_logs WHERE id = {p}", (log_id,))  # noqa: S608
    if not state:
        n_rows = int(snap.all("SELECT count(*) FROM spans WHERE log_index IS NOT NULL")[0][0])
        if n_rows:
            report.add("state", f"{n_rows} rows carry leaf indices but the store has no log", 0)
        if against is not None:
            report.add("truncated", "the store has no log, but a checkpoint of it was remembered", 0)
        return
    origin, size, frontier, root = state[0][0], int(state[0][1]), bytes(state[0][2]), bytes(state[0][3])
    report.origin, report.size = origin, size
    removals, deleted_budget = _removals(snap, report)

    # 1. checkpoints
    targets: list[_Target] = []
    valid_sizes: list[int] = []
    bad: list[tuple[int, str, str]] = []  # (size, kind, detail): indexed once the trusted prefix is known
    last_valid = -1
    rows = snap.all(f"SELECT id, size, root, note FROM checkpoints WHERE log_id = {p} ORDER BY id", (log_id,))  # noqa: S608
    report.checkpoints = len(rows)
    for cp_id, cp_size, cp_root, note in rows:
        try:
            vc = open_checkpoint(note, keys, origin=origin)
        except CheckpointError as e:
            bad.append((int(cp_size), "checkpoint", f"checkpoint {cp_id} (size {cp_size}): {e.detail}"))
            continue
        cp = vc.checkpoint
        if cp.size != int(cp_size) or cp.root != bytes(cp_root):
            bad.append((cp.size, "checkpoint", f"checkpoint {cp_id}: its size or root columns differ from its note"))
            continue
        report.checkpoints_valid += 1
        if cp.size < last_valid:
            bad.append((cp.size, "rollback", f"checkpoint {cp_id} goes back from size {last_valid} to {cp.size}"))
        last_valid = max(last_valid, cp.size)
        valid_sizes.append(cp.size)
        targets.append(_Target(cp.size, cp.root, f"checkpoint {cp_id}"))
    if against is not None:
        try:
            vc = open_checkpoint(against, keys, origin=origin)
        except CheckpointError as e:
            report.add("checkpoint", f"--against: {e.detail}", 0)
        else:
            report.against_size = vc.checkpoint.size
            targets.append(_Target(vc.checkpoint.size, vc.checkpoint.root, "the remembered checkpoint (--against)"))
            valid_sizes.append(vc.checkpoint.size)
    by_size: dict[int, list[_Target]] = {}
    for t in targets:
        by_size.setdefault(t.size, []).append(t)
    for s, ts in by_size.items():
        if len({t.root for t in ts}) > 1:
            bad.append((s, "fork", f"{len(ts)} signed checkpoints of size {s} have different roots: the log forked"))
    report.last_checkpoint_size = max((t.size for t in targets if "against" not in t.label), default=None)

    def trusted_below(s: int) -> int:
        return max([v for v in valid_sizes if v < s] or [0])

    for s, kind, detail in bad:
        report.add(kind, detail, trusted_below(s))
    for t in targets:
        if t.size > size:
            report.add("truncated", f"{t.label} has size {t.size} but the tree holds {size} leaves (truncated)", size)

    # 2 and 3. leaves, tree and payloads
    matched: list[int] = [0]  # sizes whose signed root the leaves reproduced

    def root_checked(s: int, r: bytes) -> None:
        for t in by_size.get(s, ()):
            if t.root == r:
                matched.append(s)
            else:
                # a bad leaf already found explains the wrong root; otherwise the leaves after the last root that
                # matched are the ones no checkpoint vouches for
                known = report.first_bad_index
                at = known if known is not None and max(matched) <= known < s else max(matched)
                report.add("root", f"the leaves do not give the root of {t.label} at size {s}", at)

    compact = CompactRange()
    stops = sorted({t.size for t in targets if 0 < t.size <= size})
    scan = _LeafScan(snap, report, removals, log_id, compiled=compiled)
    pair = None if compiled else python_pair_level
    try:
        stop_i = 0
        for a in range(0, size, chunk):
            b = min(a + chunk, size)
            hashes = scan.hashes(a, b)
            # fold, compare stored upper levels, and check roots at checkpoint sizes inside this chunk
            pos = a
            while pos < b:
                end = b
                while stop_i < len(stops) and stops[stop_i] <= pos:
                    stop_i += 1
                if stop_i < len(stops) and stops[stop_i] < b:
                    end = stops[stop_i]
                first = compact.size
                kept = compact.extend(hashes[pos - a : end - a], keep_every=_sql.STRIDE, pair=pair)
                _check_nodes(snap, scan.nodes_sql, log_id, kept, first, report)
                pos = end
                if stop_i < len(stops) and stops[stop_i] == end:
                    root_checked(end, compact.root())
    finally:
        scan.close()
    missing_rows = scan.missing_rows
    # 4. the rest of the store against the tree
    try:
        stored_compact = _sql.decode_frontier(size, frontier)
    except ValueError as e:
        report.add("state", f"merkle_logs: {e}", size)
    else:
        if stored_compact.frontier != compact.frontier or root != compact.root():
            report.add("state", "the stored compact range or root differs from the one the leaves give", size)
    beyond = snap.all(f"SELECT min(log_index), count(*) FROM spans WHERE log_index >= {p}", (size,))  # noqa: S608
    if beyond and int(beyond[0][1]):
        report.add("beyond-tree", f"{beyond[0][1]} rows have leaf indices at or past the tree size {size}", size)
    extra = snap.all(
        f"SELECT min(idx), count(*) FROM merkle_nodes WHERE log_id = {p} AND level = 0 AND idx >= {p}",  # noqa: S608
        (log_id, size),
    )
    if extra and int(extra[0][1]):
        report.add("beyond-tree", f"{extra[0][1]} leaf hashes are stored past the tree size {size}", size)
    if missing_rows:
        report.rows_deleted = len(missing_rows)
        if len(missing_rows) > deleted_budget:
            report.add(
                "row-missing",
                f"{len(missing_rows)} logged rows are gone but metadata purges on record deleted {deleted_budget}",
                missing_rows[0],
            )
    signed = report.last_checkpoint_size or 0
    report.unsigned = max(0, size - signed)
    if strict and report.unsigned:
        report.add("unsigned", f"{report.unsigned} leaves are not covered by a signed checkpoint (--strict)", signed)


class _LeafScan:
    """Re-derives the leaf hashes of one range of indices at a time, checks them against the logged ones, and
    classifies the payloads, recording problems and counts in the report.

    The logged hashes of a range come back as one value (``group_concat`` / ``string_agg`` of level 0, in index
    order), so the common case — every hash there and every re-derived one equal — is one comparison of two byte
    strings; only a range that differs is read again hash by hash to say where.
    """

    def __init__(
        self, snap: _Snapshot, report: VerifyReport, removals: list[Removal], log_id: int, *, compiled: bool
    ) -> None:
        self.snap = snap
        self.report = report
        self.removals = removals
        self.log_id = log_id
        self.missing_rows: list[int] = []
        p = snap.p
        self.decode, leaf_cols = _leaf_reader(snap.dialect)
        # a row: the leaf (on SQLite its 18 columns, payload_sha256 the last of them), the payload, the index
        sqlite = snap.dialect == "sqlite"
        self.committed = 17 if sqlite else -3  # where payload_sha256 is in a row
        self.rows_sql = (
            f"SELECT {leaf_cols}, {'' if sqlite else 'payload_sha256, '}payload, log_index FROM spans "  # noqa: S608
            f"WHERE log_index >= {p} AND log_index < {p} ORDER BY log_index"
        )
        self.nodes_sql = (
            f"SELECT idx, hash FROM merkle_nodes WHERE log_id = {p} AND level = {p} AND idx >= {p} AND idx < {p} "  # noqa: S608
            "ORDER BY idx"
        )
        joined = "group_concat(hash, '')" if snap.dialect == "sqlite" else "string_agg(hash, ''::bytea ORDER BY idx)"
        self.joined_sql = (
            f"SELECT count(*), min(idx), max(idx), {joined} FROM merkle_nodes "  # noqa: S608
            f"WHERE log_id = {p} AND level = 0 AND idx >= {p} AND idx < {p}"
        )
        self.scanner = _compiled_scanner(snap, self.rows_sql) if compiled else None
        if self.scanner is not None:
            report.reader = "compiled"

    def close(self) -> None:
        if self.scanner is not None:
            self.scanner.close()

    def hashes(self, a: int, b: int) -> list[bytes]:
        """The leaf hashes of ``[a, b)`` as the rows give them (the logged hash where a row is gone)."""
        if self.scanner is not None:
            got = self.scanner.scan(a, b)
            if got is not None:
                hashes, present, none = got
                n, lo, hi, logged = self.snap.blobs(self.joined_sql, (self.log_id, a, b))[0]
                if n == b - a and lo == a and hi == b - 1 and logged == b"".join(hashes):
                    self.report.payloads["present"] += present
                    self.report.payloads["none"] += none
                    return hashes
        self.report.python_ranges += 1
        return self._python_hashes(a, b)

    def _python_hashes(self, a: int, b: int) -> list[bytes]:
        decode = self.decode
        hashes: list[bytes] = []
        indices: list[int] = []
        for rows in self.snap.batches(self.rows_sql, (a, b)):
            hashes += [leaf_hash(decode(r)) for r in rows]
            indices += [r[-1] for r in rows]
            self._payloads(rows)
        if len(hashes) == b - a:
            n, lo, hi, logged = self.snap.blobs(self.joined_sql, (self.log_id, a, b))[0]
            if not (n == b - a and lo == a and hi == b - 1 and logged == b"".join(hashes)):
                self._compare(a, b, hashes)
            return hashes
        # rows are missing: use the stored hash in their place so the rest still folds
        stored_by = {int(r[0]): bytes(r[1]) for r in self.snap.all(self.nodes_sql, (self.log_id, 0, a, b))}
        by_idx = dict(zip(map(int, indices), hashes, strict=True))
        out = []
        for i in range(a, b):
            h = by_idx.get(i)
            if h is None:
                self.missing_rows.append(i)
                h = stored_by.get(i)
                if h is None:
                    self.report.add("hash-missing", f"leaf {i} has neither a row nor a stored hash", i)
                    h = b"\0" * 32
            out.append(h)
        self._compare(a, b, out)
        return out

    def _payloads(self, rows: list[Any]) -> None:
        """Classifies the payload of each row (leaf.classify_payload's rules), reporting the tampered ones."""
        report, counts, c = self.report, self.report.payloads, self.committed
        sha = sha256
        present = none = 0
        for r in rows:
            blob, committed = r[-2], r[c]
            if blob is not None:
                if committed is not None and isinstance(blob, bytes) and sha(blob).digest() == committed:
                    present += 1
                else:
                    i = int(r[-1])
                    counts["tampered"] += 1
                    report.add("payload", f"the payload of leaf {i} does not hash to its committed value", i)
            elif committed is None:
                none += 1
            else:
                st = self._absent(r)
                counts[st.value] += 1
                if st is PayloadState.TAMPERED:
                    i = int(r[-1])
                    report.add("payload", f"the payload of leaf {i} is gone with no purge or erasure covering it", i)
        counts["present"] += present
        counts["none"] += none

    def _absent(self, r: Any) -> PayloadState:
        try:
            leaf = decode_leaf(self.decode(r))
        except LeafError:
            return PayloadState.TAMPERED  # already reported as a bad leaf
        return classify_payload(leaf, None, self.removals) if isinstance(leaf, RecordLeaf) else PayloadState.TAMPERED

    def _compare(self, a: int, b: int, hashes: list[bytes]) -> None:
        """Reports, hash by hash, where ``[a, b)`` differs from the logged hashes (rows gone are not leaf problems)."""
        stored = self.snap.all(self.nodes_sql, (self.log_id, 0, a, b))
        stored_h = [bytes(r[1]) for r in stored]
        if len(stored_h) != b - a:
            have = {int(r[0]) for r in stored}
            for i in range(a, b):
                if i not in have:
                    self.report.add("hash-missing", f"the tree has no stored hash for leaf {i}", i)
                    break
        elif hashes != stored_h:
            gone = set(self.missing_rows)
            for i, (h, logged) in enumerate(zip(hashes, stored_h, strict=True)):
                if h != logged and a + i not in gone:
                    self.report.add("leaf", f"leaf {a + i} re-derived from its row differs from the logged leaf", a + i)


class _RangeReader(Protocol):
    def scan(self, a: int, b: int, /) -> tuple[list[bytes], int, int] | None: ...
    def close(self) -> None: ...


def copy_sql(a: int, b: int) -> str:
    """The binary ``COPY`` of the rows of ``[a, b)`` the compiled reader parses on PostgreSQL: the leaf columns
    (integers cast to ``bigint``, 8 bytes each), the payload, the log index."""
    cols = ", ".join(f"{n}::bigint" if k == "uint" else n for _t, n, k, _null in _sql.LEAF_LAYOUT)
    # COPY takes no bind parameters; the only values formatted in are the range's two ints
    return (
        f"COPY (SELECT {cols}, payload, log_index FROM spans WHERE log_index >= {int(a)} AND log_index < {int(b)} "  # noqa: S608
        "ORDER BY log_index) TO STDOUT (FORMAT BINARY)"
    )


def scanner_layout() -> tuple[bytes, str, bytes, int]:
    """What the compiled scanners are built with: the leaf columns' tags, their kinds (``u`` unsigned integer, ``b``
    bytes or text, uppercase when NULL encodes as nothing), the leaf head, and which column is ``payload_sha256``."""
    tags = bytes(tag for tag, _name, _kind, _null in _sql.LEAF_LAYOUT)
    kinds = "".join(
        (("U" if nullable else "u") if kind == "uint" else ("B" if nullable else "b"))
        for _tag, _name, kind, nullable in _sql.LEAF_LAYOUT
    )
    committed = [name for _tag, name, _kind, _null in _sql.LEAF_LAYOUT].index("payload_sha256")
    return tags, kinds, _sql.LEAF_HEAD, committed


class _CopyReader:
    """The compiled scanner on PostgreSQL: each range's rows come as a binary ``COPY`` in the verifier's own
    transaction (its snapshot) and are parsed and hashed as they arrive."""

    def __init__(self, snap: _Snapshot, scanner: _scan.CopyScanner) -> None:
        self._snap = snap
        self._scanner = scanner

    def scan(self, a: int, b: int, /) -> tuple[list[bytes], int, int] | None:
        sc = self._scanner
        sc.start(a, b)
        for chunk in self._snap.copy_out(copy_sql(a, b)):
            sc.feed(chunk)
        return sc.finish()

    def close(self) -> None:
        pass


def _compiled_scanner(snap: _Snapshot, rows_sql: str) -> _RangeReader | None:
    """The compiled scanner for the verifier's store, or None (no compiled module, a SQLite database that is not a
    file or cannot be opened: the Python path then reads every range)."""
    if _scan is None:
        return None
    if snap.dialect == "postgresql":
        return _CopyReader(snap, _scan.CopyScanner(*scanner_layout()))
    if snap.file is None:
        return None
    try:
        return _scan.Scanner(snap.file, rows_sql, *scanner_layout(), _MMAP_BYTES)
    except OSError:
        return None


def _leaf_reader(dialect: str) -> tuple[Callable[[Any], bytes], str]:
    """How verify reads leaves: (leaf bytes of a fetched row, the SQL that starts each row).

    SQLite: the 18 leaf columns, encoded in Python (``_sql.leaf_encoder``: faster there than SQLite's ``printf``);
    PostgreSQL: the SQL leaf expression as ``bytea``. A row whose columns cannot be encoded at all (a text in an
    integer column) gives bytes that match no leaf, so it is reported as a bad leaf rather than stopping the check.
    """
    if dialect == "sqlite":
        enc = _sql.leaf_encoder()

        def from_columns(r: Any) -> bytes:
            try:
                return enc(r)
            except (TypeError, ValueError, struct.error, OverflowError):
                return b"unencodable row"

        return from_columns, _sql.LEAF_COLUMNS
    dec = _sql.leaf_decoder(dialect)
    return (lambda r: dec(r[0])), _sql.leaf_sql(dialect)


def _check_nodes(
    snap: _Snapshot, sql: str, log_id: int, kept: dict[int, list[bytes]], first: int, report: VerifyReport
) -> None:
    for level, hashes in kept.items():
        if level == 0 or not hashes:
            continue
        start = first >> level
        stored = snap.all(sql, (log_id, level, start, start + len(hashes)))
        found: Sequence[bytes] = [bytes(r[1]) for r in stored]
        if list(found) != hashes:
            for i, h in enumerate(hashes):
                if i >= len(found) or found[i] != h:
                    idx = (start + i) << level
                    report.add("node", f"the stored level-{level} node {start + i} differs from the leaves'", idx)
                    break


__all__ = ["Problem", "VerifyReport", "verify_store"]
