"""Retention: expired content is cleared and expired rows deleted, in bounded batches, around legal holds, on record."""

from __future__ import annotations

import json
import threading
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from sqlalchemy import Engine, create_engine, func, select

from watchkeeper.cli import main
from watchkeeper.config import load_settings
from watchkeeper.errors import ConfigError
from watchkeeper.privacy.holds import list_holds, place_hold, release_hold
from watchkeeper.privacy.retention import (
    DAY_NS,
    PROFILES,
    ProjectOverride,
    RetentionJob,
    make_policy,
    policy_from_settings,
    purge,
)
from watchkeeper.store import RowBatch, Writer
from watchkeeper.store.tables import feedback, privacy_events, spans

NOW = 1_800_000_000 * 10**9
DEFAULT = make_policy("default")  # payloads 30 days, metadata 90 days


def _span(i: int, age_days: float, *, project: int = 1, trace: int | None = None, **cols: Any) -> dict[str, Any]:
    row: dict[str, Any] = {c.name: None for c in spans.columns if c.name != "id"}
    start = NOW - int(age_days * DAY_NS)
    row.update(
        project_id=project,
        trace_id=(trace if trace is not None else i).to_bytes(16, "big"),
        span_id=i.to_bytes(8, "big"),
        name="call",
        kind="llm",
        status="ok",
        start_ns=start,
        end_ns=start + 1000,
        source="api",
        schema_version=1,
        payload=b"content",
        ingested_ns=start,
    )
    row.update(cols)
    return row


def _feedback(i: int, age_days: float, *, project: int = 1, trace: int | None = None, **cols: Any) -> dict[str, Any]:
    row: dict[str, Any] = {c.name: None for c in feedback.columns if c.name != "id"}
    t = NOW - int(age_days * DAY_NS)
    row.update(
        project_id=project,
        feedback_id=f"fb-{project}-{i}",
        trace_id=(trace if trace is not None else i).to_bytes(16, "big"),
        kind="comment",
        time_ns=t,
        source="api",
        schema_version=1,
        payload=b"comment",
        ingested_ns=t,
    )
    row.update(cols)
    return row


def _insert(db: Engine, span_rows: list[dict[str, Any]], feedback_rows: list[dict[str, Any]] | None = None) -> None:
    with db.begin() as conn:
        if span_rows:
            conn.execute(spans.insert(), span_rows)
        if feedback_rows:
            conn.execute(feedback.insert(), feedback_rows)


def _spans(db: Engine, project: int = 1) -> dict[int, bytes | None]:
    """span number -> payload, for one project."""
    with db.connect() as conn:
        rows = conn.execute(select(spans.c.span_id, spans.c.payload).where(spans.c.project_id == project)).all()
    return {int.from_bytes(r[0], "big"): r[1] for r in rows}


def _feedback_rows(db: Engine) -> dict[str, bytes | None]:
    with db.connect() as conn:
        return {r[0]: r[1] for r in conn.execute(select(feedback.c.feedback_id, feedback.c.payload))}


def _events(db: Engine) -> list[dict[str, Any]]:
    with db.connect() as conn:
        return [dict(r._mapping) for r in conn.execute(select(privacy_events).order_by(privacy_events.c.id))]


def test_expired_payloads_are_cleared_and_their_metadata_kept(db: Engine) -> None:
    _insert(db, [_span(1, 1), _span(2, 29), _span(3, 31), _span(4, 60)], [_feedback(1, 2), _feedback(2, 45)])
    report = purge(db, DEFAULT, NOW)
    assert _spans(db) == {1: b"content", 2: b"content", 3: None, 4: None}
    assert _feedback_rows(db) == {"fb-1-1": b"comment", "fb-1-2": None}
    assert report.count("payloads") == 3 and report.count("metadata") == 0
    with db.connect() as conn:  # the metadata the aggregates count is untouched
        assert conn.execute(select(func.count()).select_from(spans).where(spans.c.start_ns > 0)).scalar() == 4


