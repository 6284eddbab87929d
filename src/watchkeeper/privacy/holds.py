"""Legal holds: named sessions or data subjects whose records no purge may touch until the hold is released.

A hold protects every span and feedback event of every trace that touches the held session or subject, not only
the rows that carry the id themselves: an instrumented application usually sets the session on the root span
alone, and a trace kept in pieces is no evidence. Holds are never deleted; releasing one stamps ``released_ns``,
so the table is also the record of which holds existed and when.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

from sqlalchemy import ColumnElement, Connection, Engine, Table, and_, exists, insert, or_, select, update

from ..errors import InputError, NotFound
from ..store.tables import legal_holds, spans

SCOPES = ("subject", "session")


@dataclass(frozen=True, slots=True)
class LegalHold:
    """One hold as stored: what it protects, why, and when it was placed and released."""

    id: int
    project_id: int
    scope: str
    scope_id: str
    reason: str
    created_ns: int
    released_ns: int | None

    @property
    def active(self) -> bool:
        return self.released_ns is None


def _hold(row: object) -> LegalHold:
    m = row._mapping  # type: ignore[attr-defined]  # a SQLAlchemy Row
    return LegalHold(
        id=int(m["id"]),
        project_id=int(m["project_id"]),
        scope=m["scope"],
        scope_id=m["scope_id"],
        reason=m["reason"],
        created_ns=int(m["created_ns"]),
        released_ns=None if m["released_ns"] is None else int(m["released_ns"]),
    )


def place_hold(
    engine: Engine, *, scope: str, scope_id: str, reason: str, project_id: int = 1, now_ns: int | None = None
) -> LegalHold:
    """Places a hold on a subject or session and gives it back; purges skip the held records from then on.

    Several holds on the same id may coexist (two matters, two reasons); each is released on its own.
    """
    if scope not in SCOPES:
        raise InputError(f"scope must be one of {', '.join(SCOPES)}", field="scope")
    if not scope_id:
        raise InputError(f"a {scope} hold needs the {scope} id", field="scope_id")
    if not reason.strip():
        raise InputError("a hold needs a reason (a matter or ticket reference)", field="reason")
    row = {
        "project_id": project_id,
        "scope": scope,
        "scope_id": scope_id,
        "reason": reason.strip(),
        "created_ns": time.time_ns() if now_ns is None else now_ns,
        "released_ns": None,
    }
    with engine.begin() as conn:
        pk = conn.execute(insert(legal_holds).values(row)).inserted_primary_key
    assert pk is not None
    return LegalHold(id=int(pk[0]), **row)  # type: ignore[arg-type]  # the keys are the fields


def release_hold(engine: Engine, hold_id: int, *, now_ns: int | None = None) -> LegalHold:
    """Releases a hold and gives it back; releasing a released hold changes nothing (its first release stands)."""
    stamp = time.time_ns() if now_ns is None else now_ns
    with engine.begin() as conn:
        conn.execute(
            update(legal_holds)
            .where(legal_holds.c.id == hold_id, legal_holds.c.released_ns.is_(None))
            .values(released_ns=stamp)
        )
        row = conn.execute(select(legal_holds).where(legal_holds.c.id == hold_id)).first()
    if row is None:
        raise NotFound(f"there is no legal hold {hold_id}; `watchkeeper hold list --all` shows them")
    return _hold(row)


def list_holds(engine: Engine, *, project_id: int | None = None, include_released: bool = False) -> list[LegalHold]:
    """The holds, oldest first: active ones only unless ``include_released``."""
    q = select(legal_holds).order_by(legal_holds.c.id)
    if project_id is not None:
        q = q.where(legal_holds.c.project_id == project_id)
    if not include_released:
        q = q.where(legal_holds.c.released_ns.is_(None))
    with engine.connect() as conn:
        return [_hold(r) for r in conn.execute(q)]


def _matches_hold(
    project: ColumnElement[int], session: ColumnElement[str], subject: ColumnElement[str]
) -> ColumnElement[bool]:
    h = legal_holds.alias("wk_hold")
    active = and_(h.c.project_id == project, h.c.released_ns.is_(None))
    by_session = exists(select(1).select_from(h).where(active, h.c.scope == "session", h.c.scope_id == session))
    by_subject = exists(select(1).select_from(h).where(active, h.c.scope == "subject", h.c.scope_id == subject))
    return or_(by_session.correlate_except(h), by_subject.correlate_except(h))


def held(table: Table) -> ColumnElement[bool]:
    """A condition true for rows of ``spans`` or ``feedback`` that an active hold protects.

    The condition is evaluated by each statement that uses it, so a hold placed while a purge runs protects its
    records from the next batch on.
    """
    s = spans.alias("wk_held_span")
    in_held_trace = exists(
        select(1)
        .select_from(s)
        .where(
            s.c.project_id == table.c.project_id,
            s.c.trace_id == table.c.trace_id,
            _matches_hold(s.c.project_id, s.c.session_id, s.c.subject_id),
        )
    ).correlate_except(s)
    if table is spans:
        return in_held_trace  # the span itself is one of its trace's spans
    return or_(_matches_hold(table.c.project_id, table.c.session_id, table.c.subject_id), in_held_trace)


def any_active_hold(conn: Connection, project_id: int) -> bool:
    """Whether a project has an active hold (when it has none, a purge batch can skip the hold test)."""
    q = select(legal_holds.c.id).where(legal_holds.c.project_id == project_id, legal_holds.c.released_ns.is_(None))
    return conn.execute(q.limit(1)).first() is not None


__all__ = ["SCOPES", "LegalHold", "any_active_hold", "held", "list_holds", "place_hold", "release_hold"]
