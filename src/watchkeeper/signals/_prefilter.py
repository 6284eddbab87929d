"""One Hyperscan pass that says which pattern families can possibly match a text, so the rest are never run.

Each family is a list of Python regular expressions (the alternatives of its pattern). Hyperscan compiles a
*relaxed* copy of every alternative in prefilter mode: bounded repeats lose their upper bound, word boundaries are
dropped, ``\\w`` becomes any non-space (``.`` before a repeat), ``\\s`` also takes the separators Python counts as
space, and lookarounds are ignored. Each change only widens what matches, so a family Hyperscan does not report
cannot match, and the exact Python pattern runs only on families it reports. The answer is always the same as
running every pattern; only the cost differs (Hyperscan scans bytes in linear time, one pass for all families).
Without Hyperscan (no wheel for the platform) every family runs.
"""

from __future__ import annotations

import hashlib
import os
import re
import tempfile
import threading
from collections.abc import Iterable
from pathlib import Path
from typing import Any

# MULTILINE and DOTALL only widen matches too, so one flag set serves patterns compiled with or without them.
_FLAGS = (
    "HS_FLAG_PREFILTER",
    "HS_FLAG_UTF8",
    "HS_FLAG_UCP",
    "HS_FLAG_DOTALL",
    "HS_FLAG_MULTILINE",
    "HS_FLAG_SINGLEMATCH",
)


# Python's \s also matches the separators U+001C–U+001F, which Hyperscan's does not; Hyperscan's \w knows fewer
# letters than Python's (its Unicode tables are older). The widened forms cover Python's meaning.
_SPACE = r"\s\x1c-\x1f"


def _class_end(pattern: str, i: int) -> int:
    """The index of the ``]`` closing the character class that opens at ``pattern[i]``."""
    j = i + 1
    if j < len(pattern) and pattern[j] == "^":
        j += 1
    if j < len(pattern) and pattern[j] == "]":
        j += 1
    while j < len(pattern) and pattern[j] != "]":
        j += 2 if pattern[j] == "\\" else 1
    return j


def _widen_class(body: str) -> str:
    if body.startswith("^"):  # negated: Hyperscan's narrower \s and \w only make it match more
        return f"[{body}]"
    body = body.replace(r"\s", _SPACE)
    if r"\w" in body:
        rest = body.replace(r"\w", "")
        return f"(?:[^{_SPACE}]|[{rest}])" if rest else f"[^{_SPACE}]"
    return f"[{body}]"


def relax(pattern: str) -> str:
    """A pattern matching at least everything ``pattern`` matches, cheaper for Hyperscan to compile."""
    p = re.sub(r"(?<!\\)\{(\d+),\d+\}", r"{\1,}", pattern)
    out: list[str] = []
    i = 0
    while i < len(p):
        c = p[i]
        if c == "\\":
            esc = p[i : i + 2]
            if esc == r"\s":
                out.append(f"[{_SPACE}]")
            elif esc == r"\w":  # any non-space; before a repeat, anything (much cheaper to compile)
                out.append("." if p[i + 2 : i + 3] in ("*", "+") else f"[^{_SPACE}]")
            elif esc != r"\b":  # word boundaries are dropped
                out.append(esc)
            i += 2
        elif c == "[":
            j = _class_end(p, i)
            out.append(_widen_class(p[i + 1 : j]))
            i = j + 1
        else:
            out.append(c)
            i += 1
    return "".join(out)


def alternatives(pattern: str) -> list[str]:
    """The top-level alternatives of a regular expression (split at ``|`` outside groups and classes)."""
    out: list[str] = []
    depth = 0
    cur: list[str] = []
    i = 0
    while i < len(pattern):
        c = pattern[i]
        if c == "\\":
            cur.append(pattern[i : i + 2])
            i += 2
            continue
        if c == "[":
            j = _class_end(pattern, i)
            cur.append(pattern[i : j + 1])
            i = j + 1
            continue
        if c == "(":
            depth += 1
        elif c == ")":
            depth -= 1
        elif c == "|" and depth == 0:
            out.append("".join(cur))
            cur = []
            i += 1
            continue
        cur.append(c)
        i += 1
    out.append("".join(cur))
    return out


def _on_match(gid: int, start: int, end: int, flags: int, found: set[int]) -> None:
    found.add(gid)


