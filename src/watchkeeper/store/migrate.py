"""Schema migrations (Alembic), run at start-up and by ``watchkeeper migrate``."""

from __future__ import annotations

import logging
from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Engine, text
from sqlalchemy.exc import OperationalError

log = logging.getLogger("watchkeeper.store")

_HERE = Path(__file__).parent / "migrations"


def _config() -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", str(_HERE))
    return cfg


def head_revision() -> str:
    """The newest migration this version of Watchkeeper knows."""
    head = ScriptDirectory.from_config(_config()).get_current_head()
    assert head is not None
    return head


def current_revision(engine: Engine) -> str | None:
    with engine.connect() as conn:
        return MigrationContext.configure(conn).get_current_revision()


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
    cfg = _config()
    with engine.begin() as conn:
        if conn.dialect.name == "postgresql":
            conn.execute(text("SELECT pg_advisory_xact_lock(7273110)"))
        cfg.attributes["connection"] = conn
        command.upgrade(cfg, revision)
    return current_revision(engine)
