"""Migrations: the Alembic history builds exactly the tables the code declares, and keeps data on re-run."""

from __future__ import annotations

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
