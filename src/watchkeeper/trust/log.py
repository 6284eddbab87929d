"""The records log, running: a sequencer that appends committed spans to the tree, and a checkpointer that signs it.

The writer never waits for the log (Trillian's and Rekor's shape: an asynchronous sequencer with a bounded merge
delay). Each round of the :class:`Sequencer`, in one write transaction that also serialises it with every other
process (SQLite: the writer's lock file and ``BEGIN IMMEDIATE``; PostgreSQL: an advisory lock on the log id):

1. reads up to ``batch`` rows with no ``log_index``, in (project, id) order;
2. records each row's ``payload_sha256`` and gives it the next leaf index;
3. reads the rows' leaves back with the SQL leaf encoding (_sql.py) — exactly the bytes ``verify`` re-derives;
4. appends their hashes to the tree (``merkle_nodes``: level 0 and every 8th level; ``merkle_logs``: size, compact
   range, root) and commits. A crash before the commit leaves the rows unsequenced; the next round takes them.

The :class:`Checkpointer` signs ``origin / size / root`` as a C2SP signed note every ``interval_s`` seconds or
``max_leaves`` leaves, and again after ``idle_s`` without growth (:class:`~watchkeeper.trust.IssuePolicy`). Before it
signs, it proves from the stored tree that the new size extends the last checkpoint, so a tampered tree is refused,
never signed. The signing key is read from its file at each signature, so ``watchkeeper log rotate-key`` takes
effect without a restart.
"""

from __future__ import annotations

import contextlib
import hashlib
import logging
import os
import secrets
import sys
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy import Engine

from ..errors import Conflict, NotFound
from . import _sql
from .checkpoint import (
    Checkpoint,
    CheckpointError,
    IssuePolicy,
    Signer,
    Verifier,
    sign_checkpoint,
)
from .leaves import decode_leaf
from .merkle import (
    EMPTY_ROOT,
    MerkleTree,
    ProofError,
    leaf_hash,
    root_from_inclusion_proof,
    verify_consistency,
)

if sys.platform != "win32":
    import fcntl

log = logging.getLogger("watchkeeper.trust.log")

RECORDS_LOG = 1  # the id of the records log in merkle_logs; the access log will be 2
_PG_LOCK_BASE = 7273120  # pg_advisory_xact_lock key = base + log id (migrate.py uses 7273110)
KEY_FILE_NAME = "log-signing-key"


# ---------------------------------------------------------------------------------------------------------------
# Transactions


@contextlib.contextmanager
def _writer_turn(engine: Engine) -> Iterator[None]:
    """The writer's SQLite lock file (store/writer.py), so the two take turns instead of sleeping in busy waits."""
    db = engine.url.database
    if engine.dialect.name != "sqlite" or sys.platform == "win32" or not db or db == ":memory:":
        yield
        return
    fd = os.open(db + "-writer.lock", os.O_RDWR | os.O_CREAT, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)  # closing releases the lock


@contextlib.contextmanager
def locked(engine: Engine, log_id: int = RECORDS_LOG) -> Iterator[Any]:
    """A raw DB-API cursor in a write transaction that holds the log's lock; commits on success."""
    sqlite = engine.dialect.name == "sqlite"
    with _writer_turn(engine), engine.connect() as conn:
        raw: Any = conn.connection.dbapi_connection
        cur = raw.cursor()
        try:
            if sqlite:
                cur.execute("BEGIN IMMEDIATE")
            else:
                cur.execute("SELECT pg_advisory_xact_lock(%s)", (_PG_LOCK_BASE + log_id,))
            yield cur
            raw.commit()
        except BaseException:
            raw.rollback()
            raise
        finally:
            cur.close()


_Query = Callable[[str, tuple[Any, ...]], list[Any]]  # runs one SELECT, gives its rows


def _query(engine: Engine) -> _Query:
    def run(sql: str, params: tuple[Any, ...]) -> list[Any]:
        with engine.connect() as conn:
            raw: Any = conn.connection.dbapi_connection
            cur = raw.cursor()
            try:
                cur.execute(sql, params)
                return list(cur.fetchall())
            finally:
                cur.close()
                raw.rollback()

    return run


