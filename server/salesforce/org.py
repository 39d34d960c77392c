"""The account's connected org: connecting (grant stored encrypted with the instance URL and
the integration user), the settings document and mappings, the API client with its budget,
reconnect-needed and disconnecting. Every function takes the caller's session."""

from __future__ import annotations

import logging
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from server.config import Settings
from server.crypto import TokenCipher
from server.db import Database, utcnow
from server.salesforce import document, oauth
from server.salesforce.client import SalesforceApi
from server.salesforce.models import (
    ACTIVE,
    DISCONNECTED,
    NEEDS_RECONNECT,
    SalesforceLink,
    SalesforceLogEntry,
    SalesforceOrg,
)

log = logging.getLogger(__name__)


def org_of(session: Session, account_id: int, *, create: bool = False) -> SalesforceOrg | None:
    row = session.scalar(select(SalesforceOrg).where(SalesforceOrg.account_id == account_id))
    if row is None and create:
        row = SalesforceOrg(account_id=account_id, status=DISCONNECTED)
        session.add(row)
        session.flush()
    return row


def connect(
    session: Session, cipher: TokenCipher, account_id: int, tokens: oauth.Tokens, now: datetime
) -> SalesforceOrg:
    """Store the org's grant. Connecting another org starts its cursors afresh; the same org
    reconnected goes on where it stopped."""
    org = org_of(session, account_id, create=True)
    assert org is not None
    assert tokens.refresh_token
    if org.org_id and org.org_id != tokens.org_id:
        # Another org: its ids mean nothing here. What the old one synced stays in the CRM.
        org.cursors = None
        session.execute(delete(SalesforceLink).where(SalesforceLink.account_id == account_id))
    org.refresh_token_encrypted = cipher.encrypt(tokens.refresh_token)
    org.instance_url = tokens.instance_url
    org.org_id = tokens.org_id
    org.integration_user_id = tokens.user_id
    org.status, org.status_reason = ACTIVE, ""
    org.connected_at = org.connected_at if org.cursors else now
    org.disconnected_at = None
    org.paused_until = None
    session.flush()
    return org


def disconnect(session: Session, cipher: TokenCipher, org: SalesforceOrg, revoke: Any) -> None:
    """Forget the grant (and ask Salesforce to), keep settings, links and log."""
    stored = org.refresh_token_encrypted
    org.refresh_token_encrypted = None
    org.status, org.status_reason = DISCONNECTED, "disconnected by an admin"
    org.disconnected_at = utcnow()
    session.flush()
    if stored:
        revoke(cipher.decrypt(stored))


def needs_reconnect(session: Session, org: SalesforceOrg, reason: str) -> None:
    org.status, org.status_reason = NEEDS_RECONNECT, reason[:500]
    session.add(
        SalesforceLogEntry(
            account_id=org.account_id,
            direction="inbound",
            action="reconnect",
            rule="H9",
            reason=reason[:500],
        )
    )


def settings_of(org: SalesforceOrg | None) -> dict[str, Any]:
    return document.current(org.settings if org else None)


def calls_today(org: SalesforceOrg, now: datetime) -> int:
    return org.api_calls_today if org.api_day == now.date().isoformat() else 0


def open_api(
    settings: Settings, database: Database, cipher: TokenCipher, org: SalesforceOrg, now: datetime
) -> SalesforceApi:
    """A client for the org (read from ``org``, a detached row), counting against today's
    budget; a rotated refresh token is stored at once in a transaction of its own."""
    assert org.refresh_token_encrypted
    org_id = org.id

    def rotate(refresh_token: str, instance_url: str) -> None:
        with database.transaction() as session:
            row = session.get(SalesforceOrg, org_id)
            if row is not None:
                row.refresh_token_encrypted = cipher.encrypt(refresh_token)
                row.instance_url = instance_url

    return SalesforceApi(
        settings,
        cipher.decrypt(org.refresh_token_encrypted),
        org.instance_url,
        calls_before=calls_today(org, now),
        budget=int(settings_of(org)["daily_api_budget"]),
        on_rotate=rotate,
    )


def record_usage(org: SalesforceOrg, api: SalesforceApi, now: datetime) -> None:
    """Add the client's calls to today's count (a new UTC day starts from zero)."""
    day = now.astimezone(UTC).date().isoformat()
    if org.api_day != day:
        org.api_day, org.api_calls_today = day, 0
    org.api_calls_today += api.calls
    api.calls_before += api.calls
    api.calls = 0
    if api.org_usage is not None:
        org.org_api_used, org.org_api_max = api.org_usage


def pause(org: SalesforceOrg, seconds: float, now: datetime) -> None:
    org.paused_until = now + timedelta(seconds=seconds)
