"""Silences: mute the notifications of every alert that matches a set of matchers, for a while, with who and why.

As in Alertmanager: a silence is *pending* before ``starts``, *active* until ``ends`` and *expired* after; expiring
one early sets its end to now (a pending one ends before it began). Its matchers must not all match the empty
value, so no silence mutes every alert by accident. A silenced alert still fires and is stored, with the silences
that mute it; only its notifications are held back. Silences are matched at the time of each notification decision.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Engine

from ..errors import Conflict, InputError, NotFound
from . import _store
from ._labels import parse_duration, parse_rfc3339, rfc3339
from .matchers import Matcher, matches_all, parse_matcher

PENDING = "pending"
ACTIVE = "active"
EXPIRED = "expired"
STATES = (PENDING, ACTIVE, EXPIRED)
MAX_TEXT = 1000  # characters of created_by (256) and comment


@dataclass(frozen=True, slots=True)
class Silence:
    id: str
    matchers: tuple[Matcher, ...]
    starts_ns: int
    ends_ns: int
    created_by: str
    comment: str
    created_ns: int = 0
    updated_ns: int = 0

    def state(self, now_ns: int) -> str:
        if now_ns < self.starts_ns:
            return PENDING
        return ACTIVE if now_ns < self.ends_ns else EXPIRED

    def mutes(self, labels: Mapping[str, str], at_ns: int) -> bool:
        return self.state(at_ns) == ACTIVE and matches_all(self.matchers, labels)

    def as_api(self, now_ns: int) -> dict[str, Any]:
        """The Alertmanager API v2 ``gettableSilence`` shape."""
        return {
            "id": self.id,
            "matchers": [m.as_api() for m in self.matchers],
            "startsAt": rfc3339(self.starts_ns),
            "endsAt": rfc3339(self.ends_ns),
            "createdBy": self.created_by,
            "comment": self.comment,
            "updatedAt": rfc3339(self.updated_ns),
            "status": {"state": self.state(now_ns)},
        }


class Silencer:
    """Which silences mute an alert at a time."""

    def __init__(self, silences: Iterable[Silence]) -> None:
        self.silences = list(silences)

    def silenced_by(self, labels: Mapping[str, str], at_ns: int) -> list[str]:
        return sorted(s.id for s in self.silences if s.mutes(labels, at_ns))


def check_silence(
    matchers: Sequence[Matcher], starts_ns: int, ends_ns: int, created_by: str, comment: str, now_ns: int
) -> None:
    """InputError naming the field when a new silence cannot be accepted."""
    if not matchers:
        raise InputError('a silence needs at least one matcher, such as alertname="RefusalRateSpike"', field="matchers")
    if all(m.matches("") for m in matchers):
        raise InputError(
            "at least one matcher must not match the empty value, or the silence would mute every alert",
            field="matchers",
        )
    if ends_ns <= starts_ns:
        raise InputError("the silence must end after it starts", field="endsAt")
    if ends_ns <= now_ns:
        raise InputError("the silence would already be over: choose an end in the future", field="endsAt")
    if not created_by.strip() or len(created_by) > 256:
        raise InputError("name who creates the silence (createdBy, at most 256 characters)", field="createdBy")
    if not comment.strip() or len(comment) > MAX_TEXT:
        raise InputError(f"say why (comment, at most {MAX_TEXT} characters)", field="comment")


def parse_silence_matchers(items: Iterable[str]) -> tuple[Matcher, ...]:
    out = []
    for i, text in enumerate(items):
        try:
            out.append(parse_matcher(text))
        except ValueError as e:
            raise InputError(f"matchers[{i}]: {e}", field="matchers") from None
    return tuple(out)


def silence_window(
    *, start: str | None = None, end: str | None = None, duration: str | None = None, now_ns: int | None = None
) -> tuple[int, int]:
    """(starts, ends) from RFC 3339 times and/or a duration such as ``2h`` (from the start, which defaults to now);
    InputError names the option that is wrong."""
    now = time.time_ns() if now_ns is None else now_ns
    starts = _time(start, "start") if start else now
    if (end is None) == (duration is None):
        raise InputError("give exactly one of an end time or a duration", field="end")
    if end is not None:
        return starts, _time(end, "end")
    try:
        length = parse_duration(duration)
    except ValueError as e:
        raise InputError(f"duration {e}", field="duration") from None
    return starts, starts + length


def _time(value: str, name: str) -> int:
    try:
        ns = parse_rfc3339(value)
    except ValueError as e:
        raise InputError(f"{name} {e}", field=name) from None
    if ns is None:
        raise InputError(f"{name} must be a real time, not the zero time", field=name)
    return ns


def _of(row: Mapping[str, Any]) -> Silence:
    return Silence(
        id=row["id"],
        matchers=tuple(Matcher.from_api(m) for m in _store.loads(row["matchers"]) or ()),
        starts_ns=row["starts_ns"],
        ends_ns=row["ends_ns"],
        created_by=row["created_by"],
        comment=row["comment"],
        created_ns=row["created_ns"],
        updated_ns=row["updated_ns"],
    )


def add_silence(
    engine: Engine,
    *,
    matchers: Sequence[Matcher],
    starts_ns: int | None,
    ends_ns: int,
    created_by: str,
    comment: str,
    project_id: int = 1,
    now_ns: int | None = None,
) -> Silence:
    """Store a new silence (starting now unless ``starts_ns``); InputError names a bad field."""
    now = time.time_ns() if now_ns is None else now_ns
    start = now if starts_ns is None else starts_ns
    check_silence(matchers, start, ends_ns, created_by, comment, now)
    s = Silence(str(uuid.uuid4()), tuple(matchers), start, ends_ns, created_by.strip(), comment.strip(), now, now)
    _store.insert_silence(
        engine,
        {
            "id": s.id,
            "project_id": project_id,
            "matchers": _store.dumps([m.as_api() for m in s.matchers]),
            "starts_ns": s.starts_ns,
            "ends_ns": s.ends_ns,
            "created_by": s.created_by,
            "comment": s.comment,
            "created_ns": now,
            "updated_ns": now,
        },
    )
    return s


def get_silence(engine: Engine, silence_id: str, *, project_id: int = 1) -> Silence:
    rows = _store.silence_rows(engine, project_id, silence_id=silence_id)
    if not rows:
        raise NotFound(f"no silence {silence_id!r}; see `watchkeeper silence list` or GET /api/v1/silences")
    return _of(rows[0])


def list_silences(
    engine: Engine, *, project_id: int = 1, state: str | None = None, now_ns: int | None = None
) -> list[Silence]:
    """The project's silences, oldest start first; only those in ``state`` when given."""
    if state is not None and state not in STATES:
        raise InputError(f"state must be one of {', '.join(STATES)}", field="state")
    now = time.time_ns() if now_ns is None else now_ns
    out = [_of(r) for r in _store.silence_rows(engine, project_id)]
    return [s for s in out if state is None or s.state(now) == state]


