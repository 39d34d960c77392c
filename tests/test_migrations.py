"""Migrations from a blank database to head, down to base and up again, on each engine; the
migrated schema is exactly what the models describe.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import create_engine, inspect, text

from server import migrate
from server.db import Database
from server.models import metadata
from tests.conftest import TEST_DATABASE_URL, engine_name


@pytest.fixture(params=["sqlite", "postgresql"])
def blank_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A database with no tables: a new SQLite file, or a throwaway PostgreSQL database."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'blank.db'}"
        return
    if engine_name() != "postgresql":
        pytest.skip("PostgreSQL runs when TEST_DATABASE_URL names it")
    name = f"ma_migrations_{uuid.uuid4().hex[:10]}"
    admin = create_engine(TEST_DATABASE_URL, isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as conn:
            conn.execute(text(f'CREATE DATABASE "{name}"'))
        yield TEST_DATABASE_URL.rsplit("/", 1)[0] + "/" + name
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
            gone = conn.scalar(
                text("SELECT count(*) FROM pg_database WHERE datname = :n"), {"n": name}
            )
        admin.dispose()
    assert gone == 0


def head_revision(url: str) -> str | None:
    return ScriptDirectory.from_config(migrate.alembic_config(url)).get_current_head()


def current_revision(database: Database) -> str | None:
    with database.engine.connect() as conn:
        return MigrationContext.configure(conn).get_current_revision()


def schema_differences(database: Database) -> list[object]:
    with database.engine.connect() as conn:
        context = MigrationContext.configure(
            conn, opts={"compare_type": True, "compare_server_default": True}
        )
        return list(compare_metadata(context, metadata))


def user_tables(database: Database) -> set[str]:
    return set(inspect(database.engine).get_table_names()) - {"alembic_version"}


def test_blank_to_head_to_base_and_back(blank_url: str) -> None:
    database = Database(blank_url)
    try:
        assert user_tables(database) == set()

        migrate.upgrade(database)
        assert current_revision(database) == head_revision(blank_url)
        assert user_tables(database) == set(metadata.tables)
        assert schema_differences(database) == []

        migrate.downgrade(database, "base")
        assert current_revision(database) is None
        assert user_tables(database) == set()

        migrate.upgrade(database)
        assert current_revision(database) == head_revision(blank_url)
        assert schema_differences(database) == []

        # Upgrading a database already at head changes nothing.
        migrate.upgrade(database)
        assert current_revision(database) == head_revision(blank_url)
    finally:
        database.dispose()


def test_every_revision_steps_down_and_up(blank_url: str) -> None:
    """Each revision's downgrade undoes its upgrade, one step at a time."""
    script = ScriptDirectory.from_config(migrate.alembic_config(blank_url))
    revisions = [r.revision for r in reversed(list(script.walk_revisions()))]
    database = Database(blank_url)
    try:
        for revision in revisions:
            migrate.upgrade(database, revision)
            assert current_revision(database) == revision
        for revision in reversed(revisions):
            down = script.get_revision(revision).down_revision
            migrate.downgrade(database, "-1")
            assert current_revision(database) == down
        assert user_tables(database) == set()
    finally:
        database.dispose()
