"""Grants: the only way to read content. Approved drill-down, break-glass, and spot-check assignments.

- **Request → approval.** An investigator asks for named sessions (or traces) with a reason and a duration; someone
  else with the approver role approves or denies it — never the requester (Vault's control groups). The grant runs
  from the approval for the requested duration (capped), covers only the named resources, and is revocable at once.
- **Break-glass.** An investigator may grant themselves access in an emergency, with a reason. It is short-lived,
  raises the ``watchkeeper_break_glass_total`` counter (alert on it) and opens a review item that an approver or
  auditor other than the user must close; an open review past its due time is flagged overdue.
- **Spot checks.** An approver assigns traces to a reviewer; the reviewer reads those traces' content, nothing else.

Every change is an access event (audit.py). Whether a grant is in force is decided at each read from the stored
row and the clock, so expiry and revocation take effect on the next request.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

import orjson
from sqlalchemy import Engine, insert, select, update

from ..errors import Conflict, Forbidden, InputError, NotFound
from ..store.tables import access_grants, memberships
from .audit import AccessEvent, record
from .identity import Principal
from .roles import Permission

SCOPES = ("session", "trace")
MAX_RESOURCES = 100
_NS = 1_000_000_000


@dataclass(frozen=True, slots=True)
class GrantPolicy:
    max_request_s: int = 8 * 3600
    break_glass_s: int = 15 * 60
    review_within_s: int = 24 * 3600


@dataclass(frozen=True, slots=True)
class Grant:
    id: int
    project_id: int
    principal_id: int
    kind: str
    scope: str
    resources: list[str]
    reason: str
    status: str
    duration_s: int
    created_ns: int
    created_by: int
    decided_by: int | None
    decided_ns: int | None
    expires_ns: int | None
    revoked_ns: int | None
    review_due_ns: int | None
    reviewed_by: int | None
    reviewed_ns: int | None

    def active(self, now_ns: int) -> bool:
        return (
            self.status == "approved"
            and self.revoked_ns is None
            and self.expires_ns is not None
            and now_ns < self.expires_ns
        )

    def review_overdue(self, now_ns: int) -> bool:
        return self.review_due_ns is not None and self.reviewed_ns is None and now_ns >= self.review_due_ns

    def covers(self, trace_id: str, session_id: str | None) -> bool:
        if self.scope == "trace":
            return trace_id in self.resources
        return session_id is not None and session_id in self.resources

    def as_dict(self, now_ns: int | None = None) -> dict[str, Any]:
        now = time.time_ns() if now_ns is None else now_ns
        return {
            "id": self.id,
            "project_id": self.project_id,
            "principal_id": self.principal_id,
            "kind": self.kind,
            "scope": self.scope,
            "resources": self.resources,
            "reason": self.reason,
            "status": self.status,
            "active": self.active(now),
            "duration_s": self.duration_s,
            "created_ns": self.created_ns,
            "created_by": self.created_by,
            "decided_by": self.decided_by,
            "decided_ns": self.decided_ns,
            "expires_ns": self.expires_ns,
            "revoked_ns": self.revoked_ns,
            "review_due_ns": self.review_due_ns,
            "reviewed_by": self.reviewed_by,
            "reviewed_ns": self.reviewed_ns,
            "review_overdue": self.review_overdue(now),
        }


def _grant(r: Any) -> Grant:
    return Grant(
        int(r.id),
        int(r.project_id),
        int(r.principal_id),
        r.kind,
        r.scope,
        orjson.loads(r.resources),
        r.reason,
        r.status,
        int(r.duration_s),
        int(r.created_ns),
        int(r.created_by),
        r.decided_by,
        r.decided_ns,
        r.expires_ns,
        r.revoked_ns,
        r.review_due_ns,
        r.reviewed_by,
        r.reviewed_ns,
    )


def _need(who: Principal, perm: Permission, what: str) -> int:
    if not who.can(perm):
        raise Forbidden(f"{what} needs the {perm.value} permission, which your roles in this project do not give")
    if who.id is None:
        raise Forbidden(f"{what} needs a named user; log in (grants are personal)")
    return who.id


def _check_request(scope: str, resources: list[str], reason: str) -> list[str]:
    if scope not in SCOPES:
        raise InputError("scope is 'session' or 'trace'", field="scope")
    if not resources:
        raise InputError("name at least one session or trace", field="resources")
    if len(resources) > MAX_RESOURCES:
        raise InputError(f"at most {MAX_RESOURCES} resources per grant", field="resources")
    clean: list[str] = []
    for i, r in enumerate(resources):
        if not isinstance(r, str) or not 1 <= len(r) <= 256:
            raise InputError("each resource id is a string of 1-256 characters", field=f"resources.{i}")
        if scope == "trace":
            r = r.lower()
            if len(r) != 32 or any(c not in "0123456789abcdef" for c in r):
                raise InputError("a trace id is 32 hex digits", field=f"resources.{i}")
        clean.append(r)
    if len(reason.strip()) < 10:
        raise InputError(
            "give a reason of at least 10 characters (it is shown to the approver and auditors)", field="reason"
        )
    if len(reason) > 2000:
        raise InputError("the reason is at most 2000 characters", field="reason")
    return sorted(set(clean))


def get(engine: Engine, grant_id: int, project_id: int) -> Grant:
    """The grant in this project; NotFound for another project's grant (tenants never see each other's ids)."""
    with engine.connect() as conn:
        r = conn.execute(
            select(access_grants).where(access_grants.c.id == grant_id, access_grants.c.project_id == project_id)
        ).first()
    if r is None:
        raise NotFound(f"no grant {grant_id} in this project")
    return _grant(r)


def _insert(engine: Engine, **values: Any) -> int:
    with engine.begin() as conn:
        return int(conn.execute(insert(access_grants).values(**values).returning(access_grants.c.id)).scalar_one())


def request_access(
    engine: Engine,
    who: Principal,
    *,
    scope: str,
    resources: list[str],
    reason: str,
    duration_s: int,
    policy: GrantPolicy,
    channel: str = "api",
) -> Grant:
    """Files a request for access to named sessions or traces; it waits for another person's approval."""
    me = _need(who, Permission.REQUEST_ACCESS, "requesting access")
    res = _check_request(scope, resources, reason)
    if not 60 <= duration_s <= policy.max_request_s:
        raise InputError(f"duration_s is between 60 and {policy.max_request_s} seconds", field="duration_s")
    gid = _insert(
        engine,
        project_id=who.project_id,
        principal_id=me,
        kind="request",
        scope=scope,
        resources=orjson.dumps(res).decode(),
        reason=reason,
        status="pending",
        duration_s=duration_s,
        created_ns=time.time_ns(),
        created_by=me,
    )
    record(engine, who, AccessEvent("grant_request", "grant", str(gid), reason=reason), channel=channel)
    return get(engine, gid, who.project_id)


