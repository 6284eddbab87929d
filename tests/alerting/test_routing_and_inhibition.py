"""The routing tree (first match, continue, inheritance, group keys) and inhibition (Alertmanager's semantics and
the built-in parent-slice and page-over-ticket rules)."""

from __future__ import annotations

from watchkeeper.alerting import (
    Inhibitor,
    InhibitRule,
    RouteSpec,
    build_route,
    fingerprint,
    parse_matchers,
    parse_rules,
)
from watchkeeper.alerting.routing import GROUP_INTERVAL_NS, GROUP_WAIT_NS

NS = 1_000_000_000


def tree() -> RouteSpec:
    return RouteSpec(
        receiver="default",
        group_by=("alertname",),
        routes=(
            RouteSpec(
                receiver="pager",
                matchers=parse_matchers(['severity="page"']),
                group_wait_ns=0,
                continue_=True,
                routes=(RouteSpec(receiver="safety-pager", matchers=parse_matchers(['team="safety"'])),),
            ),
            RouteSpec(receiver="safety", matchers=parse_matchers(['team="safety"']), group_by=("...",)),
            RouteSpec(receiver="never", matchers=parse_matchers(['team="safety"'])),
        ),
    )


def test_an_alert_takes_the_first_matching_route_and_continues_only_where_asked() -> None:
    root = build_route(tree())
    page = {"alertname": "A", "severity": "page", "team": "safety"}
    assert [r.opts.receiver for r in root.match(page)] == ["safety-pager", "safety"]
    assert [r.opts.receiver for r in root.match({"alertname": "A", "severity": "page"})] == ["pager"]
    assert [r.opts.receiver for r in root.match({"alertname": "A", "team": "safety"})] == ["safety"]
    assert [r.opts.receiver for r in root.match({"alertname": "A"})] == ["default"]


def test_children_inherit_what_they_do_not_set() -> None:
    root = build_route(tree())
    pager, safety, _never = root.routes
    assert pager.opts.group_by == ("alertname",) and pager.opts.group_wait_ns == 0
    assert pager.routes[0].opts.group_wait_ns == 0  # from its parent, not the root
    assert pager.opts.group_interval_ns == GROUP_INTERVAL_NS and root.opts.group_wait_ns == GROUP_WAIT_NS
    assert safety.opts.group_by_all and safety.group_labels({"a": "1", "b": "2"}) == {"a": "1", "b": "2"}


def test_group_keys_are_alertmanagers() -> None:
    root = build_route(tree())
    labels = {"alertname": "RefusalRateSpike", "severity": "page", "language": "fr"}
    (pager,) = root.match(labels)
    assert pager.group_key(labels) == '{}/{severity="page"}:{alertname="RefusalRateSpike"}'
    assert root.group_key({"x": "1"}) == "{}:{}"
    assert len({r.id for r in root.walk()}) == len(root.walk())


def test_a_firing_source_inhibits_targets_with_equal_labels_but_never_itself() -> None:
    rule = InhibitRule(parse_matchers(['severity="page"']), parse_matchers(['severity="ticket"']), ("metric",))
    page = {"severity": "page", "metric": "refusals"}
    ticket = {"severity": "ticket", "metric": "refusals"}
    other = {"severity": "ticket", "metric": "tool_errors"}
    inh = Inhibitor([rule], [(fingerprint(page), page)])
    assert inh.inhibited_by(fingerprint(ticket), ticket) == [fingerprint(page)]
    assert inh.inhibited_by(fingerprint(other), other) == []
    assert inh.inhibited_by(fingerprint(page), page) == []
    assert Inhibitor([rule], []).inhibited_by(fingerprint(ticket), ticket) == []


def test_alerts_matching_both_sides_do_not_inhibit_each_other() -> None:
    rule = InhibitRule(parse_matchers(['team="safety"']), parse_matchers(['team="safety"']))
    a, b = {"team": "safety", "x": "a"}, {"team": "safety", "x": "b"}
    inh = Inhibitor([rule], [(fingerprint(a), a), (fingerprint(b), b)])
    assert inh.inhibited_by(fingerprint(a), a) == []


RULES = """
version: 1
rules:
  - alert: RefusalRateSpike
    metric: refusals
    slices: [global, language, [language, model_version]]
    severity: page
    annotations: {summary: s, runbook_url: "https://r.example.org/x"}
  - alert: RefusalRateDrift
    metric: refusals
    slices: [global, language]
    detector: drift
    severity: ticket
    annotations: {summary: s}
"""


def labels(rs: object, name: str, **slice_values: str) -> dict[str, str]:
    rule = rs.rule(name)  # type: ignore[attr-defined]
    return rule.alert_labels(tuple(slice_values), tuple(slice_values.values()))  # type: ignore[no-any-return]


def test_a_parent_slice_inhibits_its_children_and_a_page_the_ticket_for_the_same_slice() -> None:
    rs = parse_rules(RULES)
    glob = labels(rs, "RefusalRateSpike")
    fr = labels(rs, "RefusalRateSpike", language="fr")
    fr_m = labels(rs, "RefusalRateSpike", language="fr", model_version="m1")
    de_m = labels(rs, "RefusalRateSpike", language="de", model_version="m1")
    drift_fr = labels(rs, "RefusalRateDrift", language="fr")
    drift_global = labels(rs, "RefusalRateDrift")
    fp = fingerprint
    only_fr = Inhibitor(rs.inhibit_rules, [(fp(fr), fr)])
    assert only_fr.inhibited_by(fp(fr_m), fr_m) == [fp(fr)]  # the child of the firing parent
    assert only_fr.inhibited_by(fp(de_m), de_m) == []  # another language's child
    assert only_fr.inhibited_by(fp(drift_fr), drift_fr) == [fp(fr)]  # the page over the ticket, same slice
    assert only_fr.inhibited_by(fp(fr), fr) == []
    everything = Inhibitor(rs.inhibit_rules, [(fp(glob), glob)])
    assert everything.inhibited_by(fp(de_m), de_m) == [fp(glob)]
    # a parent's ticket never hides a child's page
    ticket_parent = Inhibitor(rs.inhibit_rules, [(fp(drift_global), drift_global)])
    assert ticket_parent.inhibited_by(fp(fr), fr) == []
    assert ticket_parent.inhibited_by(fp(drift_fr), drift_fr) == [fp(drift_global)]


def test_a_parents_page_mutes_a_childs_page_only_while_its_change_is_detected() -> None:
    rs = parse_rules(RULES)
    glob, fr = labels(rs, "RefusalRateSpike"), labels(rs, "RefusalRateSpike", language="fr")
    drift_fr = labels(rs, "RefusalRateDrift", language="fr")
    fp = fingerprint
    detected = Inhibitor(rs.inhibit_rules, [(fp(glob), glob)], detected=[fp(glob)])
    assert detected.inhibited_by(fp(fr), fr) == [fp(glob)]
    kept_firing = Inhibitor(rs.inhibit_rules, [(fp(glob), glob)], detected=[])
    assert kept_firing.inhibited_by(fp(fr), fr) == []  # the child's page says where the change is now
    assert kept_firing.inhibited_by(fp(drift_fr), drift_fr) == [fp(glob)]  # a child's ticket stays muted
    assert "while its change is detected" in " ".join(r.describe() for r in rs.inhibit_rules)
