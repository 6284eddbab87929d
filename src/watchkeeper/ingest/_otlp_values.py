"""OTLP attribute values (``AnyValue``) as plain Python, and the fast protobuf schema the decoder parses with.

Speed is the reason this module looks the way it does. Walking ``KeyValue``/``AnyValue`` messages through the
protobuf runtime costs about half a microsecond per attribute (a Python wrapper object for every message). So the
decoder parses with a *wire-compatible* copy of the OTLP schema in which every ``repeated KeyValue attributes``
field is declared as ``map<string, bytes>``: a map entry is encoded exactly like ``KeyValue`` (key = field 1,
value = field 2), so the runtime hands us each attribute as ``key -> serialized AnyValue`` in one C call, and the
common scalar encodings (string, int, double, bool) are read here straight from those bytes. Anything unusual
(arrays, kvlists, bytes, repeated fields inside one AnyValue) falls back to the real ``AnyValue`` message class.
"""

from __future__ import annotations

import base64
import functools
import struct
from dataclasses import dataclass
from typing import Any

from google.protobuf import (  # type: ignore[import-untyped]  # no types-protobuf in the dependencies
    descriptor_pb2,
    descriptor_pool,
    message,
    message_factory,
)
from opentelemetry.proto.collector.trace.v1 import trace_service_pb2
from opentelemetry.proto.common.v1 import common_pb2
from opentelemetry.proto.resource.v1 import resource_pb2
from opentelemetry.proto.trace.v1 import trace_pb2

from watchkeeper.ingest._otlp_routes import MARKERS, ROUTES, Slots, route_dict, to_count, to_str

_UNPACK_DOUBLE = struct.Struct("<d").unpack_from
_INT64_SIGN = 1 << 63
_UINT64 = 1 << 64


class BadField(Exception):
    """Raised inside the decoder with a path relative to the record being decoded; the caller adds the prefix."""

    def __init__(self, field: str, rule: str) -> None:
        super().__init__(f"{field}: {rule}")
        self.field = field
        self.rule = rule


@dataclass(frozen=True, slots=True)
class Limits:
    max_string_chars: int
    max_depth: int
    max_time_ns: int  # timestamps after this are rejected
    max_future_s: int
    # False when the whole body is no longer than max_string_chars: then no string in it can be, and the hot loops
    # skip the per-key length check.
    check_keys: bool = True

    def check_time(self, t: int, field: str) -> None:
        if t > self.max_time_ns:
            raise BadField(field, f"is more than {self.max_future_s} s in the future")

    def check_str(self, s: str, field: str) -> None:
        if len(s) > self.max_string_chars:
            raise BadField(field, f"is longer than {self.max_string_chars} characters")


def key_path(container: str, key: str) -> str:
    """``attributes["gen_ai.prompt"]``: how an attribute is named in an error (keys are names, never values)."""
    if len(key) > 100:
        key = key[:100] + "..."
    return f'{container}["{key}"]'


def bytes_to_json(b: bytes) -> str:
    """Bytes values become standard base64 text, as in the OTLP/JSON encoding."""
    return base64.b64encode(b).decode("ascii")


# ---------------------------------------------------------------------------------------------------------------
# The fast schema

_KEYVALUE = ".opentelemetry.proto.common.v1.KeyValue"
_FDP = descriptor_pb2.FieldDescriptorProto


def _as_map_of_bytes(msg: descriptor_pb2.DescriptorProto, full_name: str) -> None:
    for f in msg.field:
        if f.type_name == _KEYVALUE and f.label == _FDP.LABEL_REPEATED:
            entry_name = "".join(p.capitalize() for p in f.name.split("_")) + "Entry"
            entry = msg.nested_type.add(name=entry_name)
            entry.options.map_entry = True
            entry.field.add(name="key", number=1, label=_FDP.LABEL_OPTIONAL, type=_FDP.TYPE_STRING, json_name="key")
            entry.field.add(name="value", number=2, label=_FDP.LABEL_OPTIONAL, type=_FDP.TYPE_BYTES, json_name="value")
            f.type_name = f"{full_name}.{entry_name}"
    for nested in msg.nested_type:
        if not nested.options.map_entry:
            _as_map_of_bytes(nested, f"{full_name}.{nested.name}")


