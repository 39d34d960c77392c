"""Connecting a rep's calendar, whatever its provider: the signed ``state`` of the OAuth
round trip (C1), one connection per rep for every user of an account (C4), reconnect-needed,
and disconnecting (C5). The provider's own flow is its :class:`OAuthFlow`
(``providers.get(name).oauth``); the ``state`` is signed with ``SECRET_KEY``, bound to the
verified rep and the provider and short-lived, and the grant must name the rep, so nobody can
attach someone else's calendar to a rep.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import datetime
from typing import Any
from urllib.parse import urlencode

from itsdangerous import BadSignature, SignatureExpired, URLSafeTimedSerializer
from sqlalchemy import delete, select, update
from sqlalchemy.orm import Session

from server.calendars.models import ACTIVE, DISCONNECTED, NEEDS_RECONNECT, CalendarConnection
from server.calendars.providers import ConnectError, Grant
from server.calendars.tables import (
    CHANNEL_ACTIVE,
    CHANNEL_STOPPED,
    CHANNEL_SUPERSEDED,
    CalendarEventLink,
    CalendarSyncState,
    CalendarWatchChannel,
)
from server.config import Settings
from server.crm.models import User, normalize_email
from server.crypto import TokenCipher
from server.db import utcnow
from server.errors import Invalid

log = logging.getLogger(__name__)

STATE_MAX_AGE = 15 * 60


def start_path(provider: str) -> str:
    return f"/oauth/{provider}/start"


def callback_path(provider: str) -> str:
    return f"/oauth/{provider}/callback"


def _signer(settings: Settings) -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(settings.secret_key, salt="calendar-connect")


# Where the browser goes once connected: the add-on's overlay closes itself; the settings
# app takes the rep back to their page.
BACK_TO_ADDON = ""
BACK_TO_SETTINGS = "settings"


def sign_state(settings: Settings, user: User, provider: str, back: str = BACK_TO_ADDON) -> str:
    data = {"u": user.id, "e": user.email_normalized, "p": provider, "b": back}
    return _signer(settings).dumps(data)


def read_state(settings: Settings, state: str, provider: str) -> dict[str, Any]:
    try:
        data = _signer(settings).loads(state, max_age=STATE_MAX_AGE)
    except SignatureExpired as exc:
        raise ConnectError("this connect link has expired; open it again from the add-on") from exc
    except BadSignature as exc:
        raise ConnectError("this connect link is not valid") from exc
    if (
        not isinstance(data, dict)
        or not isinstance(data.get("u"), int)
        or data.get("p") != provider
    ):
        raise ConnectError("this connect link is not valid")
    return data


def start_url(settings: Settings, user: User, provider: str) -> str:
    """The server URL a connect button opens (the add-on's overlay, the settings page)."""
    state = sign_state(settings, user, provider)
    return f"{settings.public_base_url}{start_path(provider)}?{urlencode({'state': state})}"


def connection_for(session: Session, user: User) -> CalendarConnection | None:
    return session.scalar(select(CalendarConnection).where(CalendarConnection.user_id == user.id))


def check_grant(user: User, grant: Grant) -> None:
    """The grant must be for the rep's own calendar account."""
    if normalize_email(grant.email) != user.email_normalized:
        raise Invalid(
            f"signed in as {grant.email}; connect the calendar of {user.email}",
            {"email": grant.email},
        )


def back_of(settings: Settings, state: str) -> str:
    """Where a connect flow returns to (``BACK_TO_SETTINGS`` or the add-on), read without
    trusting it for anything else; an unreadable state is the add-on's."""
    try:
        data = _signer(settings).loads(state, max_age=STATE_MAX_AGE)
    except BadSignature:
        return BACK_TO_ADDON
    return str(data.get("b", BACK_TO_ADDON)) if isinstance(data, dict) else BACK_TO_ADDON


def connect(
    session: Session,
    cipher: TokenCipher,
    user: User,
    grant: Grant,
    now: datetime | None = None,
    *,
    provider: str,
) -> CalendarConnection:
    """Store the rep's grant (encrypted) and start a connection period (R5 counts from here)."""
    check_grant(user, grant)
    row = connection_for(session, user)
    if row is None:
        row = CalendarConnection(account_id=user.account_id, user_id=user.id, provider=provider)
        session.add(row)
    other_calendar = row.id is not None and (
        row.provider != provider
        or normalize_email(row.external_email) != normalize_email(grant.email)
    )
    if other_calendar:
        _forget_calendar(session, row.id, now or utcnow())
    # A reconnect after a refused grant resumes where the sync stopped (same period, same
    # cursor); a new calendar, or one connected again after a disconnect, starts a period (R5).
    resumes = row.status == NEEDS_RECONNECT and not other_calendar
    fresh_period = not resumes and (row.status != ACTIVE or other_calendar)
    row.provider = provider
    row.external_email = grant.email
    row.calendar_id = "primary"
    row.refresh_token_encrypted = cipher.encrypt(grant.refresh_token)
    row.scopes = " ".join(grant.scopes)
    row.status, row.status_reason = ACTIVE, ""
    if fresh_period or row.connected_at is None:
        row.connected_at = now or utcnow()
    row.disconnected_at = None
    session.flush()
    return row


def _forget_calendar(session: Session, connection_id: int, now: datetime) -> None:
    """The rep connected another calendar (C3): what the old one logged stays, its links and
    cursor go, so the new calendar is listed afresh and nothing of the old one reads as
    deleted from the new."""
    session.execute(
        delete(CalendarEventLink).where(CalendarEventLink.connection_id == connection_id)
    )
    state = session.get(CalendarSyncState, connection_id)
    if state is not None:
        state.sync_token = state.page_token = None
        state.full_sync = True
        state.generation += 1
        state.full_sync_started_at = state.next_sync_at = now
        state.failures, state.last_error = 0, ""


def mark_needs_reconnect(session: Session, connection: CalendarConnection, reason: str) -> None:
    """The grant stopped working (revoked, expired): syncs stop, the sidebar and the settings
    page ask the rep to reconnect. Its push channels are let go here (the provider cannot be
    asked to stop them without a grant; they expire, and notifications for a connection that
    is not active are refused)."""
    connection.status = NEEDS_RECONNECT
    connection.status_reason = reason[:500]
    session.execute(
        update(CalendarWatchChannel)
        .where(
            CalendarWatchChannel.connection_id == connection.id,
            CalendarWatchChannel.status.in_((CHANNEL_ACTIVE, CHANNEL_SUPERSEDED)),
        )
        .values(status=CHANNEL_STOPPED, stopped_at=utcnow())
    )


Revoker = Callable[[str], None]
# Stops the connection's push subscriptions while its grant still works (C5); see ``push.py``.
ChannelStopper = Callable[[Session, CalendarConnection, str], None]


def disconnect(
    session: Session,
    cipher: TokenCipher,
    connection: CalendarConnection,
    revoke: Revoker | None = None,
    now: datetime | None = None,
    stop_channels: ChannelStopper | None = None,
) -> None:
    """Stop syncing and drop the grant; logged meetings stay (C5).

    ``stop_channels`` runs first, while the grant still works; ``revoke`` (best effort) then
    tells the provider to forget the grant. :func:`server.calendars.push.disconnect` passes
    both; without them only the stored state changes (the sweep lets go of stale channels).
    """
    stored = connection.refresh_token_encrypted
    if stored and stop_channels is not None:
        try:
            stop_channels(session, connection, cipher.decrypt(stored))
        except Exception:  # expiry ends them anyway; disconnecting must not fail on it
            log.warning("stopping the push channels of connection %s failed", connection.id)
    connection.refresh_token_encrypted = None
    connection.status, connection.status_reason = DISCONNECTED, "disconnected by the rep"
    connection.disconnected_at = now or utcnow()
    session.flush()
    if stored and revoke is not None:
        try:
            revoke(cipher.decrypt(stored))
        except Exception:  # the grant is gone from here either way
            log.warning("revoking the grant of connection %s failed", connection.id)
