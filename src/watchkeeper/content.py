"""What in a record is content: the part that may carry user text, stored apart from metadata.

Metadata (ids, times, kinds, models, token counts, tool names, error codes, cohort attributes) stays in clear columns
so filters and aggregates work on it; content (messages, tool arguments and results, generic input/output, error
messages, model parameters) is packed into one blob per record. Redaction, encryption, retention and erasure work on
that blob alone, and rollups never read it.

The packed form is one marker byte and a body: ``S`` + zstd(JSON), or ``J`` + JSON for small payloads. A reader
tells the encoding from the first byte; later encodings (encryption envelopes) add their own marker. zstd at level 1
with a reused context costs ~6 µs for a 1 KB payload where zlib costs ~18 µs, for the same ratio.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

import orjson
import zstandard

from .errors import ContentLocked
from .records import Feedback, FeedbackKind, Message, Span

# Opens a sealed blob (see privacy/encryption.py): (blob, associated data) → the packed blob inside, or None when
# its data key was destroyed by an erasure.
ContentOpener = Callable[[bytes, bytes], bytes | None]

_COMPRESS_OVER = 200
_local = threading.local()


def _compressor() -> zstandard.ZstdCompressor:
    c: zstandard.ZstdCompressor | None = getattr(_local, "c", None)
    if c is None:  # contexts are not thread-safe: one per thread, reused
        c = _local.c = zstandard.ZstdCompressor(level=1, write_content_size=True)
    return c


def _decompressor() -> zstandard.ZstdDecompressor:
    d: zstandard.ZstdDecompressor | None = getattr(_local, "d", None)
    if d is None:
        d = _local.d = zstandard.ZstdDecompressor()
    return d


def pack_content(content: dict[str, Any]) -> bytes | None:
    """The stored form of a payload dict (None when there is no content)."""
    if not content:
        return None
    raw = orjson.dumps(content, option=orjson.OPT_NON_STR_KEYS)
    if len(raw) > _COMPRESS_OVER:
        return b"S" + _compressor().compress(raw)
    return b"J" + raw


def record_aad(project_id: int, kind: str, record_id: str, field: str = "content") -> bytes:
    """The associated data that binds a sealed field to its record (the key id is appended when sealing).

    Length-prefixed, so no choice of ids can make two different records share associated data.
    """
    parts = (b"watchkeeper/aad/v1", str(project_id).encode(), kind.encode(), record_id.encode(), field.encode())
    return b"".join(len(p).to_bytes(4, "big") + p for p in parts)


def unpack_content(blob: bytes | None, opener: ContentOpener | None = None, aad: bytes = b"") -> dict[str, Any]:
    """The payload dict of a packed blob; sealed blobs need ``opener`` (fail closed without it)."""
    if not blob:
        return {}
    if blob[:1] == b"E":
        if opener is None:
            raise ContentLocked(
                "this content is encrypted and the server has no key-encryption key configured; "
                "set encryption_key_file, WATCHKEEPER_ENCRYPTION_KEY or encryption_kms"
            )
        inner = opener(blob, aad)
        return {} if inner is None else unpack_content(inner)
    marker, body = blob[:1], blob[1:]
    if marker == b"S":
        body = _decompressor().decompress(body)
    elif marker != b"J":
        raise ValueError("unknown payload encoding")
    out: dict[str, Any] = orjson.loads(body)
    return out


def feedback_content(f: Feedback) -> dict[str, Any]:
    """The content fields of a feedback event: free text (a correction, a comment)."""
    content: dict[str, Any] = {}
    numeric = f.kind in (FeedbackKind.THUMBS, FeedbackKind.SCORE) and isinstance(f.value, int | float)
    if f.value is not None and not numeric:
        content["value"] = f.value
    if f.comment is not None:
        content["comment"] = f.comment
    return content


def _msg(m: Message) -> dict[str, Any]:
    d: dict[str, Any] = {"role": m.role}
    if m.content is not None:
        d["content"] = m.content
    if m.name is not None:
        d["name"] = m.name
    if m.tool_call_id is not None:
        d["tool_call_id"] = m.tool_call_id
    if m.tool_calls:
        d["tool_calls"] = [{"id": t.id, "name": t.name, "arguments": t.arguments} for t in m.tool_calls]
    return d


def span_content(s: Span) -> dict[str, Any]:
    """The content fields of a span: everything that may carry user text."""
    p: dict[str, Any] = {}
    if s.llm is not None:
        c = s.llm
        if c.input_messages:
            p["in"] = [_msg(m) for m in c.input_messages]
        if c.output_messages:
            p["out"] = [_msg(m) for m in c.output_messages]
        if c.parameters:
            p["params"] = c.parameters
        if len(c.finish_reasons) > 1:
            p["finish"] = c.finish_reasons
        if c.response_id is not None:
            p["rid"] = c.response_id
        if c.operation is not None:
            p["op"] = c.operation
        if c.usage.reasoning_tokens is not None:
            p["rt"] = c.usage.reasoning_tokens
    if s.tool is not None:
        t = s.tool
        if t.arguments is not None:
            p["args"] = t.arguments
        if t.result is not None:
            p["result"] = t.result
        if t.call_id is not None:
            p["call_id"] = t.call_id
        if t.http_status is not None:
            p["http"] = t.http_status
    if s.input is not None:
        p["input"] = s.input
    if s.output is not None:
        p["output"] = s.output
    if s.error is not None and s.error.message is not None:
        p["err"] = s.error.message
    return p


__all__ = [
    "ContentOpener",
    "feedback_content",
    "pack_content",
    "record_aad",
    "span_content",
    "unpack_content",
]
