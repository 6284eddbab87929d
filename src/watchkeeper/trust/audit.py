"""The access log: every read of content and every access-control change, recorded before it takes effect.

Each event is a row of ``access_events`` and a leaf of its own Merkle log (log id 2, origin ``…/access``), appended
in ONE transaction under the log's lock: when :func:`record` returns, the event is durable and committed to the
tree. Callers record first and hand out content after, so if the audit write fails the read fails (fail closed,
as Vault's audit devices do). Events hold who, what, when, under which grant and why — never content.

The leaf is a :class:`~watchkeeper.trust.AccessLeaf`: the actor's pseudonymous id, the action, the target (a trace
id, or the SHA-256 of a session or key id), the grant, the outcome, and ``details_sha256``, the SHA-256 of the
row's other columns in canonical JSON, so changing any stored column of an event breaks verification.
"""

from __future__ import annotations

import csv
import hashlib
import io
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

import orjson
from sqlalchemy import Engine, select

from ..errors import AuditUnavailable, InputError
from ..store.tables import access_events
from . import _sql
from .checkpoint import CheckpointError, Verifier, open_checkpoint
from .identity import Principal
from .leaves import AccessLeaf
from .log import Checkpointer, _state, ensure_log, locked
from .merkle import CompactRange, leaf_hash

ACCESS_LOG = 2
CHANNELS = ("api", "web", "cli")
_TRACE_HEX = 32


@dataclass(frozen=True, slots=True)
class AccessEvent:
    """One thing to record. ``outcome`` is ``ok`` or ``denied`` (refused attempts are recorded too)."""

    action: str
    resource_type: str | None = None
    resource_id: str | None = None
    session_id: str | None = None
    subject_ids: Sequence[str] = ()
    record_count: int = 0
    categories: Sequence[str] = ()
    encrypted: bool | None = None
    grant_id: int | None = None
    reason: str | None = None
    outcome: str = "ok"


@dataclass(frozen=True, slots=True)
class StoredEvent:
    log_index: int
    project_id: int
    time_ns: int
    principal_id: int | None
    principal: str
    key_id: str | None
    action: str
    outcome: str
    resource_type: str | None
    resource_id: str | None
    session_id: str | None
    subject_ids: list[str]
    record_count: int
    categories: list[str]
    encrypted: bool | None
    grant_id: int | None
    reason: str | None
    channel: str
    leaf_sha256: bytes = field(repr=False)

    def as_dict(self) -> dict[str, Any]:
        return {
            "log_index": self.log_index,
            "project_id": self.project_id,
            "time_ns": self.time_ns,
            "principal_id": self.principal_id,
            "principal": self.principal,
            "key_id": self.key_id,
            "action": self.action,
            "outcome": self.outcome,
            "resource_type": self.resource_type,
            "resource_id": self.resource_id,
            "session_id": self.session_id,
            "subject_ids": self.subject_ids,
            "record_count": self.record_count,
            "categories": self.categories,
            "encrypted": self.encrypted,
            "grant_id": self.grant_id,
            "reason": self.reason,
            "channel": self.channel,
            "leaf_sha256": self.leaf_sha256.hex(),
        }


_COLUMNS = (
    "log_index",
    "project_id",
    "time_ns",
    "principal_id",
    "principal",
    "key_id",
    "action",
    "resource_type",
    "resource_id",
    "session_id",
    "subject_ids",
    "record_count",
    "categories",
    "encrypted",
    "grant_id",
    "reason",
    "channel",
    "leaf_sha256",
)


def _details(row: dict[str, Any]) -> bytes:
    keep = {k: row[k] for k in _COLUMNS if k not in ("log_index", "leaf_sha256")}
    return hashlib.sha256(orjson.dumps(keep, option=orjson.OPT_SORT_KEYS)).digest()


def _target(resource_type: str | None, resource_id: str | None) -> bytes | None:
    if resource_id is None:
        return None
    if resource_type == "trace" and len(resource_id) == _TRACE_HEX:
        try:
            return bytes.fromhex(resource_id)
        except ValueError:
            pass
    return hashlib.sha256(resource_id.encode()).digest()


def leaf_of(row: dict[str, Any]) -> bytes:
    """The canonical leaf bytes of a stored access event (what :func:`verify_access_log` recomputes)."""
    outcome = row.get("outcome", "ok")
    return AccessLeaf(
        project_id=int(row["project_id"]),
        event_id=int(row["log_index"]).to_bytes(16, "big"),
        time_ns=int(row["time_ns"]),
        action=row["action"],
        actor=_actor(row),
        outcome=outcome,
        target_type=row["resource_type"],
        target_ref=_target(row["resource_type"], row["resource_id"]),
        grant_id=None if row["grant_id"] is None else str(row["grant_id"]),
        details_sha256=_details(row),
    ).encode()


def _actor(row: dict[str, Any]) -> str:
    if row["key_id"]:
        return f"key:{row['key_id']}"
    if row["principal_id"] is not None:
        return f"principal:{row['principal_id']}"
    return f"{row['channel']}:{row['principal']}"


