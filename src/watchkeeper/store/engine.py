"""Engines for the two supported stores: SQLite (WAL, embedded) and PostgreSQL."""

from __future__ import annotations

import math
import os
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.engine import make_url

from ..errors import ConfigError


def _log2(x: float | None) -> float | None:
    return math.log2(x) if x is not None and x > 0 else None


PAGE_SIZE = 16384
WAL_CHECKPOINT_BYTES = 32 << 20


def _sqlite_pragmas(synchronous: str) -> Any:
    def on_connect(dbapi_conn: Any, _record: Any) -> None:
        cur = dbapi_conn.cursor()
        # Both take effect only in a new, empty file (before the first table and before WAL mode); an older store
        # keeps what it was made with. 16 KiB pages: a stored LLM span is ~1.3 KB, and a 4 KiB page holds two of
        # them with a third of it unused, a 16 KiB page twelve (~8% less on disk per span). Incremental
        # auto-vacuum gives the pages a retention purge frees back to the file system (privacy/retention.py).
        cur.execute(f"PRAGMA page_size={PAGE_SIZE}")
        cur.execute("PRAGMA auto_vacuum=INCREMENTAL")
        cur.execute("PRAGMA journal_mode=WAL")
        cur.execute(f"PRAGMA synchronous={'FULL' if synchronous == 'full' else 'NORMAL'}")
        cur.execute("PRAGMA busy_timeout=10000")
        cur.execute("PRAGMA foreign_keys=ON")
        cur.execute("PRAGMA temp_store=MEMORY")
        cur.execute("PRAGMA cache_size=-65536")  # 64 MiB page cache
        # checkpoint every ~32 MiB of WAL instead of 1,000 pages: index pages touched by many commits are copied once
        page = int(cur.execute("PRAGMA page_size").fetchone()[0])
        cur.execute(f"PRAGMA wal_autocheckpoint={WAL_CHECKPOINT_BYTES // page}")
        cur.close()
        # the same log2 on every SQLite build, whether or not it has the math functions compiled in
        dbapi_conn.create_function("wk_log2", 1, _log2, deterministic=True)

    return on_connect


def make_engine(url: str, *, sqlite_synchronous: str = "normal", pool_size: int = 8) -> Engine:
    """An engine for the store at ``url``; creates the SQLite file's directory when needed."""
    try:
        u = make_url(url)
    except Exception:
        raise ConfigError(
            "database_url is not a valid SQLAlchemy URL (e.g. postgresql+psycopg://user@host/db)"
        ) from None
    backend = u.get_backend_name()
    if backend == "sqlite":
        if u.database and u.database != ":memory:":
            Path(u.database).parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(
            u,
            pool_size=pool_size,
            max_overflow=pool_size,
            connect_args={"check_same_thread": False, "timeout": 10},
        )
        event.listen(engine, "connect", _sqlite_pragmas(sqlite_synchronous))
        return engine
    if backend == "postgresql":
        if u.drivername == "postgresql":
            u = u.set(drivername="postgresql+psycopg")
        return create_engine(u, pool_size=pool_size, max_overflow=pool_size, pool_pre_ping=True)
    raise ConfigError(f"database_url: unsupported database {backend!r}; use sqlite or postgresql")


def is_sqlite(engine: Engine) -> bool:
    return engine.dialect.name == "sqlite"


def database_files(engine: Engine) -> list[str]:
    """The files an embedded store keeps on disk (main file, WAL, shared memory); empty for a server database."""
    if not is_sqlite(engine) or not engine.url.database or engine.url.database == ":memory:":
        return []
    base = engine.url.database
    return [p for p in (base, base + "-wal", base + "-shm") if os.path.exists(p)]