@contextlib.contextmanager
def _reading(engine: Engine) -> Iterator[_Query]:
    """A query function on one pooled connection, in one read transaction rolled back at the end: every query of a
    request sees the same snapshot, and the connection is checked out (PostgreSQL: pinged) once, not per query.

    SQLite: ``BEGIN`` (deferred: the first SELECT takes the WAL snapshot). PostgreSQL: REPEATABLE READ, set on the
    connection so that the driver's own ``BEGIN`` carries it (no extra round trip), and reset when the connection
    goes back to the pool.
    """
    sqlite = engine.dialect.name == "sqlite"
    with engine.connect() as conn:
        if not sqlite:
            conn.execution_options(isolation_level="REPEATABLE READ")
        raw: Any = conn.connection.dbapi_connection
        cur = raw.cursor()

        def run(sql: str, params: tuple[Any, ...]) -> list[Any]:
            cur.execute(sql, params)
            return list(cur.fetchall())

        try:
            if sqlite:
                cur.execute("BEGIN")
            yield run
        finally:
            cur.close()
            raw.rollback()


@dataclass(frozen=True, slots=True)
class LogState:
    log_id: int
    origin: str
    size: int
    frontier: bytes
    root: bytes


def _state(cur: Any, dialect: str, log_id: int) -> LogState | None:
    p = _sql.param(dialect)
    cur.execute(f"SELECT origin, size, frontier, root FROM merkle_logs WHERE id = {p}", (log_id,))  # noqa: S608
    r = cur.fetchone()
    return None if r is None else LogState(log_id, r[0], int(r[1]), bytes(r[2]), bytes(r[3]))


def ensure_log(engine: Engine, log_id: int = RECORDS_LOG, stream: str = "records") -> LogState:
    """The log's state, creating the empty log (with a random install id in its origin) on first use."""
    d = engine.dialect.name
    with locked(engine, log_id) as cur:
        st = _state(cur, d, log_id)
        if st is not None:
            return st
        origin = f"watchkeeper.local/{secrets.token_hex(6)}/{stream}"
        p = _sql.param(d)
        cur.execute(
            f"INSERT INTO merkle_logs (id, origin, size, frontier, root, updated_ns) VALUES ({p}, {p}, 0, {p}, {p}, {p})",  # noqa: S608,E501
            (log_id, origin, b"", EMPTY_ROOT, time.time_ns()),
        )
        return LogState(log_id, origin, 0, b"", EMPTY_ROOT)


def read_state(engine: Engine, log_id: int = RECORDS_LOG) -> LogState | None:
    """The log's size, compact range and root as last committed (None before the first start)."""
    rows = _query(engine)(
        f"SELECT origin, size, frontier, root FROM merkle_logs WHERE id = {_sql.param(engine.dialect.name)}",  # noqa: S608
        (log_id,),
    )
    if not rows:
        return None
    r = rows[0]
    return LogState(log_id, r[0], int(r[1]), bytes(r[2]), bytes(r[3]))


# ---------------------------------------------------------------------------------------------------------------
# Sequencing