def record(engine: Engine, who: Principal, event: AccessEvent, *, channel: str, project_id: int | None = None) -> int:
    """Appends ``event`` to the access log, durably; gives its log index. Raises AuditUnavailable on any failure."""
    if channel not in CHANNELS:
        raise InputError(f"channel is one of {', '.join(CHANNELS)}", field="channel")
    if event.outcome not in ("ok", "denied"):
        raise InputError("outcome is 'ok' or 'denied'", field="outcome")
    # The outcome lives in the action name of the row ("read_content" / "read_content:denied"), so the stored row
    # and the leaf agree without another column.
    action = event.action if event.outcome == "ok" else f"{event.action}:denied"
    row: dict[str, Any] = {
        "project_id": who.project_id if project_id is None else project_id,
        "time_ns": time.time_ns(),
        "principal_id": who.id,
        "principal": who.name,
        "key_id": who.key_id,
        "action": action,
        "resource_type": event.resource_type,
        "resource_id": event.resource_id,
        "session_id": event.session_id,
        "subject_ids": orjson.dumps(sorted(set(event.subject_ids))).decode() if event.subject_ids else None,
        "record_count": int(event.record_count),
        "categories": " ".join(sorted(set(event.categories))) or None,
        "encrypted": event.encrypted,
        "grant_id": event.grant_id,
        "reason": event.reason,
        "channel": channel,
    }
    try:
        return _append(engine, row)
    except Exception as e:
        raise AuditUnavailable(
            f"the access log could not record this {event.action} ({type(e).__name__}), so it was refused; "
            "check the store and retry"
        ) from None


def _append(engine: Engine, row: dict[str, Any]) -> int:
    d = engine.dialect.name
    p = _sql.param(d)
    for attempt in (0, 1):
        with locked(engine, ACCESS_LOG) as cur:
            st = _state(cur, d, ACCESS_LOG)
            if st is not None:
                index = st.size
                row["log_index"] = index
                row["outcome"] = "denied" if row["action"].endswith(":denied") else "ok"
                leaf = leaf_of(row)
                row["leaf_sha256"] = hashlib.sha256(leaf).digest()
                cols = ", ".join(_COLUMNS)
                cur.execute(
                    f"INSERT INTO access_events ({cols}) VALUES ({', '.join([p] * len(_COLUMNS))})",  # noqa: S608
                    tuple(row[c] for c in _COLUMNS),
                )
                compact = _sql.decode_frontier(st.size, st.frontier)
                kept = compact.extend([leaf_hash(leaf)], keep_every=_sql.STRIDE)
                _sql.insert_nodes(cur, d, ACCESS_LOG, kept, st.size)
                cur.execute(
                    f"UPDATE merkle_logs SET size={p}, frontier={p}, root={p}, updated_ns={p} WHERE id={p}",  # noqa: S608
                    (compact.size, _sql.encode_frontier(compact), compact.root(), time.time_ns(), ACCESS_LOG),
                )
                return index
        if attempt == 0:
            ensure_log(engine, ACCESS_LOG, "access")
    raise RuntimeError("the access log could not be created")


def checkpointer(engine: Engine, key_file: Any, **kw: Any) -> Checkpointer:
    """A checkpointer for the access log (same signing key as the records log, its own origin)."""
    ensure_log(engine, ACCESS_LOG, "access")
    return Checkpointer(engine, key_file, log_id=ACCESS_LOG, **kw)


# ---------------------------------------------------------------------------------------------------------------
# Reading


def _from_row(r: Any) -> StoredEvent:
    action = r.action
    outcome = "ok"
    if action.endswith(":denied"):
        action, outcome = action[: -len(":denied")], "denied"
    return StoredEvent(
        int(r.log_index),
        int(r.project_id),
        int(r.time_ns),
        r.principal_id,
        r.principal,
        r.key_id,
        action,
        outcome,
        r.resource_type,
        r.resource_id,
        r.session_id,
        orjson.loads(r.subject_ids) if r.subject_ids else [],
        int(r.record_count),
        r.categories.split() if r.categories else [],
        r.encrypted,
        r.grant_id,
        r.reason,
        r.channel,
        bytes(r.leaf_sha256),
    )


def events(
    engine: Engine,
    *,
    project_id: int | None = None,
    principal_id: int | None = None,
    key_id: str | None = None,
    action: str | None = None,
    start_ns: int | None = None,
    end_ns: int | None = None,
    after_index: int | None = None,
    limit: int = 500,
) -> list[StoredEvent]:
    """Access events matching the filters, oldest first (page with ``after_index``)."""
    if not 1 <= limit <= 100_000:
        raise InputError("limit must be between 1 and 100000", field="limit")
    q = select(access_events)
    if project_id is not None:
        q = q.where(access_events.c.project_id == project_id)
    if principal_id is not None:
        q = q.where(access_events.c.principal_id == principal_id)
    if key_id is not None:
        q = q.where(access_events.c.key_id == key_id)
    if action is not None:
        q = q.where(access_events.c.action.in_([action, f"{action}:denied"]))
    if start_ns is not None:
        q = q.where(access_events.c.time_ns >= start_ns)
    if end_ns is not None:
        q = q.where(access_events.c.time_ns < end_ns)
    if after_index is not None:
        q = q.where(access_events.c.log_index > after_index)
    with engine.connect() as conn:
        rows = conn.execute(q.order_by(access_events.c.log_index).limit(limit)).fetchall()
    return [_from_row(r) for r in rows]


