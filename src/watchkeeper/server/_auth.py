"""Who is calling, and may they: one guard per route, deny by default.

Every route declares exactly one :class:`Guard` (a FastAPI dependency) naming the permission it needs, or marks
itself public. ``create_app`` refuses to start if a route has none, and tests/server/test_authorisation.py builds the
role × route matrix from the app's route table, so a new route without a rule fails the build.

Credentials, in order: ``Authorization: Bearer <API key>`` (or the admin token, for bootstrapping), then the login
cookie. Cookie-authenticated requests that change state must carry the session's CSRF token in ``X-CSRF-Token`` (or
a ``csrf_token`` form field); the cookie is also ``SameSite=Strict``. With ``auth = false`` a request without
credentials is the local operator.
"""

from __future__ import annotations

import hmac
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

from fastapi import Depends, Request
from fastapi.routing import APIRoute
from starlette.concurrency import run_in_threadpool

from ..errors import Forbidden, Unauthenticated
from ..trust.identity import Principal, authenticate_key, authenticate_session, local_operator
from ..trust.roles import ROLES, Permission
from ._runtime import Runtime

COOKIE = "wk_session"
CSRF_HEADER = "X-CSRF-Token"
_SAFE = frozenset({"GET", "HEAD", "OPTIONS"})
_FORM_TYPES = ("application/x-www-form-urlencoded", "multipart/form-data")


class LoginRequired(Exception):
    """A page asked for while logged out: answered with a redirect to /login."""

    def __init__(self, next_url: str) -> None:
        super().__init__(next_url)
        self.next_url = next_url


def _admin_token(rt: Runtime, token: str) -> Principal | None:
    admin = rt.settings.admin_token
    if admin and hmac.compare_digest(token.encode(), admin.encode()):
        return Principal(None, "admin-token", "service", 1, frozenset({"admin"}), ROLES["admin"], "key", "admintok")
    return None


def resolve(request: Request) -> Principal | None:
    """The caller, from an API key, the admin token or the login cookie; None when there are no credentials."""
    cached: Principal | None = getattr(request.state, "principal", None)
    if cached is not None:
        return cached
    rt: Runtime = request.app.state.runtime
    engine = rt.engine
    header = request.headers.get("authorization")
    who: Principal | None = None
    if header is not None:
        scheme, _, token = header.partition(" ")
        token = token.strip()
        if scheme.lower() != "bearer" or not token:
            raise Unauthenticated("send credentials as 'Authorization: Bearer <API key>'")
        who = _admin_token(rt, token) if not token.startswith("wk_") else None
        if who is None:
            who = authenticate_key(engine, token)
    else:
        cookie = request.cookies.get(COOKIE)
        if cookie:
            who = authenticate_session(engine, cookie)
            if request.method not in _SAFE:
                _check_csrf(request, who)
        elif not rt.settings.auth:
            who = local_operator()
    if who is not None:
        request.state.principal = who
    return who


def _check_csrf(request: Request, who: Principal) -> None:
    sent = request.headers.get(CSRF_HEADER) or getattr(request.state, "form_csrf", None)
    if not sent or not who.csrf_token or not hmac.compare_digest(sent.encode(), who.csrf_token.encode()):
        raise Forbidden(f"missing or wrong CSRF token: send the page's token in the {CSRF_HEADER} header")


class Guard:
    """A route's access rule: the permission it needs (None with ``public``), and whether it is a web page."""

    def __init__(
        self, permission: Permission | None, *, public: bool = False, page: bool = False, signed_in: bool = False
    ) -> None:
        if sum((permission is not None, public, signed_in)) != 1:
            raise ValueError("a guard names a permission, or is public, or admits anyone signed in")
        self.permission = permission
        self.signed_in = signed_in
        self.public = public
        self.page = page

    async def __call__(self, request: Request) -> Principal | None:
        if request.method not in _SAFE and request.headers.get("content-type", "").startswith(_FORM_TYPES):
            form = await request.form()  # Starlette caches it: the route's Form() parameters read the same
            token = form.get("csrf_token")
            request.state.form_csrf = token if isinstance(token, str) else None
        if self.public:
            try:
                return await run_in_threadpool(resolve, request)
            except (Unauthenticated, Forbidden):
                return None
        who = await run_in_threadpool(resolve, request)
        if who is None:
            if self.page:
                target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
                raise LoginRequired(target)
            raise Unauthenticated(
                "this route needs credentials: an API key ('Authorization: Bearer wk_...') or a login"
            )
        if self.permission is not None and not who.can(self.permission):
            raise Forbidden(
                f"this route needs the {self.permission.value} permission, which "
                + (
                    "this API key's scopes do not include"
                    if who.via == "key"
                    else "your roles in this project do not give"
                )
            )
        return who

    def __repr__(self) -> str:
        if self.public:
            return "Guard(public)"
        return "Guard(signed in)" if self.signed_in else f"Guard({self.permission})"


def requires(permission: Permission, *, page: bool = False) -> Any:
    """A dependency that admits callers holding ``permission`` and gives their :class:`Principal`."""
    return Depends(Guard(permission, page=page))


def signed_in() -> Any:
    """A dependency admitting any authenticated caller (the route checks ownership itself); gives the Principal."""
    return Depends(Guard(None, signed_in=True))


def public() -> Any:
    """A dependency for routes anyone may call (health, login, static files); gives the caller if known."""
    return Depends(Guard(None, public=True))


@dataclass(frozen=True, slots=True)
class RouteRule:
    path: str
    methods: frozenset[str]
    guard: Guard | None


def _guard_in(dependant: Any) -> Guard | None:
    stack = list(dependant.dependencies)
    while stack:
        d = stack.pop()
        if isinstance(d.call, Guard):
            return d.call
        stack.extend(d.dependencies)
    return None


def route_rules(routes: list[Any]) -> list[RouteRule]:
    """Every API and page route of the app with its guard (None: it has none), included routers flattened."""
    out: list[RouteRule] = []
    for r in routes:
        if isinstance(r, APIRoute):
            out.append(RouteRule(r.path, frozenset(r.methods or ()), _guard_in(r.dependant)))
        elif hasattr(r, "effective_route_contexts"):  # FastAPI >= 0.120 keeps included routers as one entry
            for ctx in r.effective_route_contexts():
                if getattr(ctx, "dependant", None) is not None:
                    out.append(RouteRule(ctx.path, frozenset(ctx.methods or ()), _guard_in(ctx.dependant)))
    return out


def check_routes(routes: list[Any]) -> None:
    """Refuses an app with a route that declares no guard (deny by default means no unguarded route)."""
    missing = [f"{sorted(r.methods)} {r.path}" for r in route_rules(routes) if r.guard is None]
    if missing:
        raise RuntimeError(f"routes without an access rule (add requires(...) or public()): {', '.join(missing)}")


def login_url(next_url: str) -> str:
    return f"/login?next={quote(next_url, safe='')}"


__all__ = [
    "COOKIE",
    "CSRF_HEADER",
    "Guard",
    "LoginRequired",
    "RouteRule",
    "check_routes",
    "login_url",
    "public",
    "requires",
    "resolve",
    "route_rules",
    "signed_in",
]
