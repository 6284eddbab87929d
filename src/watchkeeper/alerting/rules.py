"""Alert rules: a versioned YAML file of rules, inhibit rules, the routing tree and receivers, checked with
precise errors that name the file, the line, the rule and the field.

    version: 1
    rules:
      - alert: RefusalRateSpike
        metric: refusals                 # a rate from the catalogue: numerator over denominator
        slices: [global, language, [language, model_version]]
        detector: spike
        sensitivity: medium
        severity: page
        for: 10m
        annotations:
          summary: "Refusals up to {{ $value }} for {{ $slice }}"
          runbook_url: https://runbooks.example.org/refusal-spike
    route: {receiver: oncall, group_by: [alertname, metric]}
    receivers:
      - name: oncall
        webhook_configs: [{url: "http://127.0.0.1:9000/alerts"}]

Every problem found is reported, not only the first (:class:`RulesError`). See docs/alerting.md for every field.
"""

from __future__ import annotations

import math
import re
from collections.abc import Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from .._rollup import MEASURE_BINS
from ..errors import InputError
from ._labels import GLOBAL, LABEL_NAME, parse_duration, slice_key
from ._templates import TEMPLATE as _TEMPLATE
from ._templates import VARIABLE as _VARIABLE
from .inhibition import InhibitRule, builtin_inhibitions
from .matchers import Matcher, could_match, parse_matcher, sorted_matchers
from .notifiers import NotifierRegistry, default_notifiers
from .routing import GROUP_BY_ALL, Route, RouteSpec, build_route

VERSION = 1
SEVERITIES = ("page", "ticket")
SENSITIVITIES = {"low": 0.1, "medium": 1.0, "high": 10.0}  # words for the false-alarm budget's scale
MAX_SENSITIVITY = 1000.0
BUILTIN_DETECTORS = ("spike", "drift", "canary", "quantile_shift")  # as the analytics room registers them
HISTOGRAM_DETECTORS = ("quantile_shift",)  # detectors that read a histogram measure, not a rate
MEASURES = tuple(MEASURE_BINS)  # histogram measures the rollups keep (a detector tests one of their quantiles)
DEFAULT_RECEIVER = "default"  # with no route in the file: every alert is recorded, none is sent
MAX_LOOKBACK_NS = 400 * 86400 * 10**9
RESERVED_LABELS = ("alertname", "severity", "metric", "slice")
_ALERT_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


# ---------------------------------------------------------------------------------------------------------------
# What a rule may name


@dataclass(frozen=True, slots=True)
class Catalogue:
    """The names a rules file may use: metrics (rates: name → "numerator / denominator" in words), histogram
    measures, dimensions, the configured dimension pairs, and detectors (those that read histograms apart)."""

    metrics: Mapping[str, str]
    dimensions: Collection[str]
    pairs: Collection[tuple[str, str]]
    detectors: Collection[str] = BUILTIN_DETECTORS
    measures: Collection[str] = MEASURES
    histogram_detectors: Collection[str] = HISTOGRAM_DETECTORS

    @classmethod
    def default(cls, detectors: Collection[str] | None = None) -> Catalogue:
        """The analytics room's metrics, dimensions and pairs; the built-in detector names."""
        from ..analytics import DEFAULT_PAIRS, DIMENSIONS, METRICS

        return cls(
            metrics={m.name: f"{m.numerator} / {m.denominator}" for m in METRICS.values()},
            dimensions=tuple(DIMENSIONS),
            pairs=DEFAULT_PAIRS,
            detectors=tuple(detectors) if detectors is not None else BUILTIN_DETECTORS,
        )

    def pair(self, dims: Sequence[str]) -> tuple[str, str] | None:
        """The configured pair made of ``dims`` (in its configured order), if there is one."""
        for p in self.pairs:
            if set(p) == set(dims) and len(dims) == 2:
                return p
        return None


def changed_by(observed: float, expected: float, factor: float) -> bool:
    """Whether a rate moved from ``expected`` to ``observed`` by ``factor`` or more, up or down (from or to zero:
    any factor); what a rule's ``for_unless_factor`` tests."""
    if observed == expected:
        return False
    low, high = sorted((observed, expected))
    return low <= 0 or high / low >= factor


