"""Redacting whole records: every text field of a span (messages, tool calls, arguments, results, generic
input/output, error message, attributes, name) and the free text of feedback, under one trace's numbering.
"""

from __future__ import annotations

from collections import Counter
from typing import Any

from ..records import Feedback, Message, Span
from ._redactor import Redactor, Summary, TraceState, TraceStates, summary_rows

SUMMARY_ATTRIBUTE = "watchkeeper.redactions"


class RecordRedactor:
    """Redacts spans and feedback in place and records on each span what was redacted."""

    def __init__(self, redactor: Redactor | None = None, *, max_traces: int = 4096) -> None:
        self.redactor = redactor if redactor is not None else Redactor()
        self.states = TraceStates(max_traces)

    def span(self, s: Span) -> Summary:
        """Redact a span in place; the summary is also stored in ``attributes["watchkeeper.redactions"]``."""
        r = self.redactor
        st = self.states.get(s.trace_id)
        summary: Summary = Counter()
        prior = s.attributes.pop(SUMMARY_ATTRIBUTE, None)  # a client's own summary is scanned like any attribute
        name = r.redact_text(s.name, "name", st, summary)
        s.name = name if name is not None else "<redacted>"
        if s.llm is not None:
            self._messages(s.llm.input_messages, "llm.input_messages", st, summary)
            self._messages(s.llm.output_messages, "llm.output_messages", st, summary)
            if s.llm.parameters:
                s.llm.parameters = r.redact_value(s.llm.parameters, "llm.parameters", st, summary) or {}
        if s.tool is not None:
            if s.tool.arguments is not None:
                s.tool.arguments = r.redact_value(s.tool.arguments, "tool.arguments", st, summary)
            if s.tool.result is not None:
                s.tool.result = r.redact_value(s.tool.result, "tool.result", st, summary)
        if s.input is not None:
            s.input = r.redact_value(s.input, "input", st, summary)
        if s.output is not None:
            s.output = r.redact_value(s.output, "output", st, summary)
        if s.error is not None and s.error.message is not None:
            s.error.message = r.redact_value(s.error.message, "error.message", st, summary)
        if s.attributes:
            s.attributes = r.redact_value(s.attributes, "attributes", st, summary) or {}
        rows: list[Any] = []
        if isinstance(prior, list):
            cleaned = r.redact_value(prior, "attributes." + SUMMARY_ATTRIBUTE, st, Counter())
            rows = [x for x in cleaned or [] if isinstance(x, dict)]
        rows += summary_rows(summary)
        if rows:
            s.attributes[SUMMARY_ATTRIBUTE] = rows
        return summary

    def _messages(self, msgs: list[Message], path: str, st: TraceState, summary: Summary) -> None:
        r = self.redactor
        for i, m in enumerate(msgs):
            p = f"{path}[{i}]"
            if m.content is not None:
                m.content = r.redact_value(m.content, f"{p}.content", st, summary)
            if m.name is not None:
                m.name = r.redact_value(m.name, f"{p}.name", st, summary)
            for j, t in enumerate(m.tool_calls):
                if t.arguments is not None:
                    t.arguments = r.redact_value(t.arguments, f"{p}.tool_calls[{j}].arguments", st, summary)

    def feedback(self, f: Feedback) -> Summary:
        """Redact a feedback event's free text (comment, text value) in place."""
        r = self.redactor
        st = self.states.get(f.trace_id)
        summary: Summary = Counter()
        if f.comment is not None:
            f.comment = r.redact_value(f.comment, "comment", st, summary)
        if isinstance(f.value, str | dict | list):
            f.value = r.redact_value(f.value, "value", st, summary)
        return summary
