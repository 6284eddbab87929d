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