# ---------------------------------------------------------------------------------------------------------------
# The checked result


@dataclass(frozen=True, slots=True)
class AlertRule:
    name: str
    metric: str
    slices: tuple[tuple[str, ...], ...]  # () is the global slice
    detector: str
    sensitivity: float
    severity: str
    for_ns: int
    keep_firing_for_ns: int
    lookback_ns: int
    bucket_ns: int
    labels: Mapping[str, str]
    annotations: Mapping[str, str]  # templates
    enabled: bool = True
    for_unless_factor: float | None = None  # a rate changed by this factor or more fires at once, without ``for``

    def urgent(self, observed: float | None, expected: float | None) -> bool:
        """Whether a verdict that saw ``observed`` where ``expected`` was expected fires without waiting ``for``:
        the rate changed by at least ``for_unless_factor`` (up or down; from or to zero counts as any factor). The
        engine passes the counts since the change's estimated start when the detector dates it, else the rates over
        its decision window."""
        if self.for_unless_factor is None or observed is None or expected is None:
            return False
        return changed_by(observed, expected, self.for_unless_factor)

    def alert_labels(self, dims: Sequence[str], values: Sequence[str], severity: str | None = None) -> dict[str, str]:
        """The labels (the identity) of this rule's alert for one slice (``severity``: a page rule's alert from a
        slice too small to page on is a ticket)."""
        out = dict(self.labels)
        out.update(alertname=self.name, severity=severity or self.severity, metric=self.metric, slice=slice_key(dims))
        out.update(zip(dims, values, strict=True))
        return out

    def parent(self, dims: Sequence[str]) -> tuple[str, ...] | None:
        """The nearest slice set above ``dims`` that this rule also tests: one dimension up (the first listed),
        else global; None for global, or when the rule tests nothing above."""
        if not dims:
            return None
        up = [s for s in self.slices if set(s) < set(dims) and len(s) == len(dims) - 1]
        if up:
            return up[0]
        return () if () in self.slices and len(dims) > 1 else None


@dataclass(frozen=True, slots=True)
class Receiver:
    """A receiver as the file names it: each integration's kind, index and checked config."""

    name: str
    integrations: tuple[tuple[str, int, Any], ...] = ()  # (kind, index, config model)


@dataclass(frozen=True, slots=True)
class RuleSet:
    version: int
    rules: tuple[AlertRule, ...]
    inhibit_rules: tuple[InhibitRule, ...]
    route: Route
    receivers: Mapping[str, Receiver]
    file: str = "<rules>"
    warnings: tuple[str, ...] = ()

    @property
    def enabled(self) -> list[AlertRule]:
        return [r for r in self.rules if r.enabled]

    def rule(self, name: str) -> AlertRule:
        for r in self.rules:
            if r.name == name:
                return r
        raise KeyError(name)


# ---------------------------------------------------------------------------------------------------------------
# Errors


@dataclass(frozen=True, slots=True)
class Problem:
    file: str
    line: int | None
    where: str  # "rule 'X'", "route.routes[1]", "receiver 'oncall'", ...
    field: str
    message: str

    def __str__(self) -> str:
        loc = f"{self.file}:{self.line}" if self.line else self.file
        return (
            f"{loc}: {self.where}: {self.field}: {self.message}"
            if self.field
            else f"{loc}: {self.where}: {self.message}"
        )


class RulesError(InputError):
    """A rules file that cannot be used; ``problems`` lists every one found."""

    title = "Invalid rules file"
    type_slug = "invalid-rules"

    def __init__(self, problems: Sequence[Problem]) -> None:
        self.problems = list(problems)
        first = self.problems[0] if self.problems else None
        super().__init__("\n".join(str(p) for p in self.problems), field=first.field if first else None, status=422)


# ---------------------------------------------------------------------------------------------------------------
# The file's shape (pydantic); meaning is checked by hand afterwards


class _In(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)


