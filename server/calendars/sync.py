"""The sync engine: one connection's calendar into the CRM.

Per run: take the connection's lock; read the cursor; then page by page, fetch (a remote call,
no transaction open) and apply the page's decisions together with the next cursor in ONE
transaction. A crash anywhere re-fetches the page whose cursor was not committed, and the
links from event ids to meetings make re-applying it a no-op: nothing lost, nothing doubled.
A 410 starts a full listing whose end reconciles stored links against what it held.

Fault points (``SyncEnv.fault``) name the steps so tests can crash the engine between them.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from server.calendars import apply, locks, logfmt, providers, tombstones
from server.calendars.connections import mark_needs_reconnect
from server.calendars.models import CalendarConnection
from server.calendars.provider import (
    CalendarProvider,
    EventPage,
    FullSyncRequired,
    ProviderError,
    ReconnectNeeded,
    TemporaryError,
)
from server.calendars.tables import CalendarSyncLogEntry, CalendarSyncState, CalendarWatchChannel
from server.jobs import RunEnv

log = logging.getLogger(__name__)

POLL_WITHOUT_PUSH = timedelta(minutes=5)
RESUME_AFTER = timedelta(minutes=1)  # a run that went quiet this long is taken up again
POLL_WITH_PUSH = timedelta(minutes=30)  # push does the work; this only catches a lost message
MAX_FULL_RESTARTS = 2
ProviderFactory = Callable[[CalendarConnection, str], CalendarProvider]


@dataclass
class SyncEnv(RunEnv):
    """What the engine runs with (:class:`~server.jobs.RunEnv`), and how it makes a provider
    and knows the worker is shutting down."""

    provider_factory: ProviderFactory | None = None
    stopping: Callable[[], bool] = lambda: False  # the worker is shutting down

    def provider(self, connection: CalendarConnection, refresh_token: str) -> CalendarProvider:
        if self.provider_factory is not None:
            return self.provider_factory(connection, refresh_token)
        return providers.get(connection.provider).open(self.settings, refresh_token)


@dataclass
class SyncResult:
    connection_id: int
    status: str = "ok"  # ok | locked | inactive | needs_reconnect | retry_later | failed
    # | interrupted (the worker stopped between pages)
    pages: int = 0
    events: int = 0
    full_sync: bool = False
    reconciled: int = 0
    actions: dict[str, int] = field(default_factory=dict)
    error: str = ""

    def as_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


def sync_connection(env: SyncEnv, connection_id: int) -> SyncResult:
    """Sync one connection unless another worker is already at it (then ``locked``)."""
    locks.ensure_rows(env.database, connection_id, env.now())
    with locks.connection_lock(env.database, env.huey, connection_id, env.now()) as held:
        if not held:
            logfmt.info(log, "calendar sync already running", connection_id=connection_id)
            return SyncResult(connection_id, status="locked")
        result = _run(env, connection_id)
    logfmt.info(
        log,
        "calendar sync done",
        connection_id=connection_id,
        status=result.status,
        pages=result.pages,
    )
    return result


@dataclass(frozen=True)
class _Cursor:
    sync_token: str | None
    page_token: str | None


def _start(env: SyncEnv, connection_id: int) -> tuple[CalendarConnection, str, _Cursor] | None:
    """Read the connection and cursor; clear the push flag so a notification from now on
    asks for another sync (coalescing never swallows a change made during this one)."""
    with env.database.transaction() as session:
        connection = session.get(CalendarConnection, connection_id)
        state = session.get(CalendarSyncState, connection_id)
        if connection is None or state is None or not connection.active:
            return None
        if not connection.refresh_token_encrypted:
            return None
        state.sync_requested_at = None
        state.runs += 1
        state.heartbeat_at = env.now()
        # While this run lasts the connection is due again soon: should the worker die, the
        # next sweep after RESUME_AFTER carries on from the last committed page.
        state.next_sync_at = env.now() + RESUME_AFTER
        if state.full_sync and state.page_token is None:
            state.full_sync_started_at = env.now()
        token = env.cipher.decrypt(connection.refresh_token_encrypted)
        session.expunge(connection)
        return connection, token, _Cursor(state.sync_token, state.page_token)


def _run(env: SyncEnv, connection_id: int) -> SyncResult:
    result = SyncResult(connection_id)
    started = _start(env, connection_id)
    if started is None:
        result.status = "inactive"
        return result
    connection, token, cursor = started
    provider = env.provider(connection, token)
    try:
        return _pages(env, provider, cursor, result)
    finally:
        provider.close()


def _pages(
    env: SyncEnv, provider: CalendarProvider, cursor: _Cursor, result: SyncResult
) -> SyncResult:
    connection_id = result.connection_id
    restarts = 0
    while True:
        try:
            page = provider.list_events(sync_token=cursor.sync_token, page_token=cursor.page_token)
            page = tombstones.complete(env.database, provider, connection_id, page)
        except FullSyncRequired as exc:
            restarts += 1
            if restarts > MAX_FULL_RESTARTS:
                return _failed(env, result, "the calendar kept refusing the sync cursor", 300)
            cursor = _restart_full(env, connection_id, str(exc))
            continue
        except ReconnectNeeded as exc:
            return _reconnect(env, result, str(exc))
        except TemporaryError as exc:
            return _failed(env, result, str(exc), exc.retry_after, status="retry_later")
        except ProviderError as exc:
            return _failed(env, result, str(exc), 600)
        env.fault("fetched")
        applied = _apply_page(env, connection_id, cursor, page, result, provider.current_grant())
        env.fault("committed")
        if applied is None:
            result.status = "inactive"
            return result
        cursor = applied
        if page.next_sync_token:
            break
        if env.stopping():
            return _interrupted(env, result)
    _finish(env, connection_id)
    return result


def _interrupted(env: SyncEnv, result: SyncResult) -> SyncResult:
    """The worker is stopping: the committed pages stay, another worker goes on at once."""
    with env.database.transaction() as session:
        state = session.get(CalendarSyncState, result.connection_id)
        if state is not None:
            state.next_sync_at = env.now()
    logfmt.info(log, "calendar sync paused for shutdown", connection_id=result.connection_id)
    result.status = "interrupted"
    return result


def _apply_page(
    env: SyncEnv,
    connection_id: int,
    cursor: _Cursor,
    page: EventPage,
    result: SyncResult,
    grant: str,
) -> _Cursor | None:
    """The page's CRM changes, links, log lines and the next cursor: one transaction, with
    the grant when the provider rotated it."""
    now = env.now()
    with env.database.transaction() as session:
        connection = session.get(CalendarConnection, connection_id)
        state = session.get(CalendarSyncState, connection_id)
        if connection is None or state is None or not connection.active:
            return None  # disconnected meanwhile (C5): apply nothing more
        if (state.sync_token, state.page_token) != (cursor.sync_token, cursor.page_token):
            raise RuntimeError("sync cursor moved under a held lock")
        stored = connection.refresh_token_encrypted
        if grant and stored and env.cipher.decrypt(stored) != grant:
            connection.refresh_token_encrypted = env.cipher.encrypt(grant)  # rotated
        ctx = apply.load_context(
            session, connection, state, page.events, env.settings.crm_vendor_domains, now
        )
        for event in apply.order_for_processing(ctx, page.events):
            apply.process(ctx, event)
        result.full_sync = result.full_sync or state.full_sync
        if page.next_sync_token:
            if state.full_sync:
                result.reconciled += apply.reconcile(ctx, page.window)
            state.sync_token, state.page_token, state.full_sync = page.next_sync_token, None, False
        else:
            state.page_token = page.next_page_token
        apply.write_pending(ctx)
        state.heartbeat_at = now
        state.next_sync_at = now + RESUME_AFTER
        session.flush()
        env.fault("applied")
        next_cursor = _Cursor(state.sync_token, state.page_token)
    result.pages += 1
    result.events += len(page.events)
    for action, count in ctx.counts.items():
        result.actions[action] = result.actions.get(action, 0) + count
    return next_cursor


def _restart_full(env: SyncEnv, connection_id: int, why: str) -> _Cursor:
    with env.database.transaction() as session:
        state = session.get(CalendarSyncState, connection_id)
        assert state is not None
        state.sync_token = state.page_token = None
        state.full_sync = True
        state.generation += 1
        state.full_sync_started_at = env.now()
        session.add(
            CalendarSyncLogEntry(
                connection_id=connection_id,
                created_at=env.now(),
                action="full_sync",
                rule="-",
                reason=f"{why}: listing everything again"[:500],
            )
        )
    logfmt.info(log, "calendar full resync", connection_id=connection_id)
    return _Cursor(None, None)


def _poll_interval(session: Session, connection_id: int) -> timedelta:
    live = session.scalar(
        select(CalendarWatchChannel.id).where(
            CalendarWatchChannel.connection_id == connection_id,
            CalendarWatchChannel.status == "active",
        )
    )
    return POLL_WITH_PUSH if live else POLL_WITHOUT_PUSH


def _finish(env: SyncEnv, connection_id: int) -> None:
    now = env.now()
    with env.database.transaction() as session:
        state = session.get(CalendarSyncState, connection_id)
        assert state is not None
        state.last_synced_at = now
        state.failures, state.last_error = 0, ""
        state.next_sync_at = now + _poll_interval(session, connection_id)


def _failed(
    env: SyncEnv, result: SyncResult, error: str, retry_after: float, status: str = "failed"
) -> SyncResult:
    now = env.now()
    with env.database.transaction() as session:
        state = session.get(CalendarSyncState, result.connection_id)
        assert state is not None
        state.failures += 1
        state.last_error = error[:500]
        backoff = min(3600.0, 60.0 * 2 ** min(state.failures - 1, 6))
        state.next_sync_at = now + timedelta(seconds=max(retry_after, backoff))
    logfmt.warning(log, "calendar sync stopped", connection_id=result.connection_id, error=error)
    result.status, result.error = status, error
    return result


def _reconnect(env: SyncEnv, result: SyncResult, error: str) -> SyncResult:
    with env.database.transaction() as session:
        connection = session.get(CalendarConnection, result.connection_id)
        if connection is not None:
            mark_needs_reconnect(session, connection, refused_access(connection))
        session.add(
            CalendarSyncLogEntry(
                connection_id=result.connection_id,
                created_at=env.now(),
                action="reconnect",
                rule="C1",
                reason="the calendar grant was revoked or expired: the rep must reconnect",
            )
        )
    logfmt.warning(log, "calendar grant refused", connection_id=result.connection_id)
    result.status, result.error = "needs_reconnect", error
    return result


def refused_access(connection: CalendarConnection) -> str:
    """Why the connection needs reconnecting, in the provider's name."""
    try:
        label = providers.get(connection.provider).label
    except ProviderError:
        label = connection.provider
    return f"{label} no longer accepts the calendar access"
