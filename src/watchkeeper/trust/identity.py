"""Who is asking: users and service accounts, their roles per project, API keys, passwords and web sessions.

API keys look like ``wk_3kT9qPzA_<32 random base62>_<6-char checksum>``: a recognisable prefix (secret scanners and
our own redactor find them), a public key id shown in lists and the access log, and a CRC-32 checksum so a mistyped
or truncated key is refused without a database lookup. Only the SHA-256 of a key is stored; the key is shown once.
A key carries scopes (a subset of its principal's permissions in the key's project), may expire, and a revoked key
stops working on the next request: every request looks the key up, nothing is cached.

Passwords are hashed with Argon2id (argon2-cffi's defaults); ten failed logins in a row lock the account for fifteen
minutes. Web sessions are random tokens stored as SHA-256, with a CSRF token each, expiring and revocable.
"""

from __future__ import annotations

import hashlib
import secrets
import time
import zlib
from collections.abc import Iterable
from dataclasses import dataclass
from functools import cache

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError
from sqlalchemy import ColumnElement, Engine, and_, delete, insert, select, update
from sqlalchemy.exc import IntegrityError

from ..errors import Conflict, Forbidden, InputError, NotFound, Unauthenticated
from ..store.tables import api_keys, memberships, principals, projects, web_sessions
from .roles import ROLES, Permission, check_role, parse_scopes, permissions_of

KEY_PREFIX = "wk_"
_B62 = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
_ID_LEN, _SECRET_LEN, _SUM_LEN = 8, 32, 6
KEY_LENGTH = len(KEY_PREFIX) + _ID_LEN + 1 + _SECRET_LEN + _SUM_LEN + 1
MAX_FAILED_LOGINS = 10
LOCKOUT_S = 15 * 60
_NAME_CHARS = set(_B62 + "._@-+")
_HASHER = PasswordHasher()


@cache
def _dummy_hash() -> str:
    """A hash to verify against when the user does not exist (same work either way); made on first use, not at
    import: one Argon2id hash is ~0.3 s of a start-up."""
    return _HASHER.hash("watchkeeper-timing-equaliser")


@dataclass(frozen=True, slots=True)
class Principal:
    """The caller of one request: who, in which project, with which permissions, and how they proved it."""

    id: int | None  # None for the local operator (authentication off) and the CLI
    name: str
    kind: str  # user | service | local | cli
    project_id: int
    roles: frozenset[str]
    permissions: frozenset[Permission]
    via: str  # key | session | local | cli | proxy
    key_id: str | None = None
    csrf_token: str | None = None

    def can(self, permission: Permission) -> bool:
        return permission in self.permissions

    @property
    def actor(self) -> str:
        """The pseudonymous id the access log commits to (never a name or e-mail)."""
        if self.key_id:
            return f"key:{self.key_id}"
        return f"principal:{self.id}" if self.id is not None else f"{self.kind}:{self.name}"


def local_operator(project_id: int = 1) -> Principal:
    """The single local operator when authentication is off: every permission, reads still audited."""
    return Principal(None, "local", "local", project_id, frozenset(ROLES), frozenset(Permission), "local")


def cli_operator(name: str, project_id: int = 1) -> Principal:
    """Whoever runs a CLI command against the store directly (they hold the database files anyway)."""
    return Principal(None, name, "cli", project_id, frozenset(ROLES), frozenset(Permission), "cli")


def _now() -> int:
    return time.time_ns()


def _check_name(name: str, field: str = "name") -> str:
    if not 1 <= len(name) <= 128 or not set(name) <= _NAME_CHARS:
        raise InputError("names are 1-128 characters of letters, digits and . _ @ - +", field=field)
    return name


# ---------------------------------------------------------------------------------------------------------------
# Projects


def project_id(engine: Engine, name: str) -> int:
    """The id of the project called ``name``; NotFound lists none of the others (tenants do not see each other)."""
    with engine.connect() as conn:
        pid = conn.execute(select(projects.c.id).where(projects.c.name == name)).scalar()
    if pid is None:
        raise NotFound(f"no project named {name!r}")
    return int(pid)


def create_project(engine: Engine, name: str) -> int:
    """Makes a project (tenant); gives its id."""
    _check_name(name)
    with engine.begin() as conn:
        top = conn.execute(select(projects.c.id).order_by(projects.c.id.desc()).limit(1)).scalar() or 0
        try:
            conn.execute(insert(projects).values(id=int(top) + 1, name=name, created_ns=_now()))
        except IntegrityError:
            raise Conflict(f"a project named {name!r} exists") from None
    return int(top) + 1


