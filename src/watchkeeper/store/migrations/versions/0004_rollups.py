"""rollups (bucket x slice x metric counts and latency histograms)

Revision ID: 0004
Revises: 0003

Spans stored before this revision are not counted until ``watchkeeper rollups rebuild`` runs (docs/explorer.md).
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None

# The value columns as of this revision (a frozen copy of watchkeeper._rollup.VALUE_COLUMNS).
_TOOL_ERROR_CLASSES = ("timeout", "rate_limit", "auth", "not_found", "invalid_arguments", "server_error", "other")
_COUNTERS = (
    "spans",
    "errors",
    "turns",
    "llm_spans",
    "llm_errors",
    "tool_spans",
    "tool_span_errors",
    "refusal_labelled",
    "refusals",
    "jailbreak_labelled",
    "jailbreaks",
    "injection_labelled",
    "injections",
    "tool_error_labelled",
    "tool_errors",
    *(f"tool_error_{c}" for c in _TOOL_ERROR_CLASSES),
    "corrections",
    "escalations",
    "input_tokens",
    "output_tokens",
)
_VALUE_COLUMNS = (*_COUNTERS, *(f"h{i:02d}" for i in range(82)))


def upgrade() -> None:
    op.create_table(
        "rollups",
        sa.Column("project_id", sa.SmallInteger(), autoincrement=False, nullable=False),
        sa.Column("width_s", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("dims", sa.String(), nullable=False),
        sa.Column("bucket_ns", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("vals", sa.String(), nullable=False),
        *(sa.Column(name, sa.BigInteger(), nullable=True) for name in _VALUE_COLUMNS),
        sa.PrimaryKeyConstraint("project_id", "width_s", "dims", "bucket_ns", "vals"),
        sqlite_with_rowid=False,
    )
    op.create_index("ix_rollups_slice", "rollups", ["project_id", "width_s", "dims", "vals", "bucket_ns"])
    op.create_table(
        "rollup_values",
        sa.Column("project_id", sa.SmallInteger(), autoincrement=False, nullable=False),
        sa.Column("dimension", sa.String(), nullable=False),
        sa.Column("value", sa.String(), nullable=False),
        sa.Column("first_ns", sa.BigInteger(), nullable=False),
        sa.Column("last_ns", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("project_id", "dimension", "value"),
    )


def downgrade() -> None:
    op.drop_table("rollup_values")
    op.drop_index("ix_rollups_slice", table_name="rollups")
    op.drop_table("rollups")
