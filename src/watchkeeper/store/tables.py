"""The schema: SQLAlchemy Core tables shared by SQLite and PostgreSQL.

A span is one row. Columns hold the metadata that filters, aggregates and cohorts need, in clear; everything that
carries content — messages, tool arguments and results, generic input/output, error messages — lives in one
``payload`` blob (compressed JSON), so later processors can encrypt, purge or erase content without touching the
metadata the dashboards count. Ids are stored as raw bytes (16 + 8) to keep rows and indexes small.

Changes to this file need an Alembic migration in ``store/migrations/versions``; a test compares the two.
"""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    Boolean,
    Column,
    Float,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    SmallInteger,
    String,
    Table,
    Text,
    UniqueConstraint,
)

from .._rollup import VALUE_COLUMNS

metadata = MetaData()

# Every index leads with project_id, so a query for one project's trace, session or subject matches two equality
# columns and the planner prefers it to scanning the time index, with or without ANALYZE statistics.

spans = Table(
    "spans",
    metadata,
    Column("id", Integer().with_variant(BigInteger(), "postgresql"), primary_key=True, autoincrement=True),
    Column("project_id", SmallInteger, nullable=False, default=1),
    Column("trace_id", LargeBinary(16), nullable=False),
    Column("span_id", LargeBinary(8), nullable=False),
    Column("parent_span_id", LargeBinary(8)),
    Column("name", String(), nullable=False),
    Column("kind", String(16), nullable=False),
    Column("status", String(8), nullable=False),
    Column("start_ns", BigInteger, nullable=False),
    Column("end_ns", BigInteger, nullable=False),
    Column("error_type", String()),
    Column("error_code", String()),
    # llm
    Column("provider", String()),
    Column("request_model", String()),
    Column("response_model", String()),
    Column("input_tokens", Integer),
    Column("output_tokens", Integer),
    Column("cached_tokens", Integer),
    Column("cost_usd", Float),
    Column("finish_reason", String()),
    # tool / mcp
    Column("tool_name", String()),
    Column("mcp_server", String()),
    Column("jsonrpc_method", String()),
    Column("tool_is_error", Boolean),
    Column("jsonrpc_error_code", Integer),
    # context
    Column("session_id", String()),
    Column("subject_id", String()),
    Column("account_created_ns", BigInteger),
    Column("plan_tier", String()),
    Column("region", String()),
    Column("client_name", String()),
    Column("client_version", String()),
    Column("locale", String()),
    Column("model_version", String()),
    Column("prompt_version", String()),
    Column("skill_version", String()),
    Column("service_name", String()),
    Column("source", String(16), nullable=False),
    Column("schema_version", SmallInteger, nullable=False),
    Column("attributes", Text),  # JSON object of unmapped attributes (metadata, queryable)
    Column("payload", LargeBinary),  # compressed JSON of content fields; see store/_codec.py
    Column("ingested_ns", BigInteger, nullable=False),
    # the verifiable log (trust/log.py): set by the sequencer after the row is committed, never by the writer
    Column("log_index", BigInteger),  # the row's leaf index in the records log; null until sequenced
    Column("payload_sha256", LargeBinary(32)),  # SHA-256 of ``payload`` as sequenced; kept when the payload is purged
    UniqueConstraint("project_id", "trace_id", "span_id", name="uq_spans_trace_span"),
)

Index("ix_spans_project_start", spans.c.project_id, spans.c.start_ns)
Index(
    "ix_spans_session",
    spans.c.project_id,
    spans.c.session_id,
    spans.c.start_ns,
    sqlite_where=spans.c.session_id.isnot(None),
    postgresql_where=spans.c.session_id.isnot(None),
)
Index(
    "ix_spans_subject",
    spans.c.project_id,
    spans.c.subject_id,
    spans.c.start_ns,
    sqlite_where=spans.c.subject_id.isnot(None),
    postgresql_where=spans.c.subject_id.isnot(None),
)
Index(  # the sequencer's queue: small, because rows leave it within seconds of their commit
    "ix_spans_unsequenced",
    spans.c.project_id,
    spans.c.id,
    sqlite_where=spans.c.log_index.is_(None),
    postgresql_where=spans.c.log_index.is_(None),
)
Index(  # verify reads the log in leaf order; unique, so no leaf index is ever given to two rows
    "ix_spans_log_index",
    spans.c.log_index,
    unique=True,
    sqlite_where=spans.c.log_index.isnot(None),
    postgresql_where=spans.c.log_index.isnot(None),
)
Index(
    "ix_spans_roots",
    spans.c.project_id,
    spans.c.start_ns,
    sqlite_where=spans.c.parent_span_id.is_(None),
    postgresql_where=spans.c.parent_span_id.is_(None),
)