# ---------------------------------------------------------------------------------------------------------------
# Principals


@dataclass(frozen=True, slots=True)
class PrincipalInfo:
    id: int
    kind: str
    name: str
    created_ns: int
    disabled: bool
    roles: dict[int, list[str]]  # project id -> roles

    def as_dict(self) -> dict[str, object]:
        return {
            "id": self.id,
            "kind": self.kind,
            "name": self.name,
            "created_ns": self.created_ns,
            "disabled": self.disabled,
            "roles": {str(k): v for k, v in self.roles.items()},
        }


def create_principal(
    engine: Engine,
    name: str,
    *,
    kind: str = "user",
    roles: Iterable[str] = (),
    project: int = 1,
    password: str | None = None,
) -> int:
    """Makes a user or service account with ``roles`` in ``project``; gives its id."""
    _check_name(name)
    if kind not in ("user", "service"):
        raise InputError("kind is 'user' or 'service'", field="kind")
    if password is not None and kind == "service":
        raise InputError("service accounts authenticate with API keys, not passwords", field="password")
    role_list = [check_role(r, "roles") for r in roles]
    pw_hash = hash_password(password) if password is not None else None
    with engine.begin() as conn:
        _check_project(conn, project)
        try:
            pid = conn.execute(
                insert(principals)
                .values(kind=kind, name=name, password_hash=pw_hash, created_ns=_now())
                .returning(principals.c.id)
            ).scalar_one()
        except IntegrityError:
            raise Conflict(f"a principal named {name!r} exists") from None
        for r in sorted(set(role_list)):
            conn.execute(insert(memberships).values(principal_id=pid, project_id=project, role=r))
    return int(pid)


def _check_project(conn: object, project: int) -> None:
    exists = conn.execute(select(projects.c.id).where(projects.c.id == project)).scalar()  # type: ignore[attr-defined]
    if exists is None:
        raise NotFound(f"no project with id {project}")


def set_roles(engine: Engine, principal: int, roles: Iterable[str], *, project: int = 1) -> None:
    """Replaces the principal's roles in ``project`` (an empty list removes them from it)."""
    role_list = sorted({check_role(r, "roles") for r in roles})
    with engine.begin() as conn:
        _check_project(conn, project)
        if conn.execute(select(principals.c.id).where(principals.c.id == principal)).scalar() is None:
            raise NotFound(f"no principal with id {principal}")
        conn.execute(
            delete(memberships).where(memberships.c.principal_id == principal, memberships.c.project_id == project)
        )
        for r in role_list:
            conn.execute(insert(memberships).values(principal_id=principal, project_id=project, role=r))


def set_password(engine: Engine, principal: int, password: str) -> None:
    with engine.begin() as conn:
        kind = conn.execute(select(principals.c.kind).where(principals.c.id == principal)).scalar()
        if kind is None:
            raise NotFound(f"no principal with id {principal}")
        if kind != "user":
            raise InputError("service accounts authenticate with API keys, not passwords", field="password")
        conn.execute(
            update(principals)
            .where(principals.c.id == principal)
            .values(password_hash=hash_password(password), failed_logins=0, locked_until_ns=None)
        )


def disable_principal(engine: Engine, principal: int) -> None:
    """Disables a principal at once: their keys and sessions stop working on the next request."""
    now = _now()
    with engine.begin() as conn:
        n = conn.execute(
            update(principals)
            .where(principals.c.id == principal, principals.c.disabled_ns.is_(None))
            .values(disabled_ns=now)
        ).rowcount
        if not n and conn.execute(select(principals.c.id).where(principals.c.id == principal)).scalar() is None:
            raise NotFound(f"no principal with id {principal}")
        conn.execute(
            update(web_sessions)
            .where(web_sessions.c.principal_id == principal, web_sessions.c.revoked_ns.is_(None))
            .values(revoked_ns=now)
        )


def list_principals(engine: Engine, *, project: int | None = None) -> list[PrincipalInfo]:
    with engine.connect() as conn:
        rows = conn.execute(select(principals).order_by(principals.c.id)).fetchall()
        mem = conn.execute(select(memberships)).fetchall()
    by: dict[int, dict[int, list[str]]] = {}
    for m in mem:
        by.setdefault(int(m.principal_id), {}).setdefault(int(m.project_id), []).append(m.role)
    out = [
        PrincipalInfo(int(r.id), r.kind, r.name, int(r.created_ns), r.disabled_ns is not None, by.get(int(r.id), {}))
        for r in rows
    ]
    return [p for p in out if project is None or project in p.roles]


