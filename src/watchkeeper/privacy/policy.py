"""The privacy policy: what to do with each entity type, per field path, versioned in the config file.

    [privacy]
    version = 1                  # policy version; bump it when you change the policy
    default = "redact"           # action for PII not named below
    [privacy.entities]
    EMAIL = "pseudonymise"       # same address -> same token across traces (keyed HMAC)
    IP_ADDRESS = "mask"          # keep the last 4 characters
    PERSON = "keep"
    [[privacy.rules]]            # first matching rule wins; more specific than [privacy.entities]
    path = "attributes.http.client_ip"
    action = "drop"              # no entity: applies to the field itself
    [[privacy.rules]]
    path = "tool.arguments.**"
    entity = "PHONE"
    action = "keep"

Actions: ``redact`` (typed placeholder ``<EMAIL_1>``), ``pseudonymise``, ``mask``, ``drop`` (the whole field),
``keep``. Secrets are always removed: any action for a secret type other than ``drop`` acts as ``redact``.
Paths name fields as ``llm.input_messages.content`` or ``tool.arguments.user.email``: list indices are ignored
(``[3]`` and ``[*]`` may be written), ``*`` matches one segment and ``**`` any number of segments.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any

from ._model import SECRET_TYPES

POLICY_VERSION = 1
ACTIONS = ("redact", "pseudonymise", "mask", "drop", "keep")
_ENTITY_NAME = re.compile(r"^[A-Z][A-Z0-9_]{0,63}$")
_INDEX = re.compile(r"\[(?:\d+|\*)\]")


class PolicyError(ValueError):
    """The [privacy] section is wrong; the message names the key."""


@dataclass(frozen=True, slots=True)
class Rule:
    action: str
    path: str | None = None
    entity: str | None = None
    _regex: re.Pattern[str] | None = field(default=None, compare=False, repr=False)

    def matches_path(self, path: str) -> bool:
        return self._regex is None or self._regex.match(normalise_path(path)) is not None


@dataclass(frozen=True, slots=True)
class Policy:
    version: int = POLICY_VERSION
    default: str = "redact"
    entities: Mapping[str, str] = field(default_factory=dict)
    rules: tuple[Rule, ...] = ()

    @property
    def needs_key(self) -> bool:
        """Whether some action is ``pseudonymise`` (which needs the HMAC key)."""
        actions = [self.default, *self.entities.values(), *(r.action for r in self.rules)]
        return "pseudonymise" in actions

    def field_action(self, path: str) -> str | None:
        """``drop`` or ``keep`` when a rule without an entity names this field, else None."""
        for r in self.rules:
            if r.entity is None and r.matches_path(path):
                return r.action
        return None

    def action_for(self, entity_type: str, path: str) -> str:
        """The action for a finding of ``entity_type`` in the field at ``path``; secrets are never kept."""
        action = None
        for r in self.rules:
            if r.entity is not None and (r.entity == "*" or r.entity == entity_type) and r.matches_path(path):
                action = r.action
                break
        if action is None:
            action = self.entities.get(entity_type, self.default)
        if entity_type in SECRET_TYPES and action != "drop":
            return "redact"
        return action


def normalise_path(path: str) -> str:
    """A field path with list indices left out: ``llm.input_messages[2].content`` -> ``llm.input_messages.content``."""
    return _INDEX.sub("", path)


@lru_cache(maxsize=256)
def _glob(pattern: str) -> re.Pattern[str]:
    parts = []
    for seg in normalise_path(pattern).split("."):
        if seg == "**":
            parts.append(r"(?:[^.]+(?:\.[^.]+)*)?")
        else:
            parts.append(re.escape(seg).replace(r"\*", r"[^.]*"))
    rx = r"\.".join(parts).replace(r"\.(?:[^.]+(?:\.[^.]+)*)?", r"(?:\.[^.]+)*")
    return re.compile(rx + r"(?:\..*)?$")


def _action(value: Any, where: str) -> str:
    if not isinstance(value, str) or value not in ACTIONS:
        raise PolicyError(f"{where} must be one of {', '.join(ACTIONS)}")
    return value


def parse_policy(section: Mapping[str, Any] | None) -> Policy:
    """The policy of a ``[privacy]`` config section; PolicyError naming the key when something is wrong."""
    if not section:
        return Policy()
    if not isinstance(section, Mapping):
        raise PolicyError("privacy must be a table")
    known = {"version", "default", "entities", "rules"}
    for key in section:
        if key not in known:
            raise PolicyError(f"privacy.{key} is not a known key (use {', '.join(sorted(known))})")
    version = section.get("version", POLICY_VERSION)
    if isinstance(version, bool) or not isinstance(version, int) or version < 1:
        raise PolicyError("privacy.version must be a positive integer")
    if version > POLICY_VERSION:
        raise PolicyError(f"privacy.version {version} is newer than this Watchkeeper understands ({POLICY_VERSION})")
    default = _action(section.get("default", "redact"), "privacy.default")
    if default == "drop":
        raise PolicyError("privacy.default must not be 'drop' (it would drop every field with any finding)")
    entities_in = section.get("entities", {})
    if not isinstance(entities_in, Mapping):
        raise PolicyError("privacy.entities must be a table of ENTITY_TYPE = action")
    entities: dict[str, str] = {}
    for name, action in entities_in.items():
        if not isinstance(name, str) or not _ENTITY_NAME.match(name):
            raise PolicyError(f"privacy.entities.{name}: entity types are written in capitals, e.g. EMAIL")
        entities[name] = _action(action, f"privacy.entities.{name}")
    rules_in = section.get("rules", [])
    if not isinstance(rules_in, list):
        raise PolicyError("privacy.rules must be an array of tables ([[privacy.rules]])")
    rules = []
    for i, r in enumerate(rules_in):
        where = f"privacy.rules[{i}]"
        if not isinstance(r, Mapping):
            raise PolicyError(f"{where} must be a table with path, entity and action")
        extra = set(r) - {"path", "entity", "action"}
        if extra:
            raise PolicyError(f"{where}.{sorted(extra)[0]} is not a known key (use path, entity, action)")
        action = _action(r.get("action"), f"{where}.action")
        path = r.get("path")
        entity = r.get("entity")
        if path is not None and (not isinstance(path, str) or not path):
            raise PolicyError(f"{where}.path must be a non-empty string")
        if entity is not None and (not isinstance(entity, str) or not (entity == "*" or _ENTITY_NAME.match(entity))):
            raise PolicyError(f"{where}.entity must be an entity type in capitals or '*'")
        if entity is None and path is None:
            raise PolicyError(f"{where} needs a path, an entity or both")
        if entity is None and action not in ("drop", "keep"):
            raise PolicyError(f"{where}.action: a rule without entity applies to the whole field: use drop or keep")
        rules.append(Rule(action=action, path=path, entity=entity, _regex=_glob(path) if path else None))
    return Policy(version=version, default=default, entities=entities, rules=tuple(rules))
