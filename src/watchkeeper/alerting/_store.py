"""The alerting room's SQL: alert episodes and their history, aggregation groups, the notification log, silences
and the engine's clock, on SQLite and PostgreSQL alike. Labels, annotations and counts only."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import orjson
from sqlalchemy import Connection, Engine, and_, delete, func, or_, select, update
from sqlalchemy.dialects import postgresql, sqlite

from ..store.tables import alert_events, alert_groups, alert_ticks, alerts, notifications, silences
from .lifecycle import LIVE, Alert, AlertState, Reading, Transition
from .notifiers import Attempt


def dumps(obj: Any) -> str:
    return orjson.dumps(obj, option=orjson.OPT_SORT_KEYS).decode()


def loads(text: str | None) -> Any:
    return orjson.loads(text) if text else None


def _insert(conn: Connection) -> Any:
    return postgresql.insert if conn.dialect.name == "postgresql" else sqlite.insert


# ---------------------------------------------------------------------------------------------------------------
# Alerts


def _alert_row(a: Alert, project_id: int, now_ns: int) -> dict[str, Any]:
    r = a.reading
    return {
        "project_id": project_id,
        "fingerprint": a.fingerprint,
        "source": a.source,
        "alertname": a.rule,
        "severity": a.severity,
        "state": a.state.value,
        "labels": dumps(a.labels),
        "annotations": dumps(a.annotations),
        "starts_ns": a.starts_ns,
        "fired_ns": a.fired_ns,
        "ends_ns": a.ends_ns,
        "last_active_ns": a.last_active_ns,
        "estimated_start_ns": r.estimated_start_ns,
        "observed": r.observed,
        "expected": r.expected,
        "band_low": r.band_low,
        "band_high": r.band_high,
        "p_value": r.p_value,
        "silenced_by": dumps(list(a.silenced_by)),
        "inhibited_by": dumps(list(a.inhibited_by)),
        "generator_url": a.generator_url or None,
        "updated_ns": now_ns,
    }


_UPDATABLE = (
    "state", "labels", "annotations", "fired_ns", "ends_ns", "last_active_ns", "estimated_start_ns", "observed",
    "expected", "band_low", "band_high", "p_value", "silenced_by", "inhibited_by", "generator_url", "updated_ns",
    "severity",
)  # fmt: skip


def upsert_alerts(conn: Connection, project_id: int, items: Iterable[Alert], now_ns: int) -> dict[tuple[str, int], int]:
    """Insert or update alert episodes (keyed by project, fingerprint, start); their row ids."""
    ids: dict[tuple[str, int], int] = {}
    ins = _insert(conn)
    for a in items:
        row = _alert_row(a, project_id, now_ns)
        stmt = ins(alerts).values(**row)
        stmt = stmt.on_conflict_do_update(
            index_elements=["project_id", "fingerprint", "starts_ns"],
            set_={k: getattr(stmt.excluded, k) for k in _UPDATABLE},
        )
        conn.execute(stmt)
        rid = conn.execute(
            select(alerts.c.id).where(
                alerts.c.project_id == project_id,
                alerts.c.fingerprint == a.fingerprint,
                alerts.c.starts_ns == a.starts_ns,
            )
        ).scalar_one()
        ids[(a.fingerprint, a.starts_ns)] = rid
    return ids


def insert_events(
    conn: Connection, ids: Mapping[tuple[str, int], int], by_fp: Mapping[str, Alert], transitions: Sequence[Transition]
) -> None:
    """The state history, once per (alert, state, time): a repeated tick inserts nothing."""
    rows = []
    for t in transitions:
        a = by_fp[t.fingerprint]
        rows.append(
            {
                "alert_id": ids[(a.fingerprint, a.starts_ns)],
                "at_ns": t.at_ns,
                "state": t.state.value,
                "previous": t.previous.value if t.previous else None,
                "observed": a.reading.observed,
                "expected": a.reading.expected,
                "p_value": a.reading.p_value,
            }
        )
    if rows:
        conn.execute(_insert(conn)(alert_events).on_conflict_do_nothing(), rows)


def _alert_of(row: Any) -> Alert:
    return Alert(
        fingerprint=row.fingerprint,
        rule=row.alertname,
        labels=loads(row.labels) or {},
        annotations=loads(row.annotations) or {},
        state=AlertState(row.state),
        starts_ns=row.starts_ns,
        last_active_ns=row.last_active_ns,
        fired_ns=row.fired_ns,
        ends_ns=row.ends_ns,
        reading=Reading(row.observed, row.expected, row.band_low, row.band_high, row.p_value, row.estimated_start_ns),
        silenced_by=tuple(loads(row.silenced_by) or ()),
        inhibited_by=tuple(loads(row.inhibited_by) or ()),
        generator_url=row.generator_url or "",
        source=row.source,
    )


def load_alerts(engine: Engine, project_id: int, ended_since_ns: int) -> list[Alert]:
    """The rule alerts the engine still tracks: live episodes, and those that ended at or after ``ended_since_ns``
    (the newest episode per fingerprint)."""
    q = (
        select(alerts)
        .where(
            alerts.c.project_id == project_id,
            alerts.c.source == "rule",
            or_(alerts.c.state.in_([s.value for s in LIVE]), alerts.c.ends_ns >= ended_since_ns),
        )
        .order_by(alerts.c.starts_ns)
    )
    with engine.connect() as conn:
        newest: dict[str, Alert] = {}
        for row in conn.execute(q):
            newest[row.fingerprint] = _alert_of(row)
    return list(newest.values())


def list_alerts(
    engine: Engine,
    *,
    project_id: int = 1,
    states: Sequence[str] = (),
    source: str | None = None,
    limit: int = 200,
) -> list[dict[str, Any]]:
    """Stored alert episodes, newest first, as plain dicts (labels and annotations decoded)."""
    q = select(alerts).where(alerts.c.project_id == project_id)
    if states:
        q = q.where(alerts.c.state.in_(list(states)))
    if source:
        q = q.where(alerts.c.source == source)
    q = q.order_by(alerts.c.starts_ns.desc(), alerts.c.id.desc()).limit(limit)
    out = []
    with engine.connect() as conn:
        for row in conn.execute(q):
            d = dict(row._mapping)
            for k in ("labels", "annotations", "silenced_by", "inhibited_by"):
                d[k] = loads(d[k]) or ({} if k in ("labels", "annotations") else [])
            out.append(d)
    return out


def alert_history(engine: Engine, alert_id: int, *, project_id: int = 1) -> list[dict[str, Any]]:
    """An alert episode's state changes, oldest first (empty for an alert of another project)."""
    q = (
        select(alert_events)
        .join(alerts, alerts.c.id == alert_events.c.alert_id)
        .where(alert_events.c.alert_id == alert_id, alerts.c.project_id == project_id)
        .order_by(alert_events.c.at_ns, alert_events.c.id)
    )
    with engine.connect() as conn:
        return [dict(r._mapping) for r in conn.execute(q)]