@functools.cache
def fast_request_class() -> type[message.Message]:
    """``ExportTraceServiceRequest`` with attributes as ``map<string, bytes>``, in a private descriptor pool."""
    pool = descriptor_pool.DescriptorPool()
    for module in (common_pb2, resource_pb2, trace_pb2, trace_service_pb2):
        proto = descriptor_pb2.FileDescriptorProto()
        module.DESCRIPTOR.CopyToProto(proto)
        if module is not common_pb2:  # AnyValue/KeyValueList keep their real shape
            for m in proto.message_type:
                _as_map_of_bytes(m, f".{proto.package}.{m.name}")
        pool.Add(proto)
    desc = pool.FindMessageTypeByName("opentelemetry.proto.collector.trace.v1.ExportTraceServiceRequest")
    cls: type[message.Message] = message_factory.GetMessageClass(desc)
    return cls


# ---------------------------------------------------------------------------------------------------------------
# AnyValue -> Python


def _varint(raw: bytes, pos: int) -> tuple[int, int]:
    """A base-128 varint at ``pos``: (value, position after it); (-1, -1) if truncated or over-long."""
    result = 0
    shift = 0
    n = len(raw)
    while pos < n and shift < 70:
        b = raw[pos]
        pos += 1
        result |= (b & 0x7F) << shift
        if b < 0x80:
            return result, pos
        shift += 7
    return -1, -1


def value_from_raw(raw: bytes, lim: Limits, container: str, key: str) -> Any:
    """A serialized AnyValue as plain Python. Raises BadField naming the attribute (never the value)."""
    n = len(raw)
    if n == 0:
        return None
    t = raw[0]
    try:
        if t == 0x0A:  # string_value (field 1, length-delimited)
            ln, pos = _varint(raw, 1)
            if pos > 0 and pos + ln == n:
                s = raw[pos:].decode()
                if ln > lim.max_string_chars and len(s) > lim.max_string_chars:
                    raise BadField(key_path(container, key), f"is longer than {lim.max_string_chars} characters")
                return s
        elif t == 0x18:  # int_value (field 3, varint)
            v, pos = _varint(raw, 1)
            if pos == n:
                v &= _UINT64 - 1
                return v - _UINT64 if v >= _INT64_SIGN else v
        elif t == 0x21:  # double_value (field 4, fixed64)
            if n == 9:
                return _UNPACK_DOUBLE(raw, 1)[0]
        elif t == 0x10:  # bool_value (field 2, varint)
            v, pos = _varint(raw, 1)
            if pos == n:
                return v != 0
    except UnicodeDecodeError:
        raise BadField(key_path(container, key), "is not valid UTF-8") from None
    path = key_path(container, key)
    # Arrays, kvlists, bytes, or an unusual encoding: let the real message class parse it.
    try:
        av = common_pb2.AnyValue.FromString(raw)
    except message.DecodeError:
        raise BadField(path, "is not a well-formed AnyValue (malformed, invalid UTF-8 or nested too deeply)") from None
    return value_from_pb(av, lim, path, 0)


def value_from_pb(av: common_pb2.AnyValue, lim: Limits, path: str, depth: int) -> Any:
    """A parsed AnyValue message as plain Python; ``depth`` counts the arrays/kvlists around it."""
    which = av.WhichOneof("value")
    if which is None:
        return None
    if which == "string_value":
        s: str = av.string_value
        if len(s) > lim.max_string_chars:
            raise BadField(path, f"is longer than {lim.max_string_chars} characters")
        return s
    if which in ("int_value", "bool_value"):
        return getattr(av, which)
    if which == "double_value":
        return av.double_value
    if which == "bytes_value":
        b = av.bytes_value
        if len(b) > lim.max_string_chars:
            raise BadField(path, f"is longer than {lim.max_string_chars} bytes")
        return bytes_to_json(b)
    if which in ("array_value", "kvlist_value"):
        if depth >= lim.max_depth:
            raise BadField(path, f"is nested deeper than {lim.max_depth} levels of arrays and key-value lists")
        if which == "array_value":
            return [value_from_pb(v, lim, f"{path}[{i}]", depth + 1) for i, v in enumerate(av.array_value.values)]
        out: dict[str, Any] = {}
        for kv in av.kvlist_value.values:
            k = kv.key
            if len(k) > lim.max_string_chars:
                raise BadField(path, f"has a key longer than {lim.max_string_chars} characters")
            out[k] = value_from_pb(kv.value, lim, key_path(path, k), depth + 1)
        return out
    raise BadField(path, f"uses {which}, which is not supported in traces")