def decide(
    engine: Engine, who: Principal, grant_id: int, *, approve: bool, note: str = "", channel: str = "api"
) -> Grant:
    """Approves or denies a pending request. Never one's own, never another project's."""
    me = _need(who, Permission.APPROVE_ACCESS, "approving access")
    g = get(engine, grant_id, who.project_id)
    if me in (g.principal_id, g.created_by):
        raise Forbidden("a request must be approved by someone other than the person who asked for it")
    if g.kind != "request" or g.status != "pending":
        raise Conflict(f"grant {grant_id} is {g.status}, not a pending request")
    now = time.time_ns()
    status = "approved" if approve else "denied"
    with engine.begin() as conn:
        n = conn.execute(
            update(access_grants)
            .where(access_grants.c.id == grant_id, access_grants.c.status == "pending")
            .values(
                status=status,
                decided_by=me,
                decided_ns=now,
                decision_note=note or None,
                expires_ns=now + g.duration_s * _NS if approve else None,
            )
        ).rowcount
    if not n:
        raise Conflict(f"grant {grant_id} was decided by someone else meanwhile")
    record(
        engine, who, AccessEvent(f"grant_{'approve' if approve else 'deny'}", "grant", str(grant_id)), channel=channel
    )
    return get(engine, grant_id, who.project_id)


