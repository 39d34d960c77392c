"""/healthz answers while the process runs; /readyz only while the database (at the newest
migration) and the queue answer, and says which check failed."""

from __future__ import annotations

from pathlib import Path

from flask import Flask
from flask.testing import FlaskClient

from server import migrate
from server.app import create_app
from server.config import Settings
from server.db import Database


def test_healthz_and_readyz_answer_when_all_is_well(client: FlaskClient) -> None:
    assert client.get("/healthz").get_json() == {"status": "ok"}
    ready = client.get("/readyz")
    assert ready.status_code == 200
    body = ready.get_json()
    assert body["status"] == "ready"
    assert body["checks"]["database"]["ok"]
    assert body["checks"]["queue"]["ok"]


def test_readyz_refuses_a_schema_behind_the_code(
    app: Flask, client: FlaskClient, database: Database
) -> None:
    migrate.downgrade(database, "0005")
    try:
        answer = client.get("/readyz")
        assert answer.status_code == 503
        check = answer.get_json()["checks"]["database"]
        assert not check["ok"]
        assert "0005" in check["reason"]
        assert "db upgrade" in check["reason"]
        assert client.get("/healthz").status_code == 200  # alive, only not ready
    finally:
        migrate.upgrade(database)
    assert client.get("/readyz").status_code == 200


def test_readyz_refuses_when_the_queue_does_not_answer(settings: Settings, tmp_path: Path) -> None:
    app = create_app(settings.with_overrides(queue_url="redis://127.0.0.1:1/0"))
    try:
        answer = app.test_client().get("/readyz")
        assert answer.status_code == 503
        queue = answer.get_json()["checks"]["queue"]
        assert not queue["ok"]
        assert "queue does not answer" in queue["reason"]
    finally:
        app.extensions["database"].dispose()