def test_expired_rows_are_deleted(db: Engine) -> None:
    _insert(db, [_span(1, 10), _span(2, 89), _span(3, 91), _span(4, 400)], [_feedback(1, 5), _feedback(2, 100)])
    report = purge(db, DEFAULT, NOW)
    assert set(_spans(db)) == {1, 2}
    assert set(_feedback_rows(db)) == {"fb-1-1"}
    assert report.count("metadata") == 3
    assert report.count("payloads") == 1  # span 2: old enough to lose its content, young enough to stay


def test_held_subjects_and_sessions_are_untouched_until_released(db: Engine) -> None:
    _insert(
        db,
        [
            _span(1, 200, trace=1, session_id="s-held"),
            _span(2, 200, trace=1),  # a child span of the held session's trace, without the session id itself
            _span(3, 45, trace=3, subject_id="u-held"),
            _span(4, 200, trace=4, session_id="s-free"),
            _span(5, 45, trace=5, subject_id="u-free"),
        ],
        [_feedback(1, 200, trace=1), _feedback(2, 45, subject_id="u-held"), _feedback(3, 200, trace=4)],
    )
    session_hold = place_hold(db, scope="session", scope_id="s-held", reason="matter 17", now_ns=NOW)
    subject_hold = place_hold(db, scope="subject", scope_id="u-held", reason="DSAR dispute", now_ns=NOW)
    assert [h.id for h in list_holds(db)] == [session_hold.id, subject_hold.id]
    purge(db, DEFAULT, NOW)
    assert _spans(db) == {1: b"content", 2: b"content", 3: b"content", 5: None}
    assert _feedback_rows(db) == {"fb-1-1": b"comment", "fb-1-2": b"comment"}

    release_hold(db, session_hold.id, now_ns=NOW + 1)
    assert [h.id for h in list_holds(db)] == [subject_hold.id]
    assert len(list_holds(db, include_released=True)) == 2
    purge(db, DEFAULT, NOW)
    assert _spans(db) == {3: b"content", 5: None}
    assert _feedback_rows(db) == {"fb-1-2": b"comment"}
    release_hold(db, subject_hold.id)
    purge(db, DEFAULT, NOW)
    assert _spans(db) == {3: None, 5: None}


def test_batches_are_bounded_and_give_the_same_result_as_one_big_purge(db: Engine) -> None:
    # the same 95 expired spans and 95 spans with expired content in two projects, purged two ways
    for project in (1, 2):
        rows = [_span(i, 100 + i % 7, project=project) for i in range(95)]
        rows += [_span(1000 + i, 40 + i % 7, project=project) for i in range(95)]
        _insert(db, [*rows, _span(5000, 1, project=project)])
    small = purge(db, DEFAULT, NOW, batch_size=10, project_id=1)
    big = purge(db, DEFAULT, NOW, batch_size=100_000, project_id=2)
    for data_class in ("metadata", "payloads"):
        [r] = [r for r in small.results if r.data_class == data_class]
        assert (r.count, r.batches) == (95, 10)  # nine full batches and a last one of five
        [r] = [r for r in big.results if r.data_class == data_class]
        assert (r.count, r.batches) == (95, 1)
    assert _spans(db, 1) == _spans(db, 2) and len(_spans(db, 1)) == 96


def test_a_project_override_applies_to_that_project_only(db: Engine) -> None:
    policy = make_policy("default", projects={2: ProjectOverride(days={"payloads": 7, "metadata": 14})})
    _insert(db, [_span(1, 10, project=1), _span(2, 20, project=1), _span(3, 10, project=2), _span(4, 20, project=2)])
    report = purge(db, policy, NOW)
    assert _spans(db, 1) == {1: b"content", 2: b"content"}
    assert _spans(db, 2) == {3: None}
    labels = {r.project_id: r.policy for r in report.results}
    assert labels[1] == "default" and labels[2] == "default+payloads=7d+metadata=14d"
    hipaa = make_policy("default", projects={3: ProjectOverride(profile="hipaa")})
    assert hipaa.for_project(3).periods == PROFILES["hipaa"].periods


