"""A small linear text model: logistic regression over a text's words and word pairs, weights shipped as data.

The weights are fitted offline by ``bench/train_signals.py`` on the fit split of the shared public sets (never on
the test split) and stored in ``signals/data/*.json`` with the bias, the decision threshold chosen on the fit split,
and how they were made. Scoring is one dictionary look-up per distinct word and word pair of the text's head and
tail: in C where the optional extension is built (``_wordscan.c``, ASCII text), else in pure Python; no numpy.
"""

from __future__ import annotations

import json
import math
import re
from dataclasses import dataclass, field
from functools import lru_cache
from importlib import resources
from itertools import pairwise
from typing import Any

try:  # the compiled scorer (setup.py); without it the same features are scored in Python
    from . import _wordscan
except ImportError:  # pragma: no cover - an install without a C compiler
    _wordscan = None  # type: ignore[assignment]

_WORD = re.compile(r"[^\W\d_]+")
_ASCII_WORD = re.compile(r"[a-z]+")  # the same words on lowercased ASCII text, several times faster
# Long texts are read at their head and tail, where the set-up and the request of an attack live.
HEAD, TAIL = 1000, 500


def _lowered(text: str) -> str:
    """What the features are read from: the lowercased text, or its head and tail when long."""
    return text.lower() if len(text) <= HEAD + TAIL else f"{text[:HEAD]} {text[-TAIL:]}".lower()


def features(text: str) -> set[str]:
    """The distinct lowercased words and adjacent word pairs of ``text`` (head and tail of long texts)."""
    return _features(_lowered(text))


def _features(low: str) -> set[str]:
    """``features`` of text already lowered (and cut to its head and tail) by ``_lowered``."""
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
    compiled: Any = field(default=None, compare=False, repr=False)  # _wordscan.WordModel of the weights, if built

    def probability(self, feats: set[str]) -> float:
        """The model's probability for a feature set (0.5 at the bias alone)."""
        weights = self.weights
        known = weights.keys() & feats  # one set operation in C; most features of a text carry no weight
        return self._sigmoid(sum(map(weights.__getitem__, known)), len(feats))

    def probability_of_text(self, text: str) -> float:
        """``probability(features(text))``; in C where the extension is built and the lowercased text is ASCII."""
        low = _lowered(text)
        if self.compiled is not None:
            got = self.compiled.score(low)
            if got is not None:
                return self._sigmoid(*got)
        return self.probability(_features(low))

    def _sigmoid(self, total: float, n: int) -> float:
        """The probability for ``n`` distinct features whose weights sum to ``total``."""
        if n == 0:
            return 1.0 / (1.0 + math.exp(-self.bias))
        z = self.bias + total / math.sqrt(max(n, self.min_norm))
        return 1.0 / (1.0 + math.exp(-max(-30.0, min(30.0, z))))


@lru_cache(maxsize=8)
def load(name: str) -> LinearModel | None:
    """The model shipped as ``signals/data/<name>.json``, or None when the file is missing."""
    try:
        raw = resources.files("watchkeeper.signals").joinpath(f"data/{name}.json").read_text(encoding="utf-8")
    except (FileNotFoundError, OSError):
        return None
    doc = json.loads(raw)
    weights = {str(k): float(v) for k, v in doc["weights"].items()}
    return LinearModel(
        name=name,
        weights=weights,
        bias=float(doc["bias"]),
        threshold=float(doc["threshold"]),
        meta=dict(doc.get("meta", {})),
        min_norm=int(doc.get("min_norm", 1)),
        compiled=_wordscan.WordModel(weights) if _wordscan is not None else None,
    )
