"""Decoders: each source's wire format into canonical records."""

from .jsonbatch import decode_batch_doc, decode_json_batch
from .otlp import decode_otlp

__all__ = ["decode_batch_doc", "decode_json_batch", "decode_otlp"]
