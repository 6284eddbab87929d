"""initial schema: spans, feedback, projects

Revision ID: 0001
Revises: (none)
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "feedback",
        sa.Column("id", sa.Integer().with_variant(sa.BigInteger(), "postgresql"), autoincrement=True, nullable=False),
        sa.Column("project_id", sa.SmallInteger(), nullable=False),
        sa.Column("feedback_id", sa.String(), nullable=False),
        sa.Column("trace_id", sa.LargeBinary(length=16), nullable=False),
        sa.Column("span_id", sa.LargeBinary(length=8), nullable=True),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("time_ns", sa.BigInteger(), nullable=False),
        sa.Column("score", sa.Float(), nullable=True),
        sa.Column("session_id", sa.String(), nullable=True),
        sa.Column("subject_id", sa.String(), nullable=True),
        sa.Column("source", sa.String(length=16), nullable=False),
        sa.Column("schema_version", sa.SmallInteger(), nullable=False),
        sa.Column("payload", sa.LargeBinary(), nullable=True),
        sa.Column("ingested_ns", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("project_id", "feedback_id", name="uq_feedback_id"),
    )
    with op.batch_alter_table("feedback", schema=None) as batch_op:
        batch_op.create_index("ix_feedback_time", ["project_id", "time_ns"], unique=False)
        batch_op.create_index("ix_feedback_trace", ["project_id", "trace_id"], unique=False)

    op.create_table(
        "projects",
        sa.Column("id", sa.SmallInteger(), autoincrement=False, nullable=False),
        sa.Column("name", sa.String(), nullable=False),
        sa.Column("created_ns", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("name"),
    )
    op.create_table(
        "spans",
        sa.Column("id", sa.Integer().with_variant(sa.BigInteger(), "postgresql"), autoincrement=True, nullable=False),
        sa.Column("project_id", sa.SmallInteger(), nullable=False),
        sa.Column("trace_id", sa.LargeBinary(length=16), nullable=False),
        sa.Column("span_id", sa.LargeBinary(length=8), nullable=False),
        sa.Column("parent_span_id", sa.LargeBinary(length=8), nullable=True),
        sa.Column("name", sa.String(), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("status", sa.String(length=8), nullable=False),
        sa.Column("start_ns", sa.BigInteger(), nullable=False),
        sa.Column("end_ns", sa.BigInteger(), nullable=False),
        sa.Column("error_type", sa.String(), nullable=True),
        sa.Column("error_code", sa.String(), nullable=True),
        sa.Column("provider", sa.String(), nullable=True),
        sa.Column("request_model", sa.String(), nullable=True),
        sa.Column("response_model", sa.String(), nullable=True),
        sa.Column("input_tokens", sa.Integer(), nullable=True),
        sa.Column("output_tokens", sa.Integer(), nullable=True),
        sa.Column("cached_tokens", sa.Integer(), nullable=True),
        sa.Column("cost_usd", sa.Float(), nullable=True),
        sa.Column("finish_reason", sa.String(), nullable=True),
        sa.Column("tool_name", sa.String(), nullable=True),
        sa.Column("mcp_server", sa.String(), nullable=True),
        sa.Column("jsonrpc_method", sa.String(), nullable=True),
        sa.Column("tool_is_error", sa.Boolean(), nullable=True),
        sa.Column("jsonrpc_error_code", sa.Integer(), nullable=True),
        sa.Column("session_id", sa.String(), nullable=True),
        sa.Column("subject_id", sa.String(), nullable=True),
        sa.Column("account_created_ns", sa.BigInteger(), nullable=True),
        sa.Column("plan_tier", sa.String(), nullable=True),
        sa.Column("region", sa.String(), nullable=True),
        sa.Column("client_name", sa.String(), nullable=True),
        sa.Column("client_version", sa.String(), nullable=True),
        sa.Column("locale", sa.String(), nullable=True),
        sa.Column("model_version", sa.String(), nullable=True),
        sa.Column("prompt_version", sa.String(), nullable=True),
        sa.Column("skill_version", sa.String(), nullable=True),
        sa.Column("service_name", sa.String(), nullable=True),
        sa.Column("source", sa.String(length=16), nullable=False),
        sa.Column("schema_version", sa.SmallInteger(), nullable=False),
        sa.Column("attributes", sa.Text(), nullable=True),
        sa.Column("payload", sa.LargeBinary(), nullable=True),
        sa.Column("ingested_ns", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("project_id", "trace_id", "span_id", name="uq_spans_trace_span"),
    )
    with op.batch_alter_table("spans", schema=None) as batch_op:
        batch_op.create_index("ix_spans_project_start", ["project_id", "start_ns"], unique=False)
        batch_op.create_index(
            "ix_spans_roots",
            ["project_id", "start_ns"],
            unique=False,
            sqlite_where=sa.text("parent_span_id IS NULL"),
            postgresql_where=sa.text("parent_span_id IS NULL"),
        )
        batch_op.create_index(
            "ix_spans_session",
            ["project_id", "session_id", "start_ns"],
            unique=False,
            sqlite_where=sa.text("session_id IS NOT NULL"),
            postgresql_where=sa.text("session_id IS NOT NULL"),
        )
        batch_op.create_index(
            "ix_spans_subject",
            ["project_id", "subject_id", "start_ns"],
            unique=False,
            sqlite_where=sa.text("subject_id IS NOT NULL"),
            postgresql_where=sa.text("subject_id IS NOT NULL"),
        )

    projects = sa.table("projects", sa.column("id"), sa.column("name"), sa.column("created_ns"))
    op.bulk_insert(projects, [{"id": 1, "name": "default", "created_ns": 0}])


def downgrade() -> None:
    with op.batch_alter_table("spans", schema=None) as batch_op:
        batch_op.drop_index(
            "ix_spans_subject",
            sqlite_where=sa.text("subject_id IS NOT NULL"),
            postgresql_where=sa.text("subject_id IS NOT NULL"),
        )
        batch_op.drop_index(
            "ix_spans_session",
            sqlite_where=sa.text("session_id IS NOT NULL"),
            postgresql_where=sa.text("session_id IS NOT NULL"),
        )
        batch_op.drop_index(
            "ix_spans_roots",
            sqlite_where=sa.text("parent_span_id IS NULL"),
            postgresql_where=sa.text("parent_span_id IS NULL"),
        )
        batch_op.drop_index("ix_spans_project_start")

    op.drop_table("spans")
    op.drop_table("projects")
    with op.batch_alter_table("feedback", schema=None) as batch_op:
        batch_op.drop_index("ix_feedback_trace")
        batch_op.drop_index("ix_feedback_time")

    op.drop_table("feedback")
