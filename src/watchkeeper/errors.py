"""Errors a user can see, in one tree.

    WatchkeeperError
    ├── ConfigError            a setting or the config file is wrong (raised at start-up)
    ├── InputError             a request, file or record is malformed; HTTP 400/422
    │   ├── PayloadTooLarge    a body or a decompressed body exceeds the limit; HTTP 413
    │   ├── UnsupportedMediaType  neither protobuf nor JSON; HTTP 415
    │   ├── trust.CheckpointError  a malformed or badly signed checkpoint; HTTP 422
    │   │   └── trust.ForkError    two checkpoints of one size with different roots
    │   ├── trust.ProofError       a malformed or failing inclusion/consistency proof; HTTP 422
    │   └── trust.LeafError        malformed log-leaf bytes; HTTP 422
    ├── Unauthenticated        no, expired, revoked or malformed credentials; HTTP 401
    ├── Forbidden              the caller may not do this (role, scope or grant missing); HTTP 403
    │   └── AuditUnavailable   the access log could not record a read, so the read is refused (fail closed); 503
    ├── NotFound               the thing asked for does not exist; HTTP 404
    ├── Conflict               the request contradicts the stored state (e.g. a legal hold); HTTP 409
    ├── Overloaded             the ingest queue is full; HTTP 429 with Retry-After
    ├── StorageError           the store refused or failed a write; HTTP 503
    └── ContentLocked          stored content cannot be opened: no key, wrong key, or altered; HTTP 503

Every message says what was wrong and what to do. No message ever contains payload text: errors name the field and
the rule that failed (``records.RecordError`` carries exactly those two).
"""

from __future__ import annotations


class WatchkeeperError(Exception):
    status = 500
    title = "Internal error"
    type_slug = "internal"


class ConfigError(WatchkeeperError):
    status = 500
    title = "Invalid configuration"
    type_slug = "invalid-config"


class InputError(WatchkeeperError):
    status = 400
    title = "Invalid input"
    type_slug = "invalid-input"

    def __init__(self, detail: str, *, field: str | None = None, status: int | None = None) -> None:
        super().__init__(detail)
        self.detail = detail
        self.field = field
        if status is not None:
            self.status = status


class PayloadTooLarge(InputError):
    status = 413
    title = "Payload too large"
    type_slug = "payload-too-large"


class UnsupportedMediaType(InputError):
    status = 415
    title = "Unsupported media type"
    type_slug = "unsupported-media-type"


class NotFound(WatchkeeperError):
    status = 404
    title = "Not found"
    type_slug = "not-found"


class Overloaded(WatchkeeperError):
    status = 429
    title = "Ingest queue full"
    type_slug = "overloaded"

    def __init__(self, detail: str, *, retry_after_s: int = 1) -> None:
        super().__init__(detail)
        self.retry_after_s = retry_after_s


class StorageError(WatchkeeperError):
    status = 503
    title = "Storage unavailable"
    type_slug = "storage-unavailable"


class Conflict(WatchkeeperError):
    status = 409
    title = "Conflict"
    type_slug = "conflict"


class Forbidden(WatchkeeperError):
    status = 403
    title = "Forbidden"
    type_slug = "forbidden"


class Unauthenticated(WatchkeeperError):
    """No credentials, or credentials that are malformed, unknown, expired or revoked (one message for all kinds)."""

    status = 401
    title = "Unauthenticated"
    type_slug = "unauthenticated"


class AuditUnavailable(Forbidden):
    """A read of content was refused because the access log could not record it first (fail closed)."""

    status = 503
    title = "Audit log unavailable"
    type_slug = "audit-unavailable"


class ContentLocked(WatchkeeperError):
    """Encrypted content that cannot be opened here. Never falls back to anything but this error."""

    status = 503
    title = "Content unavailable"
    type_slug = "content-locked"


__all__ = [
    "AuditUnavailable",
    "ConfigError",
    "Conflict",
    "ContentLocked",
    "Forbidden",
    "InputError",
    "NotFound",
    "Overloaded",
    "PayloadTooLarge",
    "StorageError",
    "Unauthenticated",
    "UnsupportedMediaType",
    "WatchkeeperError",
]
