"""The access API and pages: login, principals, API keys, grants (request, approve, break-glass, spot checks),
the access log and breach records. Thin: parse, authorise (the route's guard), call the trust room, format."""

from __future__ import annotations

import asyncio
import time
from typing import Annotated, Any
from urllib.parse import urlsplit

from fastapi import APIRouter, Form, Path, Query, Request
from fastapi.responses import HTMLResponse, PlainTextResponse, RedirectResponse, Response
from pydantic import BaseModel, Field

from ..errors import Forbidden, InputError, Unauthenticated
from ..trust import audit, breach, grants, identity
from ..trust.identity import Principal
from ..trust.roles import Permission
from ._auth import COOKIE, public, requires, signed_in
from ._runtime import Runtime
from .api import PROBLEM, parse_time

MAX_ID = 2**62  # row ids are 64-bit in PostgreSQL; larger numbers are refused, not overflowed
RowId = Annotated[int, Path(ge=1, le=MAX_ID)]
QueryId = Annotated[int | None, Query(ge=1, le=MAX_ID)]

router = APIRouter(tags=["access"])
_DENIED: dict[int | str, dict[str, Any]] = {
    401: {"description": "No or bad credentials", **PROBLEM},
    403: {"description": "Not allowed", **PROBLEM},
}


def _rt(request: Request) -> Runtime:
    rt: Runtime = request.app.state.runtime
    return rt


def _policy(rt: Runtime) -> grants.GrantPolicy:
    s = rt.settings
    return grants.GrantPolicy(
        max_request_s=s.grant_max_s, break_glass_s=s.break_glass_s, review_within_s=s.break_glass_review_s
    )


def _channel(who: Principal) -> str:
    return "web" if who.via == "session" else "api"


# ---------------------------------------------------------------------------------------------------------------
# Login


def _safe_next(target: str | None) -> str:
    """Only same-site paths: an open redirect would turn the login page into a phishing tool."""
    if not target or not target.startswith("/") or target.startswith("//") or "\\" in target:
        return "/traces"
    parts = urlsplit(target)
    return "/traces" if parts.scheme or parts.netloc else target


@router.get("/login", include_in_schema=False, dependencies=[public()])
def login_page(request: Request, next: str | None = None) -> HTMLResponse:
    from .pages import render

    return render(request, "login.html", next=_safe_next(next), error=None)


@router.post("/login", include_in_schema=False, dependencies=[public()])
async def login(
    request: Request,
    username: Annotated[str, Form(max_length=128)],
    password: Annotated[str, Form(max_length=1024)],
    next: Annotated[str | None, Form()] = None,
) -> Response:
    from .pages import render

    rt = _rt(request)
    target = _safe_next(next)
    try:
        pid = await asyncio.to_thread(identity.check_login, rt.engine, username, password)
        projects = identity.memberships_of(rt.engine, pid)
        if not projects:
            raise Unauthenticated("this account has no role in any project yet; ask an admin")
        token, _csrf = identity.open_session(rt.engine, pid, min(projects), ttl_s=rt.settings.session_ttl_s)
    except Unauthenticated as e:
        return render(request, "login.html", 401, next=target, error=str(e))
    resp = RedirectResponse(target, status_code=303)
    resp.set_cookie(
        COOKIE,
        token,
        max_age=rt.settings.session_ttl_s,
        httponly=True,
        secure=rt.settings.cookie_secure,
        samesite="strict",
        path="/",
    )
    return resp


@router.post("/logout", include_in_schema=False, dependencies=[public()])
async def logout(request: Request, csrf_token: Annotated[str, Form()] = "") -> Response:
    rt = _rt(request)
    token = request.cookies.get(COOKIE)
    if token:
        try:
            who = identity.authenticate_session(rt.engine, token)
        except Unauthenticated:
            who = None
        if who is not None:
            if not who.csrf_token or csrf_token != who.csrf_token:
                raise Forbidden("missing or wrong CSRF token on logout")
            identity.close_session(rt.engine, token)
    resp = RedirectResponse("/login", status_code=303)
    resp.delete_cookie(COOKIE, path="/")
    return resp


