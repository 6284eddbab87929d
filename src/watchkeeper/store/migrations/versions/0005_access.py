"""access control: users, service accounts, API keys, web sessions, grants, access log, breach records

Revision ID: 0005
Revises: 0004
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None

_ID = sa.Integer().with_variant(sa.BigInteger(), "postgresql")


def upgrade() -> None:
    op.create_table(
        "principals",
        sa.Column("id", _ID, primary_key=True, autoincrement=True),
        sa.Column("kind", sa.String(8), nullable=False),
        sa.Column("name", sa.String(128), nullable=False, unique=True),
        sa.Column("password_hash", sa.String()),
        sa.Column("created_ns", sa.BigInteger(), nullable=False),
        sa.Column("disabled_ns", sa.BigInteger()),
        sa.Column("failed_logins", sa.Integer(), nullable=False, server_default="0"),
        sa.Column("locked_until_ns", sa.BigInteger()),
    )
    op.create_table(
        "memberships",
        sa.Column("principal_id", _ID, sa.ForeignKey("principals.id"), primary_key=True, autoincrement=False),
        sa.Column("project_id", sa.SmallInteger(), primary_key=True, autoincrement=False),
        sa.Column("role", sa.String(16), primary_key=True),
    )
    op.create_table(
        "api_keys",
        sa.Column("id", _ID, primary_key=True, autoincrement=True),
        sa.Column("key_id", sa.String(16), nullable=False, unique=True),
        sa.Column("secret_sha256", sa.LargeBinary(32), nullable=False, unique=True),
        sa.Column("principal_id", _ID, sa.ForeignKey("principals.id"), nullable=False),
        sa.Column("project_id", sa.SmallInteger(), nullable=False),
        sa.Column("name", sa.String(128), nullable=False),
        sa.Column("scopes", sa.String(), nullable=False),
        sa.Column("created_ns", sa.BigInteger(), nullable=False),
        sa.Column("created_by", _ID),
        sa.Column("expires_ns", sa.BigInteger()),
        sa.Column("revoked_ns", sa.BigInteger()),
    )
    op.create_table(
        "web_sessions",
        sa.Column("id", _ID, primary_key=True, autoincrement=True),
        sa.Column("token_sha256", sa.LargeBinary(32), nullable=False, unique=True),
        sa.Column("principal_id", _ID, sa.ForeignKey("principals.id"), nullable=False),
        sa.Column("project_id", sa.SmallInteger(), nullable=False),
        sa.Column("csrf_token", sa.String(64), nullable=False),
        sa.Column("created_ns", sa.BigInteger(), nullable=False),
        sa.Column("expires_ns", sa.BigInteger(), nullable=False),
        sa.Column("revoked_ns", sa.BigInteger()),
    )
    op.create_table(
        "access_grants",
        sa.Column("id", _ID, primary_key=True, autoincrement=True),
        sa.Column("project_id", sa.SmallInteger(), nullable=False),
        sa.Column("principal_id", _ID, sa.ForeignKey("principals.id"), nullable=False),
        sa.Column("kind", sa.String(12), nullable=False),
        sa.Column("scope", sa.String(8), nullable=False),
        sa.Column("resources", sa.Text(), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("status", sa.String(10), nullable=False),
        sa.Column("duration_s", sa.Integer(), nullable=False),
        sa.Column("created_ns", sa.BigInteger(), nullable=False),
        sa.Column("created_by", _ID, nullable=False),
        sa.Column("decided_by", _ID),
        sa.Column("decided_ns", sa.BigInteger()),
        sa.Column("decision_note", sa.Text()),
        sa.Column("expires_ns", sa.BigInteger()),
        sa.Column("revoked_by", _ID),
        sa.Column("revoked_ns", sa.BigInteger()),
        sa.Column("review_due_ns", sa.BigInteger()),
        sa.Column("reviewed_by", _ID),
        sa.Column("reviewed_ns", sa.BigInteger()),
        sa.Column("review_note", sa.Text()),
    )
    op.create_index("ix_access_grants_principal", "access_grants", ["project_id", "principal_id", "status"])
    op.create_table(
        "access_events",
        sa.Column("id", _ID, primary_key=True, autoincrement=True),
        sa.Column("log_index", sa.BigInteger(), nullable=False, unique=True),
        sa.Column("project_id", sa.SmallInteger(), nullable=False),
        sa.Column("time_ns", sa.BigInteger(), nullable=False),
        sa.Column("principal_id", _ID),
        sa.Column("principal", sa.String(128), nullable=False),
        sa.Column("key_id", sa.String(16)),
        sa.Column("action", sa.String(24), nullable=False),
        sa.Column("resource_type", sa.String(16)),
        sa.Column("resource_id", sa.String()),
        sa.Column("session_id", sa.String()),
        sa.Column("subject_ids", sa.Text()),
        sa.Column("record_count", sa.Integer(), nullable=False, server_default="0"),
        sa.Column("categories", sa.String()),
        sa.Column("encrypted", sa.Boolean()),
        sa.Column("grant_id", _ID),
        sa.Column("reason", sa.Text()),
        sa.Column("channel", sa.String(8), nullable=False),
        sa.Column("leaf_sha256", sa.LargeBinary(32), nullable=False),
    )
    op.create_index("ix_access_events_time", "access_events", ["project_id", "time_ns"])
    op.create_index("ix_access_events_principal", "access_events", ["principal_id", "time_ns"])
    op.create_table(
        "breaches",
        sa.Column("id", _ID, primary_key=True, autoincrement=True),
        sa.Column("project_id", sa.SmallInteger(), nullable=False),
        sa.Column("title", sa.String(256), nullable=False),
        sa.Column("aware_ns", sa.BigInteger(), nullable=False),
        sa.Column("created_ns", sa.BigInteger(), nullable=False),
        sa.Column("created_by", _ID, nullable=False),
        sa.Column("scope", sa.Text(), nullable=False),
        sa.Column("affected_records", sa.Integer(), nullable=False),
        sa.Column("affected_subjects", sa.Integer(), nullable=False),
        sa.Column("encrypted_records", sa.Integer(), nullable=False),
        sa.Column("categories", sa.String()),
    )
    op.create_table(
        "breach_timeline",
        sa.Column("id", _ID, primary_key=True, autoincrement=True),
        sa.Column("breach_id", _ID, sa.ForeignKey("breaches.id"), nullable=False),
        sa.Column("time_ns", sa.BigInteger(), nullable=False),
        sa.Column("author", sa.String(128), nullable=False),
        sa.Column("entry", sa.Text(), nullable=False),
    )


def downgrade() -> None:
    for name in ("breach_timeline", "breaches", "access_events", "access_grants", "web_sessions", "api_keys"):
        op.drop_table(name)
    op.drop_table("memberships")
    op.drop_table("principals")
