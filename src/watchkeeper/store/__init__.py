"""The store: tables, engines, migrations, the single writer and the read queries."""

from .engine import database_files, is_sqlite, make_engine
from .migrate import current_revision, head_revision, migrate, optimize
from .writer import CommitStats, RowBatch, Writer

__all__ = [
    "CommitStats",
    "RowBatch",
    "Writer",
    "current_revision",
    "database_files",
    "head_revision",
    "is_sqlite",
    "make_engine",
    "migrate",
    "optimize",
]
