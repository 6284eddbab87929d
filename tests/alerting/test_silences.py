"""Silences: matching and states as in Alertmanager, kept in the store on both engines, refused when they would mute
everything or end before they start."""

from __future__ import annotations

import pytest
from sqlalchemy import Engine

from watchkeeper.alerting import Silencer, add_silence, expire_silence, get_silence, list_silences, parse_matchers
from watchkeeper.alerting.silences import Silence, silence_window, silences_in_force
from watchkeeper.errors import Conflict, InputError, NotFound

S = 1_000_000_000
T = 1_717_200_000 * S
LABELS = {"alertname": "RefusalRateSpike", "language": "fr", "severity": "page"}


def silence(*matchers: str, starts: int = T, ends: int = T + 3600 * S) -> Silence:
    return Silence("id", parse_matchers(matchers), starts, ends, "alice", "maintenance")


def test_a_silence_mutes_matching_alerts_only_while_active() -> None:
    s = silence('alertname="RefusalRateSpike"', 'language=~"fr|de"')
    assert s.state(T - 1) == "pending" and s.state(T) == "active" and s.state(T + 3600 * S) == "expired"
    assert s.mutes(LABELS, T + 60 * S)
    assert not s.mutes(LABELS, T - 1) and not s.mutes(LABELS, T + 3600 * S)
    assert not s.mutes({**LABELS, "language": "en"}, T + 60 * S)
    assert silence('severity!="page"').mutes(LABELS, T) is False
    assert Silencer([s, silence('language="en"')]).silenced_by(LABELS, T) == ["id"]


def test_silences_are_stored_listed_and_expired(db: Engine) -> None:
    a = add_silence(
        db,
        matchers=parse_matchers(['language="fr"']),
        starts_ns=None,
        ends_ns=T + 3600 * S,
        created_by="alice",
        comment="filter rollback in progress",
        now_ns=T,
    )
    later = add_silence(
        db,
        matchers=parse_matchers(['alertname=~"Tool.*"', 'team!="db"']),
        starts_ns=T + 7200 * S,
        ends_ns=T + 9000 * S,
        created_by="bob",
        comment="planned tool migration",
        now_ns=T,
    )
    assert get_silence(db, a.id) == a and a.starts_ns == T
    assert [s.id for s in list_silences(db, now_ns=T)] == [a.id, later.id]
    assert [s.id for s in list_silences(db, state="pending", now_ns=T)] == [later.id]
    assert get_silence(db, later.id).matchers == later.matchers
    gone = expire_silence(db, later.id, now_ns=T + 60 * S)  # a pending silence never starts
    assert gone.state(T + 60 * S) == "expired" and gone.starts_ns == gone.ends_ns == T + 60 * S
    ended = expire_silence(db, a.id, now_ns=T + 120 * S)
    assert (ended.starts_ns, ended.ends_ns) == (T, T + 120 * S)
    with pytest.raises(Conflict, match="already expired"):
        expire_silence(db, a.id, now_ns=T + 180 * S)
    with pytest.raises(NotFound, match="no silence 'nope'"):
        get_silence(db, "nope")
    assert silences_in_force(db, since_ns=T + 100 * S) == [get_silence(db, a.id)]
    assert list_silences(db, project_id=2, now_ns=T) == []


@pytest.mark.parametrize(
    ("matchers", "starts", "ends", "who", "why", "field", "message"),
    [
        ([], None, T + S, "a", "c", "matchers", "at least one matcher"),
        (['team=~".*"', 'x=""'], None, T + S, "a", "c", "matchers", "must not match the empty value"),
        (['team="x"'], T + 10 * S, T + 5 * S, "a", "c", "endsAt", "must end after it starts"),
        (['team="x"'], T - 10 * S, T - 5 * S, "a", "c", "endsAt", "already be over"),
        (['team="x"'], None, T + S, " ", "c", "createdBy", "name who creates"),
        (['team="x"'], None, T + S, "a", "", "comment", "say why"),
    ],
)
def test_a_silence_that_cannot_work_is_refused(
    db: Engine,
    matchers: list[str],
    starts: int | None,
    ends: int,
    who: str,
    why: str,
    field: str,
    message: str,
) -> None:
    with pytest.raises(InputError, match=message) as e:
        add_silence(
            db,
            matchers=parse_matchers(matchers),
            starts_ns=starts,
            ends_ns=ends,
            created_by=who,
            comment=why,
            now_ns=T,
        )
    assert e.value.field == field
    assert list_silences(db, now_ns=T) == []


def test_a_window_is_an_end_or_a_duration() -> None:
    assert silence_window(duration="2h", now_ns=T) == (T, T + 7200 * S)
    assert silence_window(start="2024-06-01T01:00:00Z", end="2024-06-01T02:00:00Z") == (T + 3600 * S, T + 7200 * S)
    with pytest.raises(InputError, match="exactly one of"):
        silence_window(now_ns=T)
    with pytest.raises(InputError, match="duration must be a duration"):
        silence_window(duration="soon", now_ns=T)
