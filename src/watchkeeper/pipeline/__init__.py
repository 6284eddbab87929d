"""The ingest pipeline: small ordered processors between the decoders and the writer.

The chain is one visible list, built by :func:`default_chain`. Each takes a :class:`Batch` and returns it: validate,
redact, enrich, price, rollup (the batch's rollup increments), pack, seal.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from ..config import Settings
from ..privacy import make_redactor
from ._batch import Batch, Context, Processor, run_chain
from .enrich import Enrich
from .pack import pack
from .pricing import BUILTIN_PRICES, Price, Pricer, PriceTable
from .redact import Redact
from .rollup import Rollup, rollup_config
from .validate import Validate

if TYPE_CHECKING:
    from ..privacy.encryption import KeyRing


def default_chain(
    settings: Settings, prices: PriceTable | None = None, keyring: KeyRing | None = None
) -> list[Processor]:
    """The processors every ingested batch goes through, in order (``seal`` when encryption at rest is on)."""
    chain: list[Processor] = [
        Validate(
            max_string_chars=settings.max_string_chars,
            max_depth=settings.max_depth,
            max_future_s=settings.max_future_s,
        ),
        Redact(make_redactor(settings.privacy, settings.privacy_hmac_key or None)),
        Enrich(),  # after Redact: detectors see redacted text only
        Pricer(prices or PriceTable.load(settings.prices_file or None)),
        Rollup(rollup_config(settings)),  # metadata and labels only; the writer adds it with the records
        pack,
    ]
    if keyring is not None:
        from .seal import Seal  # imports cryptography only when encryption is configured

        chain.append(Seal(keyring))
    return chain


__all__ = [
    "BUILTIN_PRICES",
    "Batch",
    "Context",
    "Enrich",
    "Price",
    "PriceTable",
    "Pricer",
    "Processor",
    "Redact",
    "Rollup",
    "Validate",
    "default_chain",
    "pack",
    "run_chain",
]
