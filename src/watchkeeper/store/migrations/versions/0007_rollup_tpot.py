"""rollups: a time-per-output-token histogram (token throughput regressions)

Revision ID: 0007
Revises: 0006

Rows written before this revision read as holding no LLM span in the new bins (0: SQLite adds to the stored value
plainly), so quantiles of this measure start with the spans counted from now on; ``watchkeeper rollups rebuild``
counts the stored spans into them.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None

# The new value columns (a frozen copy of watchkeeper._rollup's time-per-output-token bins).
_COLUMNS = tuple(f"t{i:02d}" for i in range(42))


def upgrade() -> None:
    with op.batch_alter_table("rollups") as batch:
        for name in _COLUMNS:
            batch.add_column(sa.Column(name, sa.BigInteger(), nullable=True, server_default=sa.text("0")))


def downgrade() -> None:
    with op.batch_alter_table("rollups") as batch:
        for name in _COLUMNS:
            batch.drop_column(name)
