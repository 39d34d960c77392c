"""Push notifications, whatever the provider: one subscription (Google's watch channel,
Graph's subscription) per connection, renewed well before it expires, superseded ones
stopped, all stopped on disconnect (C5). The provider only talks to the calendar through
:class:`~server.calendars.provider.PushChannels`; the rows and the sweep are here.

Each subscription gets a random secret the provider echoes with every notification (Google's
channel token, Graph's ``clientState``); only its SHA-256 is stored, and the webhook compares
digests in constant time. Where a subscription cannot be extended a new one is created before
the old one is stopped, so there is never a gap without notifications.
"""

from __future__ import annotations

import hashlib
import logging
import secrets
import uuid
from collections import Counter
from collections.abc import Callable
from datetime import timedelta

import requests
from sqlalchemy import and_, exists, or_, select
from sqlalchemy.orm import Session

from server.calendars import connections, locks, logfmt, providers
from server.calendars.models import ACTIVE as CONNECTION_ACTIVE
from server.calendars.models import DISCONNECTED, CalendarConnection
from server.calendars.provider import CalendarProvider, NotFound, ProviderError, Subscription
from server.calendars.sync import ProviderFactory, SyncEnv
from server.calendars.tables import (
    CHANNEL_ACTIVE,
    CHANNEL_STOPPED,
    CHANNEL_SUPERSEDED,
    CalendarSyncState,
    CalendarWatchChannel,
)
from server.config import Settings
from server.crypto import TokenCipher
from server.db import utcnow

log = logging.getLogger(__name__)

CHANNEL_TTL = timedelta(days=7)
RENEW_BEFORE = timedelta(days=2)  # renew with days to spare, never after a gap
RETRY_AFTER_FAILURE = timedelta(hours=1)
ACTIVE, SUPERSEDED, STOPPED = CHANNEL_ACTIVE, CHANNEL_SUPERSEDED, CHANNEL_STOPPED


def webhook_path(provider: str) -> str:
    return f"/webhooks/{provider}/calendar"


def webhook_address(settings: Settings, provider: str) -> str:
    return settings.public_base_url.rstrip("/") + webhook_path(provider)


def token_digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def connections_needing_channel(session: Session, env: SyncEnv, limit: int = 50) -> list[int]:
    """Active connections whose subscription is missing or expires within ``RENEW_BEFORE``."""
    now = env.now()
    fresh = exists().where(
        CalendarWatchChannel.connection_id == CalendarConnection.id,
        CalendarWatchChannel.status == ACTIVE,
        CalendarWatchChannel.expires_at > now + RENEW_BEFORE,
    )
    query = (
        select(CalendarConnection.id)
        .outerjoin(CalendarSyncState, CalendarSyncState.connection_id == CalendarConnection.id)
        .where(
            CalendarConnection.status == CONNECTION_ACTIVE,
            ~fresh,
            or_(
                CalendarSyncState.channel_retry_at.is_(None),
                CalendarSyncState.channel_retry_at <= now,
            ),
        )
        .limit(limit)
    )
    return list(session.scalars(query))


def ensure_channel(env: SyncEnv, connection_id: int) -> str:
    """Create the connection's subscription, or renew (or replace) it if it expires soon;
    then stop the ones a replacement supersedes. Returns what happened."""
    now = env.now()
    locks.ensure_rows(env.database, connection_id, now)
    with env.database.transaction() as session:
        connection = session.get(CalendarConnection, connection_id)
        if connection is None or not connection.active or not connection.refresh_token_encrypted:
            return "inactive"
        current = list(_channels(session, connection_id, ACTIVE))
        if any(c.expires_at > now + RENEW_BEFORE for c in current):
            return "ok"
        live = [
            (c.id, Subscription(c.channel_id, c.resource_id, c.expires_at))
            for c in current
            if c.expires_at > now
        ]
        token_stored = connection.refresh_token_encrypted
        session.expunge(connection)
    provider = env.provider(connection, env.cipher.decrypt(token_stored))
    try:
        if live and _renewed(env, provider, *live[-1]):
            return "renewed"
        return _subscribe(env, connection, provider, renewal=bool(current))
    finally:
        provider.close()


def _renewed(env: SyncEnv, provider: CalendarProvider, row_id: int, current: Subscription) -> bool:
    """Extend the live subscription where the provider can (Graph); False where it cannot."""
    try:
        renewed = provider.renew(current, int(CHANNEL_TTL.total_seconds()))
    except ProviderError as exc:
        logfmt.warning(log, "push subscription not renewed", row=row_id, error=str(exc))
        return False
    if renewed is None:
        return False
    with env.database.transaction() as session:
        row = session.get(CalendarWatchChannel, row_id)
        if row is not None:
            row.expires_at = renewed.expires_at
    return True


def _subscribe(
    env: SyncEnv, connection: CalendarConnection, provider: CalendarProvider, *, renewal: bool
) -> str:
    connection_id = connection.id
    channel_id, token = str(uuid.uuid4()), secrets.token_urlsafe(32)
    address = webhook_address(env.settings, connection.provider)
    try:
        created = provider.subscribe(channel_id, token, address, int(CHANNEL_TTL.total_seconds()))
    except ProviderError as exc:
        with env.database.transaction() as session:
            state = session.get(CalendarSyncState, connection_id)
            if state is not None:
                state.channel_retry_at = env.now() + RETRY_AFTER_FAILURE
        logfmt.warning(
            log, "push subscription not created", connection_id=connection_id, error=str(exc)
        )
        return "failed"
    env.fault("channel.created")
    with env.database.transaction() as session:
        session.add(
            CalendarWatchChannel(
                connection_id=connection_id,
                channel_id=created.id,
                token_hash=token_digest(token),
                resource_id=created.resource_id,
                expires_at=created.expires_at,
                status=ACTIVE,
                created_at=env.now(),
            )
        )
        for old in _channels(session, connection_id, ACTIVE):
            if old.channel_id != created.id:
                old.status = SUPERSEDED
    stop_superseded(env, connection_id, provider)
    logfmt.info(log, "push subscription created", connection_id=connection_id, renewal=renewal)
    return "renewed" if renewal else "created"


