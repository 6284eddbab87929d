"""Breach readiness: exactly what a principal or key read in a window, and a breach record with its deadlines.

The scoping query reads only the access log (audit.py): every read of content is there, recorded before the content
left the server, with the trace, the session, the pseudonymous subjects, the data categories and whether the records
were encrypted at rest. A breach record keeps the scoping result, the time the organisation became aware, the
deadlines computed from it — GDPR Art. 33: 72 hours to notify the supervisory authority; HIPAA §164.404: 60 days to
notify individuals — and an append-only timeline of what was done.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

import orjson
from sqlalchemy import Engine, insert, select

from ..errors import Forbidden, InputError, NotFound
from ..store.tables import breach_timeline, breaches
from .audit import AccessEvent, events, record
from .identity import Principal
from .roles import Permission

GDPR_NOTIFY_S = 72 * 3600
HIPAA_NOTIFY_S = 60 * 24 * 3600
CONTENT_ACTIONS = ("read_content", "export")


@dataclass(frozen=True, slots=True)
class Exposure:
    """What one principal or key read in a window, from the access log."""

    principal_id: int | None
    key_id: str | None
    start_ns: int
    end_ns: int
    events: int
    traces: list[str]
    records: int
    subjects: list[str]
    categories: list[str]
    encrypted_records: int
    unencrypted_records: int

    def as_dict(self) -> dict[str, Any]:
        return {
            "principal_id": self.principal_id,
            "key_id": self.key_id,
            "start_ns": self.start_ns,
            "end_ns": self.end_ns,
            "events": self.events,
            "traces": self.traces,
            "records": self.records,
            "subjects": self.subjects,
            "categories": self.categories,
            "encrypted_records": self.encrypted_records,
            "unencrypted_records": self.unencrypted_records,
        }


def scope(
    engine: Engine,
    project_id: int,
    *,
    principal_id: int | None = None,
    key_id: str | None = None,
    start_ns: int,
    end_ns: int,
) -> Exposure:
    """Which records and subjects ``principal_id`` (or ``key_id``) read between ``start_ns`` and ``end_ns``."""
    if principal_id is None and key_id is None:
        raise InputError("name a principal or an API key to scope", field="principal")
    if end_ns <= start_ns:
        raise InputError("the window's end must be after its start", field="to")
    traces: set[str] = set()
    subjects: set[str] = set()
    categories: set[str] = set()
    n = records = enc = plain = 0
    after: int | None = None
    while True:
        page = events(
            engine,
            project_id=project_id,
            principal_id=principal_id,
            key_id=key_id,
            start_ns=start_ns,
            end_ns=end_ns,
            after_index=after,
            limit=5000,
        )
        for e in page:
            if e.action not in CONTENT_ACTIONS or e.outcome != "ok":
                continue
            n += 1
            if e.resource_type == "trace" and e.resource_id:
                traces.add(e.resource_id)
            subjects.update(e.subject_ids)
            categories.update(e.categories)
            records += e.record_count
            if e.encrypted:
                enc += e.record_count
            else:
                plain += e.record_count
        if len(page) < 5000:
            break
        after = page[-1].log_index
    return Exposure(
        principal_id,
        key_id,
        start_ns,
        end_ns,
        n,
        sorted(traces),
        records,
        sorted(subjects),
        sorted(categories),
        enc,
        plain,
    )


def _need(who: Principal) -> None:
    if not who.can(Permission.MANAGE_BREACHES):
        raise Forbidden("breach records need the breach:write permission (the auditor role)")


def open_breach(
    engine: Engine,
    who: Principal,
    *,
    title: str,
    aware_ns: int,
    exposure: Exposure,
    channel: str = "api",
) -> int:
    """Records a breach with its scoping result; gives its id. The first timeline entry says who opened it."""
    _need(who)
    if not 3 <= len(title) <= 256:
        raise InputError("a breach title is 3-256 characters", field="title")
    now = time.time_ns()
    if aware_ns > now + 60 * 1_000_000_000:
        raise InputError("the awareness time cannot be in the future", field="aware")
    scope_doc = {
        "principal_id": exposure.principal_id,
        "key_id": exposure.key_id,
        "start_ns": exposure.start_ns,
        "end_ns": exposure.end_ns,
        "traces": exposure.traces,
        "subjects": exposure.subjects,
    }
    with engine.begin() as conn:
        bid = int(
            conn.execute(
                insert(breaches)
                .values(
                    project_id=who.project_id,
                    title=title,
                    aware_ns=aware_ns,
                    created_ns=now,
                    created_by=who.id if who.id is not None else 0,
                    scope=orjson.dumps(scope_doc).decode(),
                    affected_records=exposure.records,
                    affected_subjects=len(exposure.subjects),
                    encrypted_records=exposure.encrypted_records,
                    categories=" ".join(exposure.categories) or None,
                )
                .returning(breaches.c.id)
            ).scalar_one()
        )
        conn.execute(
            insert(breach_timeline).values(breach_id=bid, time_ns=now, author=who.name, entry="breach recorded")
        )
    record(engine, who, AccessEvent("breach_open", "breach", str(bid)), channel=channel)
    return bid


def add_entry(engine: Engine, who: Principal, breach_id: int, entry: str, *, channel: str = "api") -> None:
    """Appends to a breach's timeline (entries are never edited or removed)."""
    _need(who)
    if not 1 <= len(entry) <= 4000:
        raise InputError("a timeline entry is 1-4000 characters", field="entry")
    get_breach(engine, breach_id, who.project_id)
    with engine.begin() as conn:
        conn.execute(
            insert(breach_timeline).values(breach_id=breach_id, time_ns=time.time_ns(), author=who.name, entry=entry)
        )
    record(engine, who, AccessEvent("breach_note", "breach", str(breach_id)), channel=channel)