def export(evts: Sequence[StoredEvent], fmt: str) -> str:
    """The events as JSON Lines or CSV (for an auditor's spreadsheet)."""
    if fmt == "jsonl":
        return "".join(orjson.dumps(e.as_dict()).decode() + "\n" for e in evts)
    if fmt == "csv":
        buf = io.StringIO()
        cols = list(StoredEvent.__slots__)
        w = csv.writer(buf)
        w.writerow(cols)
        for e in evts:
            d = e.as_dict()
            w.writerow([" ".join(v) if isinstance(v := d[c], list) else ("" if v is None else v) for c in cols])
        return buf.getvalue()
    raise InputError("format is 'jsonl' or 'csv'", field="format")


# ---------------------------------------------------------------------------------------------------------------
# Verification


@dataclass(frozen=True, slots=True)
class AccessLogReport:
    size: int
    checkpoints: int
    problems: list[str]

    @property
    def ok(self) -> bool:
        return not self.problems


def _rows(engine: Engine, chunk: int = 5000) -> Iterator[dict[str, Any]]:
    last = -1
    while True:
        with engine.connect() as conn:
            rows = conn.execute(
                select(access_events)
                .where(access_events.c.log_index > last)
                .order_by(access_events.c.log_index)
                .limit(chunk)
            ).fetchall()
        if not rows:
            return
        for r in rows:
            yield dict(r._mapping)
        last = int(rows[-1].log_index)


def verify_access_log(engine: Engine, verifiers: Sequence[Verifier]) -> AccessLogReport:
    """Recomputes every access leaf from its row and every root; checks each checkpoint against pinned keys."""
    problems: list[str] = []
    with engine.connect() as conn:
        raw: Any = conn.connection.dbapi_connection
        cur = raw.cursor()
        try:
            st = _state(cur, engine.dialect.name, ACCESS_LOG)
            p = _sql.param(engine.dialect.name)
            cur.execute(
                f"SELECT size, root, note FROM checkpoints WHERE log_id = {p} ORDER BY size, id",  # noqa: S608
                (ACCESS_LOG,),
            )
            cps = [(int(r[0]), bytes(r[1]), r[2]) for r in cur.fetchall()]
        finally:
            cur.close()
            raw.rollback()
    if st is None:
        return AccessLogReport(0, 0, [] if not cps else ["checkpoints exist for an access log that does not"])
    roots: dict[int, bytes] = {0: CompactRange().root()}
    want = {size for size, _, _ in cps}
    compact = CompactRange()
    expected = 0
    for row in _rows(engine):
        index = int(row["log_index"])
        if index != expected:
            problems.append(f"access event {expected} is missing (the next stored index is {index})")
            break
        row["outcome"] = "denied" if row["action"].endswith(":denied") else "ok"
        leaf = leaf_of(row)
        if hashlib.sha256(leaf).digest() != bytes(row["leaf_sha256"]):
            problems.append(f"access event {index} was altered: its columns no longer match its leaf")
            break
        compact.extend([leaf_hash(leaf)])
        expected += 1  # noqa: SIM113 - a counter checked against each stored index, not an enumerate
        if compact.size in want:
            roots[compact.size] = compact.root()
    if not problems:
        if compact.size != st.size:
            problems.append(f"the access log says size {st.size} but {compact.size} events are stored")
        elif compact.root() != st.root:
            problems.append("the access log's stored root does not match its events")
    # A pinned VKEY@SIZE bounds a retired key by a size of the records log; the access log grows at its own pace,
    # so here a pinned key is trusted whether or not it was retired (docs/access.md says so).
    keys = [Verifier.from_vkey(v.vkey) for v in verifiers]
    origin = None
    for size, root, note in cps:
        try:
            v = open_checkpoint(note, keys, origin=origin)
        except CheckpointError as e:
            problems.append(f"access checkpoint at size {size}: {e}")
            continue
        origin = v.checkpoint.origin
        if v.checkpoint.size != size or v.checkpoint.root != root:
            problems.append(f"access checkpoint at size {size}: the signed note does not match its row")
        elif size in roots and roots[size] != root:
            problems.append(f"access checkpoint at size {size}: the events do not give the signed root")
    return AccessLogReport(st.size, len(cps), problems)


__all__ = [
    "ACCESS_LOG",
    "AccessEvent",
    "AccessLogReport",
    "StoredEvent",
    "checkpointer",
    "events",
    "export",
    "leaf_of",
    "record",
    "verify_access_log",
]
