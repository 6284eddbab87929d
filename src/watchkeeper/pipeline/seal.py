"""The ``seal`` processor: encrypts each record's packed content under its data subject's key (after ``pack``)."""

from __future__ import annotations

import time

from ..content import record_aad
from ..privacy.encryption import KeyRing, scope_of
from ..records import Feedback, Span
from ._batch import Batch, Context


class Seal:
    """Seals span and feedback payloads with AES-256-GCM; metadata columns stay in clear for aggregates."""

    def __init__(self, ring: KeyRing) -> None:
        self.ring = ring

    def __call__(self, ctx: Context, batch: Batch) -> Batch:
        # A trace belongs to the subject (or session) any of its records names: child spans such as tool calls
        # seldom repeat the subject id, and erasing the subject must shred their content too.
        owner: dict[str, tuple[str | None, str | None]] = {}
        records: list[Span | Feedback] = [*batch.spans, *batch.feedback]
        for r in records:
            subj, sess = owner.get(r.trace_id, (None, None))
            owner[r.trace_id] = (subj or r.subject_id, sess or r.session_id)
        day = time.strftime("%Y-%m-%d", time.gmtime(ctx.received_ns / 1e9))
        span_scopes = [scope_of(*owner[s.trace_id], day) for s in batch.spans]
        fb_scopes = [scope_of(*owner[f.trace_id], day) for f in batch.feedback]
        wanted = [sc for sc, p in zip(span_scopes, batch.payloads, strict=True) if p] + [
            sc for sc, p in zip(fb_scopes, batch.feedback_payloads, strict=True) if p
        ]
        if not wanted:
            return batch
        keys = self.ring.keys_for(ctx.project_id, wanted)
        pid = ctx.project_id
        batch.payloads = [
            None if p is None else self.ring.seal(p, keys[sc], record_aad(pid, "span", f"{s.trace_id}:{s.span_id}"))
            for s, sc, p in zip(batch.spans, span_scopes, batch.payloads, strict=True)
        ]
        batch.feedback_payloads = [
            None if p is None else self.ring.seal(p, keys[sc], record_aad(pid, "feedback", f.id))
            for f, sc, p in zip(batch.feedback, fb_scopes, batch.feedback_payloads, strict=True)
        ]
        return batch
