"""What a log leaf commits to: a record's metadata and the hash of its stored (encrypted) payload — never content.

Encoding (version 1), chosen over canonical JSON or CBOR because it needs no dependency, is deterministic and
injective by construction, and an auditor can re-implement it in a dozen lines of any language:

    leaf   = "wk" ‖ 0x01 (format version) ‖ type (0x01 record, 0x02 access event) ‖ field*
    field  = tag (1 byte, strictly increasing, absent fields omitted) ‖ value
    value  = uint: 8 bytes big-endian  |  bytes and text: 4-byte big-endian length ‖ bytes (text is UTF-8)

Each tag has one fixed value type, so a leaf decodes in exactly one way (:func:`decode_leaf` refuses anything else):
two different leaves never share bytes. The Merkle leaf hash is ``SHA-256(0x00 ‖ leaf bytes)`` (merkle.py).

A record leaf carries no subject or session id and no text a user typed: ids, times, kind, status, models, token
counts, tool name, error code, project — and ``payload_sha256``, the SHA-256 of the payload blob exactly as stored
(sealed by ``pipeline/seal.py``). Deleting or crypto-shredding a payload therefore never touches the tree; the
verifier classifies each record's payload with :func:`classify_payload`:

- present and hashing to ``payload_sha256`` → ``present``;
- absent, and a purge or erasure (a ``privacy_events`` row, given as :class:`Removal`) covers it → ``purged`` /
  ``erased``;
- absent with no covering removal, present with a different hash, or present where the leaf says there was none →
  ``tampered``.
"""

from __future__ import annotations

import enum
import hashlib
import struct
from collections.abc import Iterable
from dataclasses import dataclass, fields
from typing import Any, ClassVar

from ..errors import InputError
from ..records import Span

MAGIC = b"wk"
FORMAT_VERSION = 1
RECORD, ACCESS = 1, 2
_U64 = struct.Struct(">Q")
_U32 = struct.Struct(">I")


class LeafError(InputError):
    """Leaf bytes that do not decode, or leaf fields out of range; the message names the field."""

    status = 422
    title = "Invalid log leaf"
    type_slug = "leaf-invalid"


# tag → (field name, value type); the order of this table is the order on the wire, and it never changes for v1
_UINT, _BYTES, _TEXT = "uint", "bytes", "text"

_RECORD_FIELDS: tuple[tuple[int, str, str], ...] = (
    (1, "project_id", _UINT),
    (2, "trace_id", _BYTES),
    (3, "span_id", _BYTES),
    (4, "parent_span_id", _BYTES),
    (5, "kind", _TEXT),
    (6, "status", _TEXT),
    (7, "start_ns", _UINT),
    (8, "end_ns", _UINT),
    (9, "ingested_ns", _UINT),
    (10, "request_model", _TEXT),
    (11, "response_model", _TEXT),
    (12, "input_tokens", _UINT),
    (13, "output_tokens", _UINT),
    (14, "cached_tokens", _UINT),
    (15, "tool_name", _TEXT),
    (16, "error_code", _TEXT),
    (17, "schema_version", _UINT),
    (18, "payload_sha256", _BYTES),
)

_ACCESS_FIELDS: tuple[tuple[int, str, str], ...] = (
    (1, "project_id", _UINT),
    (2, "event_id", _BYTES),
    (3, "time_ns", _UINT),
    (4, "action", _TEXT),
    (5, "actor", _TEXT),
    (6, "role", _TEXT),
    (7, "target_type", _TEXT),
    (8, "target_ref", _BYTES),
    (9, "grant_id", _TEXT),
    (10, "reason_code", _TEXT),
    (11, "outcome", _TEXT),
    (12, "details_sha256", _BYTES),
)


def _encode(kind: int, table: tuple[tuple[int, str, str], ...], obj: Any) -> bytes:
    out = bytearray(MAGIC)
    out += bytes((FORMAT_VERSION, kind))
    for tag, name, typ in table:
        v = getattr(obj, name)
        if v is None:
            continue
        out.append(tag)
        if typ == _UINT:
            out += _U64.pack(v)
        else:
            raw = v.encode("utf-8") if typ == _TEXT else v
            out += _U32.pack(len(raw))
            out += raw
    return bytes(out)


