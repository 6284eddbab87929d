"""The single writer: one thread per process that commits queued batches in groups.

Ingest calls :meth:`Writer.submit` and waits on the returned future; the future resolves only after the batch's
rows are committed, so an acknowledged record survives a killed process. Batches that arrive while a commit is
running are committed together in the next transaction (group commit), which is what makes small requests cheap.
When the queue holds more than ``queue_max_records`` records, ``submit`` raises :class:`Overloaded` at once: the
caller answers 429 with ``Retry-After``; nothing is dropped silently.

Inserts are idempotent on (trace id, span id, project): re-sending a batch never duplicates a span. A batch that
carries rollup increments (``RowBatch.rollups``, from the ``rollup`` processor) has them added in the same
transaction (``_rollups.Tally``), counting only the rows actually inserted: when some rows of a group were already
stored, the transaction is rolled back and written again without them, so a re-sent span is never counted twice.
Several server processes may share one PostgreSQL; each has its own writer and the unique constraint keeps them
consistent.
Several processes may also share one SQLite file (``serve --workers``): their writers take turns through a lock
file beside the database, because SQLite's own busy handler waits by sleeping in growing steps (up to 100 ms),
which idles the waiting process, while a blocked ``flock`` wakes as soon as the other commit ends.
"""

from __future__ import annotations

import contextlib
import logging
import math
import operator
import os
import sys
import threading
import time
from collections import deque
from collections.abc import Callable
from concurrent.futures import Future
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Engine, Table
from sqlalchemy.dialects import postgresql, sqlite

from .._rollup import Facts, RollupDelta
from ..errors import Overloaded, StorageError
from ._rollups import FEEDBACK_KEY, SPAN_KEY, Tally, ValueCap, unstored
from .tables import feedback, spans

if sys.platform != "win32":
    import fcntl

log = logging.getLogger("watchkeeper.store.writer")


@dataclass(slots=True)
class RowBatch:
    """Rows ready to insert, in table order."""

    span_rows: list[dict[str, Any]] = field(default_factory=list)
    feedback_rows: list[dict[str, Any]] = field(default_factory=list)
    # what the batch adds to the rollups (facts in span_rows order); None: the batch is stored but not counted
    rollups: RollupDelta | None = None

    def __len__(self) -> int:
        return len(self.span_rows) + len(self.feedback_rows)


@dataclass(frozen=True, slots=True)
class CommitStats:
    records: int
    batches: int
    seconds: float


class _Insert:
    """A pre-compiled idempotent INSERT for one table, run through the driver's executemany."""

    def __init__(self, engine: Engine, table: Table) -> None:
        cols = [c for c in table.columns if c.name != "id"]
        if engine.dialect.name == "postgresql":
            stmt: Any = postgresql.insert(table).on_conflict_do_nothing()
        else:
            stmt = sqlite.insert(table).on_conflict_do_nothing()
        compiled = stmt.values({c.name: None for c in cols}).compile(dialect=engine.dialect)
        self.sql = str(compiled)
        self.positional = compiled.positional
        self.order = list(compiled.positiontup or []) if compiled.positional else [c.name for c in cols]
        self._getter = operator.itemgetter(*self.order)  # a row dict to its parameter tuple, in one C call

    def params(self, rows: list[dict[str, Any]]) -> list[Any]:
        if self.positional:
            getter = self._getter
            return [getter(r) for r in rows]
        return rows


class _Resent(Exception):
    """Some rows of a counted group were stored already: write the group again without them."""


_RESENT_ATTEMPTS = 3  # PostgreSQL: another process may store the same span between the check and the insert


class _FileLock:
    """An exclusive ``flock`` on a file: cross-process turn-taking that a killed holder releases with its process."""

    def __init__(self, path: str) -> None:
        self._fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)

    @contextlib.contextmanager
    def held(self) -> Any:
        fcntl.flock(self._fd, fcntl.LOCK_EX)  # releases the GIL while it waits
        try:
            yield
        finally:
            fcntl.flock(self._fd, fcntl.LOCK_UN)

    def close(self) -> None:
        os.close(self._fd)