@router.get("/api/v1/me", dependencies=[public()], responses=_DENIED)
def me(request: Request) -> dict[str, Any]:
    """Who the server thinks you are, with your roles and permissions in the current project."""
    from ._auth import resolve

    who = resolve(request)
    if who is None:
        raise Unauthenticated("no credentials: send an API key or log in")
    return {
        "id": who.id,
        "name": who.name,
        "kind": who.kind,
        "project_id": who.project_id,
        "roles": sorted(who.roles),
        "permissions": sorted(p.value for p in who.permissions),
        "via": who.via,
        "key_id": who.key_id,
    }


# ---------------------------------------------------------------------------------------------------------------
# Principals and keys (admin)


class PrincipalIn(BaseModel):
    name: Annotated[str, Field(min_length=1, max_length=128)]
    kind: Annotated[str, Field(pattern="^(user|service)$")] = "user"
    roles: list[str] = []
    password: Annotated[str | None, Field(min_length=12, max_length=1024)] = None


@router.get("/api/v1/principals", responses=_DENIED)
def list_principals(request: Request, who: Principal = requires(Permission.MANAGE_PRINCIPALS)) -> dict[str, Any]:
    """Users and service accounts with a role in this project."""
    return {"principals": [p.as_dict() for p in identity.list_principals(_rt(request).engine, project=who.project_id)]}


@router.post("/api/v1/principals", status_code=201, responses=_DENIED)
def create_principal(
    request: Request, body: PrincipalIn, who: Principal = requires(Permission.MANAGE_PRINCIPALS)
) -> dict[str, Any]:
    """Adds a user (with a password for the web login) or a service account, with roles in this project."""
    rt = _rt(request)
    pid = identity.create_principal(
        rt.engine, body.name, kind=body.kind, roles=body.roles, project=who.project_id, password=body.password
    )
    audit.record(rt.engine, who, audit.AccessEvent("principal_create", "principal", str(pid)), channel=_channel(who))
    return {"id": pid, "name": body.name, "kind": body.kind, "roles": sorted(set(body.roles))}


@router.post("/api/v1/principals/{principal_id}/disable", responses=_DENIED)
def disable(
    request: Request, principal_id: RowId, who: Principal = requires(Permission.MANAGE_PRINCIPALS)
) -> dict[str, Any]:
    """Disables a principal at once: their sessions end and their keys stop working."""
    rt = _rt(request)
    _same_project(rt, principal_id, who)
    identity.disable_principal(rt.engine, principal_id)
    audit.record(
        rt.engine, who, audit.AccessEvent("principal_disable", "principal", str(principal_id)), channel=_channel(who)
    )
    return {"id": principal_id, "disabled": True}


def _same_project(rt: Runtime, principal_id: RowId, who: Principal) -> None:
    from ..errors import NotFound

    if who.project_id not in identity.memberships_of(rt.engine, principal_id):
        raise NotFound(f"no principal with id {principal_id} in this project")


class KeyIn(BaseModel):
    name: Annotated[str, Field(min_length=1, max_length=128)]
    scopes: list[str]
    principal_id: Annotated[
        int | None, Field(ge=1, le=MAX_ID, description="Whose key (admins only); default: yours")
    ] = None
    expires_in_s: Annotated[int | None, Field(ge=60, le=10 * 365 * 86400)] = None


@router.post("/api/v1/api-keys", status_code=201, responses=_DENIED)
def create_key(request: Request, body: KeyIn, who: Principal = signed_in()) -> dict[str, Any]:
    """Makes an API key and shows it ONCE. Its scopes must be permissions its owner holds; admins may make keys for
    service accounts, anyone logged in may make keys for themselves."""
    rt = _rt(request)
    owner = body.principal_id if body.principal_id is not None else who.id
    if owner is None:
        raise InputError("name the principal_id the key is for", field="principal_id")
    if owner != who.id:
        if not who.can(Permission.MANAGE_KEYS):
            raise Forbidden("making a key for someone else needs the admin:keys permission")
        _same_project(rt, owner, who)
    expires = time.time_ns() + body.expires_in_s * 1_000_000_000 if body.expires_in_s else None
    key, info = identity.create_key(
        rt.engine,
        owner,
        name=body.name,
        scopes=body.scopes,
        project=who.project_id,
        expires_ns=expires,
        created_by=who.id,
    )
    audit.record(rt.engine, who, audit.AccessEvent("key_create", "api_key", info.key_id), channel=_channel(who))
    return {"key": key, **info.as_dict(), "note": "store this key now: it is shown once and only its hash is kept"}


