"""One lock per unit of sync work (a calendar connection, a Salesforce org): two workers
never run the same sync at once, whichever process or machine they are on.

PostgreSQL: a session-level advisory lock (``pg_try_advisory_lock``) held by a database
connection of its own for the length of the work; the work's own transactions run on other
connections. A worker that dies takes its connection, and so the lock, with it.

Other engines (SQLite): a Huey queue lock (``huey.lock_task``), shared by every process on the
same queue. A worker that dies holding it leaves it behind, so the holder keeps a heartbeat
(the feature stores it next to its sync state) and a lock whose heartbeat went quiet is taken
over, by one worker only.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from huey import Huey
from huey.exceptions import TaskLockedException
from sqlalchemy import ColumnElement, text, update

from server import rows
from server.db import Database

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Heartbeat:
    """How the holder of a queue lock shows it is alive, kept by the feature."""

    beat: Callable[[datetime], None]  # record a sign of life at this instant
    # Record one now if the last sign is older than the feature's limit; True for the one
    # caller whose conditional update won (it takes the lock over).
    take_over_if_quiet: Callable[[datetime], bool]


def on_row(
    database: Database,
    model: Any,
    where: ColumnElement[bool],
    stale_after: timedelta,
    last_sign: ColumnElement[Any] | None = None,
) -> Heartbeat:
    """A heartbeat kept in the ``heartbeat_at`` of the row ``where`` selects (a sync state, an
    org): quiet once ``last_sign`` (default ``heartbeat_at``; never beaten counts as quiet) is
    older than ``stale_after``."""
    sign = model.heartbeat_at if last_sign is None else last_sign

    def beat(at: datetime) -> None:
        with database.transaction() as session:
            session.execute(
                update(model)
                .where(where)
                .values(heartbeat_at=at)
                .execution_options(synchronize_session=False)
            )

    def take_over_if_quiet(at: datetime) -> bool:
        quiet = sign.is_(None) | (sign < at - stale_after)
        with database.transaction() as session:
            return rows.claim(session, model, where & quiet, {"heartbeat_at": at})

    return Heartbeat(beat, take_over_if_quiet)


@contextmanager
def held(
    database: Database, huey: Huey | None, name: str, now: datetime, heartbeat: Heartbeat
) -> Iterator[bool]:
    """Yield True while this process holds the lock ``name``, False if another does."""
    if database.dialect == "postgresql":
        with _advisory(database, name) as got:
            yield got
        return
    if huey is None:
        raise RuntimeError("a queue is needed for locks on this database engine")
    with _queue_lock(huey, name, now, heartbeat) as got:
        yield got


@contextmanager
def _advisory(database: Database, name: str) -> Iterator[bool]:
    key = text("SELECT hashtextextended(:name, 0)")
    with database.engine.connect() as conn:
        lock_id = conn.execute(key, {"name": name}).scalar_one()
        got = bool(conn.execute(text("SELECT pg_try_advisory_lock(:id)"), {"id": lock_id}).scalar())
        conn.commit()
        try:
            yield got
        finally:
            if got:
                conn.execute(text("SELECT pg_advisory_unlock(:id)"), {"id": lock_id})
                conn.commit()


@contextmanager
def _queue_lock(huey: Huey, name: str, now: datetime, heartbeat: Heartbeat) -> Iterator[bool]:
    lock = huey.lock_task(name)
    try:
        lock.acquire()
    except TaskLockedException:
        if not heartbeat.take_over_if_quiet(now):
            yield False
            return
        lock.clear()
        try:
            lock.acquire()
        except TaskLockedException:
            yield False
            return
        log.warning("took over a stale lock %s", name)
    try:
        heartbeat.beat(now)
        yield True
    finally:
        lock.release()
