"""Label matchers as Alertmanager writes them: ``name="value"``, ``name!="value"``, ``name=~"regex"``,
``name!~"regex"``.

A regex is anchored (it must match the whole value, as in Alertmanager), and a label an alert does not carry
has the empty value, so ``team!="db"`` matches an alert without a ``team`` label.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from ._labels import LABEL_NAME


class MatchType(StrEnum):
    EQUAL = "="
    NOT_EQUAL = "!="
    REGEX = "=~"
    NOT_REGEX = "!~"


@dataclass(frozen=True, slots=True)
class Matcher:
    """One condition on one label."""

    name: str
    type: MatchType
    value: str
    _re: re.Pattern[str] | None = field(default=None, repr=False, compare=False, hash=False)

    @classmethod
    def make(cls, name: str, type: MatchType | str, value: str) -> Matcher:
        """A checked matcher; ValueError names what is wrong (bad label name, bad regex)."""
        t = MatchType(type)
        if not LABEL_NAME.match(name):
            raise ValueError(f"{name!r} is not a label name (letters, digits and _, not starting with a digit)")
        compiled = None
        if t in (MatchType.REGEX, MatchType.NOT_REGEX):
            try:
                compiled = re.compile(f"(?:{value})")
            except re.error as e:
                raise ValueError(f"the regex of {name!r} does not compile: {e.msg}") from None
        return cls(name, t, value, compiled)

    def matches(self, value: str) -> bool:
        if self.type is MatchType.EQUAL:
            return value == self.value
        if self.type is MatchType.NOT_EQUAL:
            return value != self.value
        assert self._re is not None
        hit = self._re.fullmatch(value) is not None
        return hit if self.type is MatchType.REGEX else not hit

    def __str__(self) -> str:
        """Alertmanager's ``Matcher.String``: ``name="value"`` with OpenMetrics escaping of the value."""
        escaped = self.value.replace("\\", "\\\\").replace("\n", "\\n").replace('"', '\\"')
        return f'{self.name}{self.type.value}"{escaped}"'

    def as_api(self) -> dict[str, Any]:
        """The Alertmanager API v2 form: ``{name, value, isRegex, isEqual}``."""
        return {
            "name": self.name,
            "value": self.value,
            "isRegex": self.type in (MatchType.REGEX, MatchType.NOT_REGEX),
            "isEqual": self.type in (MatchType.EQUAL, MatchType.REGEX),
        }

    @classmethod
    def from_api(cls, d: Mapping[str, Any]) -> Matcher:
        if not isinstance(d.get("name"), str) or not isinstance(d.get("value"), str):
            raise ValueError("a matcher needs a name and a value (strings)")
        is_regex, is_equal = bool(d.get("isRegex", False)), bool(d.get("isEqual", True))
        t = {
            (False, True): MatchType.EQUAL,
            (False, False): MatchType.NOT_EQUAL,
            (True, True): MatchType.REGEX,
            (True, False): MatchType.NOT_REGEX,
        }[(is_regex, is_equal)]
        return cls.make(str(d["name"]), t, str(d["value"]))


# a value is double-quoted (with backslash escapes), or bare: no quotes, spaces, operators, commas or braces
_MATCHER = re.compile(r'^\s*([A-Za-z_][A-Za-z0-9_]*)\s*(=~|!~|!=|=)\s*(?:"((?:[^"\\]|\\.)*)"|([^"\'\s=!~,{}]*))\s*$')


def parse_matcher(text: str) -> Matcher:
    """One matcher from ``name="value"`` (quotes optional); ValueError with what is wrong."""
    m = _MATCHER.match(text)
    if m is None:
        raise ValueError(f'{text!r} is not a matcher such as severity="page" (operators: = != =~ !~)')
    name, op, quoted, bare = m.groups()
    value = bare if quoted is None else re.sub(r"\\(.)", lambda x: {"n": "\n"}.get(x.group(1), x.group(1)), quoted)
    return Matcher.make(name, op, value)


def split_matchers(text: str) -> list[str]:
    """The matchers of ``alertname="X", language="de"`` (braces, commas and new lines as Alertmanager's amtool
    accepts them), split outside double quotes; each is then parsed by :func:`parse_matcher`."""
    body = text.strip()
    if body.startswith("{") and body.endswith("}"):
        body = body[1:-1]
    out: list[str] = []
    cur: list[str] = []
    quoted = escaped = False
    for ch in body:
        if escaped:
            escaped = False
        elif ch == "\\" and quoted:
            escaped = True
        elif ch == '"':
            quoted = not quoted
        elif ch in ",\n" and not quoted:
            out.append("".join(cur))
            cur = []
            continue
        cur.append(ch)
    out.append("".join(cur))
    return [m.strip() for m in out if m.strip()]


def parse_matchers(items: Iterable[str]) -> tuple[Matcher, ...]:
    return tuple(sorted_matchers(parse_matcher(t) for t in items))


def sorted_matchers(ms: Iterable[Matcher]) -> list[Matcher]:
    """In Alertmanager's order (name, then value, then type), as route keys print them."""
    order = list(MatchType)
    return sorted(ms, key=lambda m: (m.name, m.value, order.index(m.type)))


def matches_all(matchers: Sequence[Matcher], labels: Mapping[str, str]) -> bool:
    """Every matcher holds; an absent label has the empty value."""
    return all(m.matches(labels.get(m.name, "")) for m in matchers)


def matchers_string(matchers: Sequence[Matcher]) -> str:
    """``{a="b",c=~"d"}``: Alertmanager's ``Matchers.String`` (no space after the comma)."""
    return "{" + ",".join(str(m) for m in matchers) + "}"


def could_match(matchers: Sequence[Matcher], fixed: Mapping[str, str], free: Iterable[str]) -> bool:
    """Whether some alert with exactly the labels ``fixed`` (known values) plus ``free`` (any non-empty value,
    unknown until the data arrives) satisfies every matcher. Used to refuse matchers that can match nothing."""
    free_set = set(free)
    for m in matchers:
        if m.name in fixed:
            if not m.matches(fixed[m.name]):
                return False
        elif m.name in free_set:
            if m.type is MatchType.EQUAL and m.value == "":
                return False
            # a value the traffic has not shown yet may satisfy =, != and most regexes: give them the benefit
        elif not m.matches(""):
            return False
    return True


__all__ = [
    "MatchType",
    "Matcher",
    "could_match",
    "matchers_string",
    "matches_all",
    "parse_matcher",
    "parse_matchers",
    "sorted_matchers",
    "split_matchers",
]