def _sqlite_lock(engine: Engine) -> _FileLock | None:
    db = engine.url.database
    if sys.platform == "win32":
        return None  # no flock: one server process per SQLite file there
    if engine.dialect.name != "sqlite" or not db or db == ":memory:" or db.startswith("file:"):
        return None
    return _FileLock(db + "-writer.lock")


@contextlib.contextmanager
def write_turn(engine: Engine) -> Any:
    """The writers' turn, for a transaction outside any writer (a rollup rebuild): on a SQLite file, the lock file
    the writers of every process take turns through; elsewhere nothing (PostgreSQL locks rows and tables)."""
    lock = _sqlite_lock(engine)
    if lock is None:
        yield
        return
    try:
        with lock.held():
            yield
    finally:
        lock.close()


class Writer:
    def __init__(
        self,
        engine: Engine,
        *,
        queue_max_records: int = 200_000,
        commit_max_records: int = 20_000,
        on_commit: Callable[[CommitStats], None] | None = None,
    ) -> None:
        self._engine = engine
        self._max = queue_max_records
        self._commit_max = commit_max_records
        self._on_commit = on_commit
        self._queue: deque[tuple[RowBatch, Future[int]]] = deque()
        self._depth = 0
        self._cond = threading.Condition()
        self._stopping = False
        self._thread: threading.Thread | None = None
        self._spans = _Insert(engine, spans)
        self._feedback = _Insert(engine, feedback)
        self._rate = 10_000.0  # records/s, smoothed; used to suggest Retry-After
        self._lock: _FileLock | None = None
        self._cap = ValueCap()  # which slice values have rollup rows of their own (cached from the store)

    @property
    def depth(self) -> int:
        """Records waiting to be committed."""
        return self._depth

    @property
    def capacity(self) -> int:
        return self._max

    def start(self) -> None:
        """Start the writer thread (again, after a stop)."""
        with self._cond:
            self._stopping = False
        if self._lock is None:
            self._lock = _sqlite_lock(self._engine)
        if self._thread is None:
            self._thread = threading.Thread(target=self._run, name="watchkeeper-writer", daemon=True)
            self._thread.start()

    def stop(self, timeout: float = 30.0) -> None:
        """Commit what is queued, then stop the thread."""
        with self._cond:
            self._stopping = True
            self._cond.notify_all()
        if self._thread is not None:
            self._thread.join(timeout)
            self._thread = None
        if self._lock is not None and self._thread is None:
            self._lock.close()
            self._lock = None

    def check_room(self) -> None:
        """Raise :class:`Overloaded` when the queue is already full, so a caller can refuse before decoding."""
        depth = self._depth  # a racy read is fine: submit checks again under the lock
        if depth >= self._max:
            raise self._overloaded(depth)

    def _overloaded(self, depth: int) -> Overloaded:
        wait = max(1, math.ceil(depth / max(self._rate, 1.0)))
        return Overloaded(
            f"the ingest queue holds {depth} records (limit {self._max}); retry after {wait} s", retry_after_s=wait
        )

    def submit(self, batch: RowBatch) -> Future[int]:
        """Queue a batch; the future gives the number of records once they are committed."""
        fut: Future[int] = Future()
        n = len(batch)
        if batch.rollups is not None and len(batch.rollups.facts) != len(batch.span_rows):
            raise ValueError("RowBatch.rollups.facts must hold one entry per span row, in order")
        if n == 0:
            fut.set_result(0)
            return fut
        with self._cond:
            if self._stopping:
                raise StorageError("the server is shutting down; retry against another instance or after restart")
            if self._depth and self._depth + n > self._max:
                raise self._overloaded(self._depth)
            self._queue.append((batch, fut))
            self._depth += n
            self._cond.notify()
        return fut

    def _take(self) -> list[tuple[RowBatch, Future[int]]]:
        with self._cond:
            while not self._queue and not self._stopping:
                self._cond.wait()
            taken: list[tuple[RowBatch, Future[int]]] = []
            n = 0
            while self._queue and (not taken or n + len(self._queue[0][0]) <= self._commit_max):
                item = self._queue.popleft()
                taken.append(item)
                n += len(item[0])
            return taken

    def _release(self, n: int) -> None:
        with self._cond:
            self._depth -= n

    def _write(self, items: list[tuple[RowBatch, Future[int]]]) -> None:
        """Commit a group: the rows, and the rollup increments of the counted batches among them."""
        for attempt in range(_RESENT_ATTEMPTS):
            try:
                self._write_once(items, dedupe=attempt > 0)
            except _Resent:
                continue
            return
        raise StorageError("records were stored by another writer while this batch was being counted; retry it")

    def _write_once(self, items: list[tuple[RowBatch, Future[int]]], *, dedupe: bool) -> None:
        span_rows = [r for b, _ in items for r in b.span_rows]
        fb_rows = [r for b, _ in items for r in b.feedback_rows]
        deltas = [b.rollups for b, _ in items if b.rollups is not None]
        counted = bool(deltas)
        facts: list[Facts | None] = []
        fb_counted: list[bool] = []
        if counted:
            for b, _ in items:
                facts += b.rollups.facts if b.rollups is not None else [None] * len(b.span_rows)
                fb_counted += [b.rollups is not None] * len(b.feedback_rows)
        with self._turn(), self._engine.begin() as conn:
            if dedupe:  # only rows not stored yet, each once: what is inserted is exactly what is counted
                keep = unstored(conn, span_rows, SPAN_KEY, spans)
                span_rows = [r for r, k in zip(span_rows, keep, strict=True) if k]
                facts = [f for f, k in zip(facts, keep, strict=True) if k]
                keep = unstored(conn, fb_rows, FEEDBACK_KEY, feedback)
                fb_rows = [r for r, k in zip(fb_rows, keep, strict=True) if k]
                fb_counted = [c for c, k in zip(fb_counted, keep, strict=True) if k]
            cur = conn.connection.driver_connection.cursor()  # type: ignore[union-attr]
            try:
                if span_rows:
                    cur.executemany(self._spans.sql, self._spans.params(span_rows))
                    if counted and cur.rowcount != len(span_rows):
                        raise _Resent
                if not counted:
                    if fb_rows:
                        cur.executemany(self._feedback.sql, self._feedback.params(fb_rows))
                    return
                tally = Tally(conn, deltas[0].config, self._cap)
                if dedupe:
                    tally.add_facts(f for f in facts if f is not None)
                else:
                    for d in deltas:
                        tally.add_groups(d.groups)
                tally.turns_with_feedback([f for f in facts if f is not None and f.root])
                firsts = tally.first_feedback([r for r, c in zip(fb_rows, fb_counted, strict=True) if c])
                if fb_rows:
                    cur.executemany(self._feedback.sql, self._feedback.params(fb_rows))
                    if cur.rowcount != len(fb_rows):
                        raise _Resent
                tally.feedback_turns(firsts)
                tally.apply(cur)
            finally:
                cur.close()

    def _turn(self) -> Any:
        """This process's turn to write: the SQLite lock file when there is one (built before taking it)."""
        return self._lock.held() if self._lock is not None else contextlib.nullcontext()

    def _run(self) -> None:
        while True:
            items = self._take()
            if not items:
                return  # stopping and drained
            n = sum(len(b) for b, _ in items)
            t0 = time.perf_counter()
            try:
                self._write(items)
            except Exception as e:  # database error texts may quote row values: log the type only
                log.error(
                    "group commit of %d batches failed (%s); retrying them one by one", len(items), type(e).__name__
                )
                self._write_one_by_one(items)
            else:
                for batch, fut in items:
                    fut.set_result(len(batch))
            finally:
                self._release(n)
            dt = time.perf_counter() - t0
            if dt > 0:
                self._rate = 0.8 * self._rate + 0.2 * (n / dt)
            if self._on_commit is not None:
                self._on_commit(CommitStats(records=n, batches=len(items), seconds=dt))

    def _write_one_by_one(self, items: list[tuple[RowBatch, Future[int]]]) -> None:
        for batch, fut in items:
            try:
                self._write([(batch, fut)])
            except Exception as e:  # a database error text may quote row values: never pass it on
                log.error("batch of %d records could not be committed: %s", len(batch), type(e).__name__)
                fut.set_exception(StorageError("the store could not commit this batch; it was not stored, retry later"))
            else:
                fut.set_result(len(batch))
