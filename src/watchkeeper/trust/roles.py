"""Roles and permissions: deny by default, least privilege, no role reads content by itself.

A principal holds roles per project; a role is a fixed set of permissions. Reading the content of a record (prompts,
responses, tool arguments and results, feedback text) is never a role's permission: it needs a grant that names the
record's session or trace (grants.py) — an approved request, a break-glass self-grant, or a spot-check assignment —
and every such read is written to the access log first (audit.py).

    role          may                                                    never
    ──────────    ───────────────────────────────────────────────────    ────────────────────────────
    viewer        aggregates, span metadata, slices, alerts, metrics     content, any change
    engineer      viewer + silences and alert rules                      content
    reviewer      metadata + content of traces assigned to them          other content
    investigator  metadata + request access to named sessions;           approve anything
                  break-glass (short, alerted, reviewed later)
    approver      metadata + approve or deny others' requests            approve their own; content
    auditor       access log, breach scoping, verify reports, proofs     content
    admin         users, API keys, projects, settings, erasure           content (by default)
    ingest        write spans and feedback (a scope for service keys)    read anything
"""

from __future__ import annotations

from collections.abc import Iterable
from enum import StrEnum

from ..errors import InputError


class Permission(StrEnum):
    INGEST = "ingest"  # write spans and feedback
    READ_METADATA = "metadata:read"  # span metadata, aggregates, slices, sessions (never content)
    READ_METRICS = "metrics:read"  # /metrics
    READ_LOG = "log:read"  # checkpoints, proofs and leaves of the verifiable logs
    READ_ALERTS = "alerts:read"
    WRITE_ALERTS = "alerts:write"  # silences, rule changes
    READ_ASSIGNED = "content:assigned"  # content of traces assigned for a spot check (with the assignment)
    REQUEST_ACCESS = "access:request"
    BREAK_GLASS = "access:break-glass"
    APPROVE_ACCESS = "access:approve"  # approve or deny requests and assign spot checks; never one's own
    READ_AUDIT = "audit:read"  # the access log, breach scoping and breach records
    MANAGE_BREACHES = "breach:write"
    MANAGE_PRINCIPALS = "admin:principals"  # users, service accounts, roles
    MANAGE_KEYS = "admin:keys"  # API keys of any principal
    ERASE = "privacy:erase"


P = Permission

ROLES: dict[str, frozenset[Permission]] = {
    "viewer": frozenset({P.READ_METADATA, P.READ_METRICS, P.READ_LOG, P.READ_ALERTS}),
    "engineer": frozenset({P.READ_METADATA, P.READ_METRICS, P.READ_LOG, P.READ_ALERTS, P.WRITE_ALERTS}),
    "reviewer": frozenset({P.READ_METADATA, P.READ_ASSIGNED}),
    "investigator": frozenset({P.READ_METADATA, P.REQUEST_ACCESS, P.BREAK_GLASS}),
    "approver": frozenset({P.READ_METADATA, P.APPROVE_ACCESS}),
    "auditor": frozenset({P.READ_AUDIT, P.READ_LOG, P.MANAGE_BREACHES}),
    "admin": frozenset({P.READ_METADATA, P.READ_METRICS, P.READ_LOG, P.MANAGE_PRINCIPALS, P.MANAGE_KEYS, P.ERASE}),
    "ingest": frozenset({P.INGEST}),
}


def check_role(name: str, field: str = "role") -> str:
    """The role name, or an InputError listing the roles that exist."""
    if name not in ROLES:
        raise InputError(f"unknown role {name!r}; roles are: {', '.join(ROLES)}", field=field)
    return name


def permissions_of(roles: Iterable[str]) -> frozenset[Permission]:
    """The union of the roles' permissions (unknown role names grant nothing)."""
    out: set[Permission] = set()
    for r in roles:
        out |= ROLES.get(r, frozenset())
    return frozenset(out)


def parse_scopes(text: str | Iterable[str], field: str = "scopes") -> frozenset[Permission]:
    """Permissions from a space- or comma-separated list (or an iterable), with a precise error for unknown ones."""
    items = text.replace(",", " ").split() if isinstance(text, str) else list(text)
    out: set[Permission] = set()
    for item in items:
        try:
            out.add(Permission(item))
        except ValueError:
            known = ", ".join(p.value for p in Permission)
            raise InputError(f"unknown scope {item!r}; scopes are: {known}", field=field) from None
    if not out:
        raise InputError("name at least one scope", field=field)
    return frozenset(out)


__all__ = ["ROLES", "Permission", "check_role", "parse_scopes", "permissions_of"]
