"""Signals on plain JSON lines: what ``watchkeeper classify`` runs, so any labelled set can be measured."""

from __future__ import annotations

import json
from collections.abc import Iterable
from typing import IO, Any

from . import attacks, language, refusal
from ._model import Label


def classify_doc(doc: Any) -> dict[str, Any]:
    """Labels for one ``{"id", "text"}`` (an input) or ``{"id", "prompt", "completion"}`` (an output) object."""
    if not isinstance(doc, dict):
        return {"error": "each line must be a JSON object"}
    out: dict[str, Any] = {"id": doc.get("id")}
    text = doc.get("text", doc.get("prompt"))
    system = doc.get("system") if isinstance(doc.get("system"), str) else None
    labels: dict[str, Label] = {}
    if "text" in doc or "prompt" in doc:
        t = text if isinstance(text, str) else None
        jb, inj = attacks.classify_attack(t, system=system)
        labels.update(language=language.classify_language(t), script=language.classify_script(t))
        labels.update(jailbreak=jb, prompt_injection=inj)
    if "completion" in doc:
        c = doc["completion"] if isinstance(doc["completion"], str) else None
        labels["refusal"] = refusal.classify_refusal(c)
        labels["output_language"] = language.classify_language(c)
    if "tool_result" in doc:
        r = doc["tool_result"]
        labels["indirect_injection"] = attacks.classify_indirect(r if isinstance(r, str) else json.dumps(r))
    if not labels:
        return {"id": doc.get("id"), "error": "needs 'text', or 'prompt' and 'completion', or 'tool_result'"}
    for name, lab in labels.items():
        out[name] = lab.as_dict()
    return out


def classify_jsonl(lines: Iterable[bytes], out: IO[str]) -> tuple[int, int]:
    """Classify JSONL from ``lines`` into ``out``; returns (lines written, lines rejected)."""
    done = rejected = 0
    for raw in lines:
        if not raw.strip():
            continue
        try:
            doc = json.loads(raw)
        except (json.JSONDecodeError, UnicodeDecodeError):
            out.write(json.dumps({"id": None, "error": "not valid JSON"}) + "\n")
            rejected += 1
            continue
        res = classify_doc(doc)
        rejected += "error" in res
        done += 1
        out.write(json.dumps(res, ensure_ascii=False) + "\n")
    return done, rejected
