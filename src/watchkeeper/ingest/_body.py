"""Request bodies: size limits and decompression shared by every HTTP ingest path."""

from __future__ import annotations

import zlib

from ..errors import InputError, PayloadTooLarge


def decompress(body: bytes, encoding: str | None, limit: int) -> bytes:
    """The body with its Content-Encoding undone, refusing to inflate past ``limit`` bytes (zip bombs)."""
    enc = (encoding or "identity").strip().lower()
    if enc in ("identity", ""):
        return body
    if enc not in ("gzip", "deflate", "x-gzip"):
        raise InputError(
            f"Content-Encoding {enc!r} is not supported; send gzip, deflate or identity", field="Content-Encoding"
        )
    wbits = 16 + zlib.MAX_WBITS if enc in ("gzip", "x-gzip") else zlib.MAX_WBITS
    d = zlib.decompressobj(wbits)
    try:
        out = d.decompress(body, limit + 1)
    except zlib.error:
        raise InputError(f"body is not valid {enc} data", field="body") from None
    if len(out) > limit or d.unconsumed_tail:
        raise PayloadTooLarge(f"decompressed body exceeds the limit of {limit} bytes", field="body")
    if not d.eof:
        raise InputError(f"body is truncated {enc} data", field="body")
    return out


__all__ = ["decompress"]
