"""Retention: how long each class of data is kept, and the purge that enforces it.

Four data classes, shortest-lived first: ``payloads`` (the content blob of spans and feedback: messages, tool
arguments and results), ``metadata`` (the span and feedback rows themselves: ids, times, models, tokens, cost),
``aggregates`` (rollups: 1-hour buckets for the period, 1-minute buckets for ``rollup_minute_days`` at most; they
hold no ids and no content, so holds do not apply to them) and ``audit`` (audit records;
enforced by the trust room once it stores them). A profile gives each class a period in days; settings override
single classes, and ``[retention.projects.<id>]`` sections in the config file override per project.

The purge works in bounded batches, each its own short transaction, so the single writer is never kept waiting for
long; it skips everything a legal hold protects (see ``holds.py``), writes one ``privacy_events`` row per data class
per project and run (policy, cutoff, count — never content), and is idempotent: running it twice, or from several
server processes at once, deletes each row once and counts it once. docs/retention.md explains the numbers.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from types import MappingProxyType
from typing import Any

from sqlalchemy import ColumnElement, Engine, Table, and_, delete, func, insert, or_, select, text, true, update

from ..config import Settings
from ..errors import ConfigError
from ..store._rollups import purge_buckets
from ..store.engine import is_sqlite
from ..store.tables import feedback, privacy_events, rollups, spans
from .holds import any_active_hold, held

log = logging.getLogger("watchkeeper.privacy.retention")

DATA_CLASSES = ("payloads", "metadata", "aggregates", "audit")
# the classes this room enforces today, in the order a purge runs them: rows first, so no payload is nulled in a
# row that is deleted a moment later
ENFORCED = ("metadata", "payloads", "aggregates")
DAY_NS = 86_400 * 1_000_000_000
_RUN_ORDER = (*ENFORCED, *(c for c in DATA_CLASSES if c not in ENFORCED))
MAX_DAYS = 36_500  # a century: enough for any schedule, and far from integer overflow in nanoseconds

# the key of each class in the config file's per-project sections and (prefixed with retention_) in the settings
DAY_KEYS = MappingProxyType(
    {"payloads": "payload_days", "metadata": "metadata_days", "aggregates": "aggregate_days", "audit": "audit_days"}
)

_SQLITE_BATCH_PAUSE_S = 0.002  # lets the writer's busy handler take the lock between two purge batches
_VACUUM_STEP_PAGES = 2048  # pages returned to the file system per incremental_vacuum step (8 MiB of 4 KiB pages)


@dataclass(frozen=True, slots=True)
class Periods:
    """Days each data class is kept, counted from the record's event time."""

    payloads: int
    metadata: int
    aggregates: int
    audit: int

    def days(self, data_class: str) -> int:
        return int(getattr(self, data_class))


@dataclass(frozen=True, slots=True)
class Profile:
    name: str
    periods: Periods
    basis: str


# The reasoning behind each number is in docs/retention.md; keep the two in step.
PROFILES: Mapping[str, Profile] = MappingProxyType(
    {
        "default": Profile(
            "default",
            Periods(payloads=30, metadata=90, aggregates=400, audit=730),
            "a month of content to debug a reported problem, a quarter of spans for trends, 13 months of "
            "aggregates for year-over-year comparison, two years of audit records",
        ),
        "gdpr": Profile(
            "gdpr",
            Periods(payloads=7, metadata=30, aggregates=400, audit=1095),
            "storage limitation (GDPR Art. 5(1)(e)): free-text content a week, pseudonymous span metadata a month; "
            "aggregates hold no identifiers; audit records three years as accountability evidence (Art. 5(2))",
        ),
        "hipaa": Profile(
            "hipaa",
            Periods(payloads=14, metadata=180, aggregates=2192, audit=2192),
            "content that may hold PHI kept briefly (minimum necessary); 6 years (45 CFR 164.316(b)(2)(i), "
            "164.530(j)(2)) for the documentation classes: aggregates and audit records",
        ),
        "finance-7y": Profile(
            "finance-7y",
            Periods(payloads=90, metadata=365, aggregates=2557, audit=2557),
            "a quarter of content for supervisory review, a year of spans for the annual model review, 7 years "
            "(SEC Reg. S-X 2-06, SOX s. 802) for aggregates and audit records",
        ),
    }
)


@dataclass(frozen=True, slots=True)
class ProjectOverride:
    """A project's own retention: a different profile, and/or periods for single classes (days)."""

    profile: str | None = None
    days: Mapping[str, int] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class ProjectRetention:
    """The periods that apply to one project, and the policy label purge records carry."""

    project_id: int
    policy: str
    periods: Periods