class Sequencer:
    """Appends committed, unsequenced span rows to the records log, ``batch`` rows per transaction."""

    def __init__(self, engine: Engine, *, batch: int = 5000, log_id: int = RECORDS_LOG) -> None:
        if batch < 1:
            raise ValueError("batch must be positive")
        self.engine = engine
        self.batch = batch
        self.log_id = log_id
        d = engine.dialect.name
        p = _sql.param(d)
        self._select = f"SELECT id, payload FROM spans WHERE log_index IS NULL ORDER BY project_id, id LIMIT {p}"  # noqa: S608
        self._update = f"UPDATE spans SET log_index = {p}, payload_sha256 = {p} WHERE id = {p}"  # noqa: S608 - fixed
        self._leaves = (
            f"SELECT {_sql.leaf_sql(d)} FROM spans WHERE log_index >= {p} AND log_index < {p} ORDER BY log_index"  # noqa: S608
        )
        self._save = f"UPDATE merkle_logs SET size={p}, frontier={p}, root={p}, updated_ns={p} WHERE id={p}"  # noqa: S608
        self._decode = _sql.leaf_decoder(d)

    def run_once(self) -> int:
        """Sequences one batch; gives how many rows it appended (0: nothing was waiting)."""
        d = self.engine.dialect.name
        sha = hashlib.sha256
        with locked(self.engine, self.log_id) as cur:
            st = _state(cur, d, self.log_id)
            if st is None:
                raise NotFound("the records log does not exist yet; the server creates it on start")
            cur.execute(self._select, (self.batch,))
            rows = cur.fetchall()
            if not rows:
                return 0
            size = st.size
            cur.executemany(
                self._update,
                [(size + i, None if p is None else sha(p).digest(), rid) for i, (rid, p) in enumerate(rows)],
            )
            cur.execute(self._leaves, (size, size + len(rows)))
            decode = self._decode
            hashes = [leaf_hash(decode(r[0])) for r in cur.fetchall()]
            if len(hashes) != len(rows):
                raise Conflict("another process changed leaf indices during sequencing; the round was rolled back")
            compact = _sql.decode_frontier(size, st.frontier)
            kept = compact.extend(hashes, keep_every=_sql.STRIDE)
            _sql.insert_nodes(cur, d, self.log_id, kept, size)
            cur.execute(
                self._save,
                (compact.size, _sql.encode_frontier(compact), compact.root(), time.time_ns(), self.log_id),
            )
        return len(rows)

    def drain(self, stop: threading.Event | None = None) -> int:
        """Sequences until no row waits (or ``stop`` is set); gives the total."""
        total = 0
        while stop is None or not stop.is_set():
            n = self.run_once()
            total += n
            if n < self.batch:
                break
        return total


def merge_delay_s(engine: Engine, now_ns: int | None = None) -> float:
    """How long the oldest unsequenced span has waited for the log (0 when none waits)."""
    rows = _query(engine)("SELECT min(ingested_ns) FROM spans WHERE log_index IS NULL", ())
    oldest = rows[0][0] if rows else None
    if oldest is None:
        return 0.0
    return max(0.0, ((time.time_ns() if now_ns is None else now_ns) - int(oldest)) / 1e9)


# ---------------------------------------------------------------------------------------------------------------
# Keys


def default_key_file(data_dir: str) -> Path:
    return Path(data_dir) / KEY_FILE_NAME


def _write_secret(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + f".tmp-{os.getpid()}")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="ascii") as f:
        f.write(text + "\n")
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)


def load_signer(path: Path) -> Signer:
    """The signing key in ``path`` (a Go note ``PRIVATE+KEY+…`` string)."""
    try:
        text = path.read_text(encoding="ascii").strip()
    except FileNotFoundError:
        raise NotFound(f"log signing key file {path} does not exist") from None
    except (UnicodeDecodeError, OSError):
        raise CheckpointError(f"log signing key file {path} cannot be read as text", field="key") from None
    return Signer.from_skey(text)


def load_or_create_signer(path: Path, name: str) -> tuple[Signer, bool]:
    """The signing key in ``path``; made (Ed25519, file mode 0600) when the file does not exist. True if made."""
    if path.exists():
        return load_signer(path), False
    signer = Signer.generate(name)
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:  # another process made it first
        return load_signer(path), False
    with os.fdopen(fd, "w", encoding="ascii") as f:
        f.write(signer.skey + "\n")
        f.flush()
        os.fsync(f.fileno())
    return signer, True


def _key_row(cur: Any, d: str, log_id: int, vkey: str) -> tuple[bool, int | None]:
    p = _sql.param(d)
    cur.execute(f"SELECT retired_size FROM log_keys WHERE log_id = {p} AND vkey = {p}", (log_id, vkey))  # noqa: S608
    r = cur.fetchone()
    return (False, None) if r is None else (True, None if r[0] is None else int(r[0]))


def _register_key(cur: Any, d: str, log_id: int, vkey: str) -> int | None:
    """Records a signing key's public half; gives the size it was retired at (None: active)."""
    known, retired = _key_row(cur, d, log_id, vkey)
    if not known:
        p = _sql.param(d)
        cur.execute(
            f"INSERT INTO log_keys (log_id, vkey, created_ns) VALUES ({p}, {p}, {p})",  # noqa: S608
            (log_id, vkey, time.time_ns()),
        )
    return retired


