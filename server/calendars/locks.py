"""The per-connection sync lock (:mod:`server.locks`) and the rows a connection's sync keeps:
its sync state, whose ``heartbeat_at`` is the holder's sign of life on engines without
advisory locks."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime, timedelta

from huey import Huey
from sqlalchemy import func, update
from sqlalchemy.exc import IntegrityError

from server import locks, rows
from server.calendars.tables import CalendarSyncState
from server.db import Database

STALE_AFTER = timedelta(minutes=10)


def ensure_rows(database: Database, connection_id: int, now: datetime) -> None:
    """Create the connection's sync state on first use."""
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
    except IntegrityError:
        pass  # created concurrently by another worker


@contextmanager
def connection_lock(
    database: Database, huey: Huey | None, connection_id: int, now: datetime
) -> Iterator[bool]:
    """Yield True while this process holds the connection's sync lock, False if another does."""
    heartbeat = locks.Heartbeat(
        beat=lambda at: beat(database, connection_id, at),
        take_over_if_quiet=lambda at: _take_over_stale(database, connection_id, at),
    )
    with locks.held(database, huey, f"calendar-sync-{connection_id}", now, heartbeat) as got:
        yield got


def _take_over_stale(database: Database, connection_id: int, now: datetime) -> bool:
    """Whether the lock's holder went quiet; the conditional update lets one worker win."""
    last_sign = func.coalesce(CalendarSyncState.heartbeat_at, CalendarSyncState.created_at)
    with database.transaction() as session:
        return rows.claim(
            session,
            CalendarSyncState,
            (CalendarSyncState.connection_id == connection_id) & (last_sign < now - STALE_AFTER),
            {"heartbeat_at": now},
        )


def beat(database: Database, connection_id: int, now: datetime) -> None:
    with database.transaction() as session:
        session.execute(
            update(CalendarSyncState)
            .where(CalendarSyncState.connection_id == connection_id)
            .values(heartbeat_at=now)
            .execution_options(synchronize_session=False)
        )