def principal_id(engine: Engine, name: str) -> int:
    with engine.connect() as conn:
        pid = conn.execute(select(principals.c.id).where(principals.c.name == name)).scalar()
    if pid is None:
        raise NotFound(f"no principal named {name!r}")
    return int(pid)


def load_principal(engine: Engine, principal: int, project: int, *, via: str, **extra: str | None) -> Principal:
    """The principal as a caller in ``project``; Unauthenticated if disabled, Forbidden without a role there."""
    with engine.connect() as conn:
        r = conn.execute(select(principals).where(principals.c.id == principal)).first()
        roles = (
            conn.execute(
                select(memberships.c.role).where(
                    memberships.c.principal_id == principal, memberships.c.project_id == project
                )
            )
            .scalars()
            .all()
        )
    if r is None or r.disabled_ns is not None:
        raise Unauthenticated("this account is disabled or no longer exists")
    if not roles:
        raise Forbidden("this account has no role in this project")
    rs = frozenset(roles)
    return Principal(int(r.id), r.name, r.kind, project, rs, permissions_of(rs), via, **extra)


# ---------------------------------------------------------------------------------------------------------------
# Passwords


def hash_password(password: str) -> str:
    if not 12 <= len(password) <= 1024:
        raise InputError("passwords are 12 to 1024 characters long", field="password")
    return _HASHER.hash(password)


def check_login(engine: Engine, name: str, password: str, *, now_ns: int | None = None) -> int:
    """The principal id if ``password`` is right; Unauthenticated otherwise (one message for every failure)."""
    now = _now() if now_ns is None else now_ns
    fail = Unauthenticated("wrong user name or password, or the account is locked or disabled")
    dummy = _dummy_hash()  # made before the branch, so even the first login takes the same time either way
    with engine.connect() as conn:
        r = conn.execute(select(principals).where(principals.c.name == name, principals.c.kind == "user")).first()
    if r is None or r.password_hash is None:
        _verify(dummy, password)  # same work whether or not the user exists
        raise fail
    if r.disabled_ns is not None or (r.locked_until_ns is not None and r.locked_until_ns > now):
        _verify(dummy, password)
        raise fail
    if not _verify(r.password_hash, password):
        failed = int(r.failed_logins) + 1
        locked = now + LOCKOUT_S * 1_000_000_000 if failed >= MAX_FAILED_LOGINS else None
        with engine.begin() as conn:
            conn.execute(
                update(principals)
                .where(principals.c.id == r.id)
                .values(failed_logins=0 if locked else failed, locked_until_ns=locked)
            )
        raise fail
    if r.failed_logins or r.locked_until_ns:
        with engine.begin() as conn:
            conn.execute(
                update(principals).where(principals.c.id == r.id).values(failed_logins=0, locked_until_ns=None)
            )
    return int(r.id)


def _verify(stored: str, password: str) -> bool:
    try:
        return _HASHER.verify(stored, password)
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        return False


# ---------------------------------------------------------------------------------------------------------------
# API keys


def _b62(n: int, width: int) -> str:
    out = []
    for _ in range(width):
        n, r = divmod(n, 62)
        out.append(_B62[r])
    return "".join(reversed(out))


def _checksum(body: str) -> str:
    return _b62(zlib.crc32(body.encode("ascii")), _SUM_LEN)


def _random_b62(width: int) -> str:
    return "".join(secrets.choice(_B62) for _ in range(width))


def parse_key(key: str) -> str:
    """The key id of a well-formed API key; Unauthenticated naming what is wrong with a malformed one."""
    if not key.startswith(KEY_PREFIX):
        raise Unauthenticated(f"not a Watchkeeper API key: keys start with {KEY_PREFIX!r}")
    if len(key) != KEY_LENGTH or key[len(KEY_PREFIX) + _ID_LEN] != "_" or key[-_SUM_LEN - 1] != "_":
        raise Unauthenticated(f"malformed API key: keys are {KEY_LENGTH} characters, wk_<id>_<secret>_<checksum>")
    body, check = key[: -_SUM_LEN - 1], key[-_SUM_LEN:]
    if not set(key[len(KEY_PREFIX) :]) <= set(_B62 + "_") or _checksum(body) != check:
        raise Unauthenticated("API key checksum mismatch: the key was mistyped or truncated")
    return key[len(KEY_PREFIX) : len(KEY_PREFIX) + _ID_LEN]


