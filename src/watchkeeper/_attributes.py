"""The stored form of a span's attributes: JSON text, with the signal labels written as arrays.

Every LLM span carries eight signal labels; as objects (``{"label": "en", "score": 1.0, "version": "language-3"}``)
they took a third of a stored span. A stored label is ``[label, score, version]``, with a fourth element, an object
holding ``reason`` and ``evidence``, only when one is set: ~26 bytes less per label. Reading gives back the object
form, so nothing above the store sees the difference, and rows written before (objects) read unchanged.
"""

from __future__ import annotations

from typing import Any

import orjson

SIGNALS_KEY = "watchkeeper.signals"
_DUMP = orjson.OPT_NON_STR_KEYS
_FIELDS = ("label", "score", "version")


def _pack(label: Any) -> Any:
    if not isinstance(label, dict) or not all(k in label for k in _FIELDS):
        return label  # not a label this module wrote: stored as it came
    out: list[Any] = [label["label"], label["score"], label["version"]]
    extra = {k: v for k, v in label.items() if k not in _FIELDS}
    if extra:
        out.append(extra)
    return out


def _unpack(label: Any) -> Any:
    if not isinstance(label, list) or not 3 <= len(label) <= 4:
        return label
    out = dict(zip(_FIELDS, label[:3], strict=True))
    if len(label) == 4 and isinstance(label[3], dict):
        out.update(label[3])
    return out


def dump_attributes(attrs: dict[str, Any]) -> str | None:
    """The stored text of a span's attributes (None when there are none)."""
    if not attrs:
        return None
    labels = attrs.get(SIGNALS_KEY)
    if isinstance(labels, dict):
        attrs = {**attrs, SIGNALS_KEY: {name: _pack(v) for name, v in labels.items()}}
    return orjson.dumps(attrs, option=_DUMP).decode()


def load_attributes(text: str | bytes | None) -> dict[str, Any]:
    """A span's attributes from their stored text, labels in object form (``{}`` for none)."""
    if not text:
        return {}
    attrs = orjson.loads(text)
    if not isinstance(attrs, dict):
        return {}
    labels = attrs.get(SIGNALS_KEY)
    if isinstance(labels, dict):
        attrs[SIGNALS_KEY] = {name: _unpack(v) for name, v in labels.items()}
    return attrs


def label_paths(name: str) -> tuple[str, str]:
    """SQLite JSON paths to one signal's label: stored as an array (now), and as an object (rows written before)."""
    return f'$."{SIGNALS_KEY}".{name}[0]', f'$."{SIGNALS_KEY}".{name}.label'


__all__ = ["SIGNALS_KEY", "dump_attributes", "label_paths", "load_attributes"]