def silences_in_force(engine: Engine, *, project_id: int = 1, since_ns: int) -> list[Silence]:
    """Silences that have not ended before ``since_ns`` (what the engine matches notifications against)."""
    return [_of(r) for r in _store.silence_rows(engine, project_id, ends_after_ns=since_ns)]


def expire_silence(engine: Engine, silence_id: str, *, project_id: int = 1, now_ns: int | None = None) -> Silence:
    """End a silence now; expiring an expired one is a Conflict, an unknown one NotFound."""
    now = time.time_ns() if now_ns is None else now_ns
    s = get_silence(engine, silence_id, project_id=project_id)
    state = s.state(now)
    if state == EXPIRED:
        raise Conflict(f"silence {silence_id!r} has already expired")
    starts = now if state == PENDING else s.starts_ns
    _store.end_silence(engine, project_id, silence_id, starts_ns=starts, ends_ns=now, now_ns=now)
    return get_silence(engine, silence_id, project_id=project_id)


__all__ = [
    "ACTIVE",
    "EXPIRED",
    "PENDING",
    "Silence",
    "Silencer",
    "add_silence",
    "check_silence",
    "expire_silence",
    "get_silence",
    "list_silences",
    "parse_silence_matchers",
    "silence_window",
    "silences_in_force",
]