def list_keys(engine: Engine, log_id: int = RECORDS_LOG) -> list[str]:
    """The log's public keys as an auditor pins them: ``VKEY`` (active) or ``VKEY@SIZE`` (retired at SIZE)."""
    p = _sql.param(engine.dialect.name)
    rows = _query(engine)(f"SELECT vkey, retired_size FROM log_keys WHERE log_id = {p} ORDER BY id", (log_id,))  # noqa: S608
    return [r[0] if r[1] is None else f"{r[0]}@{int(r[1])}" for r in rows]


@dataclass(frozen=True, slots=True)
class Rotation:
    old: str  # pinned form VKEY@SIZE
    new: str
    size: int
    note: str  # the hand-over checkpoint, signed by both keys


def rotate_key(engine: Engine, key_file: Path, log_id: int = RECORDS_LOG) -> Rotation:
    """Makes a new signing key; the old one is retired at the current size and keeps verifying older checkpoints.

    The hand-over checkpoint at that size is signed by both keys, so an auditor who pinned the old key can check
    the new one's first signature. The old private key is not kept.
    """
    d = engine.dialect.name
    old = load_signer(key_file)
    new = Signer.generate(old.name)
    p = _sql.param(d)
    with locked(engine, log_id) as cur:
        st = _state(cur, d, log_id)
        if st is None:
            raise NotFound("the records log does not exist yet; start the server once first")
        retired = _register_key(cur, d, log_id, old.verifier.vkey)
        if retired is not None:
            raise Conflict(f"the key in {key_file} was already retired at size {retired}")
        now = time.time_ns()
        cur.execute(
            f"UPDATE log_keys SET retired_size = {p}, retired_ns = {p} WHERE log_id = {p} AND vkey = {p}",  # noqa: S608
            (st.size, now, log_id, old.verifier.vkey),
        )
        _register_key(cur, d, log_id, new.verifier.vkey)
        note = sign_checkpoint(Checkpoint(st.origin, st.size, st.root), [old, new])
        cur.execute(
            f"INSERT INTO checkpoints (log_id, size, root, note, signed_ns) VALUES ({p}, {p}, {p}, {p}, {p})",  # noqa: S608
            (log_id, st.size, st.root, note, now),
        )
        _write_secret(key_file, new.skey)  # inside the lock: a checkpointer that signs after this reads the new key
    return Rotation(f"{old.verifier.vkey}@{st.size}", new.verifier.vkey, st.size, note)


# ---------------------------------------------------------------------------------------------------------------
# Checkpoints


class Checkpointer:
    """Signs checkpoints of the log when :class:`IssuePolicy` says one is due, after checking the tree extends the
    last one."""

    def __init__(
        self, engine: Engine, key_file: Path, *, policy: IssuePolicy | None = None, log_id: int = RECORDS_LOG
    ) -> None:
        self.engine = engine
        self.key_file = key_file
        self.policy = policy or IssuePolicy()
        self.log_id = log_id

    def run_once(self, *, force: bool = False, now: float | None = None) -> str | None:
        """The note signed now, or None when none was due (``force``: sign whenever the size changed)."""
        d = self.engine.dialect.name
        p = _sql.param(d)
        t = time.time() if now is None else now
        with locked(self.engine, self.log_id) as cur:
            st = _state(cur, d, self.log_id)
            if st is None:
                return None
            cur.execute(
                f"SELECT size, root, signed_ns FROM checkpoints WHERE log_id = {p} ORDER BY id DESC LIMIT 1",  # noqa: S608
                (self.log_id,),
            )
            last = cur.fetchone()
            last_size = None if last is None else int(last[0])
            if force:
                due = last_size != st.size
            else:
                due = self.policy.due(
                    now=t, size=st.size, last_size=last_size, last_time=None if last is None else int(last[2]) / 1e9
                )
            if not due:
                return None
            if last is not None:
                self._check_extends(cur, d, st, int(last[0]), bytes(last[1]))
            signer = load_signer(self.key_file)
            retired = _register_key(cur, d, self.log_id, signer.verifier.vkey)
            if retired is not None and st.size > retired:
                raise CheckpointError(
                    f"the signing key in {self.key_file} was retired at size {retired}; it may not sign size {st.size}"
                )
            note = sign_checkpoint(Checkpoint(st.origin, st.size, st.root), [signer])
            cur.execute(
                f"INSERT INTO checkpoints (log_id, size, root, note, signed_ns) VALUES ({p}, {p}, {p}, {p}, {p})",  # noqa: S608
                (self.log_id, st.size, st.root, note, time.time_ns()),
            )
        return note

    def _check_extends(self, cur: Any, d: str, st: LogState, size1: int, root1: bytes) -> None:
        if size1 > st.size:
            raise ProofError(f"the stored tree ({st.size}) is smaller than the last checkpoint ({size1}); not signing")
        if size1 == 0 or size1 == st.size:
            if size1 == st.size and root1 != st.root:
                raise ProofError(f"the stored root at size {size1} differs from the signed one; not signing")
            return

        def query(sql: str, params: tuple[Any, ...]) -> list[Any]:
            cur.execute(sql, params)
            return list(cur.fetchall())

        store = _sql.CursorTreeStore(query, d, self.log_id, st.size)
        tree = MerkleTree(store, _sql.decode_frontier(st.size, st.frontier))
        verify_consistency(size1, st.size, tree.consistency_proof(size1), root1, st.root)


