"""The native JSON batch format of ``POST /api/v1/ingest`` and of ``watchkeeper replay``/``export``.

A body is ``{"spans": [<span>...], "feedback": [<feedback>...]}`` where each item is the JSON form of a canonical
record (``records.span_to_dict`` / ``records.feedback_to_dict``). Older ``schema_version`` values are upcast.
"""

from __future__ import annotations

from typing import Any

import orjson

from ..errors import InputError
from ..records import Feedback, RecordError, Span, feedback_from_dict, span_from_dict


def parse_json(body: bytes) -> Any:
    """Parse a JSON body, with a precise error for bad UTF-8 or syntax (the body itself is never quoted)."""
    try:
        return orjson.loads(body)
    except orjson.JSONDecodeError as e:
        # orjson's message names the position and the problem, not the content
        msg = str(e).split(":", 1)[0] if "utf-8" in str(e).lower() else str(e)
        raise InputError(f"body is not valid JSON: {msg}", field="body") from None


def decode_json_batch(body: bytes, *, source: str = "api") -> tuple[list[Span], list[Feedback]]:
    """Spans and feedback events of a JSON batch; raise InputError naming the first bad item and field."""
    doc = parse_json(body)
    return decode_batch_doc(doc, source=source)


def decode_batch_doc(doc: Any, *, source: str = "api") -> tuple[list[Span], list[Feedback]]:
    if not isinstance(doc, dict):
        raise InputError('body must be a JSON object {"spans": [...], "feedback": [...]}', field="body")
    unknown = set(doc) - {"spans", "feedback"}
    if unknown:
        raise InputError(f"unknown top-level field {sorted(unknown)[0]!r}; expected spans and feedback", field="body")
    raw_spans = doc.get("spans", [])
    raw_feedback = doc.get("feedback", [])
    if not isinstance(raw_spans, list):
        raise InputError("spans must be an array", field="spans")
    if not isinstance(raw_feedback, list):
        raise InputError("feedback must be an array", field="feedback")
    spans: list[Span] = []
    for i, item in enumerate(raw_spans):
        try:
            spans.append(span_from_dict(item, source=source))
        except RecordError as e:
            raise InputError(f"spans[{i}].{e.field}: {e.rule}", field=f"spans[{i}].{e.field}") from None
    feedback: list[Feedback] = []
    for i, item in enumerate(raw_feedback):
        try:
            feedback.append(feedback_from_dict(item, source=source))
        except RecordError as e:
            raise InputError(f"feedback[{i}].{e.field}: {e.rule}", field=f"feedback[{i}].{e.field}") from None
    return spans, feedback
