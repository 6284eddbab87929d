"""The access page: your grants, requests waiting for you, break-glass reviews — and the forms that change them.

Forms post here (CSRF-checked by the guard) and come back to /access; the trust room does the work.
"""

from __future__ import annotations

import time
from typing import Annotated

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from ..errors import WatchkeeperError
from ..trust import grants
from ..trust.identity import Principal
from ..trust.roles import Permission
from ._access_api import RowId
from ._auth import requires, signed_in
from ._runtime import Runtime

router = APIRouter(include_in_schema=False)


def _rt(request: Request) -> Runtime:
    rt: Runtime = request.app.state.runtime
    return rt


def _policy(rt: Runtime) -> grants.GrantPolicy:
    s = rt.settings
    return grants.GrantPolicy(s.grant_max_s, s.break_glass_s, s.break_glass_review_s)


def _page(request: Request, who: Principal, status: int = 200, error: str | None = None) -> HTMLResponse:
    from .pages import render

    rt = _rt(request)
    sees_all = any(who.can(p) for p in (Permission.APPROVE_ACCESS, Permission.MANAGE_PRINCIPALS, Permission.READ_AUDIT))
    rows = grants.list_grants(rt.engine, who.project_id, principal_id=None if sees_all else who.id)
    q = request.query_params
    return render(
        request, "access.html", status, grants=rows, now=time.time_ns(), error=error,
        scope=q.get("scope", "session") if q.get("scope") in ("session", "trace") else "session",
        resource=q.get("resource", "")[:256], can_request=who.can(Permission.REQUEST_ACCESS),
        can_break_glass=who.can(Permission.BREAK_GLASS), can_approve=who.can(Permission.APPROVE_ACCESS),
        can_review=who.can(Permission.APPROVE_ACCESS) or who.can(Permission.READ_AUDIT),
    )  # fmt: skip


@router.get("/access")
def access_page(request: Request, who: Principal = requires(Permission.READ_METADATA, page=True)) -> HTMLResponse:
    return _page(request, who)


def _done(request: Request, who: Principal, action: object) -> Response:
    try:
        action_fn = action
        assert callable(action_fn)
        action_fn()
    except WatchkeeperError as e:
        return _page(request, who, e.status if e.status < 500 else 500, error=str(e))
    return RedirectResponse("/access", status_code=303)


@router.get("/audit")
def audit_page(request: Request, who: Principal = requires(Permission.READ_AUDIT, page=True)) -> HTMLResponse:
    """The auditor's page: the newest access events, break-glass reviews and their state, breach records."""
    from ..trust import audit, breach
    from .pages import render

    rt = _rt(request)
    q = request.query_params
    action = q.get("action") or None
    principal = q.get("principal_id", "")
    evts = audit.events(
        rt.engine,
        project_id=who.project_id,
        action=action[:24] if action else None,
        principal_id=int(principal) if principal.isdigit() else None,
        limit=100_000,
    )[-200:][::-1]
    glass = grants.list_grants(rt.engine, who.project_id, kind="break_glass")
    return render(
        request, "audit.html", events=evts, glass=glass, breaches=breach.list_breaches(rt.engine, who.project_id),
        now=time.time_ns(), action=action or "", principal_id=principal,
    )  # fmt: skip


@router.post("/access/request")
def request_form(
    request: Request,
    scope: Annotated[str, Form()],
    resources: Annotated[str, Form(max_length=30_000)],
    reason: Annotated[str, Form(max_length=2000)],
    duration_s: Annotated[int, Form()] = 3600,
    who: Principal = requires(Permission.REQUEST_ACCESS, page=True),
) -> Response:
    rt = _rt(request)
    ids = [r for r in resources.replace(",", " ").split() if r]
    return _done(request, who, lambda: grants.request_access(
        rt.engine, who, scope=scope, resources=ids, reason=reason, duration_s=duration_s, policy=_policy(rt),
        channel="web",
    ))  # fmt: skip


@router.post("/access/break-glass")
def break_glass_form(
    request: Request,
    scope: Annotated[str, Form()],
    resources: Annotated[str, Form(max_length=30_000)],
    reason: Annotated[str, Form(max_length=2000)],
    who: Principal = requires(Permission.BREAK_GLASS, page=True),
) -> Response:
    rt = _rt(request)
    ids = [r for r in resources.replace(",", " ").split() if r]

    def go() -> None:
        grants.break_glass(rt.engine, who, scope=scope, resources=ids, reason=reason, policy=_policy(rt), channel="web")
        rt.metrics.break_glass.inc()

    return _done(request, who, go)


@router.post("/access/{grant_id}/decide")
def decide_form(
    request: Request,
    grant_id: RowId,
    decision: Annotated[str, Form(pattern="^(approve|deny)$")],
    note: Annotated[str, Form(max_length=2000)] = "",
    who: Principal = requires(Permission.APPROVE_ACCESS, page=True),
) -> Response:
    rt = _rt(request)
    return _done(
        request,
        who,
        lambda: grants.decide(rt.engine, who, grant_id, approve=decision == "approve", note=note, channel="web"),
    )


@router.post("/access/{grant_id}/revoke")
def revoke_form(request: Request, grant_id: RowId, who: Principal = signed_in()) -> Response:
    rt = _rt(request)
    return _done(request, who, lambda: grants.revoke(rt.engine, who, grant_id, channel="web"))


@router.post("/access/{grant_id}/review")
def review_form(
    request: Request,
    grant_id: RowId,
    note: Annotated[str, Form(max_length=2000)],
    who: Principal = signed_in(),
) -> Response:
    rt = _rt(request)
    return _done(request, who, lambda: grants.review(rt.engine, who, grant_id, note=note, channel="web"))


__all__ = ["router"]
