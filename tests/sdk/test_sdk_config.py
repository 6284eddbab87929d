"""Settings, the public API, and the JSON form of arbitrary values."""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from watchkeeper import sdk
from watchkeeper.sdk._config import load_config
from watchkeeper.sdk._exporter import to_jsonable

DOCS = Path(__file__).resolve().parents[2] / "docs" / "sdk.md"


def test_the_public_api_is_pinned() -> None:
    assert sorted(sdk.__all__) == sorted(
        [
            "SETTINGS",
            "Account",
            "CaptureExporter",
            "Config",
            "ContextToken",
            "Exporter",
            "FeedbackKind",
            "HttpExporter",
            "NoopExporter",
            "Setting",
            "SpanHandle",
            "SpanKind",
            "Status",
            "TraceContext",
            "Versions",
            "configure",
            "continue_trace",
            "current_span_id",
            "current_trace_id",
            "extract_traceparent",
            "feedback",
            "flush",
            "get_exporter",
            "inject_traceparent",
            "instrument_mcp_client",
            "instrument_mcp_server",
            "observe",
            "set_context",
            "shutdown",
            "span",
            "start_span",
            "stats",
            "wrap_openai",
        ]
    )
    for name in sdk.__all__:
        assert getattr(sdk, name) is not None


def test_every_setting_is_documented() -> None:
    text = DOCS.read_text()
    for setting in sdk.SETTINGS:
        assert f"`{setting.name}`" in text, setting.name
        if setting.env:
            assert f"`{setting.env}`" in text, setting.env


def test_arguments_beat_the_environment_which_beats_defaults() -> None:
    env = {"WATCHKEEPER_ENDPOINT": "https://wk.example:8443/base", "WATCHKEEPER_API_KEY": "from-env"}
    config = load_config({"api_key": "from-arg"}, env)
    assert config.endpoint == "https://wk.example:8443/base"
    assert config.api_key == "from-arg"
    assert config.service_name is None and config.max_batch_size == 512
    assert load_config({}, {}).endpoint == "http://127.0.0.1:4319"
    assert load_config({}, {"WATCHKEEPER_SDK_ENABLED": "off"}).enabled is False


@pytest.mark.parametrize(
    ("overrides", "env", "message"),
    [
        ({"endpoint": "ftp://x"}, {}, "'endpoint'"),
        ({}, {"WATCHKEEPER_SDK_ENABLED": "maybe"}, "WATCHKEEPER_SDK_ENABLED"),
        ({"max_retries": -1}, {}, "'max_retries'"),
        ({"schedule_delay_s": "soon"}, {}, "'schedule_delay_s'"),
        ({"redact": "not callable"}, {}, "'redact'"),
        ({"max_batch_size": 0}, {}, "'max_batch_size'"),
    ],
)
def test_invalid_settings_are_named(overrides: dict[str, Any], env: dict[str, str], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        load_config(overrides, env)


def test_a_bad_environment_disables_the_sdk_instead_of_breaking_the_app(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    from watchkeeper.sdk import _tracer

    monkeypatch.setenv("WATCHKEEPER_ENDPOINT", "not a url")
    _tracer._STATE.exporter = _tracer._LazyExporter()  # as if configure() had never been called
    try:
        with sdk.span("first"):
            pass
        assert isinstance(sdk.get_exporter(), sdk.NoopExporter)
        assert "Watchkeeper SDK disabled: setting 'endpoint'" in caplog.text
    finally:
        monkeypatch.delenv("WATCHKEEPER_ENDPOINT")
        sdk.configure(enabled=False)


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text() | st.binary(),
    lambda children: (
        st.lists(children, max_size=4)
        | st.dictionaries(st.text(max_size=5) | st.integers(), children, max_size=4)
        | st.tuples(children, children)
        | st.frozensets(st.integers(), max_size=3)
    ),
    max_leaves=20,
)


@given(json_values)
def test_to_jsonable_always_gives_strict_json(value: Any) -> None:
    out = to_jsonable(value)
    text = json.dumps(out, allow_nan=False)
    assert json.loads(text) == out


@given(st.recursive(st.none() | st.booleans() | st.integers() | st.text(), lambda c: st.lists(c, max_size=3)))
def test_to_jsonable_leaves_json_values_alone(value: Any) -> None:
    assert to_jsonable(value) == value


def test_to_jsonable_maps_non_finite_floats_to_null() -> None:
    assert to_jsonable([math.inf, -math.inf, math.nan, 1.5]) == [None, None, None, 1.5]