feedback = Table(
    "feedback",
    metadata,
    Column("id", Integer().with_variant(BigInteger(), "postgresql"), primary_key=True, autoincrement=True),
    Column("project_id", SmallInteger, nullable=False, default=1),
    Column("feedback_id", String(), nullable=False),
    Column("trace_id", LargeBinary(16), nullable=False),
    Column("span_id", LargeBinary(8)),
    Column("kind", String(16), nullable=False),
    Column("time_ns", BigInteger, nullable=False),
    Column("score", Float),  # thumbs → ±1, score → [0, 1]; null for text kinds
    Column("session_id", String()),
    Column("subject_id", String()),
    Column("source", String(16), nullable=False),
    Column("schema_version", SmallInteger, nullable=False),
    Column("payload", LargeBinary),  # compressed JSON: value text, comment
    Column("ingested_ns", BigInteger, nullable=False),
    UniqueConstraint("project_id", "feedback_id", name="uq_feedback_id"),
)

Index("ix_feedback_trace", feedback.c.project_id, feedback.c.trace_id)
Index("ix_feedback_time", feedback.c.project_id, feedback.c.time_ns)

projects = Table(
    "projects",
    metadata,
    Column("id", SmallInteger, primary_key=True, autoincrement=False),
    Column("name", String(), nullable=False, unique=True),
    Column("created_ns", BigInteger, nullable=False),
)


# ---------------------------------------------------------------------------------------------------------------
# Privacy: envelope keys, legal holds, and the records of purges and erasures (see privacy/ and docs/privacy.md).

# One data key per data subject (or per session, or per trace when neither is known), wrapped by a key-encryption
# key. Destroying a key (crypto-shredding) nulls ``wrapped`` and sets ``destroyed_ns``; the row stays as evidence.
data_keys = Table(
    "data_keys",
    metadata,
    Column("id", Integer().with_variant(BigInteger(), "postgresql"), primary_key=True, autoincrement=True),
    Column("project_id", SmallInteger, nullable=False),
    Column("scope", String(8), nullable=False),  # subject | session | trace
    Column("scope_id", String(), nullable=False),
    Column("key_id", LargeBinary(16), nullable=False),
    Column("kek_id", String(64), nullable=False),
    Column("wrapped", LargeBinary),
    Column("created_ns", BigInteger, nullable=False),
    Column("destroyed_ns", BigInteger),
    UniqueConstraint("key_id", name="uq_data_keys_key_id"),
)
Index(
    "ix_data_keys_live_scope",
    data_keys.c.project_id,
    data_keys.c.scope,
    data_keys.c.scope_id,
    unique=True,
    sqlite_where=data_keys.c.destroyed_ns.is_(None),
    postgresql_where=data_keys.c.destroyed_ns.is_(None),
)

legal_holds = Table(
    "legal_holds",
    metadata,
    Column("id", Integer().with_variant(BigInteger(), "postgresql"), primary_key=True, autoincrement=True),
    Column("project_id", SmallInteger, nullable=False),
    Column("scope", String(8), nullable=False),  # subject | session
    Column("scope_id", String(), nullable=False),
    Column("reason", String(), nullable=False),
    Column("created_ns", BigInteger, nullable=False),
    Column("released_ns", BigInteger),
)
Index("ix_legal_holds_scope", legal_holds.c.project_id, legal_holds.c.scope, legal_holds.c.scope_id)

# What each purge or erasure did: the policy, the cutoff or subject, and counts. Never payload text.
privacy_events = Table(
    "privacy_events",
    metadata,
    Column("id", Integer().with_variant(BigInteger(), "postgresql"), primary_key=True, autoincrement=True),
    Column("project_id", SmallInteger, nullable=False),
    Column("action", String(16), nullable=False),  # purge | erase | rotate
    Column("data_class", String(16)),  # payloads | metadata | feedback | keys
    Column("policy", String()),
    Column("cutoff_ns", BigInteger),
    Column("subject_id", String()),
    Column("count", BigInteger, nullable=False),
    Column("started_ns", BigInteger, nullable=False),
    Column("finished_ns", BigInteger, nullable=False),
)
Index("ix_privacy_events_time", privacy_events.c.project_id, privacy_events.c.started_ns)


