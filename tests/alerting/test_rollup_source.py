"""The adapter between the engine and the analytics room: stream keys and the false-discovery control."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from tests.alerting.conftest import Gate as FakeGate
from tests.alerting.conftest import Verdict as FakeVerdict
from tests.analytics.test_detectors_common_mode import spike_verdict, whole
from watchkeeper.alerting import SliceTest, common_mode, default_rules_text, fdr_from_detectors, parse_rules
from watchkeeper.alerting.rollup_source import stream_key
from watchkeeper.analytics import Slice
from watchkeeper.analytics.detectors import CommonMode, Gate, Verdict
from watchkeeper.config import Settings, load_settings
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


def _family_of_two_sets(lang: dict[str, float], model: dict[str, float]) -> list[SliceTest]:
    """One rule's tests over the global slice, its languages and its models (two dimension sets at one depth): a
    language or model expects 600 events an hour, Italian and model ``d`` 3,000."""
    size = {"it": 3000.0, "d": 3000.0}
    langs = [spike_verdict(f"lang={k}", "*", size.get(k, 600.0), r) for k, r in lang.items()]
    models = [spike_verdict(f"model={k}", "*", size.get(k, 600.0), r) for k, r in model.items()]
    tests = [SliceTest(RULE, Slice((), ()), None, None, whole(langs))]
    tests += [SliceTest(RULE, Slice(("language",), (v.key[5:],)), Slice((), ()), None, v) for v in langs]
    tests += [SliceTest(RULE, Slice(("model",), (v.key[6:],)), Slice((), ()), None, v) for v in models]
    return tests


def test_the_live_common_mode_correction_takes_each_slices_peers_from_its_dimension_set() -> None:
    # a holiday lifts every language by ~10% and Italian's noise takes it to 30%; model d rose 50% on its own. The
    # languages and the models sit at one depth under the global slice, where the analytics room's default (peers
    # by depth) cannot tell the two sets apart: the engine names each test's dimension set.
    tests = _family_of_two_sets(
        {"en": 1.1, "de": 1.12, "fr": 1.08, "es": 1.1, "pt": 1.1, "it": 1.3},
        {"a": 1.0, "b": 1.02, "c": 0.98, "e": 1.0, "f": 1.01, "d": 1.5},
    )
    keys = [t.verdict.key for t in tests]
    alerted = dict(zip(keys, fdr_from_detectors()(tests), strict=True))
    assert alerted["lang=it"] and alerted["model=d"]  # off: the holiday pages on Italian
    for mode in (CommonMode(), CommonMode(pages_only=True)):
        alerted = dict(zip(keys, fdr_from_detectors(common_mode=mode)(tests), strict=True))
        assert not alerted["lang=it"] and alerted["model=d"]
        assert sum(alerted.values()) == 1


def test_the_common_mode_setting_names_off_pages_all_or_pages_weighted_and_refuses_anything_else(
    tmp_path: Path,
) -> None:
    assert common_mode("off") is None
    assert common_mode("pages") == CommonMode(pages_only=True)
    assert common_mode("all") == CommonMode()
    assert common_mode("pages-weighted") == CommonMode(pages_only=True, min_expected=10.0, weighted=True)
    with pytest.raises(ValueError, match="off, pages, all, pages-weighted"):
        common_mode("on")
    assert load_settings(environ={"WATCHKEEPER_ALERT_COMMON_MODE": "pages"}).alert_common_mode == "pages"
    env = {"WATCHKEEPER_ALERT_COMMON_MODE": "pages-weighted"}
    assert load_settings(environ=env).alert_common_mode == "pages-weighted"
    with pytest.raises(ConfigError, match="alert_common_mode must be one of off, pages, all, pages-weighted"):
        load_settings(environ={"WATCHKEEPER_ALERT_COMMON_MODE": "yes"})


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