def test_each_run_records_one_privacy_event_per_class_with_its_counts(db: Engine) -> None:
    _insert(db, [_span(1, 100), _span(2, 100), _span(3, 50)], [_feedback(1, 100), _feedback(2, 50)])
    purge(db, DEFAULT, NOW)
    events = _events(db)
    assert [(e["project_id"], e["action"], e["data_class"], e["count"]) for e in events] == [
        (1, "purge", "metadata", 3),
        (1, "purge", "payloads", 2),
        (1, "purge", "aggregates", 0),  # the rows were written straight to the tables: no rollups to purge
    ]
    assert events[0]["cutoff_ns"] == NOW - 90 * DAY_NS and events[1]["cutoff_ns"] == NOW - 30 * DAY_NS
    assert all(e["policy"] == "default" and e["started_ns"] <= e["finished_ns"] for e in events)
    assert all(e["subject_id"] is None for e in events)
    purge(db, DEFAULT, NOW)  # idempotent: nothing left to purge, and the run is on record
    assert [e["count"] for e in _events(db)[3:]] == [0, 0, 0]


def test_a_dry_run_changes_nothing_and_counts_what_a_purge_would_do(db: Engine) -> None:
    _insert(db, [_span(1, 100), _span(2, 50, session_id="s"), _span(3, 50), _span(4, 1)], [_feedback(1, 100)])
    place_hold(db, scope="session", scope_id="s", reason="hold")
    before = _spans(db)
    dry = purge(db, DEFAULT, NOW, dry_run=True)
    assert _spans(db) == before and _events(db) == [] and len(_feedback_rows(db)) == 1
    real = purge(db, DEFAULT, NOW)
    assert [(r.data_class, r.count) for r in dry.results] == [(r.data_class, r.count) for r in real.results]
    assert (dry.count("metadata"), dry.count("payloads")) == (2, 1)


@pytest.mark.parametrize(
    ("text", "env", "message"),
    [
        ("retention_profile = 'forever'", {}, "retention_profile: unknown retention profile 'forever'"),
        ("retention_payload_days = -3", {}, "retention_payload_days must not be negative"),
        ("", {"WATCHKEEPER_RETENTION_METADATA_DAYS": "-1"}, "WATCHKEEPER_RETENTION_METADATA_DAYS"),
        ("retention_payload_days = 120", {}, "payload period .* longer than its metadata period"),
        ("[retention.projects.2]\npayload_days = -1", {}, r"\[retention.projects.2\] payload_days must be between"),
        ("[retention.projects.2]\nprofile = 'sox'", {}, r"\[retention.projects.2\] profile: unknown retention"),
        ("[retention.projects.x]\npayload_days = 3", {}, "a project id is a whole number"),
        ("[retention.projects.2]\npayloads = 3", {}, "unknown key 'payloads'"),
        ("purge_batch_size = 0", {}, "purge_batch_size must be positive"),
    ],
)
def test_a_bad_retention_setting_is_a_config_error_naming_the_key(
    tmp_path: Path, text: str, env: dict[str, str], message: str
) -> None:
    cfg = tmp_path / "wk.toml"
    cfg.write_text(text)
    with pytest.raises(ConfigError, match=message):
        load_settings(cfg, environ=env)


def test_settings_and_project_tables_make_the_policy(tmp_path: Path) -> None:
    cfg = tmp_path / "wk.toml"
    cfg.write_text(
        '[watchkeeper]\nretention_profile = "gdpr"\nretention_metadata_days = 60\n\n'
        '[retention.projects.3]\nprofile = "finance-7y"\npayload_days = 30\n'
    )
    policy = policy_from_settings(load_settings(cfg, environ={}))
    assert policy.for_project(1).periods.metadata == 60 and policy.for_project(1).periods.payloads == 7
    assert policy.for_project(1).policy == "gdpr+metadata=60d"
    p3 = policy.for_project(3)
    assert (p3.periods.payloads, p3.periods.metadata, p3.periods.audit) == (30, 365, 2557)


