"""Encryption at rest: stored content sealed with AES-256-GCM under envelope keys.

Every data subject has a data key of its own (falling back to the session, then to the trace, when a record names
no subject). Data keys are random 256-bit keys, stored only wrapped by a key-encryption key (KEK) that never touches
the database: a key file, an environment variable, or a KMS plugin. Erasing a subject destroys their data key
(crypto-shredding): any copy of their content left in a backup, a WAL file or a replica becomes unreadable.

A sealed blob is ``E`` · version ``1`` · key id (16 bytes) · nonce (12 bytes) · ciphertext and tag. Its associated
data binds the project, the record (kind and id), the field and the key id, so a ciphertext copied onto another
record, or relabelled with another key id, fails to open. Metadata columns (tokens, latency, model, tool name,
error code, cohort attributes) stay in clear so aggregates work without any key.

Fail closed: content sealed under a key that is not available is never shown as anything but an error, and a
store that holds data keys refuses to start without the KEK that wraps them.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import os
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Iterable
from importlib.metadata import entry_points
from pathlib import Path
from typing import Any, Protocol, runtime_checkable

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from sqlalchemy import Engine, func, select, update
from sqlalchemy.dialects import postgresql, sqlite

from ..config import Settings
from ..errors import ConfigError, ContentLocked
from ..store.tables import data_keys

MARKER = b"E"
VERSION = b"\x01"
_HEADER = len(MARKER) + len(VERSION) + 16 + 12


# ---------------------------------------------------------------------------------------------------------------
# Key-encryption keys


@runtime_checkable
class KeyWrapper(Protocol):
    """A key-encryption key: wraps and unwraps data keys. ``key_id`` names it in every data key row it wraps."""

    key_id: str

    def wrap(self, data_key: bytes, aad: bytes) -> bytes: ...

    def unwrap(self, wrapped: bytes, aad: bytes) -> bytes: ...


class KeyUnwrapError(Exception):
    """A wrapped data key did not open under this KEK (wrong key, or the row was altered)."""


class LocalKey:
    """A KEK held in this process's memory: AES-256-GCM key wrapping (a random nonce per wrap)."""

    def __init__(self, key: bytes) -> None:
        if len(key) != 32:
            raise ConfigError("the key-encryption key must be 32 bytes (256 bits)")
        self._aead = AESGCM(key)
        self.key_id = "local:" + hashlib.sha256(b"watchkeeper kek id\x00" + key).hexdigest()[:16]

    def __repr__(self) -> str:
        return f"LocalKey({self.key_id})"

    def wrap(self, data_key: bytes, aad: bytes) -> bytes:
        nonce = os.urandom(12)
        return nonce + self._aead.encrypt(nonce, data_key, aad)

    def unwrap(self, wrapped: bytes, aad: bytes) -> bytes:
        try:
            return self._aead.decrypt(wrapped[:12], wrapped[12:], aad)
        except (InvalidTag, ValueError):
            raise KeyUnwrapError("a data key did not unwrap under the configured key-encryption key") from None


def generate_key() -> str:
    """A new random 256-bit key, base64-encoded: what `watchkeeper keys generate` prints."""
    return base64.b64encode(os.urandom(32)).decode()


def parse_key(text: str, origin: str) -> bytes:
    """The 32 key bytes of base64 or hex text; errors name the origin, never the value."""
    t = text.strip()
    for decode in (bytes.fromhex, lambda v: base64.b64decode(v, validate=True)):
        try:
            key = decode(t)
        except (ValueError, binascii.Error):
            continue
        if len(key) == 32:
            return key
    raise ConfigError(
        f"{origin} does not hold a 256-bit key in base64 or hex; make one with `watchkeeper keys generate`"
    )