def get_breach(engine: Engine, breach_id: int, project_id: int, *, now_ns: int | None = None) -> dict[str, Any]:
    """A breach record with its deadlines (and the time left to each) and its timeline."""
    now = time.time_ns() if now_ns is None else now_ns
    with engine.connect() as conn:
        b = conn.execute(
            select(breaches).where(breaches.c.id == breach_id, breaches.c.project_id == project_id)
        ).first()
        if b is None:
            raise NotFound(f"no breach {breach_id} in this project")
        tl = conn.execute(
            select(breach_timeline).where(breach_timeline.c.breach_id == breach_id).order_by(breach_timeline.c.id)
        ).fetchall()
    gdpr = int(b.aware_ns) + GDPR_NOTIFY_S * 1_000_000_000
    hipaa = int(b.aware_ns) + HIPAA_NOTIFY_S * 1_000_000_000
    return {
        "id": int(b.id),
        "title": b.title,
        "aware_ns": int(b.aware_ns),
        "created_ns": int(b.created_ns),
        "scope": orjson.loads(b.scope),
        "affected_records": int(b.affected_records),
        "affected_subjects": int(b.affected_subjects),
        "encrypted_records": int(b.encrypted_records),
        "categories": b.categories.split() if b.categories else [],
        "deadlines": {
            "gdpr_supervisory_authority_ns": gdpr,
            "gdpr_remaining_s": (gdpr - now) // 1_000_000_000,
            "hipaa_individuals_ns": hipaa,
            "hipaa_remaining_s": (hipaa - now) // 1_000_000_000,
        },
        "timeline": [{"time_ns": int(t.time_ns), "author": t.author, "entry": t.entry} for t in tl],
    }


def list_breaches(engine: Engine, project_id: int) -> list[dict[str, Any]]:
    with engine.connect() as conn:
        ids = (
            conn.execute(
                select(breaches.c.id).where(breaches.c.project_id == project_id).order_by(breaches.c.id.desc())
            )
            .scalars()
            .all()
        )
    return [get_breach(engine, int(i), project_id) for i in ids]


__all__ = [
    "CONTENT_ACTIONS",
    "GDPR_NOTIFY_S",
    "HIPAA_NOTIFY_S",
    "Exposure",
    "add_entry",
    "get_breach",
    "list_breaches",
    "open_breach",
    "scope",
]
