"""Migrations: the Alembic history builds exactly the tables the code declares, and keeps data on re-run."""

from __future__ import annotations

from pathlib import Path

from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import Engine, func, select

from watchkeeper.store import current_revision, head_revision, migrate
from watchkeeper.store.tables import metadata, projects, spans

from .test_store import agent_trace, write


def test_the_migrations_build_the_declared_schema(db: Engine) -> None:
    with db.connect() as conn:
        diff = compare_metadata(MigrationContext.configure(conn), metadata)
    assert diff == []
    assert current_revision(db) == head_revision()


def test_migrating_again_keeps_stored_data(db: Engine) -> None:
    write(db, agent_trace(1))
    assert migrate(db) == head_revision()
    with db.connect() as conn:
        assert conn.execute(select(func.count()).select_from(spans)).scalar() == 4
        assert conn.execute(select(projects.c.name)).scalars().all() == ["default"]


def test_the_head_the_code_names_is_the_newest_migration_and_an_old_store_is_brought_to_it(tmp_path: Path) -> None:
    from alembic.config import Config
    from alembic.script import ScriptDirectory

    from watchkeeper.store import make_engine
    from watchkeeper.store.migrate import _HERE

    cfg = Config()
    cfg.set_main_option("script_location", str(_HERE))
    assert head_revision() == ScriptDirectory.from_config(cfg).get_current_head()  # a new migration bumps HEAD
    engine = make_engine(f"sqlite:///{tmp_path / 'old.db'}")
    assert current_revision(engine) is None  # an empty file: no version table yet
    assert migrate(engine, "0006") == "0006"
    assert current_revision(engine) == "0006"
    assert migrate(engine) == head_revision()
    engine.dispose()
