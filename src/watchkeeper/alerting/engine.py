"""The alert engine: at each tick, test every rule on every slice, move alerts through their lifecycle, mute
what is silenced or inhibited, and notify receivers through the routing tree.

Everything runs on event time from an explicit clock argument: ``tick(now_ns)`` evaluates the rules as of
``now_ns``. The same engine replays history for back-testing (:func:`backtest`) and runs live
(:class:`AlertService`), and a tick repeated at the same time — say after late records were counted into their
buckets — neither starts a second alert nor sends a second notification: alerts are keyed by fingerprint and
state, and notifications by an idempotency key recorded in the notification log. The event clock never runs
backwards: a ``now_ns`` earlier than the last tick (a skewed wall clock) is taken as the last tick's time.

    engine = AlertEngine(load_rules(path), source=rollups, detectors=registry, store=db, receivers=receivers)
    engine.tick(now_ns)
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import httpx
from sqlalchemy import Engine

from ..analytics import Slice
from ..config import Settings
from ..errors import ConfigError
from . import _store
from ._labels import NS, fingerprint, format_duration
from ._templates import fill as fill_annotations
from .detection import GLOBAL_SLICE, Detector, FalseDiscoveryControl, SeriesSource, SliceTest, Verdict
from .grouping import Dispatcher, Integration, Sent
from .inhibition import Inhibitor
from .lifecycle import LIVE, Alert, AlertState, Reading, Transition, step
from .notifiers import SENT, AlertMetrics, Attempt, Backoff, Deliverer, Notification, NotifierEnv, NotifierRegistry
from .notifiers import default_notifiers as _default_notifiers
from .rules import AlertRule, RulesError, RuleSet, load_rules
from .silences import Silence, Silencer, silences_in_force

log = logging.getLogger("watchkeeper.alerting")

RESOLVED_RETENTION_NS = 15 * 60 * NS  # ended alerts kept in memory this long, to notify their resolution


@dataclass(frozen=True, slots=True)
class TickReport:
    at_ns: int
    tests: int
    transitions: list[Transition]
    sent: list[Sent]


def build_receivers(
    rules: RuleSet, env: NotifierEnv, notifiers: NotifierRegistry | None = None
) -> dict[str, list[Integration]]:
    """The integrations of every receiver of the rules file, ready to send (``webhook[0]``, ``email[0]``, ...)."""
    reg = notifiers or _default_notifiers()
    out: dict[str, list[Integration]] = {}
    for name, rcv in rules.receivers.items():
        integs = []
        for kind, index, config in rcv.integrations:
            sender = reg.get(kind).build(config, env)
            integs.append(Integration(f"{kind}[{index}]", sender, bool(getattr(config, "send_resolved", True))))
        out[name] = integs
    return out


class AlertEngine:
    """Rules × slices → alerts → groups → notifications, on event time."""

    def __init__(
        self,
        rules: RuleSet,
        *,
        source: SeriesSource,
        detectors: Iterable[Detector],
        fdr: FalseDiscoveryControl | None = None,
        receivers: Mapping[str, Iterable[Integration]] | None = None,
        backoff: Backoff | None = None,
        sleep: Callable[[float], None] = time.sleep,
        deliver: Callable[[Integration, Notification], str] | None = None,
        store: Engine | None = None,
        silences: Iterable[Silence] | None = None,
        project_id: int = 1,
        external_url: str = "",
        metrics: AlertMetrics | None = None,
    ) -> None:
        self.rules = rules
        self.source = source
        self.detectors = {d.name: d for d in detectors}
        missing = sorted({r.detector for r in rules.enabled} - set(self.detectors))
        if missing:
            raise ConfigError(
                f"{rules.file}: rules name detectors that are not registered: {', '.join(missing)}; registered: "
                f"{', '.join(self.detectors) or 'none'}"
            )
        self.fdr = fdr
        self.store = store
        self.project_id = project_id
        self.external_url = external_url.rstrip("/")
        self.metrics = metrics
        self._silences = list(silences) if silences is not None else None
        self._delivered: set[str] = set()
        self.deliverer = Deliverer(
            backoff=backoff, record=self._record, delivered=self._was_delivered, sleep=sleep, metrics=metrics
        )
        self.dispatcher = Dispatcher(
            rules.route,
            receivers or {},
            deliver or (lambda integ, n: self.deliverer.deliver(integ.sender, n)),
            external_url=self.external_url,
            generator_url=self._generator_url,
        )
        self.alerts: dict[str, Alert] = {}
        self.last_tick_ns: int | None = None
        self._dirty: dict[str, Alert] = {}
        self._inhibitor = Inhibitor(rules.inhibit_rules, [])
        self._silencer: tuple[int, Silencer] | None = None  # the silences as of one time, reused within a flush
        if store is not None:
            self._restore(store)

    # -- entry points

    def tick(self, now_ns: int) -> TickReport:
        """Evaluate every rule as of ``now_ns`` and send what is due; the same ``now_ns`` twice sends nothing new."""
        now = self._clock(now_ns)
        sent = self.dispatcher.flush_due(now - 1, self.alerts, self._muted)  # due before now: the state before it
        tests, transitions = self.evaluate(now)
        sent += self.dispatcher.flush_due(now, self.alerts, self._muted)
        self._persist(now, transitions)
        return TickReport(now, tests, transitions, sent)

    def flush(self, now_ns: int) -> list[Sent]:
        """Send the notifications of groups due by ``now_ns`` without evaluating (between ticks)."""
        now = self._clock(now_ns)
        sent = self.dispatcher.flush_due(now, self.alerts, self._muted)
        if sent:
            self._persist(now, [])
        return sent

    def next_flush_ns(self) -> int | None:
        return self.dispatcher.next_flush_ns()

    def evaluate(self, now_ns: int) -> tuple[int, list[Transition]]:
        """SliceTest every enabled rule on every slice with traffic and update the alerts; (tests run, transitions)."""
        now = self._clock(now_ns)
        active: dict[str, dict[str, tuple[SliceTest, str]]] = {r.name: {} for r in self.rules.rules}
        n_tests = 0
        for rule in self.rules.enabled:
            tests = self._tests(rule, now)
            n_tests += len(tests)
            keep = list(self.fdr(tests)) if self.fdr is not None else [t.verdict.fired for t in tests]
            if len(keep) != len(tests):
                raise ValueError("false-discovery control must answer one bool per test")
            for t, kept in zip(tests, keep, strict=True):
                v = t.verdict
                if kept and v.fired and v.gate.tested:
                    severity = self._severity(rule, t.slice, v.pageable)
                    labels = rule.alert_labels(t.slice.dims, t.slice.values, severity)
                    active[rule.name][fingerprint(labels)] = (t, severity)
        transitions: list[Transition] = []
        rules = {r.name: r for r in self.rules.enabled}
        for name in sorted(set(rules) | {a.rule for a in self.alerts.values()}):
            current = rules.get(name)  # None: the rule was removed or disabled
            hits = active.get(name, {}) if current is not None else {}
            known = [fp for fp, a in self.alerts.items() if a.rule == name]
            for fp in sorted(set(known) | set(hits)):
                transitions += self._advance(fp, current, hits.get(fp), now)
        self._prune(now)
        self._suppress(now)
        for a in self.alerts.values():
            if a.state is AlertState.FIRING:
                self.dispatcher.insert(a, now)
        if self.metrics is not None:
            for tr in transitions:
                self.metrics.transitions.labels(tr.state.value).inc()
        return n_tests, transitions

    # -- evaluation

    def _clock(self, now_ns: int) -> int:
        if self.last_tick_ns is not None and now_ns < self.last_tick_ns:
            back_ms = (self.last_tick_ns - now_ns) // 10**6
            log.warning("alert clock went backwards by %d ms; using the last tick's time", back_ms)
            return self.last_tick_ns
        return now_ns

    def _tests(self, rule: AlertRule, now: int) -> list[SliceTest]:
        """One rule on each of its slices with traffic: one family of tests."""
        det = self.detectors[rule.detector]
        at = datetime.fromtimestamp(now // 1000 / 1e6, UTC)
        start = now - rule.lookback_ns
        tests: list[SliceTest] = []
        for dims in rule.slices:
            if dims:
                slices = self.source.slices_with_traffic(
                    project_id=self.project_id, metric=rule.metric, dims=dims, start_ns=start, end_ns=now
                )
            else:
                slices = [GLOBAL_SLICE]
            up = rule.parent(dims)
            for s in slices:
                values = dict(zip(s.dims, s.values, strict=True))
                parent = Slice(up, tuple(values[d] for d in up)) if up is not None else None
                stream = self.source.stream(project_id=self.project_id, rule=rule, slice=s, parent=parent, at_ns=now)
                verdict = det.evaluate(stream, at, sensitivity=rule.sensitivity)
                tests.append(SliceTest(rule, s, parent, stream, verdict))
        return tests

    def _severity(self, rule: AlertRule, slice: Slice, pageable: bool) -> str:
        """A slice too small to page on opens a ticket at most, whatever the rule's severity; but a page already
        open on the slice stays the alert while its volume dips (one alert per incident, not a page and a
        ticket)."""
        if rule.severity != "page" or pageable:
            return rule.severity
        paged = self.alerts.get(fingerprint(rule.alert_labels(slice.dims, slice.values, "page")))
        return "page" if paged is not None and paged.state in LIVE else "ticket"

    def _advance(
        self, fp: str, rule: AlertRule | None, hit: tuple[SliceTest, str] | None, now: int
    ) -> list[Transition]:
        alert = self.alerts.get(fp)
        test, severity = hit if hit is not None else (None, None)
        if rule is None:  # the rule was removed or disabled: its alerts end
            a, trs = step(alert, False, now, for_ns=0)
        else:
            new = None
            reading = _reading(test) if test is not None else None
            if test is not None and (alert is None or alert.state not in LIVE):
                labels = rule.alert_labels(test.slice.dims, test.slice.values, severity)
                new = Alert(fp, rule.name, labels, {}, AlertState.PENDING, now, now)
            a, trs = step(
                alert,
                test is not None,
                now,
                for_ns=rule.for_ns,
                keep_firing_for_ns=rule.keep_firing_for_ns,
                new=new,
                urgent=test is not None and rule.urgent(*_change(test.verdict)),
            )
            if a is not None and test is not None and reading is not None:
                a.reading = reading
                a.annotations = fill_annotations(
                    rule.annotations,
                    labels=a.labels,
                    dims=test.slice.dims,
                    reading=reading,
                    window=format_duration(rule.lookback_ns),
                )
                a.generator_url = self._generator_url(a)
                self._dirty[fp] = a
        if a is not None:
            self.alerts[fp] = a
            if trs:
                self._dirty[fp] = a
        return trs

    def _prune(self, now: int) -> None:
        in_groups: set[str] = set()
        for g in self.dispatcher.groups.values():
            in_groups |= g.fingerprints
        for fp, a in list(self.alerts.items()):
            ended = a.state not in LIVE and a.ends_ns is not None and now - a.ends_ns > RESOLVED_RETENTION_NS
            if ended and fp not in in_groups:
                del self.alerts[fp]

    def _suppress(self, now: int) -> None:
        firing = [(fp, a.labels) for fp, a in self.alerts.items() if a.state is AlertState.FIRING]
        detected = [fp for fp, a in self.alerts.items() if a.state is AlertState.FIRING and a.last_active_ns == now]
        self._inhibitor = Inhibitor(self.rules.inhibit_rules, firing, detected)
        silencer = self._silencer_at(now)
        for fp, a in self.alerts.items():
            if a.state not in LIVE:
                continue
            inhibited = tuple(self._inhibitor.inhibited_by(fp, a.labels))
            silenced = tuple(silencer.silenced_by(a.labels, now))
            if (inhibited, silenced) != (a.inhibited_by, a.silenced_by):
                a.inhibited_by, a.silenced_by = inhibited, silenced
                self._dirty[fp] = a

    def _silencer_at(self, at_ns: int) -> Silencer:
        if self._silencer is None or self._silencer[0] != at_ns:
            if self._silences is not None:
                found = self._silences
            elif self.store is not None:
                found = silences_in_force(self.store, project_id=self.project_id, since_ns=at_ns)
            else:
                found = []
            self._silencer = (at_ns, Silencer(found))
        return self._silencer[1]

    def _muted(self, a: Alert, at_ns: int) -> bool:
        if self._inhibitor.inhibited_by(a.fingerprint, a.labels):
            return True
        return bool(self._silencer_at(at_ns).silenced_by(a.labels, at_ns))

    def _generator_url(self, a: Alert) -> str:
        return f"{self.external_url}/alerts/{a.fingerprint}" if self.external_url else ""

    # -- persistence

    def _restore(self, store: Engine) -> None:
        self.last_tick_ns = _store.last_tick(store, self.project_id)
        since = (self.last_tick_ns or 0) - RESOLVED_RETENTION_NS
        for a in _store.load_alerts(store, self.project_id, since):
            self.alerts[a.fingerprint] = a
        self.dispatcher.restore(_store.load_groups(store, self.project_id))

    def _persist(self, now: int, transitions: Sequence[Transition]) -> None:
        self.last_tick_ns = max(now, self.last_tick_ns or now)
        if self.store is None:
            self._dirty.clear()
            return
        dirty = dict(self._dirty)
        with self.store.begin() as conn:
            ids = _store.upsert_alerts(conn, self.project_id, dirty.values(), now)
            _store.insert_events(conn, ids, dirty, transitions)
            _store.replace_groups(conn, self.project_id, self.dispatcher.rows(), now)
            _store.set_last_tick(conn, self.project_id, self.last_tick_ns)
        self._dirty.clear()

    def _record(self, attempt: Attempt) -> None:
        if attempt.status == SENT:
            self._delivered.add(attempt.notification.key)
        if self.store is not None:
            _store.record_attempt(self.store, self.project_id, attempt)

    def _was_delivered(self, key: str) -> bool:
        if key in self._delivered:
            return True
        return self.store is not None and _store.was_delivered(self.store, key)


def _change(v: Verdict) -> tuple[float | None, float | None]:
    """What a rule's ``for_unless_factor`` measures: observed and expected since the change's estimated start, when
    the detector dates it (a window that began before the change shows it diluted), else over its decision window."""
    since = getattr(v, "since_start", None)  # optional: a detector plugin need not date changes
    if isinstance(since, tuple) and len(since) == 2:
        return float(since[0]), float(since[1])
    return v.observed_rate, v.expected_rate


def _reading(t: SliceTest) -> Reading:
    v = t.verdict
    band = v.band
    started = v.started_at
    return Reading(
        observed=v.observed_rate,
        expected=v.expected_rate,
        band_low=band[0] if band else None,
        band_high=band[1] if band else None,
        p_value=v.p_value,
        estimated_start_ns=round(started.timestamp() * 1e6) * 1000 if started is not None else None,
    )


# ---------------------------------------------------------------------------------------------------------------
# Back-testing and the live loop


@dataclass(slots=True)
class Episode:
    """One alert episode of a back-test: when it became pending, fired and ended, and the detector's dating."""

    fingerprint: str
    rule: str
    labels: dict[str, str]
    starts_ns: int
    fired_ns: int | None = None
    ends_ns: int | None = None
    estimated_start_ns: int | None = None
    state: str = "pending"