def test_every_profile_keeps_payloads_shortest_and_audit_records_longest() -> None:
    for profile in PROFILES.values():
        p = profile.periods
        assert p.payloads < p.metadata < p.aggregates <= p.audit, profile.name
    assert PROFILES["default"].periods.payloads == 30 and PROFILES["default"].periods.metadata == 90


def test_a_purge_while_the_writer_ingests_loses_no_acknowledged_span(db: Engine) -> None:
    _insert(db, [_span(i, 100 + i % 50) for i in range(1, 1201)])
    writer = Writer(db, commit_max_records=200)
    writer.start()
    acked: list[int] = []
    failures: list[BaseException] = []

    def ingest() -> None:
        try:
            for b in range(40):
                ids = list(range(100_000 + b * 25, 100_000 + (b + 1) * 25))
                writer.submit(RowBatch(span_rows=[_span(i, 0.5) for i in ids])).result(60)
                acked.extend(ids)
        except BaseException as e:
            failures.append(e)

    t = threading.Thread(target=ingest)
    t.start()
    report = purge(db, make_policy("gdpr"), NOW, batch_size=25)
    t.join(120)
    writer.stop()
    assert not failures and len(acked) == 1000
    assert report.count("metadata") == 1200
    assert set(_spans(db)) == set(acked)


def test_two_purges_at_once_remove_and_count_each_record_once(db: Engine) -> None:
    _insert(db, [_span(i, 100 + i % 9) for i in range(300)] + [_span(1000 + i, 40) for i in range(200)])
    reports: list[Any] = []
    threads = [threading.Thread(target=lambda: reports.append(purge(db, DEFAULT, NOW, batch_size=7))) for _ in "ab"]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    assert len(reports) == 2
    assert sum(r.count("metadata") for r in reports) == 300
    assert sum(r.count("payloads") for r in reports) == 200
    assert set(_spans(db).values()) == {None} and len(_spans(db)) == 200


@pytest.mark.postgres
@pytest.mark.parametrize("db_url", ["postgres"], indirect=True)
def test_a_purge_leaves_rows_another_transaction_holds_instead_of_waiting_on_them(db: Engine) -> None:
    _insert(db, [_span(i, 100) for i in range(50)])
    with db.connect() as other:  # another purge (or any writer) in the middle of a transaction on one expired row
        tx = other.begin()
        other.execute(select(spans.c.id).where(spans.c.span_id == (7).to_bytes(8, "big")).with_for_update())
        done: list[Any] = []
        worker = threading.Thread(target=lambda: done.append(purge(db, DEFAULT, NOW, batch_size=7, reclaim=False)))
        worker.start()
        worker.join(60)
        held_ok = bool(done) and done[0].count("metadata") == 49 and list(_spans(db)) == [7]
        tx.rollback()
    worker.join(60)
    assert held_ok, "the purge waited on a row lock (or deleted the locked row)"
    assert purge(db, DEFAULT, NOW).count("metadata") == 1 and _spans(db) == {}  # the next run takes it


def test_a_new_sqlite_store_gives_freed_pages_back(tmp_path: Path) -> None:
    from watchkeeper.store import make_engine, migrate

    db = make_engine(f"sqlite:///{tmp_path / 'wk.db'}")
    migrate(db)
    with db.connect() as conn:
        assert conn.exec_driver_sql("PRAGMA auto_vacuum").scalar() == 2  # incremental
        page = int(conn.exec_driver_sql("PRAGMA page_size").scalar() or 0)
    _insert(db, [_span(i, 200, payload=b"x" * 4000) for i in range(500)])
    report = purge(db, DEFAULT, NOW)
    # the 2 MB of payloads come back to the file system, whatever the page size
    assert report.count("metadata") == 500 and report.reclaimed_pages * page > 500 * 4000
    db.dispose()