def upsert_external(conn: Connection, project_id: int, a: Alert, now_ns: int) -> bool:
    """Store an alert relayed by a Prometheus Alertmanager; False when nothing changed (a duplicate delivery)."""
    existing = conn.execute(
        select(alerts.c.state, alerts.c.ends_ns, alerts.c.annotations).where(
            alerts.c.project_id == project_id,
            alerts.c.fingerprint == a.fingerprint,
            alerts.c.starts_ns == a.starts_ns,
            alerts.c.source == a.source,
        )
    ).first()
    if existing is not None:
        if existing.state == AlertState.RESOLVED.value and a.state is not AlertState.RESOLVED:
            return False  # a late or repeated "firing" never reopens a resolved alert
        if (existing.state, existing.ends_ns, existing.annotations) == (a.state.value, a.ends_ns, dumps(a.annotations)):
            return False
    upsert_alerts(conn, project_id, [a], now_ns)
    return True


# ---------------------------------------------------------------------------------------------------------------
# Engine clock and aggregation groups


def last_tick(engine: Engine, project_id: int) -> int | None:
    with engine.connect() as conn:
        v: int | None = conn.execute(
            select(alert_ticks.c.last_tick_ns).where(alert_ticks.c.project_id == project_id)
        ).scalar()
        return v


def set_last_tick(conn: Connection, project_id: int, now_ns: int) -> None:
    stmt = _insert(conn)(alert_ticks).values(project_id=project_id, last_tick_ns=now_ns)
    conn.execute(stmt.on_conflict_do_update(index_elements=["project_id"], set_={"last_tick_ns": now_ns}))


