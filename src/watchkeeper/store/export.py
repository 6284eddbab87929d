"""Export stored records: JSONL of canonical records (loadable by ``watchkeeper replay``) or a Parquet table."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import IO, Any

import orjson
from sqlalchemy import Engine, select

from ..content import ContentOpener
from ..records import Span, feedback_to_dict, span_to_dict
from ._codec import feedback_from_row, span_from_row
from .tables import feedback, spans

_CHUNK = 5000


def iter_spans(
    engine: Engine,
    *,
    start_ns: int | None = None,
    end_ns: int | None = None,
    with_content: bool = True,
    project_id: int = 1,
    opener: ContentOpener | None = None,
) -> Iterator[Span]:
    """Stored spans in (start time, id) order, read in chunks so memory stays flat."""
    cols = list(spans.c) if with_content else [c for c in spans.c if c.name != "payload"]
    last: tuple[int, int] | None = None
    while True:
        q = select(*cols).where(spans.c.project_id == project_id)
        if start_ns is not None:
            q = q.where(spans.c.start_ns >= start_ns)
        if end_ns is not None:
            q = q.where(spans.c.start_ns < end_ns)
        if last is not None:
            q = q.where((spans.c.start_ns > last[0]) | ((spans.c.start_ns == last[0]) & (spans.c.id > last[1])))
        q = q.order_by(spans.c.start_ns, spans.c.id).limit(_CHUNK)
        with engine.connect() as conn:
            rows = conn.execute(q).fetchall()
        if not rows:
            return
        for r in rows:
            yield span_from_row(r, with_payload=with_content, opener=opener)
        last = (rows[-1].start_ns, rows[-1].id)


def export_jsonl(
    engine: Engine,
    out: IO[str],
    *,
    start_ns: int | None = None,
    end_ns: int | None = None,
    with_content: bool = True,
    project_id: int = 1,
    opener: ContentOpener | None = None,
) -> int:
    """Write spans then feedback events as JSONL; returns the number of records written."""
    n = 0
    spans_ = iter_spans(
        engine, start_ns=start_ns, end_ns=end_ns, with_content=with_content, project_id=project_id, opener=opener
    )
    for s in spans_:
        out.write(orjson.dumps(span_to_dict(s)).decode())
        out.write("\n")
        n += 1
    q = select(feedback).where(feedback.c.project_id == project_id).order_by(feedback.c.time_ns, feedback.c.id)
    if start_ns is not None:
        q = q.where(feedback.c.time_ns >= start_ns)
    if end_ns is not None:
        q = q.where(feedback.c.time_ns < end_ns)
    with engine.connect() as conn:
        for r in conn.execute(q):
            fb = feedback_from_row(r, opener) if with_content else feedback_from_row({**r._mapping, "payload": None})
            out.write(orjson.dumps(feedback_to_dict(fb)).decode())
            out.write("\n")
            n += 1
    return n


_PARQUET_COLUMNS = [
    "trace_id",
    "span_id",
    "parent_span_id",
    "name",
    "kind",
    "status",
    "start_time_ns",
    "end_time_ns",
    "duration_ms",
    "error_type",
    "error_code",
    "provider",
    "request_model",
    "response_model",
    "input_tokens",
    "output_tokens",
    "cached_input_tokens",
    "cost_usd",
    "tool_name",
    "mcp_server",
    "jsonrpc_method",
    "tool_is_error",
    "jsonrpc_error_code",
    "session_id",
    "subject_id",
    "plan_tier",
    "region",
    "client_name",
    "client_version",
    "locale",
    "model_version",
    "prompt_version",
    "skill_version",
    "service_name",
    "attributes_json",
    "content_json",
]


def _flat(s: Span, with_content: bool) -> dict[str, Any]:
    llm, tool, err = s.llm, s.tool, s.error
    content = None
    if with_content:
        d = span_to_dict(s)
        content = orjson.dumps({k: d[k] for k in ("llm", "tool", "input", "output", "error") if k in d}).decode()
    return {
        "trace_id": s.trace_id,
        "span_id": s.span_id,
        "parent_span_id": s.parent_span_id,
        "name": s.name,
        "kind": s.kind.value,
        "status": s.status.value,
        "start_time_ns": s.start_time_ns,
        "end_time_ns": s.end_time_ns,
        "duration_ms": s.duration_ms,
        "error_type": err.type if err else None,
        "error_code": err.code if err else None,
        "provider": llm.provider if llm else None,
        "request_model": llm.request_model if llm else None,
        "response_model": llm.response_model if llm else None,
        "input_tokens": llm.usage.input_tokens if llm else None,
        "output_tokens": llm.usage.output_tokens if llm else None,
        "cached_input_tokens": llm.usage.cached_input_tokens if llm else None,
        "cost_usd": llm.cost_usd if llm else None,
        "tool_name": tool.name if tool else None,
        "mcp_server": tool.mcp_server if tool else None,
        "jsonrpc_method": tool.jsonrpc_method if tool else None,
        "tool_is_error": tool.is_error if tool else None,
        "jsonrpc_error_code": tool.jsonrpc_error_code if tool else None,
        "session_id": s.session_id,
        "subject_id": s.subject_id,
        "plan_tier": s.account.plan_tier,
        "region": s.account.region,
        "client_name": s.account.client_name,
        "client_version": s.account.client_version,
        "locale": s.account.locale,
        "model_version": s.versions.model,
        "prompt_version": s.versions.prompt,
        "skill_version": s.versions.skill,
        "service_name": s.service_name,
        "attributes_json": orjson.dumps(s.attributes).decode() if s.attributes else None,
        "content_json": content,
    }


def export_parquet(
    engine: Engine,
    path: Path,
    *,
    start_ns: int | None = None,
    end_ns: int | None = None,
    with_content: bool = True,
    project_id: int = 1,
    row_group: int = 50_000,
    opener: ContentOpener | None = None,
) -> int:
    """Write spans as one flat Parquet table (needs pyarrow); returns the number of spans written."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    schema = pa.schema(
        [
            (
                c,
                pa.int64()
                if c
                in (
                    "start_time_ns",
                    "end_time_ns",
                    "input_tokens",
                    "output_tokens",
                    "cached_input_tokens",
                    "jsonrpc_error_code",
                )
                else pa.float64()
                if c in ("duration_ms", "cost_usd")
                else pa.bool_()
                if c == "tool_is_error"
                else pa.string(),
            )
            for c in _PARQUET_COLUMNS
        ]
    )
    n = 0
    buf: list[dict[str, Any]] = []
    with pq.ParquetWriter(str(path), schema, compression="zstd") as w:
        spans_ = iter_spans(
            engine, start_ns=start_ns, end_ns=end_ns, with_content=with_content, project_id=project_id, opener=opener
        )
        for s in spans_:
            buf.append(_flat(s, with_content))
            if len(buf) >= row_group:
                w.write_table(pa.Table.from_pylist(buf, schema=schema))
                n += len(buf)
                buf = []
        if buf or n == 0:
            w.write_table(pa.Table.from_pylist(buf, schema=schema))
            n += len(buf)
    return n
