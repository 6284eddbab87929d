"""The batch that flows through the processors, and the processor contract."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Protocol

from .._rollup import RollupDelta
from ..records import Feedback, Span


@dataclass(slots=True)
class Context:
    """What a processor may know about the request a batch came from."""

    project_id: int
    source: str
    received_ns: int


@dataclass(slots=True)
class Batch:
    spans: list[Span] = field(default_factory=list)
    feedback: list[Feedback] = field(default_factory=list)
    # Filled by the ``pack`` processor: the stored form of each span's content, in span order.
    payloads: list[bytes | None] = field(default_factory=list)
    # Filled by ``pack`` too: the stored form of each feedback event's free text, in feedback order.
    feedback_payloads: list[bytes | None] = field(default_factory=list)
    # Records a processor chose to drop, by reason: an explicit, counted outcome, never a swallowed exception.
    dropped: Counter[str] = field(default_factory=Counter)
    # Filled by the ``rollup`` processor: what the spans add to the rollups (the writer adds it when it stores them).
    rollups: RollupDelta | None = None

    def __len__(self) -> int:
        return len(self.spans) + len(self.feedback)


class Processor(Protocol):
    """A step of the ingest pipeline: takes a batch and returns it (or a changed one)."""

    def __call__(self, ctx: Context, batch: Batch, /) -> Batch: ...


ProcessorFn = Callable[[Context, Batch], Batch]


def run_chain(chain: Sequence[Processor], ctx: Context, batch: Batch) -> Batch:
    """Run the processors in order."""
    for p in chain:
        batch = p(ctx, batch)
    return batch
