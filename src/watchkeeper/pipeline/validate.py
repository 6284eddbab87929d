"""The ``validate`` processor: limits every source must respect, whatever its wire format.

Decoders check their wire format; this step checks what is the same for all of them: timestamps not far in the
future, no over-long string, no over-deep nesting in arguments, results and attributes. A violation rejects the
whole request (the caller stores nothing of it) with an error naming the record and field, never the value.
"""

from __future__ import annotations

from typing import Any

from ..records import MAX_ID_CHARS, MAX_NAME_CHARS, RecordError, Span
from ._batch import Batch, Context


class Validate:
    def __init__(self, *, max_string_chars: int, max_depth: int, max_future_s: int) -> None:
        self.max_string_chars = max_string_chars
        self.max_depth = max_depth
        self.max_future_ns = max_future_s * 1_000_000_000

    def __call__(self, ctx: Context, batch: Batch) -> Batch:
        limit = ctx.received_ns + self.max_future_ns
        for i, s in enumerate(batch.spans):
            try:
                self._span(s, limit)
            except RecordError as e:
                raise RecordError(f"spans[{i}].{e.field}", e.rule) from None
        for i, f in enumerate(batch.feedback):
            try:
                for path, value in (("id", f.id), ("session_id", f.session_id), ("subject_id", f.subject_id)):
                    if value is not None and (len(value) > MAX_ID_CHARS or "\x00" in value):
                        raise RecordError(path, f"must be at most {MAX_ID_CHARS} characters, without NUL")
                if f.time_ns > limit:
                    raise RecordError("time_ns", "lies too far in the future (check the sender's clock)")
                self._value(f.value, "value", 0)
                self._value(f.comment, "comment", 0)
            except RecordError as e:
                raise RecordError(f"feedback[{i}].{e.field}", e.rule) from None
        return batch

    def _span(self, s: Span, limit: int) -> None:
        if s.start_time_ns > limit or s.end_time_ns > limit:
            raise RecordError("start_time_ns", "lies too far in the future (check the sender's clock)")
        self._metadata(s)
        v = self._value
        max_len = self.max_string_chars
        if s.llm is not None:
            for name, msgs in (
                ("llm.input_messages", s.llm.input_messages),
                ("llm.output_messages", s.llm.output_messages),
            ):
                for j, m in enumerate(msgs):
                    if m.content is not None and len(m.content) > max_len:
                        raise RecordError(f"{name}[{j}].content", f"is longer than {max_len} characters")
                    for k, t in enumerate(m.tool_calls):
                        if t.arguments is not None:
                            v(t.arguments, f"{name}[{j}].tool_calls[{k}].arguments", 0)
            if s.llm.parameters:
                v(s.llm.parameters, "llm.parameters", 0)
        if s.tool is not None:
            if s.tool.arguments is not None:
                v(s.tool.arguments, "tool.arguments", 0)
            if s.tool.result is not None:
                v(s.tool.result, "tool.result", 0)
        if s.input is not None:
            v(s.input, "input", 0)
        if s.output is not None:
            v(s.output, "output", 0)
        if s.error is not None and s.error.message is not None:
            v(s.error.message, "error.message", 0)
        if s.attributes:
            v(s.attributes, "attributes", 0)

    @staticmethod
    def _metadata(s: Span) -> None:
        """Metadata strings are stored in clear, indexed columns: bounded length and no NUL (PostgreSQL refuses it)."""
        if len(s.name) > MAX_NAME_CHARS or "\x00" in s.name:
            raise RecordError("name", f"must be at most {MAX_NAME_CHARS} characters, without NUL")
        a, v, llm, tool, err = s.account, s.versions, s.llm, s.tool, s.error
        fields: list[tuple[str, str | None]] = [
            ("session_id", s.session_id),
            ("subject_id", s.subject_id),
            ("service_name", s.service_name),
            ("account.plan_tier", a.plan_tier),
            ("account.region", a.region),
            ("account.client_name", a.client_name),
            ("account.client_version", a.client_version),
            ("account.locale", a.locale),
            ("versions.model", v.model),
            ("versions.prompt", v.prompt),
            ("versions.skill", v.skill),
        ]
        if llm is not None:
            fields += [
                ("llm.provider", llm.provider),
                ("llm.request_model", llm.request_model),
                ("llm.response_model", llm.response_model),
            ]
            if llm.finish_reasons:
                fields.append(("llm.finish_reasons[0]", llm.finish_reasons[0]))
        if tool is not None:
            fields += [
                ("tool.name", tool.name),
                ("tool.mcp_server", tool.mcp_server),
                ("tool.jsonrpc_method", tool.jsonrpc_method),
            ]
        if err is not None:
            fields += [("error.type", err.type), ("error.code", err.code)]
        for path, value in fields:
            if value is not None and (len(value) > MAX_ID_CHARS or "\x00" in value):
                raise RecordError(path, f"must be at most {MAX_ID_CHARS} characters, without NUL")

    def _value(self, x: Any, path: str, depth: int) -> None:
        """Check one JSON value; scalars and short strings inside containers are checked inline (the hot path)."""
        max_len = self.max_string_chars
        if isinstance(x, str):
            if len(x) > max_len:
                raise RecordError(path, f"is longer than {max_len} characters")
            return
        if x is None or isinstance(x, bool | int | float):
            return
        if depth >= self.max_depth:
            raise RecordError(path, f"is nested deeper than {self.max_depth} levels")
        if isinstance(x, dict):
            for k, item in x.items():
                if isinstance(k, str) and len(k) > max_len:
                    raise RecordError(path, "has an over-long key")
                if isinstance(item, str):
                    if len(item) > max_len:
                        raise RecordError(f"{path}.{k}", f"is longer than {max_len} characters")
                elif item is not None and not isinstance(item, bool | int | float):
                    self._value(item, f"{path}.{k}", depth + 1)
        elif isinstance(x, list | tuple):
            for j, item in enumerate(x):
                if isinstance(item, str):
                    if len(item) > max_len:
                        raise RecordError(f"{path}[{j}]", f"is longer than {max_len} characters")
                elif item is not None and not isinstance(item, bool | int | float):
                    self._value(item, f"{path}[{j}]", depth + 1)
        else:
            raise RecordError(path, "must be JSON (string, number, boolean, null, array or object)")
