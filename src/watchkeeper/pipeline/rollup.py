"""The ``rollup`` processor: what a batch's spans add to the rollups, for the writer to add in the same transaction.

It runs after ``enrich`` (the signal labels are slice values and numerators) and ``price``, and before ``pack`` and
``seal``: it reads metadata and labels only, never content. Each span is counted in a 1-minute and a 1-hour bucket
of its own start time (event time), in the whole traffic, in one value of every dimension and in one value pair of
every configured pair. Spans are summed per minute and slice values here, off the writer's thread; feedback is
counted by the writer, which can see the turn a feedback event is about. See docs/explorer.md.
"""

from __future__ import annotations

from .._rollup import RollupConfig, RollupDelta, facts_of_span, parse_pairs
from ..config import Settings
from ._batch import Batch, Context


def rollup_config(settings: Settings) -> RollupConfig:
    """The rollup configuration the settings describe (``rollup_pairs``, ``rollup_max_values``)."""
    return RollupConfig(pairs=parse_pairs(settings.rollup_pairs), max_values=settings.rollup_max_values)


class Rollup:
    """Processor: sets ``batch.rollups`` to the batch's increments."""

    def __init__(self, config: RollupConfig | None = None) -> None:
        self.config = config if config is not None else RollupConfig()

    def __call__(self, ctx: Context, batch: Batch) -> Batch:
        facts = [facts_of_span(s, ctx.project_id) for s in batch.spans]
        batch.rollups = RollupDelta.of(facts, self.config)
        return batch