# ---------------------------------------------------------------------------------------------------------------
# The verifiable log (trust/log.py, docs/trust.md): an RFC 6962 tree per log, its signed checkpoints and keys.

merkle_logs = Table(
    "merkle_logs",
    metadata,
    Column("id", SmallInteger, primary_key=True, autoincrement=False),
    Column("origin", String(), nullable=False, unique=True),
    Column("size", BigInteger, nullable=False),
    Column("frontier", LargeBinary, nullable=False),  # the compact range: one 32-byte hash per set bit, high first
    Column("root", LargeBinary(32), nullable=False),
    Column("updated_ns", BigInteger, nullable=False),
)

# Level 0 (leaf hashes) and every 8th level of complete subtrees; insert-only.
merkle_nodes = Table(
    "merkle_nodes",
    metadata,
    Column("log_id", SmallInteger, primary_key=True, autoincrement=False),
    Column("level", SmallInteger, primary_key=True, autoincrement=False),
    Column("idx", BigInteger, primary_key=True, autoincrement=False),
    Column("hash", LargeBinary(32), nullable=False),
    sqlite_with_rowid=False,
)

checkpoints = Table(
    "checkpoints",
    metadata,
    Column("id", Integer().with_variant(BigInteger(), "postgresql"), primary_key=True, autoincrement=True),
    Column("log_id", SmallInteger, nullable=False),
    Column("size", BigInteger, nullable=False),
    Column("root", LargeBinary(32), nullable=False),
    Column("note", Text, nullable=False),  # the signed note, verbatim
    Column("signed_ns", BigInteger, nullable=False),
)
Index("ix_checkpoints_log_size", checkpoints.c.log_id, checkpoints.c.size)

# The log's public keys: the signing key and the retired ones with the size they were retired at. Informational:
# an auditor verifies with keys they pinned, never with this table.
log_keys = Table(
    "log_keys",
    metadata,
    Column("id", Integer().with_variant(BigInteger(), "postgresql"), primary_key=True, autoincrement=True),
    Column("log_id", SmallInteger, nullable=False),
    Column("vkey", String(), nullable=False),
    Column("created_ns", BigInteger, nullable=False),
    Column("retired_size", BigInteger),
    Column("retired_ns", BigInteger),
    UniqueConstraint("log_id", "vkey", name="uq_log_keys_vkey"),
)

# Which traces an erasure removed, so its coverage is evidence rather than a lookup in the mutable spans table.
erased_traces = Table(
    "erased_traces",
    metadata,
    Column(
        "event_id",
        Integer().with_variant(BigInteger(), "postgresql"),
        ForeignKey("privacy_events.id"),
        primary_key=True,
        autoincrement=False,
    ),
    Column("trace_id", LargeBinary(16), primary_key=True),
)


# ---------------------------------------------------------------------------------------------------------------
# Access (trust/identity.py, trust/grants.py, trust/audit.py, docs/access.md): who may read what, and a record of
# every read of content. Secrets are stored only as SHA-256 (API keys, session tokens) or Argon2id (passwords).

_PK = Integer().with_variant(BigInteger(), "postgresql")

principals = Table(
    "principals",
    metadata,
    Column("id", _PK, primary_key=True, autoincrement=True),
    Column("kind", String(8), nullable=False),  # user | service
    Column("name", String(128), nullable=False, unique=True),
    Column("password_hash", String()),  # Argon2id; NULL for service accounts and SSO-only users
    Column("created_ns", BigInteger, nullable=False),
    Column("disabled_ns", BigInteger),
    Column("failed_logins", Integer, nullable=False, server_default="0"),
    Column("locked_until_ns", BigInteger),
)

# A principal's roles, per project (tenant): deny by default, a role grants a fixed set of permissions (roles.py).
memberships = Table(
    "memberships",
    metadata,
    Column("principal_id", _PK, ForeignKey("principals.id"), primary_key=True, autoincrement=False),
    Column("project_id", SmallInteger, primary_key=True, autoincrement=False),
    Column("role", String(16), primary_key=True),
)