@dataclass(slots=True)
class Backtest:
    episodes: list[Episode] = field(default_factory=list)
    notifications: list[Notification] = field(default_factory=list)
    ticks: int = 0


def backtest(
    rules: RuleSet,
    *,
    source: SeriesSource,
    detectors: Iterable[Detector],
    start_ns: int,
    end_ns: int,
    step_ns: int,
    fdr: FalseDiscoveryControl | None = None,
    silences: Iterable[Silence] = (),
) -> Backtest:
    """Replay ``[start_ns, end_ns)`` tick by tick with the live engine, nothing stored and nothing sent: every alert
    episode, and every notification that would have gone out, at the event time it would have."""
    if step_ns <= 0 or end_ns <= start_ns:
        raise ValueError("a back-test needs step_ns > 0 and end_ns > start_ns")
    report = Backtest()

    def record(_integ: Integration, n: Notification) -> str:
        report.notifications.append(n)
        return SENT

    engine = AlertEngine(rules, source=source, detectors=detectors, fdr=fdr, deliver=record, silences=silences)
    engine.dispatcher.receivers = {name: [Integration("backtest[0]", _Nowhere())] for name in rules.receivers}
    episodes: dict[tuple[str, int], Episode] = {}
    now = start_ns
    while now < end_ns:
        tick = engine.tick(now)
        report.ticks += 1
        for tr in tick.transitions:
            a = engine.alerts[tr.fingerprint]
            ep = episodes.setdefault(
                (a.fingerprint, a.starts_ns), Episode(a.fingerprint, a.rule, dict(a.labels), a.starts_ns)
            )
            ep.fired_ns, ep.ends_ns, ep.state = a.fired_ns, a.ends_ns, a.state.value
            ep.estimated_start_ns = a.reading.estimated_start_ns
        now += step_ns
    report.episodes = sorted(episodes.values(), key=lambda e: (e.starts_ns, e.rule, e.fingerprint))
    return report