class RuleIn(_In):
    alert: str
    metric: str
    slices: list[str | list[str]] = Field(default_factory=lambda: list[str | list[str]]([GLOBAL]))
    detector: str = "spike"
    sensitivity: float | int | str = 1.0
    severity: str
    for_: str | int = Field("0s", alias="for")
    for_unless_factor: float | int | str | None = None
    keep_firing_for: str | int = "0s"
    lookback: str | int = "7d"
    bucket: str | int = "5m"
    labels: dict[str, str] = Field(default_factory=dict)
    annotations: dict[str, str]
    enabled: bool = True


class InhibitIn(_In):
    source_matchers: list[str]
    target_matchers: list[str]
    equal: list[str] = Field(default_factory=list)


class RouteIn(_In):
    receiver: str | None = None
    matchers: list[str] = Field(default_factory=list)
    group_by: list[str] | None = None
    group_wait: str | int | None = None
    group_interval: str | int | None = None
    repeat_interval: str | int | None = None
    continue_: bool = Field(False, alias="continue")
    routes: list[RouteIn] = Field(default_factory=list)


class ReceiverIn(BaseModel):
    model_config = ConfigDict(extra="allow", strict=True)
    name: str


class FileIn(_In):
    version: int
    rules: list[Any] = Field(default_factory=list)
    inhibit_rules: list[Any] = Field(default_factory=list)
    route: Any = None
    receivers: list[Any] = Field(default_factory=list)


# ---------------------------------------------------------------------------------------------------------------
# Loading


def default_rules_text() -> str:
    """The rule set shipped with Watchkeeper (``alerting/default_rules.yaml``)."""
    return resources.files(__package__).joinpath("default_rules.yaml").read_text(encoding="utf-8")


def load_rules(
    path: str | Path | None = None,
    *,
    catalogue: Catalogue | None = None,
    notifiers: NotifierRegistry | None = None,
) -> RuleSet:
    """The checked rule set of ``path`` (the shipped default set when None); RulesError lists every problem."""
    if path is None:
        return parse_rules(default_rules_text(), file="default_rules.yaml", catalogue=catalogue, notifiers=notifiers)
    p = Path(path)
    try:
        text = p.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise RulesError([Problem(str(p), None, "file", "", "does not exist")]) from None
    except (OSError, UnicodeDecodeError) as e:
        raise RulesError([Problem(str(p), None, "file", "", f"cannot be read ({type(e).__name__})")]) from None
    return parse_rules(text, file=str(p), catalogue=catalogue, notifiers=notifiers)


def parse_rules(
    text: str,
    *,
    file: str = "<rules>",
    catalogue: Catalogue | None = None,
    notifiers: NotifierRegistry | None = None,
) -> RuleSet:
    """The checked rule set of a rules document; RulesError lists every problem found."""
    return _Checker(text, file, catalogue or Catalogue.default(), notifiers or default_notifiers()).run()


# ---------------------------------------------------------------------------------------------------------------
# Checking

Path_ = tuple[str | int, ...]


