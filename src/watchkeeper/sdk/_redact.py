"""``configure(redact=True)``: the exporter's redact hook backed by Watchkeeper's own redaction engine.

Imported only when that option is used, so the SDK keeps its few dependencies otherwise.
"""

from __future__ import annotations

import threading
from typing import Any

from watchkeeper.records import span_from_dict, span_to_dict

from ._config import RedactHook


def engine_hook() -> RedactHook:
    """A hook that redacts a span's JSON form with the default policy (PII to placeholders, secrets removed)."""
    from watchkeeper.privacy import RecordRedactor, make_redactor

    records = RecordRedactor(make_redactor())
    lock = threading.Lock()  # placeholder numbering is per trace; one exporter thread, but be safe

    def redact(d: dict[str, Any]) -> dict[str, Any] | None:
        span = span_from_dict(d, source=d.get("source") if isinstance(d.get("source"), str) else None)
        with lock:
            records.span(span)
        return span_to_dict(span)

    return redact
