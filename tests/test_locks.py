"""The shared sync lock (server/locks.py) on the engine under test: one holder at a time, free
again when the holder leaves, and free when a holder dies (PostgreSQL: its connection closes;
SQLite: its heartbeat goes quiet and one worker takes it over)."""

from __future__ import annotations

from datetime import UTC, datetime

from flask import Flask
from sqlalchemy import text

from server import locks
from server.db import Database


class Beats:
    def __init__(self) -> None:
        self.quiet = False
        self.beats: list[datetime] = []

    def heartbeat(self) -> locks.Heartbeat:
        return locks.Heartbeat(beat=self.beats.append, take_over_if_quiet=lambda _now: self.quiet)


def test_one_holder_at_a_time(app: Flask, database: Database) -> None:
    huey, now, beats = app.extensions["jobs"].huey, datetime.now(UTC), Beats()
    with locks.held(database, huey, "test-lock-1", now, beats.heartbeat()) as first:
        assert first
        with locks.held(database, huey, "test-lock-1", now, beats.heartbeat()) as second:
            assert not second
        with locks.held(database, huey, "test-lock-2", now, beats.heartbeat()) as other:
            assert other  # another name is another lock
    with locks.held(database, huey, "test-lock-1", now, beats.heartbeat()) as again:
        assert again


def test_a_dead_holder_does_not_keep_the_lock(app: Flask, database: Database) -> None:
    huey, now, beats = app.extensions["jobs"].huey, datetime.now(UTC), Beats()
    if database.dialect == "postgresql":
        dead = database.engine.connect()  # a worker that takes the lock, then dies
        key = dead.execute(text("SELECT hashtextextended('test-dead', 0)")).scalar_one()
        assert dead.execute(text("SELECT pg_try_advisory_lock(:k)"), {"k": key}).scalar()
        with locks.held(database, huey, "test-dead", now, beats.heartbeat()) as got:
            assert not got
        dead.invalidate()  # its connection closes with the process
        dead.close()
    else:
        huey.lock_task("test-dead").acquire()  # left behind by a dead worker
        with locks.held(database, huey, "test-dead", now, beats.heartbeat()) as got:
            assert not got  # its heartbeat is fresh: it may still be alive
        beats.quiet = True
    with locks.held(database, huey, "test-dead", now, beats.heartbeat()) as got:
        assert got