def revoke(engine: Engine, who: Principal, grant_id: int, *, channel: str = "api") -> Grant:
    """Ends a grant at once. The grantee, an approver or an admin may revoke."""
    g = get(engine, grant_id, who.project_id)
    allowed = who.id == g.principal_id or who.can(Permission.APPROVE_ACCESS) or who.can(Permission.MANAGE_PRINCIPALS)
    if not allowed:
        raise Forbidden("only the grantee, an approver or an admin may revoke a grant")
    if g.revoked_ns is not None or g.status in ("denied", "revoked"):
        raise Conflict(f"grant {grant_id} is already {g.status}")
    with engine.begin() as conn:
        conn.execute(
            update(access_grants)
            .where(access_grants.c.id == grant_id)
            .values(status="revoked", revoked_ns=time.time_ns(), revoked_by=who.id)
        )
    record(engine, who, AccessEvent("grant_revoke", "grant", str(grant_id)), channel=channel)
    return get(engine, grant_id, who.project_id)


def break_glass(
    engine: Engine,
    who: Principal,
    *,
    scope: str,
    resources: list[str],
    reason: str,
    policy: GrantPolicy,
    channel: str = "api",
) -> Grant:
    """An emergency self-grant: in force at once, short, and reviewed afterwards by someone else."""
    me = _need(who, Permission.BREAK_GLASS, "break-glass access")
    res = _check_request(scope, resources, reason)
    now = time.time_ns()
    gid = _insert(
        engine,
        project_id=who.project_id,
        principal_id=me,
        kind="break_glass",
        scope=scope,
        resources=orjson.dumps(res).decode(),
        reason=reason,
        status="approved",
        duration_s=policy.break_glass_s,
        created_ns=now,
        created_by=me,
        decided_by=me,
        decided_ns=now,
        expires_ns=now + policy.break_glass_s * _NS,
        review_due_ns=now + policy.review_within_s * _NS,
    )
    record(engine, who, AccessEvent("break_glass", "grant", str(gid), reason=reason), channel=channel)
    return get(engine, gid, who.project_id)


def review(engine: Engine, who: Principal, grant_id: int, *, note: str, channel: str = "api") -> Grant:
    """Closes a break-glass grant's review item. An approver or auditor other than the user."""
    if not (who.can(Permission.APPROVE_ACCESS) or who.can(Permission.READ_AUDIT)):
        raise Forbidden("reviewing break-glass use needs the approver or auditor role")
    g = get(engine, grant_id, who.project_id)
    if g.kind != "break_glass":
        raise Conflict(f"grant {grant_id} is a {g.kind} grant; only break-glass grants are reviewed afterwards")
    if who.id is None or who.id == g.principal_id:
        raise Forbidden("break-glass use must be reviewed by someone other than the person who used it")
    if g.reviewed_ns is not None:
        raise Conflict(f"grant {grant_id} was already reviewed")
    if len(note.strip()) < 10:
        raise InputError("write a review note of at least 10 characters", field="note")
    with engine.begin() as conn:
        conn.execute(
            update(access_grants)
            .where(access_grants.c.id == grant_id)
            .values(reviewed_by=who.id, reviewed_ns=time.time_ns(), review_note=note)
        )
    record(engine, who, AccessEvent("break_glass_review", "grant", str(grant_id)), channel=channel)
    return get(engine, grant_id, who.project_id)


