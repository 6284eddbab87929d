"""The ``pack`` processor: the stored form of each span's content (last in the chain)."""

from __future__ import annotations

from ..content import feedback_content, pack_content, span_content
from ._batch import Batch, Context


def pack(ctx: Context, batch: Batch) -> Batch:
    batch.payloads = [pack_content(span_content(s)) for s in batch.spans]
    batch.feedback_payloads = [pack_content(feedback_content(f)) for f in batch.feedback]
    return batch
