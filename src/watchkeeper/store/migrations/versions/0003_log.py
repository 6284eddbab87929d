"""verifiable log: leaf index and payload hash on spans, Merkle tree, checkpoints, log keys, erased traces

Revision ID: 0003
Revises: 0002
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None

_ID = sa.Integer().with_variant(sa.BigInteger(), "postgresql")


def upgrade() -> None:
    with op.batch_alter_table("spans") as batch:
        batch.add_column(sa.Column("log_index", sa.BigInteger(), nullable=True))
        batch.add_column(sa.Column("payload_sha256", sa.LargeBinary(length=32), nullable=True))
    op.create_index(
        "ix_spans_unsequenced",
        "spans",
        ["project_id", "id"],
        sqlite_where=sa.text("log_index IS NULL"),
        postgresql_where=sa.text("log_index IS NULL"),
    )
    op.create_index(
        "ix_spans_log_index",
        "spans",
        ["log_index"],
        unique=True,
        sqlite_where=sa.text("log_index IS NOT NULL"),
        postgresql_where=sa.text("log_index IS NOT NULL"),
    )
    op.create_table(
        "merkle_logs",
        sa.Column("id", sa.SmallInteger(), autoincrement=False, nullable=False),
        sa.Column("origin", sa.String(), nullable=False),
        sa.Column("size", sa.BigInteger(), nullable=False),
        sa.Column("frontier", sa.LargeBinary(), nullable=False),
        sa.Column("root", sa.LargeBinary(length=32), nullable=False),
        sa.Column("updated_ns", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("origin"),
    )
    op.create_table(
        "merkle_nodes",
        sa.Column("log_id", sa.SmallInteger(), autoincrement=False, nullable=False),
        sa.Column("level", sa.SmallInteger(), autoincrement=False, nullable=False),
        sa.Column("idx", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("hash", sa.LargeBinary(length=32), nullable=False),
        sa.PrimaryKeyConstraint("log_id", "level", "idx"),
        sqlite_with_rowid=False,
    )
    op.create_table(
        "checkpoints",
        sa.Column("id", _ID, autoincrement=True, nullable=False),
        sa.Column("log_id", sa.SmallInteger(), nullable=False),
        sa.Column("size", sa.BigInteger(), nullable=False),
        sa.Column("root", sa.LargeBinary(length=32), nullable=False),
        sa.Column("note", sa.Text(), nullable=False),
        sa.Column("signed_ns", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_checkpoints_log_size", "checkpoints", ["log_id", "size"])
    op.create_table(
        "log_keys",
        sa.Column("id", _ID, autoincrement=True, nullable=False),
        sa.Column("log_id", sa.SmallInteger(), nullable=False),
        sa.Column("vkey", sa.String(), nullable=False),
        sa.Column("created_ns", sa.BigInteger(), nullable=False),
        sa.Column("retired_size", sa.BigInteger(), nullable=True),
        sa.Column("retired_ns", sa.BigInteger(), nullable=True),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("log_id", "vkey", name="uq_log_keys_vkey"),
    )
    op.create_table(
        "erased_traces",
        sa.Column("event_id", _ID, autoincrement=False, nullable=False),
        sa.Column("trace_id", sa.LargeBinary(length=16), nullable=False),
        sa.ForeignKeyConstraint(["event_id"], ["privacy_events.id"]),
        sa.PrimaryKeyConstraint("event_id", "trace_id"),
    )


def downgrade() -> None:
    op.drop_table("erased_traces")
    op.drop_table("log_keys")
    op.drop_index("ix_checkpoints_log_size", table_name="checkpoints")
    op.drop_table("checkpoints")
    op.drop_table("merkle_nodes")
    op.drop_table("merkle_logs")
    op.drop_index("ix_spans_log_index", table_name="spans")
    op.drop_index("ix_spans_unsequenced", table_name="spans")
    with op.batch_alter_table("spans") as batch:
        batch.drop_column("payload_sha256")
        batch.drop_column("log_index")