class _Nowhere:
    """The sender of back-tests: delivery is recorded by the engine's ``deliver`` instead."""

    kind = "backtest"

    def send(self, notification: Notification) -> int | None:  # pragma: no cover - never called
        return None


class AlertService:
    """Runs an engine live: a tick every ``interval_s`` of the wall clock, and the flushes due between ticks.
    Failures are logged and counted and never stop the loop. ``close`` runs once the loop has stopped."""

    def __init__(
        self,
        engine: AlertEngine,
        *,
        interval_s: float,
        clock: Callable[[], int] = time.time_ns,
        on_error: Callable[[Exception], None] | None = None,
        close: Callable[[], None] = lambda: None,
    ) -> None:
        self.engine = engine
        self.interval_ns = int(interval_s * NS)
        self.clock = clock
        self.on_error = on_error
        self.close = close
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        if self._thread is None and self.interval_ns > 0:
            self._stop.clear()
            self._thread = threading.Thread(target=self._run, name="watchkeeper-alerts", daemon=True)
            self._thread.start()

    def stop(self, timeout_s: float = 30.0) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout_s)
            self._thread = None
        self.close()

    def _run(self) -> None:
        next_tick = self.clock()
        while not self._stop.is_set():
            now = self.clock()
            try:
                if now >= next_tick:
                    self.engine.tick(now)
                    next_tick = now + self.interval_ns
                else:
                    self.engine.flush(now)
            except Exception as e:  # a broken receiver or a busy store must not stop alerting
                log.error("alert tick failed: %s", type(e).__name__)
                if self.on_error is not None:
                    self.on_error(e)
            wake = min(x for x in (next_tick, self.engine.next_flush_ns()) if x is not None)
            self._stop.wait(max(0.0, (wake - self.clock()) / NS))


