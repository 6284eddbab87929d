"""The ingest pipeline: small ordered processors between the decoders and the writer.

The chain is one visible list, built by :func:`default_chain`. Later processors (redact, enrich, seal) slot in here
without reshaping anything: each takes a :class:`Batch` and returns it.
"""

from __future__ import annotations

from ..config import Settings
from ._batch import Batch, Context, Processor, run_chain
from .pack import pack
from .pricing import BUILTIN_PRICES, Price, Pricer, PriceTable
from .validate import Validate


def default_chain(settings: Settings, prices: PriceTable | None = None) -> list[Processor]:
    """The processors every ingested batch goes through, in order."""
    return [
        Validate(
            max_string_chars=settings.max_string_chars,
            max_depth=settings.max_depth,
            max_future_s=settings.max_future_s,
        ),
        Pricer(prices or PriceTable.load(settings.prices_file or None)),
        pack,
    ]


__all__ = [
    "BUILTIN_PRICES",
    "Batch",
    "Context",
    "Price",
    "PriceTable",
    "Pricer",
    "Processor",
    "Validate",
    "default_chain",
    "pack",
    "run_chain",
]
