"""Schema migrations (Alembic), run at start-up and by ``watchkeeper migrate``."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import TYPE_CHECKING

from sqlalchemy import Engine, inspect, text
from sqlalchemy.exc import OperationalError

if TYPE_CHECKING:
    from alembic.config import Config

log = logging.getLogger("watchkeeper.store")

_HERE = Path(__file__).parent / "migrations"
# The newest migration (a test checks it against the migrations directory). Alembic itself, ~0.2 s to import, is
# imported only when a store is behind: a start on an up-to-date store compares this with one row.
HEAD = "0007"


def _config() -> Config:
    from alembic.config import Config

    cfg = Config()
    cfg.set_main_option("script_location", str(_HERE))
    return cfg


def head_revision() -> str:
    """The newest migration this version of Watchkeeper knows."""
    return HEAD


def current_revision(engine: Engine) -> str | None:
    """The store's migration (None for an empty store), read from Alembic's version table."""
    with engine.connect() as conn:
        if not inspect(conn).has_table("alembic_version"):
            return None
        rows = conn.execute(text("SELECT version_num FROM alembic_version")).scalars().all()
    if len(rows) > 1:
        raise RuntimeError(f"the store has {len(rows)} migration heads; expected one")
    return rows[0] if rows else None


def optimize(engine: Engine) -> None:
    """Refresh the query planner's statistics where they are stale (bounded work; SQLite only). Skipped when another
    connection holds the write lock past the busy timeout (another worker writing): the next start refreshes them."""
    if engine.dialect.name != "sqlite":
        return  # PostgreSQL's autovacuum keeps its own statistics
    try:
        with engine.connect() as conn:
            conn.exec_driver_sql("PRAGMA analysis_limit=1000")
            conn.exec_driver_sql("PRAGMA optimize=0x10002")
            conn.commit()
    except OperationalError as e:
        if "locked" not in str(e.orig):
            raise
        log.info("planner statistics not refreshed: the store is busy", extra={"event": "optimize_skipped"})


def migrate(engine: Engine, revision: str = "head") -> str | None:
    """Bring the store's schema to ``revision``; returns the revision it is at afterwards.

    Cheap when already there: the current revision is read first and Alembic is only started when behind.
    Several processes starting at once on PostgreSQL serialise on an advisory lock.
    """
    if revision == "head" and current_revision(engine) == head_revision():
        return head_revision()
    from alembic import command

    cfg = _config()
    with engine.begin() as conn:
        if conn.dialect.name == "postgresql":
            conn.execute(text("SELECT pg_advisory_xact_lock(7273110)"))
        cfg.attributes["connection"] = conn
        command.upgrade(cfg, revision)
    return current_revision(engine)
