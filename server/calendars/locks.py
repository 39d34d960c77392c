"""The per-connection sync lock: two workers never sync one calendar at the same time.

PostgreSQL: a row of ``calendar_sync_locks`` held ``FOR UPDATE SKIP LOCKED`` by a connection
of its own for the length of the sync (the odoo pattern); the sync's page transactions run on
other connections and never touch that row. A dead worker's database connection closes and
the lock goes with it.

Other engines (SQLite): a Huey queue lock (``huey.lock_task``), shared by every process on the
same queue. A worker that dies holding it leaves it behind, so the holder keeps a heartbeat
on its sync state and a lock whose heartbeat went quiet is taken over, by one worker only.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime, timedelta

from huey import Huey
from huey.exceptions import TaskLockedException
from sqlalchemy import func, select, update
from sqlalchemy.exc import IntegrityError

from server.calendars import logfmt
from server.calendars.tables import CalendarSyncLock, CalendarSyncState
from server.db import Database

log = logging.getLogger(__name__)

STALE_AFTER = timedelta(minutes=10)


def ensure_rows(database: Database, connection_id: int, now: datetime) -> None:
    """Create the connection's sync state and lock rows on first use."""
    with database.transaction() as session:
        if session.get(CalendarSyncState, connection_id) is not None:
            return
    try:
        with database.transaction() as session:
            session.add(
                CalendarSyncState(
                    connection_id=connection_id, next_sync_at=now, full_sync_started_at=now
                )
            )
            session.add(CalendarSyncLock(connection_id=connection_id))
    except IntegrityError:
        pass  # created concurrently by another worker


@contextmanager
def connection_lock(
    database: Database, huey: Huey | None, connection_id: int, now: datetime
) -> Iterator[bool]:
    """Yield True while this process holds the connection's sync lock, False if another does."""
    if database.dialect == "postgresql":
        with _row_lock(database, connection_id) as held:
            yield held
    else:
        if huey is None:
            raise RuntimeError("a queue is needed for the sync lock on this database engine")
        with _queue_lock(database, huey, connection_id, now) as held:
            yield held


@contextmanager
def _row_lock(database: Database, connection_id: int) -> Iterator[bool]:
    with database.engine.connect() as conn:
        transaction = conn.begin()
        try:
            query = (
                select(CalendarSyncLock.connection_id)
                .where(CalendarSyncLock.connection_id == connection_id)
                .with_for_update(skip_locked=True)
            )
            yield conn.execute(query).first() is not None
        finally:
            transaction.rollback()


@contextmanager
def _queue_lock(
    database: Database, huey: Huey, connection_id: int, now: datetime
) -> Iterator[bool]:
    lock = huey.lock_task(f"calendar-sync-{connection_id}")
    try:
        lock.acquire()
    except TaskLockedException:
        if not _take_over_stale(database, connection_id, now):
            yield False
            return
        lock.clear()
        try:
            lock.acquire()
        except TaskLockedException:
            yield False
            return
        logfmt.warning(log, "took over a stale calendar sync lock", connection_id=connection_id)
    try:
        beat(database, connection_id, now)
        yield True
    finally:
        lock.release()


def _take_over_stale(database: Database, connection_id: int, now: datetime) -> bool:
    """Whether the lock's holder went quiet; the conditional update lets one worker win."""
    limit = now - STALE_AFTER
    last_sign = func.coalesce(CalendarSyncState.heartbeat_at, CalendarSyncState.created_at)
    with database.transaction() as session:
        result = session.execute(
            update(CalendarSyncState)
            .where(CalendarSyncState.connection_id == connection_id, last_sign < limit)
            .values(heartbeat_at=now)
            .execution_options(synchronize_session=False)
        )
        return bool(getattr(result, "rowcount", 0) == 1)


def beat(database: Database, connection_id: int, now: datetime) -> None:
    with database.transaction() as session:
        session.execute(
            update(CalendarSyncState)
            .where(CalendarSyncState.connection_id == connection_id)
            .values(heartbeat_at=now)
            .execution_options(synchronize_session=False)
        )
