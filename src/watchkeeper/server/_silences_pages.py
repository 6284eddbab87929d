"""The silences page: silences in force (with the live alerts they mute now) and recently expired ones, a form to add
one and a button to expire one early. The same alerting functions as the API (_alerts_api.py) and the CLI do the work.

    /silences                    pending and active silences, then the recently expired ones; the form
    POST /silences               add a silence (matchers as text, start, end as a duration or a time, comment)
    POST /silences/{id}/expire   end a silence now

The author of a silence is the signed-in principal, never a form field.
"""

from __future__ import annotations

import time
from typing import Annotated, Any

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from ..alerting import add_silence, expire_silence, list_alerts, list_silences
from ..alerting._labels import parse_duration, parse_rfc3339
from ..alerting.matchers import split_matchers
from ..alerting.silences import EXPIRED, Silence, parse_silence_matchers, silence_window
from ..errors import InputError, WatchkeeperError
from ..trust.identity import Principal
from ..trust.roles import Permission
from ._alerts_api import SilenceId
from ._auth import requires
from ._runtime import Runtime

router = APIRouter(include_in_schema=False)

EXPIRED_SHOWN = 50  # the most recently ended silences listed under the ones in force
LIVE = ("firing", "pending")
MAX_MATCHERS_TEXT = 8192
_FIELDS = {"endsAt": "end", "duration": "end"}  # the room's field names → the form's


def _rt(request: Request) -> Runtime:
    rt: Runtime = request.app.state.runtime
    return rt


def _window(start: str, end: str, now_ns: int) -> tuple[int, int]:
    """(starts, ends): ``end`` is a duration from the start (``2h``) or an RFC 3339 time."""
    end = end.strip()
    try:
        parse_duration(end)
    except ValueError:
        try:
            parse_rfc3339(end)
        except ValueError:
            raise InputError(
                "end must be a duration from the start such as 2h or 1d12h, or an RFC 3339 time such as "
                "2024-05-01T12:00:00Z",
                field="end",
            ) from None
        return silence_window(start=start.strip() or None, end=end, now_ns=now_ns)
    return silence_window(start=start.strip() or None, duration=end, now_ns=now_ns)


def _view(s: Silence, live: list[dict[str, Any]], now_ns: int) -> dict[str, Any]:
    return {
        "silence": s,
        "state": s.state(now_ns),
        "matchers": [str(m) for m in s.matchers],
        "mutes": [a for a in live if s.mutes(a["labels"], now_ns)],
    }


def _page(
    request: Request,
    who: Principal,
    status: int = 200,
    *,
    error: str | None = None,
    error_field: str | None = None,
    form: dict[str, str] | None = None,
) -> HTMLResponse:
    from .pages import render

    rt = _rt(request)
    now = time.time_ns()
    found = list_silences(rt.engine, project_id=who.project_id, now_ns=now)
    live = list_alerts(rt.engine, project_id=who.project_id, states=LIVE, limit=1000)
    in_force = [_view(s, live, now) for s in found if s.state(now) != EXPIRED]
    ended = sorted((s for s in found if s.state(now) == EXPIRED), key=lambda s: s.ends_ns, reverse=True)
    return render(
        request,
        "silences.html",
        status,
        in_force=in_force,
        expired=[_view(s, [], now) for s in ended[:EXPIRED_SHOWN]],
        expired_more=max(0, len(ended) - EXPIRED_SHOWN),
        now=now,
        error=error,
        error_field=error_field,
        form=form or {"matchers": "", "start": "", "end": "2h", "comment": ""},
        can_write=who.can(Permission.WRITE_ALERTS),
    )


@router.get("/silences")
def silences_page(request: Request, who: Principal = requires(Permission.READ_ALERTS, page=True)) -> HTMLResponse:
    return _page(request, who)


@router.post("/silences")
def silence_add_form(
    request: Request,
    matchers: Annotated[str, Form(max_length=MAX_MATCHERS_TEXT)] = "",
    start: Annotated[str, Form(max_length=64)] = "",
    end: Annotated[str, Form(max_length=64)] = "",
    comment: Annotated[str, Form(max_length=2000)] = "",
    who: Principal = requires(Permission.WRITE_ALERTS, page=True),
) -> Response:
    """Add a silence from the form; bad input comes back as the page with the error and the form as it was sent."""
    rt = _rt(request)
    now = time.time_ns()
    try:
        parsed = parse_silence_matchers(split_matchers(matchers))
        starts, ends = _window(start, end, now)
        add_silence(
            rt.engine,
            matchers=parsed,
            starts_ns=starts,
            ends_ns=ends,
            created_by=who.name,
            comment=comment,
            project_id=who.project_id,
            now_ns=now,
        )
    except InputError as e:
        sent = {"matchers": matchers, "start": start, "end": end, "comment": comment}
        return _page(request, who, e.status, error=str(e), error_field=_FIELDS.get(e.field or "", e.field), form=sent)
    return RedirectResponse("/silences", status_code=303)


@router.post("/silences/{silence_id}/expire")
def silence_expire_form(
    request: Request, silence_id: SilenceId, who: Principal = requires(Permission.WRITE_ALERTS, page=True)
) -> Response:
    """Expire a silence now; an unknown or already expired one comes back as the page with the error."""
    try:
        expire_silence(_rt(request).engine, silence_id, project_id=who.project_id)
    except WatchkeeperError as e:
        return _page(request, who, e.status if e.status < 500 else 500, error=str(e))
    return RedirectResponse("/silences", status_code=303)


__all__ = ["router"]