api_keys = Table(
    "api_keys",
    metadata,
    Column("id", _PK, primary_key=True, autoincrement=True),
    Column("key_id", String(16), nullable=False, unique=True),  # the public part shown in lists: wk_<key_id>_...
    Column("secret_sha256", LargeBinary(32), nullable=False, unique=True),
    Column("principal_id", _PK, ForeignKey("principals.id"), nullable=False),
    Column("project_id", SmallInteger, nullable=False),
    Column("name", String(128), nullable=False),
    Column("scopes", String(), nullable=False),  # space-separated permissions, a subset of the principal's
    Column("created_ns", BigInteger, nullable=False),
    Column("created_by", _PK),
    Column("expires_ns", BigInteger),
    Column("revoked_ns", BigInteger),
)

web_sessions = Table(
    "web_sessions",
    metadata,
    Column("id", _PK, primary_key=True, autoincrement=True),
    Column("token_sha256", LargeBinary(32), nullable=False, unique=True),
    Column("principal_id", _PK, ForeignKey("principals.id"), nullable=False),
    Column("project_id", SmallInteger, nullable=False),
    Column("csrf_token", String(64), nullable=False),
    Column("created_ns", BigInteger, nullable=False),
    Column("expires_ns", BigInteger, nullable=False),
    Column("revoked_ns", BigInteger),
)

# Access to content: an approved request, a break-glass self-grant, or a spot-check assignment, scoped to named
# sessions or traces and time-boxed. Rows are never deleted; status changes are also access events.
access_grants = Table(
    "access_grants",
    metadata,
    Column("id", _PK, primary_key=True, autoincrement=True),
    Column("project_id", SmallInteger, nullable=False),
    Column("principal_id", _PK, ForeignKey("principals.id"), nullable=False),  # who may read
    Column("kind", String(12), nullable=False),  # request | break_glass | review
    Column("scope", String(8), nullable=False),  # session | trace
    Column("resources", Text, nullable=False),  # JSON list of session or trace ids
    Column("reason", Text, nullable=False),
    Column("status", String(10), nullable=False),  # pending | approved | denied | revoked
    Column("duration_s", Integer, nullable=False),
    Column("created_ns", BigInteger, nullable=False),
    Column("created_by", _PK, nullable=False),
    Column("decided_by", _PK),
    Column("decided_ns", BigInteger),
    Column("decision_note", Text),
    Column("expires_ns", BigInteger),
    Column("revoked_by", _PK),
    Column("revoked_ns", BigInteger),
    Column("review_due_ns", BigInteger),  # break-glass: when its after-the-fact review is overdue
    Column("reviewed_by", _PK),
    Column("reviewed_ns", BigInteger),
    Column("review_note", Text),
)
Index("ix_access_grants_principal", access_grants.c.project_id, access_grants.c.principal_id, access_grants.c.status)

# The access log: one row per read of content and per access-control change, appended to the access Merkle log
# (log id 2) in the same transaction, before any content leaves the server. No content, ever.
access_events = Table(
    "access_events",
    metadata,
    Column("id", _PK, primary_key=True, autoincrement=True),
    Column("log_index", BigInteger, nullable=False, unique=True),
    Column("project_id", SmallInteger, nullable=False),
    Column("time_ns", BigInteger, nullable=False),
    Column("principal_id", _PK),
    Column("principal", String(128), nullable=False),
    Column("key_id", String(16)),
    Column("action", String(24), nullable=False),
    Column("resource_type", String(16)),
    Column("resource_id", String()),
    Column("session_id", String()),
    Column("subject_ids", Text),  # JSON list of the pseudonymous subjects whose records were read
    Column("record_count", Integer, nullable=False, server_default="0"),
    Column("categories", String()),  # space-separated data categories read (prompts, tool-io, feedback, ...)
    Column("encrypted", Boolean),  # were the records read encrypted at rest
    Column("grant_id", _PK),
    Column("reason", Text),
    Column("channel", String(8), nullable=False),  # api | web | cli
    Column("leaf_sha256", LargeBinary(32), nullable=False),
)
Index("ix_access_events_time", access_events.c.project_id, access_events.c.time_ns)
Index("ix_access_events_principal", access_events.c.principal_id, access_events.c.time_ns)

# Breach records: what was known when, computed notification deadlines, and an append-only timeline.
breaches = Table(
    "breaches",
    metadata,
    Column("id", _PK, primary_key=True, autoincrement=True),
    Column("project_id", SmallInteger, nullable=False),
    Column("title", String(256), nullable=False),
    Column("aware_ns", BigInteger, nullable=False),
    Column("created_ns", BigInteger, nullable=False),
    Column("created_by", _PK, nullable=False),
    Column("scope", Text, nullable=False),  # JSON: principal, key, window the scoping query ran on
    Column("affected_records", Integer, nullable=False),
    Column("affected_subjects", Integer, nullable=False),
    Column("encrypted_records", Integer, nullable=False),
    Column("categories", String()),
)

