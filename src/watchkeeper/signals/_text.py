"""Getting the text a detector should read out of a span, and refusing text no detector can judge."""

from __future__ import annotations

import re
from typing import Any

from ..records import Span

# Detectors read at most this much of a text: the head and the tail, where refusals and suffixes live.
MAX_CHARS = 20_000

# Control characters (Unicode category Cc is exactly U+0000–U+001F and U+007F–U+009F) other than line breaks and
# tabs, and the replacement character: what a binary payload decoded as text is full of.
_BAD = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\ufffd]")


# The last texts checked and their answers: the signals of one span check the same input and output strings in
# turn. Keyed by identity (the entry holds the string, so its id cannot be reused while it is remembered).
_CHECKED: list[tuple[str, str | None]] = [("", "empty"), ("", "empty")]


def check_text(text: str | None) -> str | None:
    """Why ``text`` cannot be judged (``"empty"``, ``"binary"``), or None when it can."""
    if text is None:
        return "empty"
    for seen, answer in tuple(_CHECKED):
        if seen is text:
            return answer
    answer = _check(text)
    _CHECKED[1], _CHECKED[0] = _CHECKED[0], (text, answer)  # each entry stays a consistent pair under threads
    return answer


def _check(text: str) -> str | None:
    if not text.strip():
        return "empty"
    sample = text[:2000]
    bad = len(_BAD.findall(sample))
    if bad > max(2, len(sample) // 10):
        return "binary"
    return None


def clip(text: str) -> str:
    """The head and the tail of a huge text (detectors stay O(1) in the text's size)."""
    if len(text) <= MAX_CHARS:
        return text
    half = MAX_CHARS // 2
    return text[:half] + "\n" + text[-half:]


def _flatten(value: Any, out: list[str], depth: int = 0) -> None:
    if depth > 8 or len(out) > 200:
        return
    if isinstance(value, str):
        out.append(value)
    elif isinstance(value, dict):
        for v in value.values():
            _flatten(v, out, depth + 1)
    elif isinstance(value, list | tuple):
        for v in value:
            _flatten(v, out, depth + 1)


def value_text(value: Any) -> str | None:
    """All strings inside a JSON-like value, joined; None when it holds none."""
    parts: list[str] = []
    _flatten(value, parts)
    return "\n".join(parts) if parts else None


def user_input(span: Span) -> str | None:
    """The last user message of an LLM span, or the generic input of another span."""
    if span.llm is not None:
        for m in reversed(span.llm.input_messages):
            if m.role in ("user", "human") and m.content:
                return m.content
        return None
    return value_text(span.input)


def system_prompt(span: Span) -> str | None:
    """The system (or developer) message of an LLM span, if any."""
    if span.llm is None:
        return None
    parts = [m.content for m in span.llm.input_messages if m.role in ("system", "developer") and m.content]
    return "\n".join(parts) if parts else None


def model_output(span: Span) -> str | None:
    """The assistant's output text of an LLM span, or the generic output of an agent or chain span."""
    if span.llm is not None:
        parts = [m.content for m in span.llm.output_messages if m.content]
        return "\n".join(parts) if parts else None
    return value_text(span.output)


def tool_result(span: Span) -> str | None:
    """What a tool, MCP server or retriever returned, as text."""
    if span.tool is not None and span.tool.result is not None:
        return value_text(span.tool.result)
    return value_text(span.output)
