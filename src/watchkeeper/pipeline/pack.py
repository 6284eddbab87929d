"""The ``pack`` processor: the stored form of each span's content (last in the chain)."""

from __future__ import annotations

from ..content import pack_content, span_content
from ._batch import Batch, Context


def pack(ctx: Context, batch: Batch) -> Batch:
    batch.payloads = [pack_content(span_content(s)) for s in batch.spans]
    return batch
