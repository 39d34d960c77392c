"""Shared fixtures: settings, a migrated database per test, the app, API clients.

The engine under test comes from ``TEST_DATABASE_URL`` (default: a SQLite file per test); the
queue from ``TEST_QUEUE_URL`` (default: a SQLite file per test). ``.ci/run`` runs the suite once
on SQLite and once on PostgreSQL + Redis when they answer on 127.0.0.1.
"""

from __future__ import annotations

import os
import shutil
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from cryptography.fernet import Fernet
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import create_engine, text

from server import migrate
from server.app import create_app
from server.config import Settings
from server.crm import accounts
from server.db import Database
from server.models import metadata
from tests import netguard

netguard.install()

TEST_DATABASE_URL = os.environ.get("TEST_DATABASE_URL", "")
TEST_QUEUE_URL = os.environ.get("TEST_QUEUE_URL", "")


def engine_name() -> str:
    return "postgresql" if TEST_DATABASE_URL.startswith("postgresql") else "sqlite"


@pytest.fixture(scope="session")
def template_db(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A migrated database: a SQLite file to copy per test, or a throwaway PostgreSQL database."""
    if TEST_DATABASE_URL.startswith("postgresql"):
        name = f"ma_test_{uuid.uuid4().hex[:10]}"
        admin = create_engine(TEST_DATABASE_URL, isolation_level="AUTOCOMMIT")
        with admin.connect() as conn:
            conn.execute(text(f'CREATE DATABASE "{name}"'))
        url = TEST_DATABASE_URL.rsplit("/", 1)[0] + "/" + name
        database = Database(url)
        migrate.upgrade(database)
        database.dispose()
        yield url
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()
    else:
        path = tmp_path_factory.mktemp("template") / "template.db"
        database = Database(f"sqlite:///{path}")
        migrate.upgrade(database)
        database.dispose()
        yield str(path)


@pytest.fixture
def database_url(template_db: str, tmp_path: Path) -> Iterator[str]:
    if TEST_DATABASE_URL.startswith("postgresql"):
        yield template_db
        engine = create_engine(template_db)
        with engine.begin() as conn:
            present = set(
                conn.execute(
                    text("SELECT tablename FROM pg_tables WHERE schemaname='public'")
                ).scalars()
            )
            # DELETE, children first, is far cheaper than TRUNCATE on tables this small.
            known = [t.name for t in reversed(metadata.sorted_tables) if t.name in present]
            for name in known:
                conn.execute(text(f'DELETE FROM "{name}"'))
            others = ", ".join(f'"{t}"' for t in present - {*known, "alembic_version"})
            if others:
                conn.execute(text(f"TRUNCATE {others} CASCADE"))
            conn.execute(
                text(
                    "SELECT setval(format('%I.%I', schemaname, sequencename)::regclass, 1, false)"
                    " FROM pg_sequences WHERE schemaname = 'public'"
                )
            )
        engine.dispose()
    else:
        path = tmp_path / "test.db"
        shutil.copyfile(template_db, path)
        yield f"sqlite:///{path}"


@pytest.fixture
def queue_url(tmp_path: Path) -> Iterator[str]:
    if TEST_QUEUE_URL.startswith("redis"):
        yield TEST_QUEUE_URL
        import redis

        client = redis.Redis.from_url(TEST_QUEUE_URL)
        client.flushdb()
        client.close()
    else:
        yield f"sqlite:///{tmp_path / 'queue.db'}"


@pytest.fixture
def settings(tmp_path: Path, database_url: str, queue_url: str) -> Settings:
    return Settings(
        instance_path=tmp_path,
        database_url=database_url,
        queue_url=queue_url,
        secret_key="test-secret-" + uuid.uuid4().hex,
        token_encryption_keys=(Fernet.generate_key().decode(),),
        public_base_url="https://addon.test",
        crm_vendor_domains=("meeting-assistant.app",),
    )


@pytest.fixture
def app(settings: Settings) -> Iterator[Flask]:
    application = create_app(settings)
    yield application
    application.extensions["database"].dispose()


@pytest.fixture
def database(app: Flask) -> Database:
    db: Database = app.extensions["database"]
    return db


@pytest.fixture
def client(app: Flask) -> FlaskClient:
    return app.test_client()


@dataclass
class Tenant:
    """An account with its first user and an API client authenticated as it."""

    account_id: int
    user_id: int
    user_email: str
    token: str
    client: FlaskClient

    def call(self, method: str, path: str, **kwargs: Any) -> Any:
        headers = {"Authorization": f"Bearer {self.token}", **kwargs.pop("headers", {})}
        return self.client.open("/api/v1" + path, method=method, headers=headers, **kwargs)


@pytest.fixture
def make_tenant(app: Flask, database: Database) -> Any:
    def make(name: str = "Acme", domain: str = "acme.example", user: str | None = None) -> Tenant:
        email = user or f"rep@{domain}"
        with database.transaction() as session:
            account, row, token = accounts.create_account(session, name, [domain], email)
        return Tenant(account.id, row.id, email, token, app.test_client())

    return make


@pytest.fixture
def tenant(make_tenant: Any) -> Tenant:
    return make_tenant()


def pointed_at_google(settings: Settings, google: Any, client_id: str, secret: str) -> Settings:
    """``settings`` with every Google URL at the stand-in ``google`` and an OAuth client."""
    urls = google.settings()
    return settings.with_overrides(
        google_auth_uri=urls["GOOGLE_AUTH_URI"],
        google_token_uri=urls["GOOGLE_TOKEN_URI"],
        google_certs_url=urls["GOOGLE_CERTS_URL"],
        google_calendar_api_url=urls["GOOGLE_CALENDAR_API_URL"],
        google_client_id=client_id,
        google_client_secret=secret,
    )
