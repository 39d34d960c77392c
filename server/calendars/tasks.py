"""The calendar jobs: a ``sync_connection`` task (push-triggered syncs), an outbox task, and
one periodic sweep (connections due a sync, push renewals, the outbox, log pruning) that the
worker runs every minute. ``meeting-assistant sync run`` runs the same sweep with every active
connection synced now, due or not, and reports each.
"""

from __future__ import annotations

import logging
import time
from collections import Counter
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import delete, or_, select
from sqlalchemy.orm import Session

from server import rows
from server.calendars import locks, outbox, push
from server.calendars.models import ACTIVE, CalendarConnection
from server.calendars.sync import SyncEnv, sync_connection
from server.calendars.tables import CalendarSyncLogEntry, CalendarSyncState
from server.crm.models import User
from server.crypto import TokenCipher
from server.jobs import JobContext, JobResult, Jobs, Periodic

log = logging.getLogger(__name__)

SYNC_TASK = "calendar_sync_connection"
CONNECTED_TASK = "calendar_connected"
OUTBOX_TASK = "calendar_outbox_item"
SWEEP = "calendar_sweep"
LOCKED_RETRY_SECONDS = 5
PUSH_SYNC_SPACING = timedelta(seconds=5)
REQUEST_STALE = timedelta(minutes=2)  # a push request whose task got lost is picked up here
CLAIM_FOR = timedelta(minutes=10)
SWEEP_BUDGET_SECONDS = 45.0
LOG_RETENTION = timedelta(days=30)


def env_for(context: JobContext) -> SyncEnv:
    return SyncEnv(
        settings=context.settings,
        database=context.database,
        cipher=TokenCipher(context.settings.token_encryption_keys),
        huey=context.jobs.huey,
        stopping=context.jobs.stopping.is_set,
    )


def register(jobs: Jobs) -> None:
    """Register the calendar tasks and the sweep on the app's queue (``create_app``)."""

    def sync_task(context: JobContext, connection_id: int) -> dict[str, Any]:
        env = env_for(context)
        result = sync_connection(env, connection_id)
        if result.status == "locked" and sync_requested(env, connection_id):
            # Another worker is mid-sync and a notification came after it started: look again
            # shortly, or that change would wait for the next poll.
            jobs.tasks[SYNC_TASK].schedule(args=(connection_id,), delay=LOCKED_RETRY_SECONDS)
        return result.as_dict()

    def outbox_task(context: JobContext, item_id: int) -> str:
        return outbox.process_item(env_for(context), item_id)

    def connected_task(context: JobContext, connection_id: int) -> dict[str, Any]:
        env = env_for(context)
        channel = push.ensure_channel(env, connection_id)
        return {"channel": channel, **sync_connection(env, connection_id).as_dict()}

    jobs.task(SYNC_TASK)(sync_task)
    jobs.task(OUTBOX_TASK)(outbox_task)
    jobs.task(CONNECTED_TASK)(connected_task)
    jobs.register_periodic(Periodic(SWEEP, sweep, every_minutes=1, run_now=sweep_now))


def enqueue_sync(jobs: Jobs, connection_id: int, delay: float = 0.0) -> None:
    if delay > 0:
        jobs.tasks[SYNC_TASK].schedule(args=(connection_id,), delay=delay)
    else:
        jobs.tasks[SYNC_TASK](connection_id)


def push_delay(session: Session, connection_id: int, now: datetime) -> float:
    """Seconds to wait before a push-requested sync: syncs of one calendar start at least
    ``PUSH_SYNC_SPACING`` apart, so a flood of notifications makes a handful of syncs, and a
    lone change after a quiet spell syncs at once."""
    last = session.scalar(
        select(CalendarSyncState.last_synced_at).where(
            CalendarSyncState.connection_id == connection_id
        )
    )
    if last is None:
        return 0.0
    return max(0.0, (last + PUSH_SYNC_SPACING - now).total_seconds())


def enqueue_outbox(jobs: Jobs, item_id: int) -> None:
    jobs.tasks[OUTBOX_TASK](item_id)


def start_after_commit(session: Session, jobs: Jobs, connection_id: int) -> None:
    """A calendar just connected: its channel and first sync right away, not at the next sweep."""
    rows.after_commit(session, lambda: jobs.tasks[CONNECTED_TASK](connection_id))


