"""``GET /healthz`` (the process answers) and ``GET /readyz`` (it can do its work: the database
answers and its schema is at the newest migration, the queue answers). A load balancer sends
traffic on readyz; an orchestrator restarts on healthz."""

from __future__ import annotations

from typing import Any

from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from flask import Flask, Response, jsonify
from sqlalchemy import text

from server import migrate
from server.db import Database
from server.jobs import Jobs


def register(app: Flask, database: Database, jobs: Jobs) -> None:
    head = ScriptDirectory.from_config(migrate.alembic_config(database.url)).get_current_head()

    @app.get("/healthz")
    def healthz() -> Response:
        return jsonify({"status": "ok"})

    @app.get("/readyz")
    def readyz() -> tuple[Response, int]:
        checks = {
            "database": _database(database, head),
            "queue": _queue(jobs),
        }
        ready = all(check["ok"] for check in checks.values())
        return jsonify({"status": "ready" if ready else "not_ready", "checks": checks}), (
            200 if ready else 503
        )


def _database(database: Database, head: str | None) -> dict[str, Any]:
    try:
        with database.engine.connect() as conn:
            conn.execute(text("SELECT 1"))
            current = MigrationContext.configure(conn).get_current_revision()
    except Exception as exc:  # any failure means "not ready"; the reason is the type
        return {"ok": False, "reason": f"the database does not answer ({type(exc).__name__})"}
    if current != head:
        return {"ok": False, "reason": f"schema at {current}, newest is {head}: run db upgrade"}
    return {"ok": True, "revision": current}


def _queue(jobs: Jobs) -> dict[str, Any]:
    try:
        pending = jobs.huey.pending_count()
    except Exception as exc:  # Redis down, SQLite file unreadable, ...
        return {"ok": False, "reason": f"the queue does not answer ({type(exc).__name__})"}
    return {"ok": True, "pending": pending}
