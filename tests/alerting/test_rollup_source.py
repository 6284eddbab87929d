"""The adapter between the engine and the analytics room: stream keys and the false-discovery control."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from tests.alerting.conftest import Gate as FakeGate
from tests.alerting.conftest import Verdict as FakeVerdict
from watchkeeper.alerting import SliceTest, default_rules_text, fdr_from_detectors, parse_rules
from watchkeeper.alerting.rollup_source import stream_key
from watchkeeper.analytics import Slice
from watchkeeper.analytics.detectors import Gate, Verdict
from watchkeeper.config import Settings
from watchkeeper.errors import ConfigError

AT = datetime(2024, 6, 1, tzinfo=UTC)
RULE = parse_rules(default_rules_text()).rule("RefusalRateSpike")


def test_stream_keys_name_the_rule_and_the_slice_and_a_child_names_its_parent_the_same_way() -> None:
    assert stream_key(RULE, Slice((), ())) == "RefusalRateSpike|global"
    assert stream_key(RULE, Slice(("language", "model_version"), ("de", "m1"))) == (
        "RefusalRateSpike|language=de,model_version=m1"
    )


def _test(key: str, parent: str | None, fired: bool, p: float, gate: Gate = Gate.ENOUGH) -> SliceTest:
    v = Verdict("spike", key, AT, fired, gate, p_value=p, parent=parent)
    return SliceTest(RULE, Slice(("language",), (key,)), None, None, v)


def test_false_discovery_control_keeps_discoveries_only_and_never_a_slice_below_the_gate() -> None:
    tests = [
        _test("a", None, True, 1e-12),
        _test("b", None, True, 0.2),  # fired by its own threshold, not a discovery among the family
        _test("c", None, True, 1e-12, Gate.DEFERRED),
        _test("d", None, False, 0.9),
    ]
    assert list(fdr_from_detectors()(tests)) == [True, False, False, False]


def test_a_plugin_verdict_keeps_its_own_decision() -> None:
    t = SliceTest(RULE, Slice((), ()), None, None, FakeVerdict(fired=True, gate=FakeGate()))
    assert list(fdr_from_detectors()([t, _test("a", None, True, 1e-12)])) == [True, True]


def test_a_server_refuses_to_start_on_a_rules_file_that_does_not_check_unless_it_does_not_alert(
    tmp_path: Path,
) -> None:
    from watchkeeper.server import create_app

    bad = tmp_path / "rules.yaml"
    bad.write_text("version: 1\nrules:\n  - alert: X\n    metric: nope\n")
    settings = Settings(data_dir=str(tmp_path), auth=False, alert_rules_file=str(bad))
    with pytest.raises(ConfigError, match=r"(?s)alert_rules_file: .*severity: required.*rules check"):
        create_app(settings)
    create_app(settings, alerting=False)  # the workers of `serve --workers N` after the first