def _channels(session: Session, connection_id: int, status: str) -> list[CalendarWatchChannel]:
    return list(
        session.scalars(
            select(CalendarWatchChannel).where(
                CalendarWatchChannel.connection_id == connection_id,
                CalendarWatchChannel.status == status,
            )
        )
    )


def stop_superseded(
    env: SyncEnv, connection_id: int, provider: CalendarProvider | None = None
) -> int:
    """Stop the connection's superseded subscriptions."""
    own = provider is None
    with env.database.transaction() as session:
        connection = session.get(CalendarConnection, connection_id)
        rows = [
            (c.id, c.channel_id, c.resource_id)
            for c in _channels(session, connection_id, SUPERSEDED)
        ]
        if not rows or connection is None:
            return 0
        if provider is None:
            if not connection.active or not connection.refresh_token_encrypted:
                return 0
            stored = connection.refresh_token_encrypted
            session.expunge(connection)
            provider = env.provider(connection, env.cipher.decrypt(stored))
    try:
        stopped = [row for row, channel, resource in rows if _stop(provider, channel, resource)]
    finally:
        if own:
            provider.close()
    _mark_stopped(env, stopped)
    return len(stopped)


def _stop(provider: CalendarProvider, channel_id: str, resource_id: str) -> bool:
    try:
        provider.unsubscribe(channel_id, resource_id)
    except NotFound:
        return True  # already gone at the provider's end (expired, or stopped before)
    except ProviderError as exc:
        logfmt.warning(log, "push subscription not stopped", channel=channel_id, error=str(exc))
        return False
    return True


def _mark_stopped(env: SyncEnv, row_ids: list[int]) -> None:
    if not row_ids:
        return
    with env.database.transaction() as session:
        for row in session.scalars(
            select(CalendarWatchChannel).where(CalendarWatchChannel.id.in_(row_ids))
        ):
            row.status, row.stopped_at = STOPPED, env.now()


def stop_channels_in(session: Session, provider: CalendarProvider, connection_id: int) -> int:
    """C5: stop every live subscription of the connection, inside the caller's transaction."""
    rows = session.scalars(
        select(CalendarWatchChannel).where(
            CalendarWatchChannel.connection_id == connection_id,
            CalendarWatchChannel.status.in_((ACTIVE, SUPERSEDED)),
        )
    )
    stopped = 0
    for channel in rows:
        if _stop(provider, channel.channel_id, channel.resource_id):
            channel.status, channel.stopped_at = STOPPED, utcnow()
            stopped += 1
    return stopped


def channel_stopper(
    settings: Settings, provider_factory: ProviderFactory | None = None
) -> Callable[[Session, CalendarConnection, str], None]:
    """The disconnect hook (``connections.disconnect``) that stops the push subscriptions."""

    def stop(session: Session, connection: CalendarConnection, refresh_token: str) -> None:
        if provider_factory is not None:
            provider = provider_factory(connection, refresh_token)
        else:
            provider = providers.get(connection.provider).open(settings, refresh_token)
        try:
            count = stop_channels_in(session, provider, connection.id)
        finally:
            provider.close()
        logfmt.info(log, "push subscriptions stopped", connection_id=connection.id, count=count)

    return stop


def disconnect(
    settings: Settings,
    session: Session,
    cipher: TokenCipher,
    connection: CalendarConnection,
    http: requests.Session,
) -> None:
    """C5: stop the connection's push subscriptions, drop the grant (keeping what was logged),
    and ask the provider to revoke it."""
    try:
        oauth = providers.get(connection.provider).oauth
    except ProviderError:  # its provider is not installed here: drop what is stored
        logfmt.warning(log, "disconnecting without the provider", connection_id=connection.id)
        connections.disconnect(session, cipher, connection)
        return
    connections.disconnect(
        session,
        cipher,
        connection,
        revoke=lambda token: oauth.revoke(settings, http, token),
        stop_channels=channel_stopper(settings),
    )


def sweep_channels(env: SyncEnv) -> Counter[str]:
    """Create or renew subscriptions that need it, stop superseded ones, and let go of those
    of connections that are no longer active (nothing can stop them without a grant)."""
    out: Counter[str] = Counter()
    with env.database.transaction() as session:
        needing = connections_needing_channel(session, env)
        superseded = set(
            session.scalars(
                select(CalendarWatchChannel.connection_id).where(
                    CalendarWatchChannel.status == SUPERSEDED
                )
            )
        )
        orphans = list(
            session.scalars(
                select(CalendarWatchChannel)
                .join(
                    CalendarConnection, CalendarConnection.id == CalendarWatchChannel.connection_id
                )
                .where(
                    CalendarWatchChannel.status.in_((ACTIVE, SUPERSEDED)),
                    or_(
                        CalendarConnection.status == DISCONNECTED,
                        and_(
                            CalendarWatchChannel.expires_at <= env.now(),
                            CalendarConnection.status != CONNECTION_ACTIVE,
                        ),
                    ),
                )
            )
        )
        for channel in orphans:
            channel.status, channel.stopped_at = STOPPED, env.now()
        if orphans:
            out["released"] += len(orphans)
    for connection_id in needing:
        out[ensure_channel(env, connection_id)] += 1
    for connection_id in superseded - set(needing):
        out["stopped"] += stop_superseded(env, connection_id)
    return out