breach_timeline = Table(
    "breach_timeline",
    metadata,
    Column("id", _PK, primary_key=True, autoincrement=True),
    Column("breach_id", _PK, ForeignKey("breaches.id"), nullable=False),
    Column("time_ns", BigInteger, nullable=False),
    Column("author", String(128), nullable=False),
    Column("entry", Text, nullable=False),
)


# ---------------------------------------------------------------------------------------------------------------
# Alerting (alerting/, docs/alerting.md): alert episodes with their state history, silences, the aggregation groups'
# timers and what each last notified, and every notification attempt. Labels, annotations and counts only: never
# payload text. Times are event times (the records' clock), except ``sent_ns`` (the wall clock of a delivery).

# One row per episode of an alert: from the tick it became active (pending) until it resolved. An alert from a
# Prometheus Alertmanager (source "alertmanager") is stored the same way, keyed by its fingerprint and startsAt.
alerts = Table(
    "alerts",
    metadata,
    Column("id", Integer().with_variant(BigInteger(), "postgresql"), primary_key=True, autoincrement=True),
    Column("project_id", SmallInteger, nullable=False),
    Column("fingerprint", String(16), nullable=False),
    Column("source", String(16), nullable=False),  # rule | alertmanager
    Column("alertname", String(), nullable=False),
    Column("severity", String(16)),
    Column("state", String(8), nullable=False),  # pending | firing | resolved | inactive
    Column("labels", Text, nullable=False),  # JSON object
    Column("annotations", Text, nullable=False),  # JSON object
    Column("starts_ns", BigInteger, nullable=False),  # became active; startsAt
    Column("fired_ns", BigInteger),
    Column("ends_ns", BigInteger),  # resolved (or the pending state cleared); endsAt
    Column("last_active_ns", BigInteger, nullable=False),  # the last tick the detector still saw it
    Column("estimated_start_ns", BigInteger),  # when the detector dates the change
    Column("observed", Float),
    Column("expected", Float),
    Column("band_low", Float),
    Column("band_high", Float),
    Column("p_value", Float),
    Column("silenced_by", Text),  # JSON list of silence ids, as of the last notification decision
    Column("inhibited_by", Text),  # JSON list of fingerprints
    Column("generator_url", String()),
    Column("updated_ns", BigInteger, nullable=False),
    UniqueConstraint("project_id", "fingerprint", "starts_ns", name="uq_alerts_episode"),
)
Index("ix_alerts_state", alerts.c.project_id, alerts.c.state, alerts.c.starts_ns)

# Every state change of an alert episode (pending, firing, resolved, inactive), once: re-ticks add nothing.
alert_events = Table(
    "alert_events",
    metadata,
    Column("id", Integer().with_variant(BigInteger(), "postgresql"), primary_key=True, autoincrement=True),
    Column("alert_id", Integer().with_variant(BigInteger(), "postgresql"), ForeignKey("alerts.id"), nullable=False),
    Column("at_ns", BigInteger, nullable=False),
    Column("state", String(8), nullable=False),
    Column("previous", String(8)),
    Column("observed", Float),
    Column("expected", Float),
    Column("p_value", Float),
    UniqueConstraint("alert_id", "state", "at_ns", name="uq_alert_events_once"),
)

silences = Table(
    "silences",
    metadata,
    Column("id", String(36), primary_key=True),
    Column("project_id", SmallInteger, nullable=False),
    Column("matchers", Text, nullable=False),  # JSON list of {name, value, isRegex, isEqual}
    Column("starts_ns", BigInteger, nullable=False),
    Column("ends_ns", BigInteger, nullable=False),
    Column("created_by", String(256), nullable=False),
    Column("comment", Text, nullable=False),
    Column("created_ns", BigInteger, nullable=False),
    Column("updated_ns", BigInteger, nullable=False),
)
Index("ix_silences_ends", silences.c.project_id, silences.c.ends_ns)

