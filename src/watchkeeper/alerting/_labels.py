"""Label sets as Prometheus and Alertmanager write them: the fingerprint, the ``{a="b", c="d"}`` form used in group
keys, durations (``30s``, ``5m``, ``1h30m``) and RFC 3339 times.

The fingerprint is the one of prometheus/common ``model.LabelSet.Fingerprint``: FNV-1a 64 over the sorted label
names, each followed by the byte 0xFF, its value, and 0xFF again, printed as 16 lower-case hex digits. An alert
from Watchkeeper and the same alert relayed through an Alertmanager therefore carry the same fingerprint.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime

NS = 1_000_000_000
_FNV_OFFSET = 0xCBF29CE484222325
_FNV_PRIME = 0x100000001B3
_MASK = (1 << 64) - 1
_SEP = 0xFF

LABEL_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
GLOBAL = "global"  # the slice of all traffic: the parent of every other slice


def slice_key(dims: Sequence[str]) -> str:
    """The ``slice`` label of an alert: ``global``, ``language`` or ``language,model_version``."""
    return ",".join(dims) if dims else GLOBAL


def fingerprint(labels: Mapping[str, str]) -> str:
    """The 16-hex-digit FNV-1a 64 fingerprint of a label set (prometheus/common ``labelSetToFingerprint``)."""
    h = _FNV_OFFSET
    for name in sorted(labels):
        for chunk in (name.encode(), labels[name].encode()):
            for byte in chunk:
                h = ((h ^ byte) * _FNV_PRIME) & _MASK
            h = ((h ^ _SEP) * _FNV_PRIME) & _MASK
    return f"{h:016x}"


def go_quote(s: str) -> str:
    """``strconv.Quote`` of Go for the characters label values hold: printable text kept, the rest escaped."""
    out = ['"']
    for ch in s:
        if ch == '"':
            out.append('\\"')
        elif ch == "\\":
            out.append("\\\\")
        elif ch == "\n":
            out.append("\\n")
        elif ch == "\t":
            out.append("\\t")
        elif ch == "\r":
            out.append("\\r")
        elif ord(ch) < 0x20 or ord(ch) == 0x7F:
            out.append(f"\\x{ord(ch):02x}")
        else:
            out.append(ch)
    out.append('"')
    return "".join(out)


def labelset_string(labels: Mapping[str, str]) -> str:
    """``{a="b", c="d"}``: the sorted form of ``model.LabelSet.String`` that Alertmanager puts in group keys."""
    return "{" + ", ".join(f"{k}={go_quote(labels[k])}" for k in sorted(labels)) + "}"


# ---------------------------------------------------------------------------------------------------------------
# Durations and times

_DURATION = re.compile(r"^(?:(\d+)w)?(?:(\d+)d)?(?:(\d+)h)?(?:(\d+)m)?(?:(\d+)s)?(?:(\d+)ms)?$")
_UNITS_NS = (7 * 86400 * NS, 86400 * NS, 3600 * NS, 60 * NS, NS, NS // 1000)


def parse_duration(text: object) -> int:
    """Nanoseconds from a Prometheus duration (``0s``, ``30s``, ``5m``, ``1h30m``, ``7d``, ``2w``); ValueError."""
    if not isinstance(text, str) or not text or (m := _DURATION.match(text.strip())) is None:
        raise ValueError("must be a duration such as 30s, 5m, 1h30m or 7d")
    return sum(int(g) * unit for g, unit in zip(m.groups(), _UNITS_NS, strict=True) if g)


def format_duration(ns: int) -> str:
    """The shortest Prometheus form of a whole number of milliseconds: ``1h30m``, ``0s``."""
    if ns == 0:
        return "0s"
    out = []
    rest = ns
    for suffix, unit in zip(("w", "d", "h", "m", "s", "ms"), _UNITS_NS, strict=True):
        if rest >= unit:
            out.append(f"{rest // unit}{suffix}")
            rest %= unit
    return "".join(out)


ZERO_TIME = "0001-01-01T00:00:00Z"  # Go's zero time.Time, which Alertmanager sends as endsAt of a firing alert


def rfc3339(ns: int | None) -> str:
    """RFC 3339 in UTC as Go's ``time.Time`` marshals it (nanoseconds, trailing zeros trimmed); None → zero time."""
    if ns is None:
        return ZERO_TIME
    secs, frac = divmod(ns, NS)
    base = datetime.fromtimestamp(secs, UTC).strftime("%Y-%m-%dT%H:%M:%S")
    return base + (f".{frac:09d}".rstrip("0") if frac else "") + "Z"


def parse_rfc3339(text: str) -> int | None:
    """Nanoseconds since the epoch from RFC 3339 (any offset, up to nanoseconds); None for Go's zero time."""
    m = re.match(r"^(\d{4}-\d{2}-\d{2}[Tt ]\d{2}:\d{2}:\d{2})(?:\.(\d{1,9}))?([Zz]|[+-]\d{2}:\d{2})$", text.strip())
    if m is None:
        raise ValueError("must be an RFC 3339 time such as 2024-05-01T12:00:00Z")
    if m.group(1).startswith("0001-01-01"):
        return None
    tz = "+00:00" if m.group(3) in ("Z", "z") else m.group(3)
    dt = datetime.fromisoformat(m.group(1).replace("t", "T").replace(" ", "T") + tz)
    frac = int((m.group(2) or "0").ljust(9, "0"))
    return int(dt.timestamp()) * NS + frac