@dataclass(frozen=True, slots=True)
class KeyInfo:
    key_id: str
    principal_id: int
    principal: str
    project_id: int
    name: str
    scopes: list[str]
    created_ns: int
    expires_ns: int | None
    revoked_ns: int | None

    def as_dict(self) -> dict[str, object]:
        return {
            "key_id": self.key_id,
            "principal_id": self.principal_id,
            "principal": self.principal,
            "project_id": self.project_id,
            "name": self.name,
            "scopes": self.scopes,
            "created_ns": self.created_ns,
            "expires_ns": self.expires_ns,
            "revoked_ns": self.revoked_ns,
        }


def create_key(
    engine: Engine,
    principal: int,
    *,
    name: str,
    scopes: str | Iterable[str],
    project: int = 1,
    expires_ns: int | None = None,
    created_by: int | None = None,
) -> tuple[str, KeyInfo]:
    """Makes an API key; gives the key (shown once, never stored) and its listing.

    The scopes must be permissions the principal holds in ``project`` (a key never widens its owner's rights).
    """
    wanted = parse_scopes(scopes)
    if not 1 <= len(name) <= 128:
        raise InputError("a key's name is 1-128 characters", field="name")
    now = _now()
    if expires_ns is not None and expires_ns <= now:
        raise InputError("expires must be in the future", field="expires")
    with engine.connect() as conn:
        held = (
            conn.execute(
                select(memberships.c.role).where(
                    memberships.c.principal_id == principal, memberships.c.project_id == project
                )
            )
            .scalars()
            .all()
        )
        owner = conn.execute(select(principals).where(principals.c.id == principal)).first()
    if owner is None:
        raise NotFound(f"no principal with id {principal}")
    if owner.disabled_ns is not None:
        raise Conflict(f"principal {owner.name!r} is disabled")
    extra = wanted - permissions_of(held)
    if extra:
        raise Forbidden(
            f"{owner.name!r} does not hold {', '.join(sorted(extra))} in project {project}; a key's scopes must be "
            "a subset of its owner's permissions"
        )
    key_id = _random_b62(_ID_LEN)
    body = f"{KEY_PREFIX}{key_id}_{_random_b62(_SECRET_LEN)}"
    key = f"{body}_{_checksum(body)}"
    scope_text = " ".join(sorted(p.value for p in wanted))
    with engine.begin() as conn:
        conn.execute(
            insert(api_keys).values(
                key_id=key_id,
                secret_sha256=hashlib.sha256(key.encode()).digest(),
                principal_id=principal,
                project_id=project,
                name=name,
                scopes=scope_text,
                created_ns=now,
                created_by=created_by,
                expires_ns=expires_ns,
            )
        )
    info = KeyInfo(key_id, principal, owner.name, project, name, scope_text.split(), now, expires_ns, None)
    return key, info


def authenticate_key(engine: Engine, key: str, *, now_ns: int | None = None) -> Principal:
    """The caller an API key stands for, with its scopes; Unauthenticated for a bad, expired or revoked key."""
    key_id = parse_key(key)
    now = _now() if now_ns is None else now_ns
    digest = hashlib.sha256(key.encode()).digest()
    with engine.connect() as conn:
        r = conn.execute(select(api_keys).where(api_keys.c.secret_sha256 == digest)).first()
    if r is None or not secrets.compare_digest(r.key_id, key_id):
        raise Unauthenticated("unknown API key")
    if r.revoked_ns is not None:
        raise Unauthenticated(f"API key {key_id} was revoked")
    if r.expires_ns is not None and r.expires_ns <= now:
        raise Unauthenticated(f"API key {key_id} has expired")
    owner = load_principal(engine, int(r.principal_id), int(r.project_id), via="key", key_id=key_id)
    scopes = parse_scopes(r.scopes)
    return Principal(
        owner.id, owner.name, owner.kind, owner.project_id, owner.roles, owner.permissions & scopes, "key", key_id
    )


def list_keys(engine: Engine, *, principal: int | None = None, project: int | None = None) -> list[KeyInfo]:
    q = select(api_keys, principals.c.name.label("owner")).join(principals, principals.c.id == api_keys.c.principal_id)
    if principal is not None:
        q = q.where(api_keys.c.principal_id == principal)
    if project is not None:
        q = q.where(api_keys.c.project_id == project)
    with engine.connect() as conn:
        rows = conn.execute(q.order_by(api_keys.c.id)).fetchall()
    return [
        KeyInfo(
            r.key_id,
            int(r.principal_id),
            r.owner,
            int(r.project_id),
            r.name,
            r.scopes.split(),
            int(r.created_ns),
            r.expires_ns,
            r.revoked_ns,
        )
        for r in rows
    ]