def load_kek(settings: Settings, *, plugins: dict[str, Callable[[str], KeyWrapper]] | None = None) -> KeyWrapper | None:
    """The configured KEK, or None when encryption at rest is off. Errors name the setting, never the key."""
    chosen = [n for n in ("encryption_key_file", "encryption_key", "encryption_kms") if getattr(settings, n)]
    if len(chosen) > 1:
        raise ConfigError(f"set only one of {', '.join(chosen)}")
    if settings.encryption_kms:
        name, _, arg = settings.encryption_kms.partition(":")
        factories = plugins if plugins is not None else kms_plugins()
        if name not in factories:
            known = ", ".join(sorted(factories)) or "none installed"
            raise ConfigError(f"encryption_kms: no KMS plugin named {name!r} (known: {known})")
        wrapper = factories[name](arg)
        if not isinstance(wrapper, KeyWrapper):
            raise ConfigError(f"encryption_kms: plugin {name!r} did not return a key wrapper")
        return wrapper
    if settings.encryption_key_file:
        path = Path(settings.encryption_key_file)
        try:
            text = path.read_text(encoding="ascii")
        except FileNotFoundError:
            raise ConfigError(f"encryption_key_file {path} does not exist") from None
        except (OSError, UnicodeDecodeError):
            raise ConfigError(f"encryption_key_file {path} cannot be read as a text key") from None
        return LocalKey(parse_key(text, f"encryption_key_file {path}"))
    if settings.encryption_key:
        return LocalKey(parse_key(settings.encryption_key, "encryption_key (WATCHKEEPER_ENCRYPTION_KEY)"))
    return None


def kms_plugins() -> dict[str, Callable[[str], KeyWrapper]]:
    """KMS plugins installed as entry points in the group ``watchkeeper.kms`` (name → factory(argument))."""
    return {ep.name: ep.load() for ep in entry_points(group="watchkeeper.kms")}


# ---------------------------------------------------------------------------------------------------------------
# Data keys and sealing


def _dek_aad(project_id: int, scope: str, key_id: bytes) -> bytes:
    return b"wk dek v1|%d|%s|" % (project_id, scope.encode()) + key_id


def scope_of(subject_id: str | None, session_id: str | None, day: str) -> tuple[str, str]:
    """Whose key seals a record: its subject's, else its session's, else the day's (records of nobody in particular)."""
    if subject_id:
        return ("subject", subject_id)
    if session_id:
        return ("session", session_id)
    return ("day", day)