def _check(obj: Any, table: tuple[tuple[int, str, str], ...], required: tuple[str, ...]) -> None:
    for _tag, name, typ in table:
        v = getattr(obj, name)
        if v is None:
            if name in required:
                raise LeafError(f"leaf field {name} is required", field=name)
            continue
        if typ == _UINT:
            ok = isinstance(v, int) and not isinstance(v, bool) and 0 <= v < 2**64
            rule = "an integer in [0, 2^64)"
        elif typ == _BYTES:
            ok = isinstance(v, bytes) and len(v) < 2**32
            rule = "bytes"
        else:
            ok = isinstance(v, str) and len(v) < 2**30
            if ok:
                try:
                    v.encode("utf-8")
                except UnicodeEncodeError:
                    ok = False
            rule = "valid Unicode text"
        if not ok:
            raise LeafError(f"leaf field {name} must be {rule}", field=name)


def _hash32(name: str, v: bytes | None) -> None:
    if v is not None and len(v) != 32:
        raise LeafError(f"leaf field {name} must be a 32-byte SHA-256", field=name)


@dataclass(frozen=True)
class RecordLeaf:
    """The committed metadata of one stored span (no content, no subject or session id)."""

    project_id: int
    trace_id: bytes
    span_id: bytes
    kind: str
    status: str
    start_ns: int
    end_ns: int
    ingested_ns: int
    schema_version: int
    parent_span_id: bytes | None = None
    request_model: str | None = None
    response_model: str | None = None
    input_tokens: int | None = None
    output_tokens: int | None = None
    cached_tokens: int | None = None
    tool_name: str | None = None
    error_code: str | None = None
    payload_sha256: bytes | None = None  # SHA-256 of the stored payload blob; None when the record had no payload

    TYPE: ClassVar[int] = RECORD

    def __post_init__(self) -> None:
        _check(self, _RECORD_FIELDS, ("project_id", "trace_id", "span_id", "kind", "status", "start_ns", "end_ns",
                                      "ingested_ns", "schema_version"))  # fmt: skip
        _hash32("payload_sha256", self.payload_sha256)

    def encode(self) -> bytes:
        """The canonical leaf bytes (the input of the Merkle leaf hash)."""
        return _encode(RECORD, _RECORD_FIELDS, self)


@dataclass(frozen=True)
class AccessLeaf:
    """One access event: who did what to which record, under which grant — never what they saw.

    ``actor`` is a pseudonymous principal id (user or API-key id, never an email); ``target_ref`` is a record id
    (trace id bytes) or, for a subject or session, the keyed hash the privacy room computes — never the id in clear.
    ``details_sha256`` may commit to a document stored elsewhere (e.g. the sorted list of record ids a purge removed).
    """

    project_id: int
    event_id: bytes
    time_ns: int
    action: str
    actor: str
    outcome: str
    role: str | None = None
    target_type: str | None = None
    target_ref: bytes | None = None
    grant_id: str | None = None
    reason_code: str | None = None
    details_sha256: bytes | None = None

    TYPE: ClassVar[int] = ACCESS

    def __post_init__(self) -> None:
        _check(self, _ACCESS_FIELDS, ("project_id", "event_id", "time_ns", "action", "actor", "outcome"))
        _hash32("details_sha256", self.details_sha256)

    def encode(self) -> bytes:
        """The canonical leaf bytes (the input of the Merkle leaf hash)."""
        return _encode(ACCESS, _ACCESS_FIELDS, self)


def decode_leaf(data: bytes) -> RecordLeaf | AccessLeaf:
    """The leaf whose canonical encoding is ``data``; refuses unknown versions, tags out of order, truncation."""
    if data[:2] != MAGIC or len(data) < 4:
        raise LeafError("not a Watchkeeper leaf (bad magic)", field="leaf")
    if data[2] != FORMAT_VERSION:
        raise LeafError(f"leaf format version {data[2]} is not supported (this build reads {FORMAT_VERSION})")
    kind = data[3]
    cls: type[RecordLeaf] | type[AccessLeaf]
    if kind == RECORD:
        table, cls = _RECORD_FIELDS, RecordLeaf
    elif kind == ACCESS:
        table, cls = _ACCESS_FIELDS, AccessLeaf
    else:
        raise LeafError(f"unknown leaf type {kind}", field="leaf")
    by_tag = {tag: (name, typ) for tag, name, typ in table}
    values: dict[str, Any] = {}
    pos, last = 4, 0
    while pos < len(data):
        tag = data[pos]
        pos += 1
        if tag not in by_tag or tag <= last:
            raise LeafError(f"leaf tag {tag} is unknown, repeated or out of order", field="leaf")
        last = tag
        name, typ = by_tag[tag]
        if typ == _UINT:
            if pos + 8 > len(data):
                raise LeafError(f"leaf field {name} is truncated", field=name)
            values[name] = _U64.unpack_from(data, pos)[0]
            pos += 8
            continue
        if pos + 4 > len(data):
            raise LeafError(f"leaf field {name} is truncated", field=name)
        (n,) = _U32.unpack_from(data, pos)
        pos += 4
        if pos + n > len(data):
            raise LeafError(f"leaf field {name} is truncated", field=name)
        raw = bytes(data[pos : pos + n])
        pos += n
        if typ == _TEXT:
            try:
                values[name] = raw.decode("utf-8")
            except UnicodeDecodeError:
                raise LeafError(f"leaf field {name} is not UTF-8", field=name) from None
        else:
            values[name] = raw
    try:
        return cls(**values)
    except TypeError:
        missing = [f.name for f in fields(cls) if f.name not in values]
        raise LeafError(f"leaf is missing required fields {missing}", field="leaf") from None


