"""``watchkeeper redact``: JSONL in (``{"id", "text"}``), JSONL out (``{"id", "text", "spans"}``), so the engine can
be measured on any labelled corpus. Offsets are into the input text, in Python str code points.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterable
from typing import IO, Any

from ._engine import RecogniserFailed, clean_text
from ._redactor import Redactor, Summary, TraceState


def redact_record(redactor: Redactor, text: str) -> tuple[str | None, list[dict[str, Any]]]:
    """The redacted text (None: dropped by the policy) and the spans acted on, for one text."""
    text = clean_text(text)
    findings = redactor.engine.scan(text)
    policy = redactor.policy
    acted = [f for f in findings if policy.action_for(f.type, "text") != "keep"]
    summary: Summary = Counter()
    out = redactor.redact_text(text, "text", TraceState(), summary, acted)
    return out, [{"start": f.start, "end": f.end, "type": f.type} for f in acted]


def redact_jsonl(lines: Iterable[bytes], out: IO[str], redactor: Redactor) -> tuple[int, int]:
    """Redact each JSONL line; a line that cannot be redacted gets ``{"id", "error"}``. Returns (done, rejected)."""
    done = rejected = 0
    for lineno, raw in enumerate(lines, 1):
        if not raw.strip():
            continue
        rid: Any = None
        try:
            rec = json.loads(raw)
            if not isinstance(rec, dict):
                raise ValueError("each line must be a JSON object")
            rid = rec.get("id")
            text = rec.get("text")
            if not isinstance(text, str):
                raise ValueError("field 'text' must be a string")
            red, spans = redact_record(redactor, text)
            line = {"id": rid, "text": red, "spans": spans}
            done += 1
        except (ValueError, RecursionError) as e:
            # json's messages quote positions, not content; ours name the field only.
            msg = str(e) if not isinstance(e, json.JSONDecodeError) else f"not valid JSON ({e.msg})"
            line = {"id": rid if isinstance(rid, str | int) else None, "error": f"line {lineno}: {msg}"}
            rejected += 1
        except RecogniserFailed as e:
            line = {"id": rid if isinstance(rid, str | int) else None, "error": f"line {lineno}: {e}"}
            rejected += 1
        out.write(json.dumps(line, ensure_ascii=False) + "\n")
    return done, rejected