class KeyRing:
    """Data keys in the store, wrapped by one KEK; unwrapped keys cached in memory for a bounded time.

    The cache keeps at most ``cache_size`` keys for at most ``cache_ttl_s`` seconds, so a key destroyed by another
    process stops opening content here within that time.
    """

    def __init__(self, engine: Engine, kek: KeyWrapper, *, cache_size: int = 50_000, cache_ttl_s: float = 60.0) -> None:
        self.engine = engine
        self.kek = kek
        self._size = cache_size
        self._ttl = cache_ttl_s
        self._by_scope: OrderedDict[tuple[int, str, str], tuple[bytes, AESGCM, float]] = OrderedDict()
        self._by_id: OrderedDict[bytes, tuple[AESGCM | None, float]] = OrderedDict()
        self._lock = threading.Lock()

    # -- start-up check ------------------------------------------------------------------------------------------

    def check(self) -> None:
        """Refuse to run with a KEK that does not open the store's live data keys."""
        with self.engine.connect() as conn:
            others = conn.execute(
                select(data_keys.c.kek_id, func.count())
                .where(data_keys.c.destroyed_ns.is_(None), data_keys.c.kek_id != self.kek.key_id)
                .group_by(data_keys.c.kek_id)
            ).all()
            sample = conn.execute(
                select(data_keys.c.project_id, data_keys.c.scope, data_keys.c.key_id, data_keys.c.wrapped)
                .where(data_keys.c.destroyed_ns.is_(None), data_keys.c.kek_id == self.kek.key_id)
                .limit(1)
            ).first()
        if others:
            ids = ", ".join(f"{k} ({n} keys)" for k, n in others)
            raise ConfigError(
                f"the store's data keys are wrapped by another key-encryption key: {ids}; the configured key is "
                f"{self.kek.key_id}. Configure the key they were made with, or re-wrap them with "
                "`watchkeeper keys rotate`"
            )
        if sample is not None:
            try:
                self.kek.unwrap(sample.wrapped, _dek_aad(sample.project_id, sample.scope, sample.key_id))
            except KeyUnwrapError:
                raise ConfigError(
                    "the configured key-encryption key has the right id but does not open the store's data keys"
                ) from None

    # -- sealing ---------------------------------------------------------------------------------------------------

    def _cached_scope(self, k: tuple[int, str, str], now: float) -> tuple[bytes, AESGCM] | None:
        hit = self._by_scope.get(k)
        if hit is None or now - hit[2] > self._ttl:
            return None
        self._by_scope.move_to_end(k)
        return hit[0], hit[1]

    def _remember(self, k: tuple[int, str, str], key_id: bytes, aead: AESGCM, now: float) -> None:
        self._by_scope[k] = (key_id, aead, now)
        self._by_id[key_id] = (aead, now)
        while len(self._by_scope) > self._size:
            self._by_scope.popitem(last=False)
        while len(self._by_id) > self._size:
            self._by_id.popitem(last=False)

    def keys_for(
        self, project_id: int, scopes: Iterable[tuple[str, str]]
    ) -> dict[tuple[str, str], tuple[bytes, AESGCM]]:
        """The live data key of each scope, making the missing ones (one query and one insert for the lot)."""
        now = time.monotonic()
        out: dict[tuple[str, str], tuple[bytes, AESGCM]] = {}
        missing: set[tuple[str, str]] = set()
        with self._lock:
            for sc in set(scopes):
                hit = self._cached_scope((project_id, *sc), now)
                if hit is None:
                    missing.add(sc)
                else:
                    out[sc] = hit
        if missing:
            found = self._load_live(project_id, missing)
            to_make = missing - set(found)
            if to_make:
                self._create(project_id, to_make)
                found.update(self._load_live(project_id, to_make))
            with self._lock:
                for sc, (key_id, aead) in found.items():
                    self._remember((project_id, *sc), key_id, aead, now)
                    out[sc] = (key_id, aead)
        return out

    def _load_live(self, project_id: int, scopes: set[tuple[str, str]]) -> dict[tuple[str, str], tuple[bytes, AESGCM]]:
        found: dict[tuple[str, str], tuple[bytes, AESGCM]] = {}
        by_scope: dict[str, list[str]] = {}
        for scope, scope_id in scopes:
            by_scope.setdefault(scope, []).append(scope_id)
        cols = (data_keys.c.scope, data_keys.c.scope_id, data_keys.c.key_id, data_keys.c.wrapped)
        with self.engine.connect() as conn:
            for scope, ids in by_scope.items():
                ids.sort()
                for i in range(0, len(ids), 500):
                    # one equality and an IN list: the partial index on live keys answers it (an OR of pairs
                    # would scan the whole table, which grows with every subject)
                    rows = conn.execute(
                        select(*cols).where(
                            data_keys.c.project_id == project_id,
                            data_keys.c.scope == scope,
                            data_keys.c.scope_id.in_(ids[i : i + 500]),
                            data_keys.c.destroyed_ns.is_(None),
                        )
                    ).all()
                    for r in rows:
                        raw = self.kek.unwrap(r.wrapped, _dek_aad(project_id, r.scope, r.key_id))
                        found[(r.scope, r.scope_id)] = (r.key_id, AESGCM(raw))
        return found

    def _create(self, project_id: int, scopes: set[tuple[str, str]]) -> None:
        now_ns = time.time_ns()
        rows = []
        for scope, scope_id in scopes:
            key_id = os.urandom(16)
            raw = AESGCM.generate_key(bit_length=256)
            rows.append(
                {
                    "project_id": project_id,
                    "scope": scope,
                    "scope_id": scope_id,
                    "key_id": key_id,
                    "kek_id": self.kek.key_id,
                    "wrapped": self.kek.wrap(raw, _dek_aad(project_id, scope, key_id)),
                    "created_ns": now_ns,
                }
            )
        table: Any = data_keys
        dialect = self.engine.dialect.name
        stmt = (postgresql.insert(table) if dialect == "postgresql" else sqlite.insert(table)).on_conflict_do_nothing()
        # One transaction for the lot; a scope whose live key another process made a moment ago is skipped here,
        # and _load_live then finds that process's key.
        with self.engine.begin() as conn:
            conn.execute(stmt, rows)

    def seal(self, blob: bytes, key: tuple[bytes, AESGCM], aad: bytes) -> bytes:
        """The sealed form of a packed content blob."""
        key_id, aead = key
        nonce = os.urandom(12)
        return MARKER + VERSION + key_id + nonce + aead.encrypt(nonce, blob, aad + key_id)

    # -- opening ---------------------------------------------------------------------------------------------------

    def _key_by_id(self, key_id: bytes) -> AESGCM | None:
        now = time.monotonic()
        with self._lock:
            hit = self._by_id.get(key_id)
            if hit is not None and now - hit[1] <= self._ttl:
                return hit[0]
        with self.engine.connect() as conn:
            row = conn.execute(
                select(data_keys.c.project_id, data_keys.c.scope, data_keys.c.kek_id, data_keys.c.wrapped).where(
                    data_keys.c.key_id == key_id
                )
            ).first()
        if row is None:
            raise ContentLocked("stored content names a data key this store does not have")
        aead: AESGCM | None = None
        if row.wrapped is not None:  # None: destroyed by an erasure
            if row.kek_id != self.kek.key_id:
                raise ContentLocked(
                    f"stored content is sealed under key-encryption key {row.kek_id}, not configured here"
                )
            aead = AESGCM(self.kek.unwrap(row.wrapped, _dek_aad(row.project_id, row.scope, key_id)))
        with self._lock:
            self._by_id[key_id] = (aead, now)
            while len(self._by_id) > self._size:
                self._by_id.popitem(last=False)
        return aead

    def open(self, blob: bytes, aad: bytes) -> bytes | None:
        """The packed content inside a sealed blob; None when its data key was destroyed (the subject was erased)."""
        if len(blob) < _HEADER + 16 or blob[:1] != MARKER or blob[1:2] != VERSION:
            raise ContentLocked("stored content is not a sealed blob this version can open")
        key_id = blob[2:18]
        aead = self._key_by_id(key_id)
        if aead is None:
            return None
        try:
            return aead.decrypt(blob[18:30], blob[30:], aad + key_id)
        except InvalidTag:
            raise ContentLocked(
                "stored content failed its integrity check (altered, or moved from another record)"
            ) from None

    # -- erasure and rotation ----------------------------------------------------------------------------------------

    def destroy(self, project_id: int, scope: str, scope_id: str) -> int:
        """Destroy the live data key of a scope (crypto-shredding); the number of keys destroyed (0 or 1)."""
        with self.engine.begin() as conn:
            result = conn.execute(
                update(data_keys)
                .where(
                    data_keys.c.project_id == project_id,
                    data_keys.c.scope == scope,
                    data_keys.c.scope_id == scope_id,
                    data_keys.c.destroyed_ns.is_(None),
                )
                .values(wrapped=None, destroyed_ns=time.time_ns())
            )
        with self._lock:
            self._by_scope.pop((project_id, scope, scope_id), None)
            self._by_id.clear()
        return int(result.rowcount or 0)

    def rewrap(self, new: KeyWrapper, *, batch_size: int = 500) -> int:
        """Re-wrap every live data key from this ring's KEK to ``new``; payloads are not touched. Resumable."""
        done = 0
        while True:
            with self.engine.begin() as conn:
                rows = conn.execute(
                    select(
                        data_keys.c.id,
                        data_keys.c.project_id,
                        data_keys.c.scope,
                        data_keys.c.key_id,
                        data_keys.c.wrapped,
                    )
                    .where(data_keys.c.destroyed_ns.is_(None), data_keys.c.kek_id == self.kek.key_id)
                    .limit(batch_size)
                ).all()
                for r in rows:
                    aad = _dek_aad(r.project_id, r.scope, r.key_id)
                    raw = self.kek.unwrap(r.wrapped, aad)
                    conn.execute(
                        update(data_keys)
                        .where(data_keys.c.id == r.id)
                        .values(kek_id=new.key_id, wrapped=new.wrap(raw, aad))
                    )
            done += len(rows)
            if len(rows) < batch_size:
                return done


def check_keys(engine: Engine, ring: KeyRing | None) -> None:
    """At start-up: the configured KEK opens the store's data keys, and a store with sealed content has a KEK."""
    if ring is not None:
        ring.check()
        return
    with engine.connect() as conn:
        sealed = conn.execute(select(data_keys.c.id).where(data_keys.c.destroyed_ns.is_(None)).limit(1)).first()
    if sealed is not None:
        raise ConfigError(
            "this store holds encrypted content and no key-encryption key is configured; set encryption_key_file, "
            "WATCHKEEPER_ENCRYPTION_KEY or encryption_kms (content is never read or written unencrypted)"
        )