def _label(profile: str, days: Mapping[str, int]) -> str:
    return profile + "".join(f"+{c}={days[c]}d" for c in DATA_CLASSES if c in days)


@dataclass(frozen=True, slots=True)
class RetentionPolicy:
    """A profile, per-class overrides and per-project overrides; build it with :func:`make_policy`."""

    profile: str = "default"
    days: Mapping[str, int] = field(default_factory=dict)
    projects: Mapping[int, ProjectOverride] = field(default_factory=dict)
    rollup_minute_days: int = 7  # 1-minute rollup buckets: kept this long, or the aggregates period if shorter

    def for_project(self, project_id: int) -> ProjectRetention:
        """The periods for a project: its own profile (or the global profile and overrides), then its overrides."""
        o = self.projects.get(project_id)
        if o is None:
            return ProjectRetention(project_id, _label(self.profile, self.days), _apply(self.profile, self.days))
        base_profile, base_days = (o.profile, {}) if o.profile else (self.profile, dict(self.days))
        days = {**base_days, **o.days}
        return ProjectRetention(project_id, _label(base_profile, days), _apply(base_profile, days))


def _apply(profile: str, days: Mapping[str, int]) -> Periods:
    return replace(PROFILES[profile].periods, **dict(days))


def _check_profile(name: object, where: str) -> str:
    if not isinstance(name, str) or name not in PROFILES:
        raise ConfigError(f"{where}: unknown retention profile {name!r}; use one of {', '.join(PROFILES)}")
    return name