def request_sync(session: Session, connection_id: int, now: datetime) -> bool:
    """Flag the connection for a sync; True only for the request that set the flag, which
    alone enqueues. The flag is cleared when the sync starts."""
    return rows.claim(
        session,
        CalendarSyncState,
        (CalendarSyncState.connection_id == connection_id)
        & CalendarSyncState.sync_requested_at.is_(None),
        {"sync_requested_at": now},
    )


def sync_requested(env: SyncEnv, connection_id: int) -> bool:
    with env.database.transaction() as session:
        state = session.get(CalendarSyncState, connection_id)
        return state is not None and state.sync_requested_at is not None


def run_due_syncs(env: SyncEnv, budget: float = SWEEP_BUDGET_SECONDS) -> Counter[str]:
    """Sync connections whose poll is due or whose push request went unanswered. Each is
    claimed by moving its due time first, so sweeps on several workers share the work."""
    now = env.now()
    with env.database.transaction() as session:
        new = list(
            session.scalars(
                select(CalendarConnection.id)
                .outerjoin(
                    CalendarSyncState, CalendarSyncState.connection_id == CalendarConnection.id
                )
                .where(
                    CalendarConnection.status == ACTIVE, CalendarSyncState.connection_id.is_(None)
                )
            )
        )
    for connection_id in new:
        locks.ensure_rows(env.database, connection_id, now)
    with env.database.transaction() as session:
        due = list(
            session.execute(
                select(CalendarSyncState.connection_id, CalendarSyncState.next_sync_at)
                .join(CalendarConnection, CalendarConnection.id == CalendarSyncState.connection_id)
                .where(
                    CalendarConnection.status == ACTIVE,
                    or_(
                        CalendarSyncState.next_sync_at <= now,
                        CalendarSyncState.sync_requested_at <= now - REQUEST_STALE,
                    ),
                )
                .order_by(CalendarSyncState.next_sync_at)
                .limit(100)
            )
        )
    counts: Counter[str] = Counter()
    deadline = time.monotonic() + budget
    for connection_id, due_at in due:
        if time.monotonic() > deadline:
            counts["deferred"] += 1
            continue
        if not _claim(env, connection_id, due_at):
            continue
        counts[sync_connection(env, connection_id).status] += 1
    return counts


def _claim(env: SyncEnv, connection_id: int, due_at: datetime) -> bool:
    with env.database.transaction() as session:
        return rows.claim(
            session,
            CalendarSyncState,
            (CalendarSyncState.connection_id == connection_id)
            & (CalendarSyncState.next_sync_at == due_at),
            {"next_sync_at": env.now() + CLAIM_FOR},
        )


def prune_log(env: SyncEnv) -> int:
    with env.database.transaction() as session:
        result = session.execute(
            delete(CalendarSyncLogEntry).where(
                CalendarSyncLogEntry.created_at < env.now() - LOG_RETENTION
            )
        )
        return int(getattr(result, "rowcount", 0) or 0)


def sweep(context: JobContext) -> JobResult:
    """The periodic calendar job: outbox, channels, due syncs, log pruning."""
    env = env_for(context)
    return {
        "outbox": dict(outbox.process_due(env)),
        "channels": dict(push.sweep_channels(env)),
        "syncs": dict(run_due_syncs(env)),
        "log_pruned": prune_log(env),
    }


def sync_all(env: SyncEnv) -> list[dict[str, Any]]:
    """Sync every active connection now, due or not (``sync run``); one report each."""
    with env.database.transaction() as session:
        active = list(
            session.execute(
                select(CalendarConnection.id, CalendarConnection.provider, User.email)
                .join(User, User.id == CalendarConnection.user_id)
                .where(CalendarConnection.status == ACTIVE)
                .order_by(CalendarConnection.id)
            )
        )
    reports = []
    for connection_id, provider, email in active:
        result = sync_connection(env, connection_id)
        reports.append({"user_email": email, "provider": provider, **result.as_dict()})
    return reports


def sweep_now(context: JobContext) -> JobResult:
    """``sync run``: the outbox, push renewals, then every active connection."""
    env = env_for(context)
    outbox_done = dict(outbox.process_due(env))
    channels = dict(push.sweep_channels(env))
    connections = sync_all(env)
    return {
        "outbox": outbox_done,
        "channels": channels,
        "syncs": dict(Counter(str(c["status"]) for c in connections)),
        "connections": connections,
        "log_pruned": prune_log(env),
    }