@router.get("/api/v1/api-keys", responses=_DENIED)
def list_keys(request: Request, who: Principal = requires(Permission.MANAGE_KEYS)) -> dict[str, Any]:
    """This project's API keys (ids, owners, scopes, expiry, revocation) — never the keys themselves."""
    return {"keys": [k.as_dict() for k in identity.list_keys(_rt(request).engine, project=who.project_id)]}


@router.delete("/api/v1/api-keys/{key_id}", responses=_DENIED)
def revoke_key(request: Request, key_id: str, who: Principal = signed_in()) -> dict[str, Any]:
    """Revokes a key at once. Its owner or an admin may revoke it."""
    from ..errors import NotFound

    rt = _rt(request)
    owner, project = identity.key_owner(rt.engine, key_id)
    if project != who.project_id:
        raise NotFound(f"no API key {key_id}")
    if owner != who.id and not who.can(Permission.MANAGE_KEYS):
        raise Forbidden("revoking someone else's key needs the admin:keys permission")
    changed = identity.revoke_key(rt.engine, key_id)
    audit.record(rt.engine, who, audit.AccessEvent("key_revoke", "api_key", key_id), channel=_channel(who))
    return {"key_id": key_id, "revoked": True, "was_live": changed}


# ---------------------------------------------------------------------------------------------------------------
# Grants


class AccessRequestIn(BaseModel):
    scope: Annotated[str, Field(pattern="^(session|trace)$")] = "session"
    resources: Annotated[list[str], Field(min_length=1, max_length=100)]
    reason: Annotated[str, Field(min_length=10, max_length=2000)]
    duration_s: Annotated[int, Field(ge=60)] = 3600


class DecisionIn(BaseModel):
    note: Annotated[str, Field(max_length=2000)] = ""


class BreakGlassIn(BaseModel):
    scope: Annotated[str, Field(pattern="^(session|trace)$")] = "session"
    resources: Annotated[list[str], Field(min_length=1, max_length=100)]
    reason: Annotated[str, Field(min_length=10, max_length=2000)]


class ReviewIn(BaseModel):
    note: Annotated[str, Field(min_length=10, max_length=2000)]


class AssignIn(BaseModel):
    reviewer_id: Annotated[int, Field(ge=1, le=MAX_ID)]
    traces: Annotated[list[str], Field(min_length=1, max_length=100)]
    reason: Annotated[str, Field(min_length=10, max_length=2000)]
    duration_s: Annotated[int, Field(ge=60, le=7 * 86400)] = 86400


@router.post("/api/v1/access-requests", status_code=201, responses=_DENIED)
def request_access(
    request: Request, body: AccessRequestIn, who: Principal = requires(Permission.REQUEST_ACCESS)
) -> dict[str, Any]:
    """Asks for access to named sessions or traces; someone else must approve it."""
    rt = _rt(request)
    g = grants.request_access(
        rt.engine, who, scope=body.scope, resources=body.resources, reason=body.reason, duration_s=body.duration_s,
        policy=_policy(rt), channel=_channel(who),
    )  # fmt: skip
    return g.as_dict()


@router.get("/api/v1/grants", responses=_DENIED)
def list_grants(
    request: Request,
    who: Principal = signed_in(),
    status: Annotated[str | None, Query(pattern="^(pending|approved|denied|revoked)$")] = None,
    kind: Annotated[str | None, Query(pattern="^(request|break_glass|review)$")] = None,
) -> dict[str, Any]:
    """Grants: approvers, admins and auditors see the project's; everyone else sees their own."""
    rt = _rt(request)
    sees_all = any(who.can(p) for p in (Permission.APPROVE_ACCESS, Permission.MANAGE_PRINCIPALS, Permission.READ_AUDIT))
    rows = grants.list_grants(
        rt.engine, who.project_id, principal_id=None if sees_all else (who.id if who.id is not None else -1),
        status=status, kind=kind,
    )  # fmt: skip
    now = time.time_ns()
    return {"grants": [g.as_dict(now) for g in rows]}