# ---------------------------------------------------------------------------------------------------------------
# The background service


class LogService:
    """Runs the sequencer and the checkpointer in one daemon thread; :meth:`stop` seals what is left and signs."""

    def __init__(
        self,
        engine: Engine,
        key_file: Path,
        *,
        policy: IssuePolicy | None = None,
        batch: int = 5000,
        poll_s: float = 0.2,
        on_error: Callable[[BaseException], None] | None = None,
        also_sign: tuple[tuple[int, str], ...] = (),
    ) -> None:
        self.engine = engine
        self.key_file = key_file
        self.sequencer = Sequencer(engine, batch=batch)
        self.checkpointer = Checkpointer(engine, key_file, policy=policy)
        # other logs appended elsewhere (the access log, audit.py) that this thread signs too: (log id, stream name)
        self.also_sign = also_sign
        self._others = [Checkpointer(engine, key_file, policy=policy, log_id=i) for i, _ in also_sign]
        self.poll_s = poll_s
        self.on_error = on_error
        self.state: LogState | None = None
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        """Creates the log and its signing key if needed (logging the public key), then starts the thread."""
        self.state = ensure_log(self.engine)
        for log_id, stream in self.also_sign:
            ensure_log(self.engine, log_id, stream)
        signer, made = load_or_create_signer(self.key_file, self.state.origin)
        if made:
            log.warning(
                "made a new log signing key; pin its public key to verify the log",
                extra={"event": "log_key_created", "vkey": signer.verifier.vkey, "key_file": str(self.key_file)},
            )
        else:
            log.info("log signing key", extra={"event": "log_key", "vkey": signer.verifier.vkey})
        if self._thread is None:
            self._stop.clear()
            self._thread = threading.Thread(target=self._loop, name="watchkeeper-log", daemon=True)
            self._thread.start()

    def stop(self, timeout: float = 30.0) -> None:
        """Stops the thread, then sequences what is committed and signs a final checkpoint."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout)
            self._thread = None
        try:
            self.sequencer.drain()
            self.checkpointer.run_once(force=True)
            for other in self._others:
                other.run_once(force=True)
        except Exception as e:
            self._failed(e)

    def _failed(self, e: BaseException) -> None:
        # database error texts may quote row values: the type only
        log.error("verifiable log round failed", extra={"event": "log_failed", "error_type": type(e).__name__})
        if self.on_error is not None:
            self.on_error(e)

    def _loop(self) -> None:
        wait = 0.0
        while not self._stop.wait(wait):
            try:
                n = self.sequencer.run_once()
                self.checkpointer.run_once()
                for other in self._others:
                    other.run_once()
            except Exception as e:
                self._failed(e)
                wait = max(self.poll_s, 1.0)
                continue
            wait = 0.0 if n >= self.sequencer.batch else self.poll_s


# ---------------------------------------------------------------------------------------------------------------
# Reading: checkpoints, proofs, leaves, evidence


@dataclass(frozen=True, slots=True)
class StoredCheckpoint:
    id: int
    size: int
    root: bytes
    note: str
    signed_ns: int


class LogReader:
    """Proofs and leaves served from the stored tree; one per process (it caches folded subtrees).

    Each request reads on one pooled connection in one read transaction (:func:`_reading`): the log's state and its
    latest checkpoint come from one statement, the stored hashes a proof needs from one more, so a proof costs two
    queries and one checkout whatever the engine, and every part of an answer comes from the same snapshot.
    """

    def __init__(self, engine: Engine, log_id: int = RECORDS_LOG) -> None:
        self.engine = engine
        self.log_id = log_id
        self._d = engine.dialect.name
        self._cache: dict[tuple[int, int], bytes] = {}
        p = self._p = _sql.param(self._d)
        # one row whether or not the log or a checkpoint exists yet
        self._head_sql = (
            "SELECT l.origin, l.size, l.frontier, l.root, c.id, c.size, c.root, c.note, c.signed_ns "  # noqa: S608
            f"FROM (SELECT 1 AS one) AS k LEFT JOIN merkle_logs l ON l.id = {p} "
            "LEFT JOIN checkpoints c ON c.id = "
            f"(SELECT id FROM checkpoints WHERE log_id = {p} ORDER BY id DESC LIMIT 1)"
        )
        self._leaf_sql = f"SELECT {_sql.leaf_sql(self._d)} FROM spans WHERE log_index = {p}"  # noqa: S608
        where = f"FROM spans WHERE project_id = {p} AND trace_id = {p} AND span_id = {p}"
        self._find_sql = f"SELECT log_index, payload {where}"
        self._find_leaf_sql = f"SELECT log_index, payload, {_sql.leaf_sql(self._d)} {where}"  # for evidence
        self._decode = _sql.leaf_decoder(self._d)

    def _head(self, q: _Query) -> tuple[LogState | None, StoredCheckpoint | None]:
        """The log's state and its latest checkpoint, read together in one statement."""
        (r,) = q(self._head_sql, (self.log_id, self.log_id))
        st = None if r[0] is None else LogState(self.log_id, r[0], int(r[1]), bytes(r[2]), bytes(r[3]))
        cp = None if r[4] is None else StoredCheckpoint(int(r[4]), int(r[5]), bytes(r[6]), r[7], int(r[8]))
        return st, cp

    def _tree(self, q: _Query, st: LogState | None) -> MerkleTree:
        if st is None:
            raise NotFound("the log has no leaves yet")
        store = _sql.CursorTreeStore(q, self._d, self.log_id, st.size)
        tree = MerkleTree(store, _sql.decode_frontier(st.size, st.frontier))
        tree._cache = self._cache  # complete subtrees never change: share the folds across requests
        return tree

    @staticmethod
    def _size_or(size: int | None, cp: StoredCheckpoint | None) -> int:
        if size is not None:
            return size
        if cp is None:
            raise NotFound("no checkpoint has been signed yet; retry in a few seconds")
        return cp.size

    def latest_checkpoint(self) -> StoredCheckpoint | None:
        with _reading(self.engine) as q:
            return self._head(q)[1]

    def checkpoint_at_least(self, size: int) -> StoredCheckpoint | None:
        """The latest checkpoint, if it covers ``size`` leaves."""
        cp = self.latest_checkpoint()
        return cp if cp is not None and cp.size >= size else None

    def _inclusion(self, q: _Query, st: LogState | None, index: int, n: int) -> tuple[int, bytes, list[bytes], bytes]:
        tree = self._tree(q, st)
        proof = tree.inclusion_proof(index, n)
        leaf = tree.store.hashes(0, index, index + 1)[0]  # read with the proof
        # the root at the current size is the stored compact range's; at an earlier size (a checkpoint's), the one
        # the path gives, which costs no query where folding the tree's left part again could
        root = tree.root(n) if n == tree.size() else root_from_inclusion_proof(index, n, leaf, proof)
        return n, leaf, proof, root

    def inclusion(self, index: int, size: int | None = None) -> tuple[int, bytes, list[bytes], bytes]:
        """(size, leaf hash, audit path, root) for leaf ``index`` in the tree of ``size`` (default: last checkpoint)."""
        with _reading(self.engine) as q:
            st, cp = self._head(q)
            return self._inclusion(q, st, index, self._size_or(size, cp))

    def consistency(self, size1: int, size2: int | None = None) -> tuple[int, list[bytes], bytes, bytes]:
        """(size2, proof, root1, root2): the tree of ``size1`` is a prefix of the tree of ``size2``."""
        with _reading(self.engine) as q:
            st, cp = self._head(q)
            n = self._size_or(size2, cp)
            tree = self._tree(q, st)
            proof = tree.consistency_proof(size1, n)  # reads both roots' hashes with the proof
            return n, proof, tree.root(size1), tree.root(n)

    def leaf(self, index: int) -> bytes:
        """The leaf bytes at ``index``, re-derived from its row as the verifier does."""
        with _reading(self.engine) as q:
            rows = q(self._leaf_sql, (index,))
        if not rows:
            raise NotFound(f"no stored record has leaf index {index} (not sequenced yet, or beyond the log)")
        return self._decode(rows[0][0])

    def _find(
        self, q: _Query, trace_id: bytes, span_id: bytes, project_id: int, *, leaf: bool = False
    ) -> tuple[int | None, bytes | None, bytes]:
        """(leaf index, payload, and with ``leaf`` the leaf re-derived from the same row, else b"") of one span."""
        rows = q(self._find_leaf_sql if leaf else self._find_sql, (project_id, trace_id, span_id))
        if not rows:
            raise NotFound("no such span is stored")
        r = rows[0]
        index = None if r[0] is None else int(r[0])
        return index, (None if r[1] is None else bytes(r[1])), (self._decode(r[2]) if leaf else b"")

    def find(self, trace_id: bytes, span_id: bytes, project_id: int = 1) -> tuple[int | None, bytes | None]:
        """(leaf index or None while unsequenced, stored payload) of one span; NotFound when it is not stored."""
        with _reading(self.engine) as q:
            index, payload, _leaf = self._find(q, trace_id, span_id, project_id)
        return index, payload

    def evidence(self, trace_id: bytes, span_id: bytes, project_id: int = 1) -> Any:
        """The self-contained evidence bundle of one span (see evidence.py): its row, the checkpoint and the audit
        path, all read in one snapshot."""
        from .evidence import Evidence

        with _reading(self.engine) as q:
            index, payload, leaf = self._find(q, trace_id, span_id, project_id, leaf=True)  # from the same row
            if index is None:
                raise Conflict("the span is not sequenced into the log yet; retry in a second")
            st, cp = self._head(q)
            if cp is None or cp.size < index + 1:
                raise Conflict("no signed checkpoint covers this span yet; retry after the next checkpoint")
            _n, _lh, proof, root = self._inclusion(q, st, index, cp.size)
        if root != cp.root:
            raise ProofError("the stored tree does not match the latest checkpoint; run `watchkeeper verify`")
        decode_leaf(leaf)  # refuses anything that is not a well-formed leaf
        return Evidence(index=index, leaf=leaf, proof=tuple(proof), checkpoint=cp.note, payload=payload)


def parse_pinned(keys: list[str]) -> list[Verifier]:
    """Pinned verifier keys from ``VKEY`` or ``VKEY@SIZE`` (a key retired at SIZE)."""
    out: list[Verifier] = []
    for k in keys:
        vkey, at, size = k.strip().partition("@")
        if at and not size.isdigit():
            raise CheckpointError(f"a retired key reads VKEY@SIZE with a decimal size, got {k!r}", field="key")
        out.append(Verifier.from_vkey(vkey, int(size) if at else None))
    return out


__all__ = [
    "RECORDS_LOG",
    "Checkpointer",
    "LogReader",
    "LogService",
    "LogState",
    "Rotation",
    "Sequencer",
    "StoredCheckpoint",
    "default_key_file",
    "ensure_log",
    "list_keys",
    "load_or_create_signer",
    "load_signer",
    "locked",
    "merge_delay_s",
    "parse_pinned",
    "read_state",
    "rotate_key",
]