def test_the_job_counts_its_runs_and_survives_a_failing_store(tmp_path: Path) -> None:
    broken = create_engine(f"sqlite:///{tmp_path / 'empty.db'}")  # no tables: every purge fails
    errors: list[BaseException] = []
    job = RetentionJob(broken, DEFAULT, interval_s=0.05, first_run_s=0.0, on_error=errors.append)
    job.start()
    deadline = threading.Event()
    deadline.wait(0.5)
    job.stop()
    assert len(errors) >= 2  # it kept running after the first failure
    assert job.run_once() is None
    broken.dispose()


def _cli_records(tmp_path: Path) -> Path:
    t = 1_700_000_000_000_000_000  # 2023: long expired under the default profile
    lines = []
    for i in range(6):
        root = {"trace_id": f"{i + 1:032x}", "span_id": f"{1:016x}", "name": "agent", "kind": "agent"}
        root.update(start_time_ns=t + i, end_time_ns=t + i + 10, session_id=f"s{i % 2}")
        child = {"trace_id": f"{i + 1:032x}", "span_id": f"{2:016x}", "parent_span_id": f"{1:016x}"}
        child.update(name="lookup", kind="tool", start_time_ns=t + i + 1, end_time_ns=t + i + 5)
        lines += [json.dumps(root), json.dumps(child)]
    src = tmp_path / "in.jsonl"
    src.write_text("\n".join(lines) + "\n")
    return src


def test_the_purge_and_hold_commands_work_end_to_end(tmp_path: Path) -> None:
    runner = CliRunner()
    data = ["--data-dir", str(tmp_path / "d")]
    assert runner.invoke(main, ["replay", str(_cli_records(tmp_path)), *data]).exit_code == 0

    r = runner.invoke(main, ["hold", "place", "--session", "s0", "--reason", "case 42", *data])
    assert r.exit_code == 0, r.output
    assert "hold 1 placed on session 's0'" in r.output
    r = runner.invoke(main, ["hold", "place", "--reason", "x", *data])
    assert r.exit_code != 0 and "exactly one of --subject ID or --session ID" in r.output
    r = runner.invoke(main, ["hold", "list", *data])
    assert r.exit_code == 0 and "case 42" in r.output and "active" in r.output

    r = runner.invoke(main, ["purge", "--dry-run", *data])
    assert r.exit_code == 0, r.output
    assert "metadata" in r.output and "would purge 6" in r.output and "cutoff" in r.output
    assert "aggregates" in r.output and "audit" in r.output and "not stored yet" in r.output
    r = runner.invoke(main, ["purge", *data])
    assert r.exit_code == 0, r.output
    assert "purged 6  (policy default)" in r.output

    r = runner.invoke(main, ["hold", "release", "1", *data])
    assert r.exit_code == 0 and "released" in r.output
    assert "no active legal holds" in runner.invoke(main, ["hold", "list", *data]).output
    assert "released" in runner.invoke(main, ["hold", "list", "--all", *data]).output
    r = runner.invoke(main, ["hold", "release", "9", *data])
    assert r.exit_code != 0 and "no legal hold 9" in r.output
    r = runner.invoke(main, ["purge", *data])
    assert "purged 6  (policy default)" in r.output

    out = tmp_path / "out.jsonl"
    runner.invoke(main, ["export", "--reason", "round-trip test of export", "--out", str(out), *data])
    assert out.read_text() == ""


def test_a_bad_profile_stops_the_purge_command_with_its_name(tmp_path: Path) -> None:
    r = CliRunner().invoke(main, ["purge", "--data-dir", str(tmp_path)], env={"WATCHKEEPER_RETENTION_PROFILE": "x"})
    assert r.exit_code != 0 and "unknown retention profile 'x'" in r.output