@router.post("/api/v1/grants/{grant_id}/approve", responses=_DENIED)
def approve(
    request: Request, grant_id: RowId, body: DecisionIn, who: Principal = requires(Permission.APPROVE_ACCESS)
) -> dict[str, Any]:
    """Approves someone else's pending request; the grant runs for the requested duration from now."""
    rt = _rt(request)
    return grants.decide(rt.engine, who, grant_id, approve=True, note=body.note, channel=_channel(who)).as_dict()


@router.post("/api/v1/grants/{grant_id}/deny", responses=_DENIED)
def deny(
    request: Request, grant_id: RowId, body: DecisionIn, who: Principal = requires(Permission.APPROVE_ACCESS)
) -> dict[str, Any]:
    """Denies a pending request."""
    rt = _rt(request)
    return grants.decide(rt.engine, who, grant_id, approve=False, note=body.note, channel=_channel(who)).as_dict()


@router.post("/api/v1/grants/{grant_id}/revoke", responses=_DENIED)
def revoke(request: Request, grant_id: RowId, who: Principal = signed_in()) -> dict[str, Any]:
    """Ends a grant at once (the grantee, an approver or an admin)."""
    rt = _rt(request)
    return grants.revoke(rt.engine, who, grant_id, channel=_channel(who)).as_dict()


@router.post("/api/v1/break-glass", status_code=201, responses=_DENIED)
def break_glass(
    request: Request, body: BreakGlassIn, who: Principal = requires(Permission.BREAK_GLASS)
) -> dict[str, Any]:
    """Emergency access without approval: short-lived, counted on /metrics for alerting, reviewed afterwards."""
    rt = _rt(request)
    g = grants.break_glass(
        rt.engine, who, scope=body.scope, resources=body.resources, reason=body.reason, policy=_policy(rt),
        channel=_channel(who),
    )  # fmt: skip
    rt.metrics.break_glass.inc()
    return g.as_dict()


@router.post("/api/v1/grants/{grant_id}/review", responses=_DENIED)
def review(request: Request, grant_id: RowId, body: ReviewIn, who: Principal = signed_in()) -> dict[str, Any]:
    """Closes a break-glass use's review item (an approver or auditor other than the user)."""
    rt = _rt(request)
    return grants.review(rt.engine, who, grant_id, note=body.note, channel=_channel(who)).as_dict()


@router.post("/api/v1/review-assignments", status_code=201, responses=_DENIED)
def assign(request: Request, body: AssignIn, who: Principal = requires(Permission.APPROVE_ACCESS)) -> dict[str, Any]:
    """Assigns traces to a reviewer for a spot check: they may read those traces' content until it expires."""
    rt = _rt(request)
    g = grants.assign_review(
        rt.engine, who, body.reviewer_id, traces=body.traces, reason=body.reason, duration_s=body.duration_s,
        policy=_policy(rt), channel=_channel(who),
    )  # fmt: skip
    return g.as_dict()


# ---------------------------------------------------------------------------------------------------------------
# The access log and breaches (auditor)


@router.get("/api/v1/access-log", responses=_DENIED)
def access_log(
    request: Request,
    who: Principal = requires(Permission.READ_AUDIT),
    from_: Annotated[str | None, Query(alias="from")] = None,
    to: str | None = None,
    principal_id: QueryId = None,
    key_id: Annotated[str | None, Query(max_length=16)] = None,
    action: Annotated[str | None, Query(max_length=24)] = None,
    after: Annotated[int | None, Query(ge=-1)] = None,
    limit: Annotated[int, Query(ge=1, le=10_000)] = 500,
    format: Annotated[str, Query(pattern="^(json|jsonl|csv)$")] = "json",
) -> Response:
    """Access events (who read what, when, under which grant, why), oldest first; JSON, JSON Lines or CSV."""
    rt = _rt(request)
    evts = audit.events(
        rt.engine, project_id=who.project_id, principal_id=principal_id, key_id=key_id, action=action,
        start_ns=parse_time(from_, "from"), end_ns=parse_time(to, "to"), after_index=after, limit=limit,
    )  # fmt: skip
    if format == "json":
        from fastapi.responses import JSONResponse

        nxt = evts[-1].log_index if len(evts) == limit else None
        return JSONResponse({"events": [e.as_dict() for e in evts], "next_after": nxt})
    media = "application/jsonl" if format == "jsonl" else "text/csv; charset=utf-8"
    return PlainTextResponse(audit.export(evts, format), media_type=media)