# An aggregation group per (route, group labels) and receiver: its alerts, its next flush, and what each of its
# integrations was last notified of (Alertmanager's notification log), so a restart neither forgets nor re-pages.
alert_groups = Table(
    "alert_groups",
    metadata,
    Column("id", Integer().with_variant(BigInteger(), "postgresql"), primary_key=True, autoincrement=True),
    Column("project_id", SmallInteger, nullable=False),
    Column("route_id", String(), nullable=False),
    Column("group_key", String(), nullable=False),
    Column("receiver", String(), nullable=False),
    Column("labels", Text, nullable=False),  # JSON object: the group labels
    Column("fingerprints", Text, nullable=False),  # JSON list: the group's alerts
    Column("notified", Text, nullable=False),  # JSON: integration → {at_ns, firing[], resolved[]}
    Column("next_flush_ns", BigInteger, nullable=False),
    Column("created_ns", BigInteger, nullable=False),
    Column("updated_ns", BigInteger, nullable=False),
    UniqueConstraint("project_id", "route_id", "group_key", name="uq_alert_groups_key"),
)

# Every delivery attempt: receiver, integration, status, attempt, HTTP status, a short error. Never the message.
notifications = Table(
    "notifications",
    metadata,
    Column("id", Integer().with_variant(BigInteger(), "postgresql"), primary_key=True, autoincrement=True),
    Column("project_id", SmallInteger, nullable=False),
    Column("idempotency_key", String(64), nullable=False),
    Column("group_key", String(), nullable=False),
    Column("receiver", String(), nullable=False),
    Column("integration", String(), nullable=False),  # webhook[0], pagerduty[1], ...
    Column("kind", String(16), nullable=False),  # webhook | slack | email | pagerduty | ...
    Column("status", String(10), nullable=False),  # sent | retry | failed | duplicate
    Column("attempt", SmallInteger, nullable=False),
    Column("http_status", SmallInteger),
    Column("error", String(256)),
    Column("alert_status", String(8), nullable=False),  # firing | resolved: the message's status
    Column("firing", Integer, nullable=False),  # alerts in the message
    Column("resolved", Integer, nullable=False),
    Column("at_ns", BigInteger, nullable=False),  # event time of the flush
    Column("sent_ns", BigInteger, nullable=False),  # wall clock of the attempt
)
Index("ix_notifications_key", notifications.c.idempotency_key, notifications.c.status)
Index("ix_notifications_time", notifications.c.project_id, notifications.c.at_ns)

# The event time of a project's last evaluation tick: the engine's clock never runs backwards across restarts.
alert_ticks = Table(
    "alert_ticks",
    metadata,
    Column("project_id", SmallInteger, primary_key=True, autoincrement=False),
    Column("last_tick_ns", BigInteger, nullable=False),
)


# ---------------------------------------------------------------------------------------------------------------
# Rollups (watchkeeper/_rollup.py, analytics/rollups.py, docs/explorer.md): counts per bucket and slice, maintained
# by the writer in the transaction that stores the records they count. Metadata and labels only: no subject, no
# content, so erasure never touches them; retention purges them by bucket age (1-minute buckets first).

rollups = Table(
    "rollups",
    metadata,
    Column("project_id", SmallInteger, primary_key=True, autoincrement=False),
    Column("width_s", Integer, primary_key=True, autoincrement=False),  # 60 or 3600
    Column("dims", String(), primary_key=True),  # "" (all traffic), "region", "language|model_version" (sorted)
    Column("bucket_ns", BigInteger, primary_key=True, autoincrement=False),  # bucket start, event time
    Column("vals", String(), primary_key=True),  # the slice's values, in dims order, joined by U+001F
    # one column per counter (spans, errors, turns, ..., tokens) and per latency bin (h00..h81); NULL reads as 0
    *(Column(name, BigInteger) for name in VALUE_COLUMNS),
    # SQLite keeps the rows in key order: every value of a dimension over a time range (top changes, compare, the
    # purge) is one contiguous read
    sqlite_with_rowid=False,
)
# one slice over a time range: rate series
Index("ix_rollups_slice", rollups.c.project_id, rollups.c.width_s, rollups.c.dims, rollups.c.vals, rollups.c.bucket_ns)

# The values of each dimension that have rollup rows of their own (at most rollup_max_values live ones): a value
# not seen for a while gives its place up, and values past the cap are counted as (other).
rollup_values = Table(
    "rollup_values",
    metadata,
    Column("project_id", SmallInteger, primary_key=True, autoincrement=False),
    Column("dimension", String(), primary_key=True),
    Column("value", String(), primary_key=True),
    Column("first_ns", BigInteger, nullable=False),  # wall clock: when the value was given its place
    Column("last_ns", BigInteger, nullable=False),  # wall clock: last seen (refreshed about daily)
)
