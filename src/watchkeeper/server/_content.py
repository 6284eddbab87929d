"""The one place content leaves the server: authorise by grant, record in the access log, then read.

Every face that shows content (the trace API, the trace and span pages) calls :func:`read_trace`. Without a grant
covering the trace it gives metadata only and reads no payload; with one it first appends an access event (who,
which trace and session, which subjects, which data categories, encrypted or not, under which grant, why) and only
then opens the content — if the access log cannot record the read, the read fails (``AuditUnavailable``, 503).
"""

from __future__ import annotations

from dataclasses import dataclass

from ..records import Feedback, Span, SpanKind
from ..store import queries
from ..trust import audit, grants
from ..trust.identity import Principal
from ._runtime import Runtime

_CATEGORIES = {
    SpanKind.LLM: "prompts-and-completions",
    SpanKind.TOOL: "tool-io",
    SpanKind.MCP: "tool-io",
    SpanKind.RETRIEVAL: "retrieved-documents",
}


@dataclass(frozen=True, slots=True)
class TraceView:
    spans: list[Span]
    feedback: list[Feedback]
    content: bool
    grant_id: int | None


def read_trace(rt: Runtime, who: Principal, trace_id: str, *, channel: str, reason: str | None = None) -> TraceView:
    """The trace as ``who`` may see it: with content under a grant (audited first), else metadata only."""
    engine, project = rt.engine, who.project_id
    meta = queries.get_trace(engine, trace_id, project_id=project, content=False)  # NotFound across projects too
    tid = meta[0].trace_id
    session = next((s.session_id for s in meta if s.session_id), None)
    grant = grants.content_grant(engine, who, tid, session)
    unrestricted = who.kind in ("local", "cli")
    if grant is None and not unrestricted:
        fb = queries.trace_feedback(engine, tid, project_id=project, content=False)
        return TraceView(meta, fb, False, None)
    with_content, sealed = queries.content_profile(engine, tid, project_id=project)
    categories = {_CATEGORIES.get(s.kind, "span-io") for s in meta}
    fb_meta = queries.trace_feedback(engine, tid, project_id=project, content=False)
    if fb_meta:
        categories.add("feedback-text")
    audit.record(
        engine,
        who,
        audit.AccessEvent(
            "read_content",
            "trace",
            tid,
            session_id=session,
            subject_ids=sorted({s.subject_id for s in meta if s.subject_id}),
            record_count=with_content,
            categories=sorted(categories),
            encrypted=with_content > 0 and sealed == with_content,
            grant_id=grant.id if grant else None,
            reason=reason or (grant.reason if grant else "authentication off: local operator"),
        ),
        channel=channel,
    )
    spans = queries.get_trace(engine, tid, project_id=project, opener=rt.opener)
    fb = queries.trace_feedback(engine, tid, project_id=project, opener=rt.opener)
    return TraceView(spans, fb, True, grant.id if grant else None)


__all__ = ["TraceView", "read_trace"]
