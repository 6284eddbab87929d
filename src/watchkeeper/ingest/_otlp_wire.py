"""Explain why a protobuf body failed to parse: the first broken field, by its OTLP/JSON path and byte offset.

The protobuf runtime only says "Error parsing message". This walker runs on the error path alone (speed does not
matter here) and re-reads the body with the OTLP trace schema to name what broke, e.g.
``resourceSpans[0].scopeSpans[0].spans[3].name: is not valid UTF-8 (byte 1234)``. It reports structure, never
content.
"""

from __future__ import annotations

# field number -> (JSON name, kind); kind is a scalar kind or the name of a nested message in _SCHEMA.
_Schema = dict[int, tuple[str, str]]

_SCHEMA: dict[str, _Schema] = {
    "Request": {1: ("resourceSpans", "ResourceSpans")},
    "ResourceSpans": {1: ("resource", "Resource"), 2: ("scopeSpans", "ScopeSpans"), 3: ("schemaUrl", "string")},
    "Resource": {1: ("attributes", "KeyValue"), 2: ("droppedAttributesCount", "varint")},
    "ScopeSpans": {1: ("scope", "Scope"), 2: ("spans", "Span"), 3: ("schemaUrl", "string")},
    "Scope": {
        1: ("name", "string"),
        2: ("version", "string"),
        3: ("attributes", "KeyValue"),
        4: ("droppedAttributesCount", "varint"),
    },
    "Span": {
        1: ("traceId", "bytes"),
        2: ("spanId", "bytes"),
        3: ("traceState", "string"),
        4: ("parentSpanId", "bytes"),
        5: ("name", "string"),
        6: ("kind", "varint"),
        7: ("startTimeUnixNano", "fixed64"),
        8: ("endTimeUnixNano", "fixed64"),
        9: ("attributes", "KeyValue"),
        10: ("droppedAttributesCount", "varint"),
        11: ("events", "Event"),
        12: ("droppedEventsCount", "varint"),
        13: ("links", "Link"),
        14: ("droppedLinksCount", "varint"),
        15: ("status", "Status"),
        16: ("flags", "fixed32"),
    },
    "Event": {
        1: ("timeUnixNano", "fixed64"),
        2: ("name", "string"),
        3: ("attributes", "KeyValue"),
        4: ("droppedAttributesCount", "varint"),
    },
    "Link": {
        1: ("traceId", "bytes"),
        2: ("spanId", "bytes"),
        3: ("traceState", "string"),
        4: ("attributes", "KeyValue"),
        5: ("droppedAttributesCount", "varint"),
        6: ("flags", "fixed32"),
    },
    "Status": {2: ("message", "string"), 3: ("code", "varint")},
    "KeyValue": {1: ("key", "string"), 2: ("value", "AnyValue")},
    "AnyValue": {
        1: ("stringValue", "string"),
        2: ("boolValue", "varint"),
        3: ("intValue", "varint"),
        4: ("doubleValue", "fixed64"),
        5: ("arrayValue", "ArrayValue"),
        6: ("kvlistValue", "KeyValueList"),
        7: ("bytesValue", "bytes"),
    },
    "ArrayValue": {1: ("values", "AnyValue")},
    "KeyValueList": {1: ("values", "KeyValue")},
}

# Fields that are repeated get an index in the path.
_REPEATED = {
    ("Request", 1),
    ("ResourceSpans", 2),
    ("ScopeSpans", 2),
    ("Resource", 1),
    ("Scope", 3),
    ("Span", 9),
    ("Span", 11),
    ("Span", 13),
    ("Event", 3),
    ("Link", 4),
    ("ArrayValue", 1),
    ("KeyValueList", 1),
}
_MAX_NESTING = 100


class _Broken(Exception):
    def __init__(self, path: str, rule: str) -> None:
        super().__init__(path)
        self.path = path
        self.rule = rule


def _varint(buf: bytes, pos: int, end: int, path: str) -> tuple[int, int]:
    result = 0
    shift = 0
    while True:
        if pos >= end:
            raise _Broken(path, f"has a truncated varint (byte {pos})")
        b = buf[pos]
        pos += 1
        result |= (b & 0x7F) << shift
        if b < 0x80:
            return result, pos
        shift += 7
        if shift >= 70:
            raise _Broken(path, f"has a varint longer than 10 bytes (byte {pos})")


def _walk(buf: bytes, pos: int, end: int, schema_name: str, path: str, nesting: int) -> None:
    if nesting > _MAX_NESTING:
        raise _Broken(path, f"is nested more than {_MAX_NESTING} messages deep")
    schema = _SCHEMA[schema_name]
    counts: dict[int, int] = {}
    while pos < end:
        here = pos
        tag, pos = _varint(buf, pos, end, path or "body")
        number, wire = tag >> 3, tag & 7
        if number == 0:
            raise _Broken(path or "body", f"has a field number 0 (byte {here})")
        known = schema.get(number)
        if known is None:
            fpath = f"{path}.<field {number}>" if path else f"<field {number}>"
            kind = ""
        else:
            name, kind = known
            fpath = f"{path}.{name}" if path else name
            if (schema_name, number) in _REPEATED:
                i = counts.get(number, 0)
                counts[number] = i + 1
                fpath = f"{fpath}[{i}]"
        if wire == 0:
            _, pos = _varint(buf, pos, end, fpath)
        elif wire == 1 or wire == 5:
            size = 8 if wire == 1 else 4
            if pos + size > end:
                raise _Broken(fpath, f"is truncated: needs {size} bytes at byte {pos}")
            pos += size
        elif wire == 2:  # a known field sent with another wire type is skipped as unknown, as protobuf does
            length, pos = _varint(buf, pos, end, fpath)
            if pos + length > end:
                raise _Broken(fpath, f"declares {length} bytes at byte {pos} but only {end - pos} remain")
            if kind in _SCHEMA:
                _walk(buf, pos, pos + length, kind, fpath, nesting + 1)
            elif kind == "string":
                try:
                    buf[pos : pos + length].decode()
                except UnicodeDecodeError as e:
                    raise _Broken(fpath, f"is not valid UTF-8 (byte {pos + e.start})") from None
            pos += length
        else:
            raise _Broken(fpath, f"uses wire type {wire}, which OTLP does not use (byte {here})")
    if pos != end:
        raise _Broken(path or "body", f"runs past its end (byte {pos})")


def diagnose(body: bytes) -> tuple[str, str]:
    """(field path, rule) for the first structural error in an ExportTraceServiceRequest body."""
    try:
        _walk(body, 0, len(body), "Request", "", 0)
    except _Broken as e:
        return e.path, e.rule
    return "body", "is not a valid ExportTraceServiceRequest protobuf message"
