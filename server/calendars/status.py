"""Where each calendar connection stands, for the REST API and the settings page alike: the
connection with its rep and sync state, its sync log (newest first: what the sync did with each
event and which rule said so), and asking for a sync now (coalesced like a push notification).
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from server.calendars import locks, tasks
from server.calendars.models import CalendarConnection
from server.calendars.push import ACTIVE
from server.calendars.tables import CalendarSyncLogEntry, CalendarSyncState, CalendarWatchChannel
from server.crm.models import User
from server.db import Database, utcnow
from server.jobs import Jobs
from server.rows import after_commit


def describe(session: Session, connection_ids: list[int]) -> list[dict[str, Any]]:
    """The connections with their rep, sync state and latest push expiry: one query."""
    if not connection_ids:
        return []
    push_expiry = (
        select(func.max(CalendarWatchChannel.expires_at))
        .where(
            CalendarWatchChannel.connection_id == CalendarConnection.id,
            CalendarWatchChannel.status == ACTIVE,
        )
        .correlate(CalendarConnection)
        .scalar_subquery()
    )
    query = (
        select(CalendarConnection, User.email, CalendarSyncState, push_expiry)
        .join(User, User.id == CalendarConnection.user_id)
        .outerjoin(CalendarSyncState, CalendarSyncState.connection_id == CalendarConnection.id)
        .where(CalendarConnection.id.in_(connection_ids))
        .order_by(CalendarConnection.id)
    )
    return [
        {
            "id": row.id,
            "user_email": email,
            "provider": row.provider,
            "account_email": row.external_email,
            "status": row.status,
            "status_reason": row.status_reason,
            "connected_at": row.connected_at,
            "last_synced_at": state.last_synced_at if state else None,
            "next_sync_at": state.next_sync_at if state and row.active else None,
            "last_error": state.last_error if state else "",
            "push_expires_at": expires,
        }
        for row, email, state, expires in session.execute(query)
    ]


def sync_log(
    session: Session, connection_id: int, before: int | None, limit: int
) -> tuple[list[dict[str, Any]], bool]:
    """A page of the log, newest first, before the entry id ``before``; and whether more."""
    query = select(CalendarSyncLogEntry).where(CalendarSyncLogEntry.connection_id == connection_id)
    if before is not None:
        query = query.where(CalendarSyncLogEntry.id < before)
    rows = list(session.scalars(query.order_by(CalendarSyncLogEntry.id.desc()).limit(limit + 1)))
    entries = [
        {
            "id": r.id,
            "at": r.created_at,
            "event_id": r.external_event_id,
            "action": r.action,
            "rule": r.rule,
            "reason": r.reason,
            "meeting_id": r.meeting_id,
        }
        for r in rows[:limit]
    ]
    return entries, len(rows) > limit


def request_sync(
    session: Session, database: Database, jobs: Jobs, connection: CalendarConnection
) -> None:
    """Flag an active connection for a sync; only the request that sets the flag enqueues,
    once ``session`` commits."""
    locks.ensure_rows(database, connection.id, utcnow())
    if tasks.request_sync(session, connection.id, utcnow()):
        after_commit(session, lambda: tasks.enqueue_sync(jobs, connection.id))
