"""The per-connection sync lock (:mod:`server.locks`) and the rows a connection's sync keeps:
its sync state, whose ``heartbeat_at`` is the holder's sign of life on engines without
advisory locks."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime, timedelta

from huey import Huey
from sqlalchemy import func
from sqlalchemy.exc import IntegrityError

from server import locks
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
    """Yield True while this process holds the connection's sync lock, False if another does;
    its holder went quiet when its last sign (heartbeat, else the state's creation) is older
    than ``STALE_AFTER``."""
    heartbeat = locks.on_row(
        database,
        CalendarSyncState,
        CalendarSyncState.connection_id == connection_id,
        STALE_AFTER,
        func.coalesce(CalendarSyncState.heartbeat_at, CalendarSyncState.created_at),
    )
    with locks.held(database, huey, f"calendar-sync-{connection_id}", now, heartbeat) as got:
        yield got