def _cache_path(hs: Any, exprs: list[bytes], ids: list[int], flags: int) -> Path:
    """Where the compiled database of these exact patterns is kept: a derived cache of the package's own patterns
    (no user data), so each process does not spend seconds compiling the same database again."""
    h = hashlib.sha256(repr((getattr(hs, "__version__", ""), flags, ids)).encode())
    for e in exprs:
        h.update(len(e).to_bytes(4, "big") + e)
    return Path(tempfile.gettempdir()) / f"watchkeeper-hs-{os.getuid() if hasattr(os, 'getuid') else 0}" / h.hexdigest()


def _cached(hs: Any, exprs: list[bytes], ids: list[int], flags: int) -> Any:
    try:
        return hs.loadb(_cache_path(hs, exprs, ids, flags).read_bytes(), hs.HS_MODE_BLOCK)
    except Exception:  # missing, unreadable or from another build: compile instead
        return None


def _store(hs: Any, db: Any, exprs: list[bytes], ids: list[int], flags: int) -> None:
    path = _cache_path(hs, exprs, ids, flags)
    try:
        path.parent.mkdir(mode=0o700, exist_ok=True)
        tmp = path.with_name(f"{path.name}.{os.getpid()}.tmp")
        tmp.write_bytes(hs.dumpb(db))
        os.replace(tmp, path)
    except OSError:
        pass  # a cache only


class Prefilter:
    """Which of the named pattern families may match a text. Compiled on first use, once per instance."""

    def __init__(self, families: Iterable[tuple[str, re.Pattern[str]]]) -> None:
        self._families = list(families)
        self._names = [name for name, _ in self._families]
        self._lock = threading.Lock()
        self._local = threading.local()
        self._db: Any = None
        self._hs: Any = None
        self._always: frozenset[str] | None = None  # families Hyperscan could not take

    def _compile(self) -> None:
        with self._lock:
            if self._always is not None:
                return
            try:
                import hyperscan
            except ImportError:
                self._always = frozenset(self._names)
                return
            flags = 0
            for f in _FLAGS:
                flags |= getattr(hyperscan, f)
            exprs: list[bytes] = []
            ids: list[int] = []
            for gid, (_name, rx) in enumerate(self._families):
                for alt in alternatives(rx.pattern):
                    exprs.append(relax(alt).encode("utf-8"))
                    ids.append(gid)
            always: set[str] = set()
            db: Any = _cached(hyperscan, exprs, ids, flags)
            try:
                if db is None:
                    db = hyperscan.Database()
                    db.compile(expressions=exprs, ids=ids, elements=len(exprs), flags=[flags] * len(exprs))
                    _store(hyperscan, db, exprs, ids, flags)
            except hyperscan.error:  # find the expressions Hyperscan cannot take: their families always run
                kept = []
                for expr, gid in zip(exprs, ids, strict=True):
                    try:
                        hyperscan.Database().compile(expressions=[expr], ids=[0], elements=1, flags=[flags])
                        kept.append((expr, gid))
                    except hyperscan.error:
                        always.add(self._names[gid])
                kept = [(e, g) for e, g in kept if self._names[g] not in always]
                db = hyperscan.Database()
                if kept:
                    db.compile(
                        expressions=[e for e, _ in kept],
                        ids=[g for _, g in kept],
                        elements=len(kept),
                        flags=[flags] * len(kept),
                    )
                else:
                    db = None
            if db is not None:
                self._db, self._hs = db, hyperscan
            self._always = frozenset(always)

    def warm_up(self) -> None:
        """Compile now rather than on the first text."""
        self._compile()

    def candidates(self, text: str) -> frozenset[str]:
        """The families that may match ``text``; the others certainly do not."""
        if self._always is None:
            self._compile()
        assert self._always is not None
        if self._db is None:
            return frozenset(self._names)
        try:
            data = text.encode("utf-8")
        except UnicodeEncodeError:  # lone surrogates are not UTF-8: let every family look
            return frozenset(self._names)
        scratch = getattr(self._local, "scratch", None)
        if scratch is None:
            scratch = self._local.scratch = self._hs.Scratch(self._db)
        found: set[int] = set()
        self._db.scan(data, match_event_handler=_on_match, context=found, scratch=scratch)
        if not found:
            return self._always
        return self._always | {self._names[i] for i in found}
