"""A small linear text model: logistic regression over a text's words and word pairs, weights shipped as data.

The weights are fitted offline by ``bench/train_signals.py`` on the fit split of the shared public sets (never on
the test split) and stored in ``signals/data/*.json`` with the bias, the decision threshold chosen on the fit split,
and how they were made. Scoring is one dictionary look-up per distinct word and word pair of the text's head and
tail, in pure Python: no numpy, nothing to install.
"""

from __future__ import annotations

import json
import math
import re
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources
from itertools import pairwise
from typing import Any

_WORD = re.compile(r"[^\W\d_]+")
_ASCII_WORD = re.compile(r"[a-z]+")  # the same words on lowercased ASCII text, several times faster
# Long texts are read at their head and tail, where the set-up and the request of an attack live.
HEAD, TAIL = 1000, 500


def features(text: str) -> set[str]:
    """The distinct lowercased words and adjacent word pairs of ``text`` (head and tail of long texts)."""
    low = text.lower() if len(text) <= HEAD + TAIL else f"{text[:HEAD]} {text[-TAIL:]}".lower()
    words = (_ASCII_WORD if low.isascii() else _WORD).findall(low)
    out = set(words)
    out.update(map(" ".join, pairwise(words)))
    return out


@dataclass(frozen=True)
class LinearModel:
    """``P(positive) = σ(bias + Σ weights[f] / √max(n, min_norm))`` over the ``n`` distinct features of a text.

    ``min_norm`` keeps a short text's few words from counting as much as a long text's many: "Imagine you are a
    pirate" is not a persona jailbreak because "you are" carries weight in long ones.
    """

    name: str
    weights: dict[str, float]
    bias: float
    threshold: float
    meta: dict[str, Any]
    min_norm: int = 1

    def probability(self, feats: set[str]) -> float:
        """The model's probability for a feature set (0.5 at the bias alone)."""
        if not feats:
            return 1.0 / (1.0 + math.exp(-self.bias))
        weights = self.weights
        known = weights.keys() & feats  # one set operation in C; most features of a text carry no weight
        z = self.bias + sum(map(weights.__getitem__, known)) / math.sqrt(max(len(feats), self.min_norm))
        return 1.0 / (1.0 + math.exp(-max(-30.0, min(30.0, z))))


@lru_cache(maxsize=8)
def load(name: str) -> LinearModel | None:
    """The model shipped as ``signals/data/<name>.json``, or None when the file is missing."""
    try:
        raw = resources.files("watchkeeper.signals").joinpath(f"data/{name}.json").read_text(encoding="utf-8")
    except (FileNotFoundError, OSError):
        return None
    doc = json.loads(raw)
    return LinearModel(
        name=name,
        weights={str(k): float(v) for k, v in doc["weights"].items()},
        bias=float(doc["bias"]),
        threshold=float(doc["threshold"]),
        meta=dict(doc.get("meta", {})),
        min_norm=int(doc.get("min_norm", 1)),
    )
