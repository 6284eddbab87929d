"""Bad input never crashes the pipeline, never runs in more than linear time, and never leaks through errors."""

from __future__ import annotations

import time
from collections import Counter
from typing import Any

import pytest

from watchkeeper.privacy import (
    Engine,
    Finding,
    RecogniserFailed,
    Registry,
    builtin_recognisers,
    make_redactor,
    redact_text,
)
from watchkeeper.privacy._redactor import TraceState

ENGINE = Engine()
REDACTOR = make_redactor(engine=ENGINE)


@pytest.mark.parametrize(
    "unit",
    ["1", "@", "-", "a", "1-", "a@", "1.", "A1", "x:", ":", "eyJ", "sk-", " 1", "日本", "1 ", "a.", "Ab ", "=a;"],
)
def test_pathological_runs_are_scanned_in_linear_time(unit: str) -> None:
    small, big = unit * (20_000 // len(unit)), unit * (200_000 // len(unit))
    t0 = time.perf_counter()
    ENGINE.scan(small)
    t_small = time.perf_counter() - t0
    t0 = time.perf_counter()
    ENGINE.scan(big)
    t_big = time.perf_counter() - t0
    # 10× the input may take ~10× the time (plus noise on a shared machine), never ~100×
    assert t_big < max(30 * t_small, 0.5), (unit, t_small, t_big)


def test_a_megabyte_line_is_redacted() -> None:
    line = ("filler words and numbers 12 34 " * 35_000) + " mail ana@acme.io"
    out = redact_text(line, REDACTOR)
    assert out.endswith("<EMAIL_1>")


def test_lone_surrogates_and_binary_noise_are_replaced_not_fatal() -> None:
    text = "bin \udc80\udcff\x00\x01 ana@acme.io \ud800"
    out = redact_text(text, REDACTOR)
    assert "<EMAIL_1>" in out and "\udc80" not in out
    out.encode("utf-8")  # storable


def test_mixed_scripts_keep_offsets_in_code_points() -> None:
    text = "日本語のテキスト 😀 ana@acme.io と Ελληνικά"
    f = ENGINE.scan(text)[0]
    assert text[f.start : f.end] == "ana@acme.io"


def test_deep_nesting_is_dropped_below_the_limit_not_a_crash() -> None:
    deep: Any = "ana@acme.io"
    for _ in range(200):
        deep = {"k": deep}
    summary: Counter[tuple[str, str, str]] = Counter()
    out = REDACTOR.redact_value(deep, "tool.arguments", TraceState(), summary)
    assert "ana@acme.io" not in repr(out)
    assert any(t == "TOO_DEEP" for t, _, _ in summary)


class Exploding:
    name = "exploding"
    entity_types = ("BOOM",)

    def find(self, text: str) -> list[Finding]:
        raise ValueError(f"cannot handle {text}")


def test_a_failing_recogniser_drops_the_field_and_names_no_value() -> None:
    reg = Registry([*builtin_recognisers(), Exploding()])
    r = make_redactor(engine=Engine(reg))
    summary: Counter[tuple[str, str, str]] = Counter()
    out = r.redact_value({"msg": "secret ana@acme.io"}, "input", TraceState(), summary)
    assert out == {"msg": None}
    assert ("REDACTION_FAILED", "input.msg", "exploding") in summary
    with pytest.raises(RecogniserFailed) as info:
        Engine(reg).scan("secret ana@acme.io")
    assert "ana@acme.io" not in str(info.value) and "exploding" in str(info.value)
