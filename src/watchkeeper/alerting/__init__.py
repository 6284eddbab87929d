"""Alerting: rules, the alert lifecycle, grouping, inhibition, silences, routing and notifiers.

    from watchkeeper.alerting import AlertEngine, load_rules

    rules = load_rules("rules.yaml")            # RulesError lists every problem, with file, line, rule and field
    engine = AlertEngine(rules, source=rollups, detectors=detectors, store=db)
    engine.tick(now_ns)                         # event time: the same engine replays history (backtest)

The engine asks the analytics room for rate series and verdicts through two small protocols (``SeriesSource``,
``Detector``); alerts, silences and the notification log persist in the store. See docs/alerting.md.
"""

from __future__ import annotations

from ._labels import fingerprint
from ._store import alert_history, list_alerts, list_notifications
from .detection import (
    Detector,
    DetectorRegistry,
    FalseDiscoveryControl,
    GateLike,
    SeriesSource,
    SliceTest,
    Verdict,
)
from .engine import (
    AlertEngine,
    AlertService,
    Backtest,
    Episode,
    TickReport,
    backtest,
    build_receivers,
    live_alerting,
    rules_from_settings,
)
from .external import AlertmanagerWebhook, Received, receive
from .grouping import Dispatcher, Integration, Sent
from .inhibition import Inhibitor, InhibitRule
from .lifecycle import Alert, AlertState, Reading, Transition
from .matchers import Matcher, MatchType, parse_matcher, parse_matchers
from .notifiers import (
    AlertMetrics,
    Backoff,
    Deliverer,
    DeliveryError,
    Notification,
    NotifierEnv,
    NotifierRegistry,
    default_notifiers,
)
from .rollup_source import RollupSource, common_mode, fdr_from_detectors
from .routing import Route, RouteSpec, build_route
from .rules import (
    GLOBAL,
    SEVERITIES,
    AlertRule,
    Catalogue,
    Problem,
    Receiver,
    RulesError,
    RuleSet,
    default_rules_text,
    load_rules,
    parse_rules,
    slice_key,
)
from .silences import Silence, Silencer, add_silence, expire_silence, get_silence, list_silences

__all__ = [
    "GLOBAL",
    "SEVERITIES",
    "Alert",
    "AlertEngine",
    "AlertMetrics",
    "AlertRule",
    "AlertService",
    "AlertState",
    "AlertmanagerWebhook",
    "Backoff",
    "Backtest",
    "Catalogue",
    "Deliverer",
    "DeliveryError",
    "Detector",
    "DetectorRegistry",
    "Dispatcher",
    "Episode",
    "FalseDiscoveryControl",
    "GateLike",
    "InhibitRule",
    "Inhibitor",
    "Integration",
    "MatchType",
    "Matcher",
    "Notification",
    "NotifierEnv",
    "NotifierRegistry",
    "Problem",
    "Reading",
    "Received",
    "Receiver",
    "RollupSource",
    "Route",
    "RouteSpec",
    "RuleSet",
    "RulesError",
    "Sent",
    "SeriesSource",
    "Silence",
    "Silencer",
    "SliceTest",
    "TickReport",
    "Transition",
    "Verdict",
    "add_silence",
    "alert_history",
    "backtest",
    "build_receivers",
    "build_route",
    "common_mode",
    "default_notifiers",
    "default_rules_text",
    "expire_silence",
    "fdr_from_detectors",
    "fingerprint",
    "get_silence",
    "list_alerts",
    "list_notifications",
    "list_silences",
    "live_alerting",
    "load_rules",
    "parse_matcher",
    "parse_matchers",
    "parse_rules",
    "receive",
    "rules_from_settings",
    "slice_key",
]