@router.get("/api/v1/access-log/scope", responses=_DENIED)
def scope(
    request: Request,
    who: Principal = requires(Permission.READ_AUDIT),
    principal_id: QueryId = None,
    key_id: Annotated[str | None, Query(max_length=16)] = None,
    from_: Annotated[str | None, Query(alias="from")] = None,
    to: str | None = None,
) -> dict[str, Any]:
    """Breach scoping: exactly which records and subjects a principal or key read in a window."""
    start = parse_time(from_, "from")
    end = parse_time(to, "to")
    exp = breach.scope(
        _rt(request).engine, who.project_id, principal_id=principal_id, key_id=key_id,
        start_ns=start if start is not None else 0, end_ns=end if end is not None else time.time_ns() + 1,
    )  # fmt: skip
    return exp.as_dict()


class BreachIn(BaseModel):
    title: Annotated[str, Field(min_length=3, max_length=256)]
    aware: Annotated[str, Field(description="When the organisation became aware: ns since epoch or RFC 3339")]
    principal_id: Annotated[int | None, Field(ge=1, le=MAX_ID)] = None
    key_id: Annotated[str | None, Field(max_length=16)] = None
    from_: Annotated[str, Field(alias="from")]
    to: str


class TimelineIn(BaseModel):
    entry: Annotated[str, Field(min_length=1, max_length=4000)]


@router.post("/api/v1/breaches", status_code=201, responses=_DENIED)
def open_breach(
    request: Request, body: BreachIn, who: Principal = requires(Permission.MANAGE_BREACHES)
) -> dict[str, Any]:
    """Records a breach: runs the scoping query, computes the GDPR (72 h) and HIPAA (60 days) deadlines."""
    rt = _rt(request)
    aware, start, end = parse_time(body.aware, "aware"), parse_time(body.from_, "from"), parse_time(body.to, "to")
    for value, name in ((aware, "aware"), (start, "from"), (end, "to")):
        if value is None:
            raise InputError(f"{name} is required: ns since epoch or RFC 3339", field=name)
    assert aware is not None and start is not None and end is not None  # for the type checker
    exp = breach.scope(
        rt.engine, who.project_id, principal_id=body.principal_id, key_id=body.key_id, start_ns=start, end_ns=end
    )
    bid = breach.open_breach(rt.engine, who, title=body.title, aware_ns=aware, exposure=exp, channel=_channel(who))
    return breach.get_breach(rt.engine, bid, who.project_id)


@router.get("/api/v1/breaches", responses=_DENIED)
def list_breaches(request: Request, who: Principal = requires(Permission.READ_AUDIT)) -> dict[str, Any]:
    return {"breaches": breach.list_breaches(_rt(request).engine, who.project_id)}


@router.get("/api/v1/breaches/{breach_id}", responses=_DENIED)
def get_breach(request: Request, breach_id: RowId, who: Principal = requires(Permission.READ_AUDIT)) -> dict[str, Any]:
    return breach.get_breach(_rt(request).engine, breach_id, who.project_id)


@router.post("/api/v1/breaches/{breach_id}/timeline", status_code=201, responses=_DENIED)
def add_entry(
    request: Request, breach_id: RowId, body: TimelineIn, who: Principal = requires(Permission.MANAGE_BREACHES)
) -> dict[str, Any]:
    """Appends to the breach's timeline (entries are never edited or removed)."""
    rt = _rt(request)
    breach.add_entry(rt.engine, who, breach_id, body.entry, channel=_channel(who))
    return breach.get_breach(rt.engine, breach_id, who.project_id)


__all__ = ["router"]