def _check_days(value: object, where: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise ConfigError(f"{where} must be a whole number of days")
    if value < 1 or value > MAX_DAYS:
        raise ConfigError(f"{where} must be between 1 and {MAX_DAYS} days, not {value}")
    return value


def make_policy(
    profile: str = "default",
    days: Mapping[str, int] | None = None,
    projects: Mapping[int, ProjectOverride] | None = None,
) -> RetentionPolicy:
    """A validated policy; a ConfigError names the key that is wrong."""
    _check_profile(profile, "retention_profile")
    checked = {}
    for cls, value in (days or {}).items():
        if cls not in DAY_KEYS:
            raise ConfigError(f"unknown data class {cls!r}; use one of {', '.join(DATA_CLASSES)}")
        checked[cls] = _check_days(value, f"retention_{DAY_KEYS[cls]}")
    for pid, o in (projects or {}).items():
        where = f"[retention.projects.{pid}]"
        if o.profile is not None:
            _check_profile(o.profile, f"{where} profile")
        for cls, value in o.days.items():
            if cls not in DAY_KEYS:
                raise ConfigError(f"{where}: unknown data class {cls!r}")
            _check_days(value, f"{where} {DAY_KEYS[cls]}")
    policy = RetentionPolicy(profile, MappingProxyType(checked), MappingProxyType(dict(projects or {})))
    checks = [("", _apply(profile, checked))]
    checks += [(f" of project {pid}", policy.for_project(pid).periods) for pid in policy.projects]
    for scope, p in checks:
        if p.payloads > p.metadata:
            raise ConfigError(
                f"retention: the payload period{scope} ({p.payloads} days) is longer than its metadata period "
                f"({p.metadata} days); a payload cannot outlive its span: shorten payload_days or lengthen "
                "metadata_days"
            )
    return policy


def _project_overrides(table: Mapping[str, Any]) -> dict[int, ProjectOverride]:
    unknown = set(table) - {"projects"}
    if unknown:
        raise ConfigError(
            f"retention: unknown key {sorted(unknown)[0]!r}; global periods are the retention_* settings, "
            "per-project ones go in [retention.projects.<id>]"
        )
    projects = table.get("projects", {})
    if not isinstance(projects, Mapping):
        raise ConfigError("retention: projects must be a table of [retention.projects.<id>] tables")
    by_key = {v: k for k, v in DAY_KEYS.items()}
    out: dict[int, ProjectOverride] = {}
    for key, body in projects.items():
        where = f"[retention.projects.{key}]"
        try:
            pid = int(key)
        except ValueError:
            raise ConfigError(f"{where}: a project id is a whole number") from None
        if not 0 < pid < 32768:
            raise ConfigError(f"{where}: a project id is between 1 and 32767")
        if not isinstance(body, Mapping):
            raise ConfigError(f"{where} must be a table")
        days: dict[str, int] = {}
        for k, v in body.items():
            if k == "profile":
                continue
            if k not in by_key:
                raise ConfigError(f"{where}: unknown key {k!r}; use profile, {', '.join(DAY_KEYS.values())}")
            days[by_key[k]] = _check_days(v, f"{where} {k}")
        out[pid] = ProjectOverride(profile=body.get("profile"), days=MappingProxyType(days))
    return out


def _from_values(values: Mapping[str, Any]) -> RetentionPolicy:
    days = {cls: values[f"retention_{key}"] for cls, key in DAY_KEYS.items() if values[f"retention_{key}"]}
    policy = make_policy(values["retention_profile"], days, _project_overrides(values["retention"]))
    return replace(policy, rollup_minute_days=int(values.get("rollup_minute_days", 7)))


def check_retention(values: Mapping[str, Any]) -> None:
    """Raises ConfigError, naming the key, unless the retention settings among ``values`` make a valid policy."""
    _from_values(values)


def policy_from_settings(settings: Settings) -> RetentionPolicy:
    """The policy the settings describe: the ``retention_*`` settings and ``[retention.projects.<id>]`` tables."""
    names = [f for f in settings.__dataclass_fields__ if f.startswith("retention")] + ["rollup_minute_days"]
    return _from_values({f: getattr(settings, f) for f in names})


# ---------------------------------------------------------------------------------------------------------------
# The purge


@dataclass(frozen=True, slots=True)
class ClassResult:
    """What a purge did (or would do) to one data class of one project."""

    project_id: int
    data_class: str
    policy: str
    days: int
    cutoff_ns: int
    count: int
    batches: int
    enforced: bool  # False for classes whose tables do not exist yet (aggregates, audit)


@dataclass(frozen=True, slots=True)
class PurgeReport:
    dry_run: bool
    now_ns: int
    results: tuple[ClassResult, ...]
    reclaimed_pages: int = 0

    def count(self, data_class: str) -> int:
        """Records purged (or that would be) in a data class, over all projects."""
        return sum(r.count for r in self.results if r.data_class == data_class)


def _projects(engine: Engine, policy: RetentionPolicy) -> list[int]:
    # a loose index scan (one index probe per project) instead of DISTINCT over every row
    ids: set[int] = set(policy.projects)
    with engine.connect() as conn:
        ids.update(conn.execute(text("SELECT id FROM projects")).scalars())
        for table in ("spans", "feedback", "rollups"):
            ids.update(
                conn.execute(
                    text(
                        f"WITH RECURSIVE p(id) AS (SELECT min(project_id) FROM {table} UNION ALL "  # noqa: S608 - fixed table names
                        f"SELECT (SELECT min(project_id) FROM {table} WHERE project_id > p.id) FROM p "
                        "WHERE p.id IS NOT NULL) SELECT id FROM p WHERE id IS NOT NULL"
                    )
                ).scalars()
            )
    return sorted(ids)


def _time_col(table: Table) -> ColumnElement[int]:
    return spans.c.start_ns if table is spans else feedback.c.time_ns


def _expired(
    table: Table, project_id: int, cutoff_ns: int, floor_ns: int | None, payloads: bool
) -> list[ColumnElement[bool]]:
    t = _time_col(table)
    conds: list[ColumnElement[bool]] = [table.c.project_id == project_id, t < cutoff_ns]
    if floor_ns is not None:
        conds.append(t >= floor_ns)  # older rows were deleted by the metadata pass (held ones are skipped anyway)
    if payloads:
        conds.append(table.c.payload.isnot(None))
    return conds


def _count(engine: Engine, table: Table, project_id: int, conds: list[ColumnElement[bool]]) -> int:
    with engine.connect() as conn:
        guard = ~held(table) if any_active_hold(conn, project_id) else true()
        return int(conn.execute(select(func.count()).select_from(table).where(*conds, guard)).scalar_one())


def _run_batches(
    engine: Engine,
    table: Table,
    project_id: int,
    conds: list[ColumnElement[bool]],
    *,
    payloads: bool,
    batch_size: int,
    stop: threading.Event | None,
) -> tuple[int, int]:
    """Deletes rows (or nulls their payload) matching ``conds``, ``batch_size`` rows per transaction."""
    t = _time_col(table)
    pause = _SQLITE_BATCH_PAUSE_S if is_sqlite(engine) else 0.0
    after: tuple[int, int] | None = None  # keyset cursor (time, id): each row is visited once per run
    count = batches = 0
    while stop is None or not stop.is_set():
        where = list(conds)
        if after is not None:
            where += [t >= after[0], or_(t > after[0], and_(t == after[0], table.c.id > after[1]))]
        with engine.begin() as conn:
            guard = ~held(table) if any_active_hold(conn, project_id) else true()
            # PostgreSQL: the batch's rows are locked as they are chosen, and rows another purge holds are left to
            # it (SKIP LOCKED), so two purges at once (two server processes, a CLI run) share the rows instead of
            # waiting on each other's row locks, which could deadlock; SQLite has one writer and no such clause
            rows = conn.execute(
                select(table.c.id, t)
                .where(*where, guard)
                .order_by(t, table.c.id)
                .limit(batch_size)
                .with_for_update(skip_locked=True, of=table)
            ).all()
            if not rows:
                break
            ids = [r[0] for r in rows]
            # the conditions are checked again by the write itself: another process may have purged these rows,
            # or a hold may have been placed, since the select
            if payloads:
                stmt: Any = update(table).where(table.c.id.in_(ids), table.c.payload.isnot(None), guard)
                stmt = stmt.values(payload=None)
            else:
                stmt = delete(table).where(table.c.id.in_(ids), guard)
            count += conn.execute(stmt).rowcount
        batches += 1
        after = (int(rows[-1][1]), int(rows[-1][0]))
        if len(rows) < batch_size:
            break
        if pause:
            time.sleep(pause)
    return count, batches


def purge(
    engine: Engine,
    policy: RetentionPolicy,
    now_ns: int | None = None,
    *,
    batch_size: int = 500,
    project_id: int | None = None,
    dry_run: bool = False,
    reclaim: bool = True,
    stop: threading.Event | None = None,
) -> PurgeReport:
    """Purges what the policy says has expired by ``now_ns`` and reports what it did, per project and data class.

    Payloads older than their period are nulled in spans and feedback (the rows stay for the aggregates); rows
    older than the metadata period are deleted; rollup buckets older than the aggregates period (1-minute ones older
    than ``rollup_minute_days``) are deleted. Records protected by an active legal hold are skipped. Unless
    ``dry_run``, one ``privacy_events`` row is written per project and enforced class, and freed space is given
    back to the file system where the store allows it (:func:`reclaim_space`). ``stop`` ends the run between two
    batches; the classes done so far are recorded with what they counted.
    """
    if batch_size < 1:
        raise ValueError("batch_size must be positive")
    now = time.time_ns() if now_ns is None else now_ns
    results: list[ClassResult] = []
    changed = 0
    for pid in [project_id] if project_id is not None else _projects(engine, policy):
        pr = policy.for_project(pid)
        for cls in _RUN_ORDER:
            days = pr.periods.days(cls)
            cutoff = now - days * DAY_NS
            if cls not in ENFORCED:
                results.append(ClassResult(pid, cls, pr.policy, days, cutoff, 0, 0, enforced=False))
                continue
            started = time.time_ns()
            if cls == "aggregates":
                minute_cut = now - min(policy.rollup_minute_days, days) * DAY_NS
                count, batches = _purge_rollups(engine, pid, cutoff, minute_cut, batch_size, dry_run, stop)
                results.append(ClassResult(pid, cls, pr.policy, days, cutoff, count, batches, enforced=True))
                if not dry_run:
                    changed += count
                    _record(engine, pid, cls, pr.policy, cutoff, count, started)
                continue
            is_payloads = cls == "payloads"
            floor = now - pr.periods.metadata * DAY_NS if is_payloads else None
            count = batches = 0
            for table in (spans, feedback):
                conds = _expired(table, pid, cutoff, floor, is_payloads)
                if dry_run:
                    count += _count(engine, table, pid, conds)
                    continue
                n, b = _run_batches(engine, table, pid, conds, payloads=is_payloads, batch_size=batch_size, stop=stop)
                count, batches = count + n, batches + b
            results.append(ClassResult(pid, cls, pr.policy, days, cutoff, count, batches, enforced=True))
            if not dry_run:
                changed += count
                _record(engine, pid, cls, pr.policy, cutoff, count, started)
            if stop is not None and stop.is_set():
                return PurgeReport(dry_run, now, tuple(results))
    reclaimed = reclaim_space(engine) if reclaim and changed and not dry_run else 0
    return PurgeReport(dry_run, now, tuple(results), reclaimed)


def _purge_rollups(
    engine: Engine,
    pid: int,
    hour_cut: int,
    minute_cut: int,
    batch_size: int,
    dry_run: bool,
    stop: threading.Event | None,
) -> tuple[int, int]:
    """Rollup rows whose bucket started before the cutoff of their width: counted, or deleted in batches."""
    cutoffs = {3600: hour_cut, 60: minute_cut}
    if not dry_run:
        return purge_buckets(engine, pid, cutoffs, batch_size=batch_size, stop=stop)
    expired = or_(*[and_(rollups.c.width_s == w, rollups.c.bucket_ns < c) for w, c in cutoffs.items()])
    with engine.connect() as conn:
        q = select(func.count()).select_from(rollups).where(rollups.c.project_id == pid, expired)
        return int(conn.execute(q).scalar_one()), 0


def _record(engine: Engine, pid: int, cls: str, policy: str, cutoff: int, count: int, started: int) -> None:
    with engine.begin() as conn:
        conn.execute(
            insert(privacy_events).values(
                project_id=pid,
                action="purge",
                data_class=cls,
                policy=policy,
                cutoff_ns=cutoff,
                subject_id=None,
                count=count,
                started_ns=started,
                finished_ns=time.time_ns(),
            )
        )


def reclaim_space(engine: Engine) -> int:
    """Gives freed pages back to the file system where the store allows it; returns how many it gave back.

    SQLite stores created by this version use incremental auto-vacuum, so the freed pages are released in short
    steps; older stores keep their free pages for new rows (``VACUUM`` while the server is stopped shrinks them).
    A passive WAL checkpoint then copies the purge into the main file without waiting for readers. PostgreSQL
    reuses the space once autovacuum has visited the tables; a plain ``VACUUM`` is autovacuum's job, not ours.
    """
    if not is_sqlite(engine) or engine.url.database in (None, "", ":memory:"):
        return 0
    freed = 0
    with engine.connect() as conn:
        if conn.exec_driver_sql("PRAGMA auto_vacuum").scalar() == 2:  # INCREMENTAL
            raw: Any = conn.connection.driver_connection
            while True:
                before = int(conn.exec_driver_sql("PRAGMA freelist_count").scalar_one())
                if before == 0:
                    break
                # executescript steps the pragma to completion; execute() would free a single page
                raw.executescript(f"PRAGMA incremental_vacuum({_VACUUM_STEP_PAGES})")
                after = int(conn.exec_driver_sql("PRAGMA freelist_count").scalar_one())
                freed += before - after
                if after >= before:
                    break
                time.sleep(_SQLITE_BATCH_PAUSE_S)
        conn.exec_driver_sql("PRAGMA wal_checkpoint(PASSIVE)").fetchall()
    return freed


# ---------------------------------------------------------------------------------------------------------------
# The periodic job


class RetentionJob:
    """Runs :func:`purge` every ``interval_s`` seconds in a daemon thread; a failed run is logged and retried."""

    def __init__(
        self,
        engine: Engine,
        policy: RetentionPolicy,
        *,
        interval_s: float,
        batch_size: int = 500,
        first_run_s: float | None = None,
        on_report: Callable[[PurgeReport], None] | None = None,
        on_error: Callable[[BaseException], None] | None = None,
    ) -> None:
        self.engine = engine
        self.policy = policy
        self.interval_s = interval_s
        self.batch_size = batch_size
        # the first run comes soon after start, so a server restarted more often than the interval still purges
        self.first_run_s = min(interval_s, 60.0) if first_run_s is None else first_run_s
        self.on_report = on_report
        self.on_error = on_error
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        if self.interval_s <= 0 or self._thread is not None:
            return
        self._stop.clear()
        self._thread = threading.Thread(target=self._loop, name="watchkeeper-retention", daemon=True)
        self._thread.start()

    def stop(self, timeout: float = 10.0) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout)
            self._thread = None

    def run_once(self) -> PurgeReport | None:
        """One purge now; errors are logged by type (never with their text, which may quote data) and reported."""
        try:
            report = purge(self.engine, self.policy, batch_size=self.batch_size, stop=self._stop)
        except Exception as e:
            log.error("retention purge failed", extra={"event": "purge_failed", "error_type": type(e).__name__})
            if self.on_error is not None:
                self.on_error(e)
            return None
        counts = {c: report.count(c) for c in ENFORCED}
        log.info(
            "retention purge", extra={"event": "purge", "counts": counts, "reclaimed_pages": report.reclaimed_pages}
        )
        if self.on_report is not None:
            self.on_report(report)
        return report

    def _loop(self) -> None:
        wait = self.first_run_s
        while not self._stop.wait(wait):
            self.run_once()
            wait = self.interval_s


__all__ = [
    "DATA_CLASSES",
    "DAY_KEYS",
    "DAY_NS",
    "ENFORCED",
    "PROFILES",
    "ClassResult",
    "Periods",
    "Profile",
    "ProjectOverride",
    "ProjectRetention",
    "PurgeReport",
    "RetentionJob",
    "RetentionPolicy",
    "make_policy",
    "policy_from_settings",
    "purge",
    "reclaim_space",
]
