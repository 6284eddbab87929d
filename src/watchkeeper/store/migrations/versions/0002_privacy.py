"""privacy: data keys for envelope encryption, legal holds, purge and erasure records

Revision ID: 0002
Revises: 0001
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

_ID = sa.Integer().with_variant(sa.BigInteger(), "postgresql")


def upgrade() -> None:
    op.create_table(
        "data_keys",
        sa.Column("id", _ID, autoincrement=True, nullable=False),
        sa.Column("project_id", sa.SmallInteger(), nullable=False),
        sa.Column("scope", sa.String(length=8), nullable=False),
        sa.Column("scope_id", sa.String(), nullable=False),
        sa.Column("key_id", sa.LargeBinary(length=16), nullable=False),
        sa.Column("kek_id", sa.String(length=64), nullable=False),
        sa.Column("wrapped", sa.LargeBinary(), nullable=True),
        sa.Column("created_ns", sa.BigInteger(), nullable=False),
        sa.Column("destroyed_ns", sa.BigInteger(), nullable=True),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("key_id", name="uq_data_keys_key_id"),
    )
    op.create_index(
        "ix_data_keys_live_scope",
        "data_keys",
        ["project_id", "scope", "scope_id"],
        unique=True,
        sqlite_where=sa.text("destroyed_ns IS NULL"),
        postgresql_where=sa.text("destroyed_ns IS NULL"),
    )
    op.create_table(
        "legal_holds",
        sa.Column("id", _ID, autoincrement=True, nullable=False),
        sa.Column("project_id", sa.SmallInteger(), nullable=False),
        sa.Column("scope", sa.String(length=8), nullable=False),
        sa.Column("scope_id", sa.String(), nullable=False),
        sa.Column("reason", sa.String(), nullable=False),
        sa.Column("created_ns", sa.BigInteger(), nullable=False),
        sa.Column("released_ns", sa.BigInteger(), nullable=True),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_legal_holds_scope", "legal_holds", ["project_id", "scope", "scope_id"])
    op.create_table(
        "privacy_events",
        sa.Column("id", _ID, autoincrement=True, nullable=False),
        sa.Column("project_id", sa.SmallInteger(), nullable=False),
        sa.Column("action", sa.String(length=16), nullable=False),
        sa.Column("data_class", sa.String(length=16), nullable=True),
        sa.Column("policy", sa.String(), nullable=True),
        sa.Column("cutoff_ns", sa.BigInteger(), nullable=True),
        sa.Column("subject_id", sa.String(), nullable=True),
        sa.Column("count", sa.BigInteger(), nullable=False),
        sa.Column("started_ns", sa.BigInteger(), nullable=False),
        sa.Column("finished_ns", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_privacy_events_time", "privacy_events", ["project_id", "started_ns"])


def downgrade() -> None:
    op.drop_index("ix_privacy_events_time", table_name="privacy_events")
    op.drop_table("privacy_events")
    op.drop_index("ix_legal_holds_scope", table_name="legal_holds")
    op.drop_table("legal_holds")
    op.drop_index(
        "ix_data_keys_live_scope",
        table_name="data_keys",
        sqlite_where=sa.text("destroyed_ns IS NULL"),
        postgresql_where=sa.text("destroyed_ns IS NULL"),
    )
    op.drop_table("data_keys")
