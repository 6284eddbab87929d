"""Erasure of a data subject: destroy their keys, delete their content, record that it was done.

A subject's data is every trace in which one of their spans appears (child spans often do not repeat the subject
id), and every feedback event they gave or that was given on those traces. Erasure

1. destroys the data keys that sealed that content — the subject's, and those of their sessions and traces — so any
   copy left in a backup, a replica or a WAL file can never be opened again (crypto-shredding);
2. deletes the content itself (the payload of those spans and feedback events), with SQLite's ``secure_delete`` on
   so freed pages are zeroed, then truncates the WAL;
3. writes a ``privacy_events`` row (action ``erase``, the subject id, the counts) and the erased trace ids
   (``erased_traces``) as evidence.

A subject or session under an active legal hold is not erased (``Conflict``): the hold must be released first, which
leaves its own record. Metadata (times, models, token counts, error codes) stays: it carries no content, and
aggregates depend on it.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

from sqlalchemy import Engine, or_, select, text, update

from ..errors import Conflict
from ..store.tables import data_keys, erased_traces, feedback, legal_holds, privacy_events, spans
from .encryption import KeyRing

_CHUNK = 500


@dataclass(frozen=True, slots=True)
class ErasureReport:
    """What one erasure did: counts only, never content."""

    subject_id: str
    traces: int
    span_payloads_deleted: int
    feedback_payloads_deleted: int
    keys_destroyed: int
    wal_truncated: bool
    started_ns: int
    finished_ns: int

    def as_dict(self) -> dict[str, object]:
        return {
            "subject_id": self.subject_id,
            "traces": self.traces,
            "span_payloads_deleted": self.span_payloads_deleted,
            "feedback_payloads_deleted": self.feedback_payloads_deleted,
            "keys_destroyed": self.keys_destroyed,
            "wal_truncated": self.wal_truncated,
            "started_ns": self.started_ns,
            "finished_ns": self.finished_ns,
        }


def erase_subject(
    engine: Engine, subject_id: str, *, ring: KeyRing | None = None, project_id: int = 1
) -> ErasureReport:
    """Erase one subject's content (see the module docstring); safe to run again."""
    started = time.time_ns()
    sqlite = engine.dialect.name == "sqlite"
    with engine.connect() as conn:
        trace_ids = list(
            conn.execute(
                select(spans.c.trace_id)
                .distinct()
                .where(spans.c.project_id == project_id, spans.c.subject_id == subject_id)
            ).scalars()
        )
        trace_ids += [
            t
            for t in conn.execute(
                select(feedback.c.trace_id)
                .distinct()
                .where(feedback.c.project_id == project_id, feedback.c.subject_id == subject_id)
            ).scalars()
            if t not in set(trace_ids)
        ]
        sessions: set[str] = set()
        for i in range(0, len(trace_ids), _CHUNK):
            chunk = trace_ids[i : i + _CHUNK]
            sessions.update(
                s
                for s in conn.execute(
                    select(spans.c.session_id)
                    .distinct()
                    .where(
                        spans.c.project_id == project_id, spans.c.trace_id.in_(chunk), spans.c.session_id.is_not(None)
                    )
                ).scalars()
                if s is not None
            )

    with engine.connect() as conn:
        holds = conn.execute(
            select(legal_holds.c.scope, legal_holds.c.scope_id).where(
                legal_holds.c.project_id == project_id,
                legal_holds.c.released_ns.is_(None),
                or_(
                    (legal_holds.c.scope == "subject") & (legal_holds.c.scope_id == subject_id),
                    (legal_holds.c.scope == "session") & legal_holds.c.scope_id.in_(sorted(sessions)),
                ),
            )
        ).all()
    if holds:
        names = ", ".join(f"{h.scope} {h.scope_id}" for h in holds[:5])
        raise Conflict(
            f"a legal hold covers this subject's data ({names}); release the hold before erasing "
            "(`watchkeeper hold list` / `hold release`)"
        )

    # 1. keys first: from this moment no copy of the content can be opened, whatever happens next
    scopes = [("subject", subject_id)] + [("session", s) for s in sorted(sessions)]
    scopes += [("trace", t.hex()) for t in trace_ids]
    keys = 0
    if ring is not None:
        keys = sum(ring.destroy(project_id, scope, scope_id) for scope, scope_id in scopes)
    else:  # no KEK configured: keys may still exist from an earlier configuration; destroy them all the same
        with engine.begin() as conn:
            for scope, scope_id in scopes:
                keys += int(
                    conn.execute(
                        update(data_keys)
                        .where(
                            data_keys.c.project_id == project_id,
                            data_keys.c.scope == scope,
                            data_keys.c.scope_id == scope_id,
                            data_keys.c.destroyed_ns.is_(None),
                        )
                        .values(wrapped=None, destroyed_ns=time.time_ns())
                    ).rowcount
                    or 0
                )

    # 2. the content itself
    span_n = fb_n = 0
    with engine.begin() as conn:
        if sqlite:
            conn.execute(text("PRAGMA secure_delete = ON"))
        for i in range(0, len(trace_ids), _CHUNK):
            chunk = trace_ids[i : i + _CHUNK]
            span_n += int(
                conn.execute(
                    update(spans)
                    .where(spans.c.project_id == project_id, spans.c.trace_id.in_(chunk), spans.c.payload.is_not(None))
                    .values(payload=None)
                ).rowcount
                or 0
            )
            fb_n += int(
                conn.execute(
                    update(feedback)
                    .where(
                        feedback.c.project_id == project_id,
                        or_(feedback.c.trace_id.in_(chunk), feedback.c.subject_id == subject_id),
                        feedback.c.payload.is_not(None),
                    )
                    .values(payload=None)
                ).rowcount
                or 0
            )
        if not trace_ids:
            fb_n += int(
                conn.execute(
                    update(feedback)
                    .where(
                        feedback.c.project_id == project_id,
                        feedback.c.subject_id == subject_id,
                        feedback.c.payload.is_not(None),
                    )
                    .values(payload=None)
                ).rowcount
                or 0
            )
        if sqlite:
            conn.execute(text("PRAGMA secure_delete = OFF"))
    wal_truncated = _truncate_wal(engine) if sqlite else False

    finished = time.time_ns()
    with engine.begin() as conn:
        event_id = conn.execute(
            privacy_events.insert().returning(privacy_events.c.id),
            {
                "project_id": project_id,
                "action": "erase",
                "data_class": "payloads",
                "subject_id": subject_id,
                "count": span_n + fb_n,
                "started_ns": started,
                "finished_ns": finished,
            },
        ).scalar_one()
        if trace_ids:  # the erasure's coverage, as evidence the log's verifier reads (trust/verify.py)
            conn.execute(erased_traces.insert(), [{"event_id": event_id, "trace_id": t} for t in trace_ids])
    return ErasureReport(
        subject_id=subject_id,
        traces=len(trace_ids),
        span_payloads_deleted=span_n,
        feedback_payloads_deleted=fb_n,
        keys_destroyed=keys,
        wal_truncated=wal_truncated,
        started_ns=started,
        finished_ns=finished,
    )


def _truncate_wal(engine: Engine) -> bool:
    """Checkpoint the WAL into the main file and truncate it; False when a reader kept it from completing."""
    with engine.connect() as conn:
        busy = conn.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)").first()
        conn.commit()
    return bool(busy is not None and busy[0] == 0)