def assign_review(
    engine: Engine,
    who: Principal,
    reviewer: int,
    *,
    traces: list[str],
    reason: str,
    duration_s: int,
    policy: GrantPolicy,
    channel: str = "api",
) -> Grant:
    """Assigns traces to a reviewer for a spot check: they may read those traces' content until it expires."""
    me = _need(who, Permission.APPROVE_ACCESS, "assigning spot checks")
    if reviewer == me:
        raise Forbidden("assign spot checks to someone else")
    res = _check_request("trace", traces, reason)
    if not 60 <= duration_s <= 7 * 24 * 3600:
        raise InputError("duration_s is between 60 seconds and 7 days", field="duration_s")
    with engine.connect() as conn:
        roles = (
            conn.execute(
                select(memberships.c.role).where(
                    memberships.c.principal_id == reviewer, memberships.c.project_id == who.project_id
                )
            )
            .scalars()
            .all()
        )
    if "reviewer" not in roles:
        raise Conflict(f"principal {reviewer} does not hold the reviewer role in this project")
    now = time.time_ns()
    gid = _insert(
        engine,
        project_id=who.project_id,
        principal_id=reviewer,
        kind="review",
        scope="trace",
        resources=orjson.dumps(res).decode(),
        reason=reason,
        status="approved",
        duration_s=duration_s,
        created_ns=now,
        created_by=me,
        decided_by=me,
        decided_ns=now,
        expires_ns=now + duration_s * _NS,
    )
    record(engine, who, AccessEvent("review_assign", "grant", str(gid), reason=reason), channel=channel)
    return get(engine, gid, who.project_id)


def list_grants(
    engine: Engine,
    project_id: int,
    *,
    principal_id: int | None = None,
    status: str | None = None,
    kind: str | None = None,
    limit: int = 200,
) -> list[Grant]:
    q = select(access_grants).where(access_grants.c.project_id == project_id)
    if principal_id is not None:
        q = q.where(access_grants.c.principal_id == principal_id)
    if status is not None:
        q = q.where(access_grants.c.status == status)
    if kind is not None:
        q = q.where(access_grants.c.kind == kind)
    with engine.connect() as conn:
        rows = conn.execute(q.order_by(access_grants.c.id.desc()).limit(limit)).fetchall()
    return [_grant(r) for r in rows]


_KIND_NEEDS = {
    "request": Permission.REQUEST_ACCESS,
    "break_glass": Permission.BREAK_GLASS,
    "review": Permission.READ_ASSIGNED,
}


def content_grant(engine: Engine, who: Principal, trace_id: str, session_id: str | None) -> Grant | None:
    """The grant in force that lets ``who`` read this trace's content now, or None.

    A grant works only while its holder still has the role it needs, so removing a role ends its grants too.
    """
    if who.id is None:
        return None
    now = time.time_ns()
    q = select(access_grants).where(
        access_grants.c.project_id == who.project_id,
        access_grants.c.principal_id == who.id,
        access_grants.c.status == "approved",
        access_grants.c.revoked_ns.is_(None),
        access_grants.c.expires_ns > now,
    )
    with engine.connect() as conn:
        rows = conn.execute(q.order_by(access_grants.c.id)).fetchall()
    for r in rows:
        g = _grant(r)
        if who.can(_KIND_NEEDS[g.kind]) and g.covers(trace_id.lower(), session_id):
            return g
    return None


def overdue_reviews(engine: Engine, project_id: int | None = None) -> int:
    """How many break-glass reviews are past due (a gauge on /metrics)."""
    now = time.time_ns()
    q = select(access_grants.c.id).where(
        access_grants.c.kind == "break_glass",
        access_grants.c.reviewed_ns.is_(None),
        access_grants.c.review_due_ns <= now,
    )
    if project_id is not None:
        q = q.where(access_grants.c.project_id == project_id)
    with engine.connect() as conn:
        return len(conn.execute(q).fetchall())


__all__ = [
    "SCOPES",
    "Grant",
    "GrantPolicy",
    "assign_review",
    "break_glass",
    "content_grant",
    "decide",
    "get",
    "list_grants",
    "overdue_reviews",
    "request_access",
    "review",
    "revoke",
]