def replace_groups(conn: Connection, project_id: int, rows: Sequence[Mapping[str, Any]], now_ns: int) -> None:
    """The aggregation groups as they are now (few rows: rewritten whole each tick)."""
    conn.execute(delete(alert_groups).where(alert_groups.c.project_id == project_id))
    if rows:
        conn.execute(
            alert_groups.insert(),
            [
                {
                    "project_id": project_id,
                    "route_id": r["route_id"],
                    "group_key": r["group_key"],
                    "receiver": r["receiver"],
                    "labels": dumps(r["labels"]),
                    "fingerprints": dumps(sorted(r["fingerprints"])),
                    "notified": dumps(r["notified"]),
                    "next_flush_ns": r["next_flush_ns"],
                    "created_ns": r["created_ns"],
                    "updated_ns": now_ns,
                }
                for r in rows
            ],
        )


def load_groups(engine: Engine, project_id: int) -> list[dict[str, Any]]:
    with engine.connect() as conn:
        rows = conn.execute(select(alert_groups).where(alert_groups.c.project_id == project_id)).all()
    return [
        {
            "route_id": r.route_id,
            "group_key": r.group_key,
            "receiver": r.receiver,
            "labels": loads(r.labels) or {},
            "fingerprints": loads(r.fingerprints) or [],
            "notified": loads(r.notified) or {},
            "next_flush_ns": r.next_flush_ns,
            "created_ns": r.created_ns,
        }
        for r in rows
    ]


# ---------------------------------------------------------------------------------------------------------------
# Notification log


def record_attempt(engine: Engine, project_id: int, a: Attempt) -> None:
    n = a.notification
    with engine.begin() as conn:
        conn.execute(
            notifications.insert().values(
                project_id=project_id,
                idempotency_key=n.key,
                group_key=n.group_key,
                receiver=n.receiver,
                integration=n.integration,
                kind=a.kind,
                status=a.status,
                attempt=a.attempt,
                http_status=a.http_status,
                error=(a.error or None) and str(a.error)[:256],
                alert_status=n.status,
                firing=len(n.firing),
                resolved=len(n.resolved),
                at_ns=n.at_ns,
                sent_ns=a.sent_ns,
            )
        )


def was_delivered(engine: Engine, key: str) -> bool:
    with engine.connect() as conn:
        return (
            conn.execute(
                select(func.count())
                .select_from(notifications)
                .where(notifications.c.idempotency_key == key, notifications.c.status == "sent")
            ).scalar_one()
            > 0
        )


def list_notifications(
    engine: Engine, *, project_id: int = 1, status: str | None = None, limit: int = 200
) -> list[dict[str, Any]]:
    q = select(notifications).where(notifications.c.project_id == project_id)
    if status:
        q = q.where(notifications.c.status == status)
    q = q.order_by(notifications.c.id.desc()).limit(limit)
    with engine.connect() as conn:
        return [dict(r._mapping) for r in conn.execute(q)]


# ---------------------------------------------------------------------------------------------------------------
# Silences


def insert_silence(engine: Engine, row: Mapping[str, Any]) -> None:
    with engine.begin() as conn:
        conn.execute(silences.insert().values(**row))


def silence_rows(
    engine: Engine, project_id: int, *, silence_id: str | None = None, ends_after_ns: int | None = None
) -> list[dict[str, Any]]:
    q = select(silences).where(silences.c.project_id == project_id)
    if silence_id is not None:
        q = q.where(silences.c.id == silence_id)
    if ends_after_ns is not None:
        q = q.where(silences.c.ends_ns > ends_after_ns)
    q = q.order_by(silences.c.starts_ns, silences.c.id)
    with engine.connect() as conn:
        return [dict(r._mapping) for r in conn.execute(q)]


def end_silence(engine: Engine, project_id: int, silence_id: str, *, starts_ns: int, ends_ns: int, now_ns: int) -> bool:
    with engine.begin() as conn:
        res = conn.execute(
            update(silences)
            .where(and_(silences.c.project_id == project_id, silences.c.id == silence_id))
            .values(starts_ns=starts_ns, ends_ns=ends_ns, updated_ns=now_ns)
        )
        return bool(res.rowcount)