Cache = dict[bytes, Any]


def new_cache(lim: Limits) -> Cache | None:
    """A per-request memo of small decoded values (model names, token counts...); None when limits forbid it."""
    return {} if lim.max_string_chars >= 127 else None


def attrs_from_map(m: Any, lim: Limits, cache: Cache | None, container: str = "attributes") -> dict[str, Any]:
    """A ``map<string, bytes>`` of attributes as a dict of plain Python values.

    ``cache`` maps a small serialized AnyValue (<= 64 bytes) to its decoded value: in a batch of LLM spans most
    values repeat, and a dict hit is cheaper than decoding. Only immutable values are shared; a flat list of
    scalars is cached as a tuple and copied out as a fresh list.
    """
    out: dict[str, Any] = {}
    maxc = lim.max_string_chars
    check = lim.check_keys
    if cache is None:
        for k in m:
            if len(k) > maxc:
                raise BadField(container, f"has a key longer than {maxc} characters")
            out[k] = value_from_raw(m[k], lim, container, k)
        return out
    get = cache.get
    for k in m:  # iterating keys and indexing beats .items() on upb map containers by 2x
        raw = m[k]
        if check and len(k) > maxc:
            raise BadField(container, f"has a key longer than {maxc} characters")
        v = get(raw, _MISSING)
        if v is _MISSING:
            n = len(raw)
            # Inline fast path for the commonest case: a short string (< 128 bytes) alone in the AnyValue.
            if n > 1 and raw[0] == 0x0A and raw[1] < 0x80 and n == raw[1] + 2:
                try:
                    v = raw[2:].decode()
                except UnicodeDecodeError:
                    raise BadField(key_path(container, k), "is not valid UTF-8") from None
            else:
                v = value_from_raw(raw, lim, container, k)
            if n <= 64:
                t = type(v)
                if t is list:
                    if all(type(x) in _SCALARS for x in v):
                        cache[raw] = tuple(v)
                elif t is not dict:
                    cache[raw] = v
        elif type(v) is tuple:
            v = list(v)
        out[k] = v
    return out


def route_map(m: Any, lim: Limits, cache: Cache | None) -> Slots:
    """``attrs_from_map`` and ``route_dict`` in one pass: known attributes never enter the attribute dict.

    This loop is the decoder's hot path (about 20 attributes per LLM span), hence the inlining.
    """
    if cache is None:
        return route_dict(attrs_from_map(m, lim, cache))
    attrs: dict[str, Any] = {}
    s = Slots(attrs)
    vals, src, raws = s.vals, s.src, s.raws
    flags = 0
    maxc = lim.max_string_chars
    check = lim.check_keys
    get = cache.get
    routes = ROUTES.get
    for k in m:
        raw = m[k]
        if check and len(k) > maxc:
            raise BadField("attributes", f"has a key longer than {maxc} characters")
        n = len(raw)
        v = get(raw, _MISSING) if n <= 64 else _MISSING
        if v is _MISSING:
            if n > 1 and raw[0] == 0x0A and raw[1] < 0x80 and n == raw[1] + 2:
                try:
                    v = raw[2:].decode()
                except UnicodeDecodeError:
                    raise BadField(key_path("attributes", k), "is not valid UTF-8") from None
            else:
                v = value_from_raw(raw, lim, "attributes", k)
            if n <= 64:
                t = type(v)
                if t is list:
                    if all(type(x) in _SCALARS for x in v):
                        cache[raw] = tuple(v)
                elif t is not dict:
                    cache[raw] = v
        elif type(v) is tuple:
            v = list(v)
        r = routes(k)
        if r is None:
            attrs[k] = v
            if k in MARKERS:
                s.families.add(MARKERS[k])
            continue
        slot, _, conv, flag, is_param = r
        if not is_param and slot not in vals:  # the common case, inlined from Slots.add
            if conv is None:
                c = v
            elif type(v) is str and conv is to_str:
                c = v or None
            elif type(v) is int and conv is to_count and v >= 0:
                c = v
            else:
                c = conv(v)
            if c is not None:
                vals[slot] = c
                src[slot] = k
                if c is not v:
                    raws[slot] = v
                flags |= flag
                continue
        s.add(k, v, r)
    s.flags |= flags
    return s


_MISSING: Any = object()
_SCALARS = frozenset({str, int, float, bool, type(None)})