def rules_from_settings(settings: Settings) -> RuleSet:
    """The rule set the server runs: ``alert_rules_file``, else the built-in rules; ConfigError when it does not
    check (so a server refuses to start on it)."""
    try:
        return load_rules(settings.alert_rules_file or None)
    except RulesError as e:
        raise ConfigError(f"alert_rules_file: {e}; check it with `watchkeeper rules check FILE`") from None


def live_alerting(
    settings: Settings,
    *,
    store: Engine,
    source: SeriesSource,
    detectors: Iterable[Detector],
    fdr: FalseDiscoveryControl | None = None,
    metrics: AlertMetrics | None = None,
    project_id: int = 1,
) -> AlertService:
    """The live alerting loop as the settings configure it: the rules file (``alert_rules_file``, else the built-in
    rules), ``alert_interval_s``, ``notifier_timeout_s``, ``notifier_attempts`` and ``external_url``. Start it with
    the server and stop it on shutdown; run it in one process only. ConfigError for a rules file that does not check.
    """
    rules = rules_from_settings(settings)
    base = Path(settings.alert_rules_file).resolve().parent if settings.alert_rules_file else None
    http = httpx.Client(timeout=float(settings.notifier_timeout_s), follow_redirects=False)
    env = NotifierEnv(http=http, timeout_s=float(settings.notifier_timeout_s), external_url=settings.external_url,
                      base_dir=base)  # fmt: skip
    engine = AlertEngine(
        rules,
        source=source,
        detectors=detectors,
        fdr=fdr,
        receivers=build_receivers(rules, env),
        backoff=Backoff(attempts=settings.notifier_attempts),
        store=store,
        project_id=project_id,
        external_url=settings.external_url,
        metrics=metrics,
    )
    return AlertService(engine, interval_s=settings.alert_interval_s, close=http.close)


__all__ = [
    "AlertEngine",
    "AlertService",
    "Backtest",
    "Episode",
    "TickReport",
    "backtest",
    "build_receivers",
    "live_alerting",
    "rules_from_settings",
]
