"""The ``price`` processor: cost of each LLM call from a price table the user can extend.

Prices are USD per million tokens: ``input``, ``output`` and, where the provider discounts prompt-cache hits,
``cached_input``. A model name matches an entry exactly, or by the longest entry that is a prefix of it followed
by ``-`` (so ``gpt-4o-2024-08-06`` is priced as ``gpt-4o``). A cost sent by the application is kept as sent.

Extend or override with a TOML file (setting ``prices_file``)::

    [prices."my-finetune"]
    input = 3.0
    output = 12.0
    cached_input = 1.5
"""

from __future__ import annotations

import tomllib
from collections.abc import Mapping
from dataclasses import dataclass

from ._batch import Batch, Context


@dataclass(frozen=True, slots=True)
class Price:
    input: float
    output: float
    cached_input: float | None = None


# Public list prices, USD per 1M tokens. Users override with their negotiated rates.
BUILTIN_PRICES: dict[str, Price] = {
    "gpt-4o": Price(2.50, 10.00, 1.25),
    "gpt-4o-mini": Price(0.15, 0.60, 0.075),
    "gpt-4.1": Price(2.00, 8.00, 0.50),
    "gpt-4.1-mini": Price(0.40, 1.60, 0.10),
    "gpt-4.1-nano": Price(0.10, 0.40, 0.025),
    "gpt-5": Price(1.25, 10.00, 0.125),
    "gpt-5-mini": Price(0.25, 2.00, 0.025),
    "gpt-5-nano": Price(0.05, 0.40, 0.005),
    "o3": Price(2.00, 8.00, 0.50),
    "o4-mini": Price(1.10, 4.40, 0.275),
    "text-embedding-3-small": Price(0.02, 0.0),
    "text-embedding-3-large": Price(0.13, 0.0),
    "claude-opus-4": Price(15.00, 75.00, 1.50),
    "claude-sonnet-4": Price(3.00, 15.00, 0.30),
    "claude-3-7-sonnet": Price(3.00, 15.00, 0.30),
    "claude-3-5-haiku": Price(0.80, 4.00, 0.08),
    "claude-haiku-4": Price(1.00, 5.00, 0.10),
    "gemini-2.5-pro": Price(1.25, 10.00, 0.31),
    "gemini-2.5-flash": Price(0.30, 2.50, 0.075),
    "gemini-2.0-flash": Price(0.10, 0.40, 0.025),
    "mistral-large": Price(2.00, 6.00),
    "mistral-small": Price(0.10, 0.30),
}


class PriceTable:
    def __init__(self, prices: Mapping[str, Price]) -> None:
        self._prices = dict(prices)
        self._cache: dict[str, Price | None] = {}

    @classmethod
    def load(cls, path: str | None = None) -> PriceTable:
        """The built-in prices, with the entries of a TOML prices file merged over them."""
        prices = dict(BUILTIN_PRICES)
        if path:
            from ..errors import ConfigError

            try:
                with open(path, "rb") as f:
                    doc = tomllib.load(f)
            except (OSError, tomllib.TOMLDecodeError) as e:
                raise ConfigError(f"prices file {path} could not be read: {e}") from None
            for model, entry in doc.get("prices", {}).items():
                try:
                    prices[model] = Price(
                        input=float(entry["input"]),
                        output=float(entry["output"]),
                        cached_input=float(entry["cached_input"]) if "cached_input" in entry else None,
                    )
                except (KeyError, TypeError, ValueError):
                    raise ConfigError(
                        f"prices file {path}: [prices.{model!r}] needs numbers 'input' and 'output' "
                        "(USD per million tokens) and optionally 'cached_input'"
                    ) from None
        return cls(prices)

    def lookup(self, model: str) -> Price | None:
        if model in self._cache:
            return self._cache[model]
        found = self._prices.get(model)
        if found is None:
            name = model.rsplit("/", 1)[-1]  # "openai/gpt-4o" → "gpt-4o"
            best = ""
            for key in self._prices:
                if (name == key or name.startswith(key + "-")) and len(key) > len(best):
                    best = key
            found = self._prices.get(best) if best else None
        if len(self._cache) < 10_000:
            self._cache[model] = found
        return found

    def cost(self, model: str, input_tokens: int, output_tokens: int, cached_input_tokens: int = 0) -> float | None:
        """USD cost of one call, or None when the model has no price."""
        p = self.lookup(model)
        if p is None:
            return None
        cached = min(cached_input_tokens, input_tokens)
        cached_rate = p.input if p.cached_input is None else p.cached_input
        return ((input_tokens - cached) * p.input + cached * cached_rate + output_tokens * p.output) / 1_000_000


class Pricer:
    """Fills ``llm.cost_usd`` where the application did not send one."""

    def __init__(self, table: PriceTable) -> None:
        self.table = table

    def __call__(self, ctx: Context, batch: Batch) -> Batch:
        for s in batch.spans:
            c = s.llm
            if c is None or c.cost_usd is not None:
                continue
            model = c.response_model or c.request_model
            u = c.usage
            if model is None or (u.input_tokens is None and u.output_tokens is None):
                continue
            c.cost_usd = self.table.cost(model, u.input_tokens or 0, u.output_tokens or 0, u.cached_input_tokens or 0)
        return batch
