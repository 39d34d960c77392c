"""Connecting a rep's Google calendar: the OAuth authorization-code flow with offline access
(C1), one connection per rep for every user of an account (C4), and disconnecting (C5).

The flow follows https://developers.google.com/identity/protocols/oauth2/web-server: the
``state`` is signed with ``SECRET_KEY``, bound to the verified rep and short-lived; the code is
exchanged at ``GOOGLE_TOKEN_URI``; the ID token that comes back is verified and must name the
rep, so nobody can attach someone else's calendar to a rep.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from urllib.parse import urlencode

import requests
from google.auth.transport.requests import Request
from google.oauth2 import id_token
from itsdangerous import BadSignature, SignatureExpired, URLSafeTimedSerializer
from sqlalchemy import select
from sqlalchemy.orm import Session

from server.calendars.models import ACTIVE, DISCONNECTED, RECONNECT_NEEDED, CalendarConnection
from server.config import Settings
from server.crm.models import User, normalize_email
from server.crypto import TokenCipher
from server.db import utcnow
from server.errors import Invalid

log = logging.getLogger(__name__)

GOOGLE_SCOPES = (
    "openid",
    "https://www.googleapis.com/auth/userinfo.email",
    "https://www.googleapis.com/auth/calendar.events",
)
STATE_MAX_AGE = 15 * 60
START_PATH = "/oauth/google/start"
CALLBACK_PATH = "/oauth/google/callback"
HTTP_TIMEOUT = 20


class ConnectError(Exception):
    """The OAuth round trip failed; the message is safe to show the rep."""


@dataclass(frozen=True)
class GoogleGrant:
    email: str
    refresh_token: str
    scopes: tuple[str, ...]


def _signer(settings: Settings) -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(settings.secret_key, salt="google-calendar-connect")


def sign_state(settings: Settings, user: User) -> str:
    return _signer(settings).dumps({"u": user.id, "e": user.email_normalized})


def read_state(settings: Settings, state: str) -> dict[str, Any]:
    try:
        data = _signer(settings).loads(state, max_age=STATE_MAX_AGE)
    except SignatureExpired as exc:
        raise ConnectError("this connect link has expired; open it again from the add-on") from exc
    except BadSignature as exc:
        raise ConnectError("this connect link is not valid") from exc
    if not isinstance(data, dict) or not isinstance(data.get("u"), int):
        raise ConnectError("this connect link is not valid")
    return data


def start_url(settings: Settings, user: User) -> str:
    """The server URL the add-on's connect button opens (in an overlay)."""
    return (
        f"{settings.public_base_url}{START_PATH}?{urlencode({'state': sign_state(settings, user)})}"
    )


def authorization_url(settings: Settings, state: str, login_hint: str) -> str:
    """Google's consent page for the calendar scope with offline access."""
    if not settings.google_client_id:
        raise ConnectError("Google sign-in is not configured on this server (GOOGLE_CLIENT_ID)")
    query = {
        "client_id": settings.google_client_id,
        "redirect_uri": settings.public_base_url + CALLBACK_PATH,
        "response_type": "code",
        "scope": " ".join(GOOGLE_SCOPES),
        "access_type": "offline",
        "prompt": "consent",
        "include_granted_scopes": "true",
        "login_hint": login_hint,
        "state": state,
    }
    return f"{settings.google_auth_uri}?{urlencode(query)}"


def exchange_code(settings: Settings, code: str, session: requests.Session) -> GoogleGrant:
    """Trade the authorization code for tokens; only the refresh token is kept."""
    try:
        response = session.post(
            settings.google_token_uri,
            data={
                "grant_type": "authorization_code",
                "code": code,
                "client_id": settings.google_client_id,
                "client_secret": settings.google_client_secret,
                "redirect_uri": settings.public_base_url + CALLBACK_PATH,
            },
            timeout=HTTP_TIMEOUT,
        )
    except requests.RequestException as exc:
        raise ConnectError("Google could not be reached; try again") from exc
    body = (
        response.json()
        if response.headers.get("content-type", "").startswith("application/json")
        else {}
    )
    if response.status_code != 200:
        log.warning("google token exchange failed: %s %s", response.status_code, body.get("error"))
        raise ConnectError("Google did not accept the sign-in; try again")
    if not body.get("refresh_token"):
        raise ConnectError("Google granted no offline access; try again")
    try:
        claims = id_token.verify_token(
            body.get("id_token", ""),
            Request(session=session),
            audience=settings.google_client_id,
            certs_url=settings.google_certs_url,
        )
    except (ValueError, Exception) as exc:  # google-auth raises several types here
        raise ConnectError("Google's answer could not be verified") from exc
    scopes = tuple(str(body.get("scope", "")).split())
    if "https://www.googleapis.com/auth/calendar.events" not in scopes:
        raise ConnectError("calendar access was not granted; tick the calendar box and try again")
    return GoogleGrant(str(claims.get("email", "")), str(body["refresh_token"]), scopes)


def connection_for(session: Session, user: User) -> CalendarConnection | None:
    return session.scalar(select(CalendarConnection).where(CalendarConnection.user_id == user.id))


def connect(
    session: Session,
    cipher: TokenCipher,
    user: User,
    grant: GoogleGrant,
    now: datetime | None = None,
) -> CalendarConnection:
    """Store the rep's grant (encrypted) and start a connection period (R5 counts from here)."""
    if normalize_email(grant.email) != user.email_normalized:
        raise Invalid(
            f"signed in to Google as {grant.email}; connect the calendar of {user.email}",
            {"email": grant.email},
        )
    row = connection_for(session, user)
    if row is None:
        row = CalendarConnection(account_id=user.account_id, user_id=user.id, provider="google")
        session.add(row)
    fresh_period = row.status != ACTIVE
    row.provider = "google"
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


def mark_reconnect_needed(connection: CalendarConnection, reason: str) -> None:
    """The grant stopped working (revoked, expired): the sidebar asks the rep to reconnect."""
    connection.status = RECONNECT_NEEDED
    connection.status_reason = reason[:500]


Revoker = Callable[[str], None]
# Stops the connection's push channels while its grant still works (C5); see ``push.py``.
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
    tells Google to forget the grant. :func:`server.calendars.push.disconnect_google` passes
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
            log.warning("revoking the Google grant of connection %s failed", connection.id)


def google_revoker(settings: Settings, session: requests.Session) -> Revoker:
    """Revokes a grant at Google's revoke endpoint (next to the token endpoint)."""

    def revoke(token: str) -> None:
        revoke_url = settings.google_token_uri.rsplit("/", 1)[0] + "/revoke"
        session.post(revoke_url, data={"token": token}, timeout=HTTP_TIMEOUT)

    return revoke
