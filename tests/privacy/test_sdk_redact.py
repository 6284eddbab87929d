"""`sdk.configure(redact=True)`: the same engine client-side, imported only when asked for."""

from __future__ import annotations

import subprocess
import sys

from watchkeeper.sdk._config import load_config

KEY = "sk-proj-" + "Ab3" * 20


def test_redact_true_redacts_a_span_with_the_engine() -> None:
    hook = load_config({"redact": True}, environ={}).redact
    assert hook is not None
    span = {
        "trace_id": "a" * 32,
        "span_id": "b" * 16,
        "name": "chat",
        "start_time_ns": 1,
        "input": f"mail ana@acme.io key {KEY}",
        "tool": {"name": "t", "arguments": {"email": "ana@acme.io"}},
    }
    out = hook(span)
    assert out is not None
    assert out["input"] == "mail <EMAIL_1> key <OPENAI_KEY_1>"
    assert out["tool"]["arguments"] == {"email": "<EMAIL_1>"}
    assert {r["type"] for r in out["attributes"]["watchkeeper.redactions"]} == {"EMAIL", "OPENAI_KEY"}


def test_the_sdk_does_not_import_the_engine_unless_enabled() -> None:
    code = (
        "import sys; from watchkeeper import sdk; sdk.configure(enabled=False); "
        "print(any(m.startswith('watchkeeper.privacy') for m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"