def key_owner(engine: Engine, key_id: str) -> tuple[int, int]:
    """(principal id, project id) of a key; NotFound if no such key."""
    with engine.connect() as conn:
        r = conn.execute(
            select(api_keys.c.principal_id, api_keys.c.project_id).where(api_keys.c.key_id == key_id)
        ).first()
    if r is None:
        raise NotFound(f"no API key {key_id}")
    return int(r[0]), int(r[1])


def revoke_key(engine: Engine, key_id: str) -> bool:
    """Revokes a key at once; False if it was already revoked."""
    with engine.begin() as conn:
        n = conn.execute(
            update(api_keys)
            .where(api_keys.c.key_id == key_id, api_keys.c.revoked_ns.is_(None))
            .values(revoked_ns=_now())
        ).rowcount
        if not n and conn.execute(select(api_keys.c.id).where(api_keys.c.key_id == key_id)).scalar() is None:
            raise NotFound(f"no API key {key_id}")
    return bool(n)


def revoke_keys_of(engine: Engine, *, principal: int | None = None, project: int | None = None) -> int:
    """Revokes every live key of a principal and/or project (the breach drill); gives how many."""
    cond: list[ColumnElement[bool]] = [api_keys.c.revoked_ns.is_(None)]
    if principal is not None:
        cond.append(api_keys.c.principal_id == principal)
    if project is not None:
        cond.append(api_keys.c.project_id == project)
    with engine.begin() as conn:
        return int(conn.execute(update(api_keys).where(and_(*cond)).values(revoked_ns=_now())).rowcount)


# ---------------------------------------------------------------------------------------------------------------
# Web sessions


def open_session(engine: Engine, principal: int, project: int, *, ttl_s: int) -> tuple[str, str]:
    """A new web session; gives (the cookie token, the CSRF token). Only the token's hash is stored."""
    load_principal(engine, principal, project, via="session")  # refuses disabled or role-less principals
    token, csrf = secrets.token_urlsafe(32), secrets.token_urlsafe(24)
    now = _now()
    with engine.begin() as conn:
        conn.execute(
            insert(web_sessions).values(
                token_sha256=hashlib.sha256(token.encode()).digest(),
                principal_id=principal,
                project_id=project,
                csrf_token=csrf,
                created_ns=now,
                expires_ns=now + ttl_s * 1_000_000_000,
            )
        )
    return token, csrf


def authenticate_session(engine: Engine, token: str, *, now_ns: int | None = None) -> Principal:
    now = _now() if now_ns is None else now_ns
    if not 16 <= len(token) <= 128:
        raise Unauthenticated("malformed session cookie; log in again")
    with engine.connect() as conn:
        r = conn.execute(
            select(web_sessions).where(web_sessions.c.token_sha256 == hashlib.sha256(token.encode()).digest())
        ).first()
    if r is None or r.revoked_ns is not None or r.expires_ns <= now:
        raise Unauthenticated("your session has ended; log in again")
    return load_principal(engine, int(r.principal_id), int(r.project_id), via="session", csrf_token=r.csrf_token)


def close_session(engine: Engine, token: str) -> None:
    with engine.begin() as conn:
        conn.execute(
            update(web_sessions)
            .where(web_sessions.c.token_sha256 == hashlib.sha256(token.encode()).digest())
            .values(revoked_ns=_now())
        )


def memberships_of(engine: Engine, principal: int) -> dict[int, list[str]]:
    with engine.connect() as conn:
        rows = conn.execute(select(memberships).where(memberships.c.principal_id == principal)).fetchall()
    out: dict[int, list[str]] = {}
    for m in rows:
        out.setdefault(int(m.project_id), []).append(m.role)
    return out


__all__ = [
    "KEY_PREFIX",
    "KeyInfo",
    "Principal",
    "PrincipalInfo",
    "authenticate_key",
    "authenticate_session",
    "check_login",
    "cli_operator",
    "close_session",
    "create_key",
    "create_principal",
    "create_project",
    "disable_principal",
    "hash_password",
    "key_owner",
    "list_keys",
    "list_principals",
    "load_principal",
    "local_operator",
    "memberships_of",
    "open_session",
    "parse_key",
    "principal_id",
    "project_id",
    "revoke_key",
    "revoke_keys_of",
    "set_password",
    "set_roles",
]