class _Checker:
    def __init__(self, text: str, file: str, catalogue: Catalogue, notifiers: NotifierRegistry) -> None:
        self.text, self.file, self.cat, self.notifiers = text, file, catalogue, notifiers
        self.problems: list[Problem] = []
        self.warnings: list[str] = []
        self.root: yaml.Node | None = None

    # -- reporting

    def line(self, path: Path_) -> int | None:
        node = self.root
        line = node.start_mark.line + 1 if node is not None else None
        for part in path:
            if isinstance(node, yaml.MappingNode) and isinstance(part, str):
                node = next((v for k, v in node.value if getattr(k, "value", None) == part), None)
            elif isinstance(node, yaml.SequenceNode) and isinstance(part, int) and part < len(node.value):
                node = node.value[part]
            else:
                break
            if node is None:
                break
            line = node.start_mark.line + 1
        return line

    def add(self, path: Path_, where: str, fieldname: str, message: str) -> None:
        self.problems.append(Problem(self.file, self.line(path), where, fieldname, message))

    def pydantic(self, err: ValidationError, path: Path_, where: str, model: type[BaseModel]) -> None:
        for e in err.errors(include_url=False, include_input=False):
            loc = tuple(p for p in e["loc"] if not (isinstance(p, str) and p.startswith(("function-", "list[", "str"))))
            name = ".".join(str(p) for p in loc)
            kind = e["type"]
            if kind == "extra_forbidden" and len(loc) == 1:
                allowed = ", ".join(f.alias or n for n, f in model.model_fields.items())
                msg = f"unknown field; allowed: {allowed}"
            elif kind == "extra_forbidden":
                msg = "unknown field"
            elif kind == "missing":
                msg = "required"
            else:
                msg = str(e["msg"]).removeprefix("Value error, ").removeprefix("Assertion failed, ")
            self.add(path + loc, where, name, msg)

    def duration(self, value: Any, path: Path_, where: str, name: str, *, positive: bool = False) -> int | None:
        if value == 0 and not isinstance(value, bool):
            value = "0s"
        try:
            ns = parse_duration(value)
        except ValueError as e:
            self.add(path, where, name, str(e))
            return None
        if positive and ns == 0:
            self.add(path, where, name, "must be longer than 0s")
            return None
        return ns

    # -- the document

    def run(self) -> RuleSet:
        try:
            self.root = yaml.compose(self.text, Loader=yaml.SafeLoader)
            self._duplicate_keys(self.root, ())
            doc = yaml.safe_load(self.text)
        except yaml.YAMLError as e:
            mark = getattr(e, "problem_mark", None)
            line = mark.line + 1 if mark is not None else None
            problem = getattr(e, "problem", None) or "malformed"
            raise RulesError([Problem(self.file, line, "file", "", f"is not valid YAML: {problem}")]) from None
        if self.problems:
            raise RulesError(self.problems)
        if not isinstance(doc, dict):
            raise RulesError([Problem(self.file, 1, "file", "", "must be a mapping with version and rules")])
        try:
            top = FileIn.model_validate(doc)
        except ValidationError as e:
            self.pydantic(e, (), "file", FileIn)
            raise RulesError(self.problems) from None
        if top.version != VERSION:
            self.add(
                ("version",), "file", "version", f"unsupported version {top.version}; this Watchkeeper reads {VERSION}"
            )
            raise RulesError(self.problems)
        rules = self._rules(top.rules)
        receivers = self._receivers(top.receivers)
        templates = _templates(rules)
        route = self._route(top.route, receivers, templates)
        inhibit = [
            *builtin_inhibitions(s for r in rules for s in r.slices),
            *self._inhibitions(top.inhibit_rules, templates),
        ]
        if self.problems:
            raise RulesError(self.problems)
        assert route is not None
        used = {r.opts.receiver for r in route.walk()}
        for name in receivers:
            if name not in used:
                self.warnings.append(f"{self.file}: receiver {name!r} is not used by any route")
        return RuleSet(VERSION, tuple(rules), tuple(inhibit), route, receivers, self.file, tuple(self.warnings))

    def _duplicate_keys(self, node: yaml.Node | None, path: Path_) -> None:
        if isinstance(node, yaml.MappingNode):
            seen: set[str] = set()
            for k, v in node.value:
                key = str(getattr(k, "value", ""))
                if key in seen:
                    where = ".".join(str(p) for p in path) or "file"
                    self.problems.append(
                        Problem(self.file, k.start_mark.line + 1, where, key, "given twice (YAML keeps only the last)")
                    )
                seen.add(key)
                self._duplicate_keys(v, (*path, key))
        elif isinstance(node, yaml.SequenceNode):
            for i, item in enumerate(node.value):
                self._duplicate_keys(item, (*path, i))

    # -- rules

    def _rules(self, items: list[Any]) -> list[AlertRule]:
        out: list[AlertRule] = []
        names: set[str] = set()
        for i, raw in enumerate(items):
            path: Path_ = ("rules", i)
            name = raw.get("alert") if isinstance(raw, dict) else None
            where = f"rule {name!r}" if isinstance(name, str) and name else f"rules[{i}]"
            if not isinstance(raw, dict):
                self.add(path, where, "", "must be a mapping (alert, metric, severity, annotations, ...)")
                continue
            try:
                r = RuleIn.model_validate(raw)
            except ValidationError as e:
                self.pydantic(e, path, where, RuleIn)
                continue
            if not _ALERT_NAME.match(r.alert):
                self.add(
                    (*path, "alert"), where, "alert", "must be a name such as RefusalRateSpike (letters, digits, _)"
                )
            elif r.alert in names:
                self.add((*path, "alert"), where, "alert", "another rule has the same name")
            names.add(r.alert)
            rule = self._rule(r, path, where)
            if rule is not None:
                out.append(rule)
        if not items:
            self.warnings.append(f"{self.file}: the file has no rules")
        return out

    def _rule(self, r: RuleIn, path: Path_, where: str) -> AlertRule | None:
        before = len(self.problems)
        is_rate, is_measure = r.metric in self.cat.metrics, r.metric in self.cat.measures
        if not is_rate and not is_measure:
            known = ", ".join([*self.cat.metrics, *self.cat.measures])
            msg = f"unknown metric {r.metric!r}; known: {known}"
            if r.enabled:
                self.add((*path, "metric"), where, "metric", msg)
            else:
                self.warnings.append(f"{self.file}: {where}: metric: {msg} (the rule is disabled)")
        slices = self._slices(r.slices, (*path, "slices"), where)
        if r.detector not in self.cat.detectors:
            known = ", ".join(self.cat.detectors)
            self.add((*path, "detector"), where, "detector", f"unknown detector {r.detector!r}; known: {known}")
        elif is_measure and r.detector not in self.cat.histogram_detectors:
            self.add(
                (*path, "detector"),
                where,
                "detector",
                f"{r.detector} tests rates; {r.metric!r} is a histogram "
                f"measure: use {' or '.join(self.cat.histogram_detectors)}",
            )
        elif is_rate and r.detector in self.cat.histogram_detectors:
            self.add(
                (*path, "detector"),
                where,
                "detector",
                f"{r.detector} tests a histogram measure ({', '.join(self.cat.measures)}); {r.metric!r} is a rate",
            )
        sensitivity = self._sensitivity(r.sensitivity, (*path, "sensitivity"), where)
        if r.severity not in SEVERITIES:
            self.add((*path, "severity"), where, "severity", f"must be one of {', '.join(SEVERITIES)}")
        for_ns = self.duration(r.for_, (*path, "for"), where, "for")
        factor = self._factor(r.for_unless_factor, (*path, "for_unless_factor"), where)
        keep_ns = self.duration(r.keep_firing_for, (*path, "keep_firing_for"), where, "keep_firing_for")
        lookback = self.duration(r.lookback, (*path, "lookback"), where, "lookback", positive=True)
        bucket = self.duration(r.bucket, (*path, "bucket"), where, "bucket", positive=True)
        if lookback is not None and lookback > MAX_LOOKBACK_NS:
            self.add((*path, "lookback"), where, "lookback", "must be at most 400d")
        if lookback is not None and bucket is not None:
            if bucket > lookback:
                self.add((*path, "bucket"), where, "bucket", f"is longer than the lookback ({r.bucket} > {r.lookback})")
            elif lookback % bucket:
                self.add((*path, "lookback"), where, "lookback", f"must be a whole number of buckets of {r.bucket}")
        if for_ns is not None and lookback is not None and for_ns > lookback:
            self.add((*path, "for"), where, "for", f"must not be longer than the lookback ({r.for_} > {r.lookback})")
        dims_used = {d for s in slices for d in s}
        for k in r.labels:
            if not LABEL_NAME.match(k):
                self.add((*path, "labels", k), where, f"labels.{k}", "is not a label name (letters, digits and _)")
            elif k in RESERVED_LABELS or k in self.cat.dimensions:
                self.add(
                    (*path, "labels", k),
                    where,
                    f"labels.{k}",
                    "is set by the rule itself (name, severity, "
                    "metric, slice and the slice's dimensions); choose another label name",
                )
        label_names = set(r.labels) | set(RESERVED_LABELS) | dims_used
        self._annotations(r, path, where, label_names)
        if len(self.problems) > before:
            return None
        assert for_ns is not None and keep_ns is not None and lookback is not None and bucket is not None
        assert sensitivity is not None
        return AlertRule(
            name=r.alert,
            metric=r.metric,
            slices=tuple(slices),
            detector=r.detector,
            sensitivity=sensitivity,
            severity=r.severity,
            for_ns=for_ns,
            keep_firing_for_ns=keep_ns,
            lookback_ns=lookback,
            bucket_ns=bucket,
            labels=dict(r.labels),
            annotations=dict(r.annotations),
            enabled=r.enabled,
            for_unless_factor=factor,
        )

    def _sensitivity(self, value: float | int | str, path: Path_, where: str) -> float | None:
        if isinstance(value, str):
            if value in SENSITIVITIES:
                return SENSITIVITIES[value]
            self.add(path, where, "sensitivity", f"must be a number or one of {', '.join(SENSITIVITIES)}")
            return None
        if isinstance(value, bool) or not 0 < value <= MAX_SENSITIVITY:
            self.add(path, where, "sensitivity", f"must be above 0 and at most {MAX_SENSITIVITY:g} (1: as tuned)")
            return None
        return float(value)

    def _factor(self, value: float | int | str | None, path: Path_, where: str) -> float | None:
        """``for_unless_factor``: a number above 1 (2: a rate that doubled, or halved, fires at once)."""
        if value is None:
            return None
        try:
            f = float(value) if not isinstance(value, bool) else math.nan
        except ValueError:
            f = math.nan
        if not 1 < f < math.inf:
            self.add(path, where, "for_unless_factor", f"must be a number above 1 (2: the rate doubled), not {value!r}")
            return None
        return f

    def _slices(self, items: list[str | list[str]], path: Path_, where: str) -> list[tuple[str, ...]]:
        out: list[tuple[str, ...]] = []
        if not items:
            self.add(path, where, "slices", "name at least one slice: global, a dimension, or a pair [a, b]")
        for i, item in enumerate(items):
            dims = [item] if isinstance(item, str) else list(item)
            if dims == [GLOBAL]:
                key: tuple[str, ...] = ()
            else:
                bad = [d for d in dims if d not in self.cat.dimensions]
                if bad:
                    known = ", ".join(self.cat.dimensions)
                    self.add((*path, i), where, f"slices[{i}]", f"unknown dimension {bad[0]!r}; known: global, {known}")
                    continue
                if not 1 <= len(dims) <= 2 or len(set(dims)) != len(dims):
                    self.add((*path, i), where, f"slices[{i}]", "a slice is global, one dimension, or a pair [a, b]")
                    continue
                if len(dims) == 2:
                    pair = self.cat.pair(dims)
                    if pair is None:
                        pairs = "; ".join(f"[{a}, {b}]" for a, b in self.cat.pairs)
                        self.add(
                            (*path, i),
                            where,
                            f"slices[{i}]",
                            f"[{dims[0]}, {dims[1]}] is not a configured pair; configured: {pairs}",
                        )
                        continue
                    dims = list(pair)
                key = tuple(dims)
            if key in out:
                self.add((*path, i), where, f"slices[{i}]", "is listed twice")
                continue
            out.append(key)
        return out

    def _annotations(self, r: RuleIn, path: Path_, where: str, label_names: set[str]) -> None:
        if not r.annotations.get("summary", "").strip():
            self.add((*path, "annotations"), where, "annotations.summary", "required: one line that says what is wrong")
        url = r.annotations.get("runbook_url")
        if url is None and r.severity == "page":
            self.add(
                (*path, "annotations"),
                where,
                "annotations.runbook_url",
                "required for severity page: every page needs a runbook",
            )
        elif url is not None and not re.match(r"^https?://[^\s/]+", url):
            self.add(
                (*path, "annotations", "runbook_url"),
                where,
                "annotations.runbook_url",
                "must be an absolute http:// or https:// URL",
            )
        for key, text in r.annotations.items():
            for m in _TEMPLATE.finditer(text):
                v = _VARIABLE.match(m.group(1))
                if v is None:
                    self.add(
                        (*path, "annotations", key),
                        where,
                        f"annotations.{key}",
                        f"unknown template {m.group(0)!r}; use $value, $expected, $slice, $metric or $labels.NAME",
                    )
                elif v.group(2) and v.group(2) not in label_names:
                    self.add(
                        (*path, "annotations", key),
                        where,
                        f"annotations.{key}",
                        f"$labels.{v.group(2)} is not a label of this rule's alerts",
                    )

    # -- receivers, routes, inhibitions

    def _receivers(self, items: list[Any]) -> dict[str, Receiver]:
        out: dict[str, Receiver] = {}
        kinds = {f"{k.name}_configs": k for k in self.notifiers}
        for i, raw in enumerate(items):
            path: Path_ = ("receivers", i)
            name = raw.get("name") if isinstance(raw, dict) else None
            where = f"receiver {name!r}" if isinstance(name, str) else f"receivers[{i}]"
            try:
                rin = ReceiverIn.model_validate(raw)
            except ValidationError as e:
                self.pydantic(e, path, where, ReceiverIn)
                continue
            if not rin.name.strip():
                self.add((*path, "name"), where, "name", "must not be empty")
                continue
            if rin.name in out:
                self.add((*path, "name"), where, "name", "another receiver has the same name")
                continue
            integrations: list[tuple[str, int, Any]] = []
            for key, configs in (rin.model_extra or {}).items():
                kind = kinds.get(key)
                if kind is None:
                    self.add((*path, key), where, key, f"unknown field; allowed: name, {', '.join(kinds)}")
                    continue
                if not isinstance(configs, list):
                    self.add((*path, key), where, key, "must be a list of configs")
                    continue
                for j, c in enumerate(configs):
                    try:
                        integrations.append((kind.name, j, kind.config.model_validate(c)))
                    except ValidationError as e:
                        self.pydantic(e, (*path, key, j), f"{where} {key}[{j}]", kind.config)
            out[rin.name] = Receiver(rin.name, tuple(integrations))
        return out

    def _matchers(self, items: list[str], path: Path_, where: str, name: str) -> tuple[Matcher, ...] | None:
        ms: list[Matcher] = []
        ok = True
        for i, text in enumerate(items):
            try:
                ms.append(parse_matcher(text))
            except ValueError as e:
                self.add((*path, i), where, f"{name}[{i}]", str(e))
                ok = False
        return tuple(sorted_matchers(ms)) if ok else None

    def _route(self, raw: Any, receivers: dict[str, Receiver], templates: list[_Template]) -> Route | None:
        if raw is None:
            receivers.setdefault(DEFAULT_RECEIVER, Receiver(DEFAULT_RECEIVER))
            return build_route(RouteSpec(receiver=DEFAULT_RECEIVER))
        spec = self._route_spec(raw, ("route",), "route", receivers, templates, (), root=True)
        return build_route(spec) if spec is not None else None

    def _route_spec(
        self,
        raw: Any,
        path: Path_,
        where: str,
        receivers: dict[str, Receiver],
        templates: list[_Template],
        inherited: tuple[Matcher, ...],
        *,
        root: bool = False,
    ) -> RouteSpec | None:
        try:
            r = RouteIn.model_validate(raw)
        except ValidationError as e:
            self.pydantic(e, path, where, RouteIn)
            return None
        before = len(self.problems)
        if root:
            if not r.receiver:
                self.add(path, where, "receiver", "the root route must name a receiver (the default for every alert)")
            if r.matchers:
                self.add((*path, "matchers"), where, "matchers", "the root route matches every alert: no matchers")
            if r.continue_:
                self.add((*path, "continue"), where, "continue", "the root route has no siblings to continue to")
        if r.receiver is not None and r.receiver not in receivers:
            known = ", ".join(receivers) or "none defined"
            self.add((*path, "receiver"), where, "receiver", f"unknown receiver {r.receiver!r}; known: {known}")
        matchers = self._matchers(r.matchers, (*path, "matchers"), where, "matchers") or ()
        chain = inherited + matchers
        if matchers and templates and not any(could_match(chain, t.fixed, t.free) for t in templates):
            self.add((*path, "matchers"), where, "matchers", "match no alert that any rule can raise")
        if r.group_by is not None:
            known_labels = set().union(*(set(t.fixed) | t.free for t in templates)) if templates else set()
            for i, g in enumerate(r.group_by):
                if g == GROUP_BY_ALL:
                    if len(r.group_by) > 1:
                        self.add((*path, "group_by", i), where, f"group_by[{i}]", "'...' (every label) stands alone")
                elif not LABEL_NAME.match(g):
                    self.add((*path, "group_by", i), where, f"group_by[{i}]", f"{g!r} is not a label name")
                elif templates and g not in known_labels:
                    self.add((*path, "group_by", i), where, f"group_by[{i}]", f"no alert carries the label {g!r}")
        timers: dict[str, int | None] = {}
        for name, value, positive in (
            ("group_wait", r.group_wait, False),
            ("group_interval", r.group_interval, True),
            ("repeat_interval", r.repeat_interval, True),
        ):
            timers[name] = (
                None if value is None else self.duration(value, (*path, name), where, name, positive=positive)
            )
        children = []
        for i, child in enumerate(r.routes):
            c = self._route_spec(child, (*path, "routes", i), f"{where}.routes[{i}]", receivers, templates, chain)
            if c is not None:
                children.append(c)
        if len(self.problems) > before:
            return None
        return RouteSpec(
            receiver=r.receiver,
            matchers=matchers,
            group_by=tuple(r.group_by) if r.group_by is not None else None,
            group_wait_ns=timers["group_wait"],
            group_interval_ns=timers["group_interval"],
            repeat_interval_ns=timers["repeat_interval"],
            continue_=r.continue_,
            routes=tuple(children),
        )

    def _inhibitions(self, items: list[Any], templates: list[_Template]) -> list[InhibitRule]:
        out = []
        for i, raw in enumerate(items):
            path: Path_ = ("inhibit_rules", i)
            where = f"inhibit_rules[{i}]"
            try:
                r = InhibitIn.model_validate(raw)
            except ValidationError as e:
                self.pydantic(e, path, where, InhibitIn)
                continue
            sides: list[tuple[Matcher, ...] | None] = []
            for name, items_ in (("source_matchers", r.source_matchers), ("target_matchers", r.target_matchers)):
                if not items_:
                    self.add((*path, name), where, name, "name at least one matcher")
                    sides.append(None)
                    continue
                ms = self._matchers(items_, (*path, name), where, name)
                if ms is not None and templates and not any(could_match(ms, t.fixed, t.free) for t in templates):
                    self.add((*path, name), where, name, "match no alert that any rule can raise")
                    ms = None
                sides.append(ms)
            for j, label in enumerate(r.equal):
                if not LABEL_NAME.match(label):
                    self.add((*path, "equal", j), where, f"equal[{j}]", f"{label!r} is not a label name")
            src, tgt = sides
            if src is not None and tgt is not None:
                out.append(InhibitRule(src, tgt, tuple(r.equal)))
        return out


@dataclass(frozen=True, slots=True)
class _Template:
    """The labels one rule's alerts on one slice set carry: known values, and dimensions known only at run time."""

    fixed: dict[str, str]
    free: set[str] = field(default_factory=set)


def _templates(rules: Iterable[AlertRule]) -> list[_Template]:
    out = []
    for r in rules:
        if not r.enabled:
            continue
        # a page rule's alert from a slice too small to page on is a ticket
        for severity in ("page", "ticket") if r.severity == "page" else (r.severity,):
            for dims in r.slices:
                fixed = r.alert_labels((), (), severity)
                fixed["slice"] = slice_key(dims)
                out.append(_Template(fixed, set(dims)))
    return out


__all__ = [
    "BUILTIN_DETECTORS",
    "DEFAULT_RECEIVER",
    "GLOBAL",
    "MEASURES",
    "SENSITIVITIES",
    "SEVERITIES",
    "VERSION",
    "AlertRule",
    "Catalogue",
    "Problem",
    "Receiver",
    "RuleSet",
    "RulesError",
    "default_rules_text",
    "load_rules",
    "parse_rules",
    "slice_key",
]