def payload_sha256(blob: bytes | None) -> bytes | None:
    """The SHA-256 of a stored payload blob (None when there is no payload)."""
    return None if blob is None else hashlib.sha256(blob).digest()


def record_leaf(span: Span, *, project_id: int, ingested_ns: int, payload: bytes | None) -> RecordLeaf:
    """The leaf of a span as stored: its metadata and the hash of ``payload``, the blob written to the store."""
    usage = span.llm.usage if span.llm else None
    return RecordLeaf(
        project_id=project_id,
        trace_id=bytes.fromhex(span.trace_id),
        span_id=bytes.fromhex(span.span_id),
        parent_span_id=bytes.fromhex(span.parent_span_id) if span.parent_span_id else None,
        kind=str(span.kind),
        status=str(span.status),
        start_ns=span.start_time_ns,
        end_ns=span.end_time_ns,
        ingested_ns=ingested_ns,
        schema_version=span.schema_version,
        request_model=span.llm.request_model if span.llm else None,
        response_model=span.llm.response_model if span.llm else None,
        input_tokens=usage.input_tokens if usage else None,
        output_tokens=usage.output_tokens if usage else None,
        cached_tokens=usage.cached_input_tokens if usage else None,
        tool_name=span.tool.name if span.tool else None,
        error_code=span.error.code if span.error else None,
        payload_sha256=payload_sha256(payload),
    )


# ---------------------------------------------------------------------------------------------------------------
# Classifying a record's payload against its leaf


class PayloadState(enum.StrEnum):
    PRESENT = "present"  # stored blob hashes to the committed value
    NONE = "none"  # the record never had a payload, and none is stored
    PURGED = "purged"  # absent, covered by a retention purge
    ERASED = "erased"  # absent, covered by an erasure of its data subject
    TAMPERED = "tampered"  # anything else


@dataclass(frozen=True)
class Removal:
    """One ``privacy_events`` row as the verifier reads it.

    A ``purge`` covers a record of its project whose ``start_ns`` is before ``cutoff_ns``; an ``erase`` covers the
    records of the traces it names (``trace_ids``, resolved from the erasure's evidence). Either covers only records
    ingested before the removal finished — a purge cannot excuse a record that arrived after it ran.
    """

    action: str  # purge | erase
    project_id: int
    finished_ns: int
    cutoff_ns: int | None = None
    trace_ids: frozenset[bytes] = frozenset()

    def covers(self, leaf: RecordLeaf) -> bool:
        if leaf.project_id != self.project_id or leaf.ingested_ns > self.finished_ns:
            return False
        if self.action == "purge":
            return self.cutoff_ns is not None and leaf.start_ns < self.cutoff_ns
        if self.action == "erase":
            return leaf.trace_id in self.trace_ids
        return False


def classify_payload(leaf: RecordLeaf, stored: bytes | None, removals: Iterable[Removal] = ()) -> PayloadState:
    """What happened to a record's payload, judged from its leaf, the blob in the store, and the removals on record."""
    if stored is not None:
        if leaf.payload_sha256 is not None and hashlib.sha256(stored).digest() == leaf.payload_sha256:
            return PayloadState.PRESENT
        return PayloadState.TAMPERED
    if leaf.payload_sha256 is None:
        return PayloadState.NONE
    for r in removals:
        if r.covers(leaf):
            return PayloadState.PURGED if r.action == "purge" else PayloadState.ERASED
    return PayloadState.TAMPERED


__all__ = [
    "FORMAT_VERSION",
    "AccessLeaf",
    "LeafError",
    "PayloadState",
    "RecordLeaf",
    "Removal",
    "classify_payload",
    "decode_leaf",
    "payload_sha256",
    "record_leaf",
]
