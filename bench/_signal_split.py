"""The fit / test split of the shared attack and benign sets, by near-duplicate family.

Ids are first placed by a seeded hash (``sha256("watchkeeper-signals-v1:" + id)``, first 8 hex digits modulo 10:
0-3 ``dev``, 4-9 ``test``), the split the hand-written patterns were written on (dev only). Many in-the-wild
jailbreaks are copies of one template with a name or a paragraph changed, and PurpleLlama's cases share their
documents, so a test item can have a near twin in dev. Texts are grouped into families (union-find over pairs
whose 5-word shingles have Jaccard ≥ 0.5, or where one text's shingles are ≥ 80% inside the other's); a family
with any member in ``dev`` is ``fit`` (all of it may be fitted on), and ``test`` keeps only families whose every
member hashed to ``test``. So the test split is a subset of the old test split (never looked at while writing
patterns) with no near twin in anything fitted.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections import defaultdict
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT.parent / "shared" / "data"
ATTACK_FILES = ("jailbreak/inthewild.jsonl", "jailbreak/gptfuzz_templates.jsonl", "injection/direct_en.jsonl")
BENIGN_FILES = ("benign/xstest_prompts.jsonl", "benign/self_instruct_dev.jsonl", "benign/roleplay_dev.jsonl")
_WORD = re.compile(r"[^\W\d_]+")


def split_of(record_id: str) -> str:
    """``dev`` or ``test`` for a record id (fixed: a seeded hash, 40% dev)."""
    h = int(hashlib.sha256(f"watchkeeper-signals-v1:{record_id}".encode()).hexdigest()[:8], 16)
    return "dev" if h % 10 < 4 else "test"


def rows(rel: str) -> list[dict[str, Any]]:
    with open(DATA / rel, encoding="utf-8") as f:
        return [json.loads(line) for line in f if line.strip()]


def requests(name: str) -> list[str]:
    """The requests of a text file of this folder written for the project (``signal_benign_*.txt``): one a line,
    ``#`` lines are comments."""
    lines = (ROOT / "bench" / name).read_text(encoding="utf-8").splitlines()
    return [ln.strip() for ln in lines if ln.strip() and not ln.startswith("#")]


def _shingles(text: str, k: int = 5) -> set[str]:
    w = _WORD.findall(text.lower())
    return {" ".join(w[i : i + k]) for i in range(max(1, len(w) - k + 1))}


def families(texts: list[str]) -> list[int]:
    """A family number per text: near-duplicates share one (see the module docstring)."""
    sh = [_shingles(t) for t in texts]
    parent = list(range(len(texts)))

    def find(i: int) -> int:
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    inverted: dict[str, list[int]] = defaultdict(list)
    for i, s in enumerate(sh):
        for g in s:
            inverted[g].append(i)
    shared: dict[tuple[int, int], int] = defaultdict(int)
    for ids in inverted.values():
        if len(ids) > 50:  # boilerplate shared by many texts says nothing about near-duplication
            continue
        for a in range(len(ids)):
            for b in range(a + 1, len(ids)):
                shared[(ids[a], ids[b])] += 1
    for (a, b), n in shared.items():
        if n / (len(sh[a]) + len(sh[b]) - n) >= 0.5 or n / min(len(sh[a]), len(sh[b])) >= 0.8:
            parent[find(a)] = find(b)
    # Numbered by the family's first text, not by its root: the root depends on the order the unions ran in, which
    # follows set iteration (string hashing differs per process), and the training's folds are drawn by number.
    first: dict[int, int] = {}
    return [first.setdefault(find(i), i) for i in range(len(texts))]


def labelled() -> list[dict[str, Any]]:
    """Every attack and benign prompt: ``id, text, system, y`` (1 attack), ``source``, ``family``, ``split``."""
    out: list[dict[str, Any]] = []
    for rel in ATTACK_FILES:
        for r in rows(rel):
            src = r.get("variant") or Path(rel).stem
            out.append({"id": r["id"], "text": r["text"], "system": r.get("system"), "y": 1, "source": src})
    for rel in BENIGN_FILES:
        for r in rows(rel):
            if r["label"] == "benign":
                out.append({"id": r["id"], "text": r["text"], "system": None, "y": 0, "source": Path(rel).stem})
    fam = families([r["text"] for r in out])
    seen: dict[int, set[str]] = defaultdict(set)
    for r, f in zip(out, fam, strict=True):
        r["family"] = f
        seen[f].add(split_of(r["id"]))
    for r in out:
        r["split"] = "fit" if "dev" in seen[r["family"]] else "test"
    return out
