"""Fixtures for the end-to-end add-on flows: the Google stand-in on 127.0.0.1 serving OAuth,
certificates, Calendar and Gmail; the app pointed at it; reps with or without a connected
calendar; a settable clock for "today".
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import pytest
import requests
from flask import Flask
from sqlalchemy import select

from server.addon.routes import EXTENSION, AddonRuntime
from server.calendars import connections
from server.calendars.models import CalendarConnection
from server.config import Settings
from server.crm import accounts
from server.crm.models import Account, Meeting
from server.db import Database
from server.stand_ins.google import GoogleStandIn
from tests.conftest import Tenant

from .sidebar import BASE_URL, CLIENT_ID, SERVICE_ACCOUNT, Sidebar, button, path_of

WEB_CLIENT_ID = "77-web.apps.googleusercontent.com"
WEB_CLIENT_SECRET = "web-secret"
#: Wednesday 4 June 2025, 10:00 in Berlin.
NOW = datetime(2025, 6, 4, 8, 0, tzinfo=UTC)


@pytest.fixture
def google() -> Iterator[GoogleStandIn]:
    stand_in = GoogleStandIn()
    stand_in.start()
    # Event pages as Google links them (www.google.com/calendar/...), as the descriptor allows.
    stand_in.calendar.base_url = "https://www.google.com"
    stand_in.oauth.register_client(
        WEB_CLIENT_ID, WEB_CLIENT_SECRET, [BASE_URL + connections.callback_path("google")]
    )
    yield stand_in
    stand_in.stop()


@pytest.fixture
def settings(settings: Settings, google: GoogleStandIn) -> Settings:
    """The suite's settings pointed at the stand-in, with the add-on identity configured."""
    env = google.settings()
    return settings.with_overrides(
        public_base_url=BASE_URL,
        addon_service_account_email=SERVICE_ACCOUNT,
        addon_oauth_client_id=CLIENT_ID,
        google_client_id=WEB_CLIENT_ID,
        google_client_secret=WEB_CLIENT_SECRET,
        google_auth_uri=env["GOOGLE_AUTH_URI"],
        google_token_uri=env["GOOGLE_TOKEN_URI"],
        google_certs_url=env["GOOGLE_CERTS_URL"],
        google_calendar_api_url=env["GOOGLE_CALENDAR_API_URL"],
        google_gmail_api_url=env["GOOGLE_GMAIL_API_URL"],
    )


@dataclass
class Clock:
    now: datetime = NOW

    def __call__(self) -> datetime:
        return self.now


@pytest.fixture
def clock(app: Flask) -> Clock:
    """What the add-on takes as "now" (the rep's "today" follows from it)."""
    runtime: AddonRuntime = app.extensions[EXTENSION]
    fixed = Clock()
    runtime.clock = fixed
    return fixed


@dataclass
class Rep:
    tenant: Tenant
    side: Sidebar

    @property
    def email(self) -> str:
        return self.side.email

    def api(self, method: str, path: str, **kwargs: Any) -> Any:
        response = self.tenant.call(method, path, **kwargs)
        assert response.status_code < 300, response.get_data(as_text=True)
        return response.get_json()


@pytest.fixture
def make_rep(app: Flask, google: GoogleStandIn, make_tenant: Any, clock: Clock) -> Any:
    def make(domain: str = "acme.example", email: str | None = None, **side: Any) -> Rep:
        tenant = make_tenant(domain.split(".")[0].title(), domain, email)
        return Rep(tenant, Sidebar(app.test_client(), google, tenant.user_email, **side))

    return make


@pytest.fixture
def rep(make_rep: Any) -> Rep:
    """A rep of Acme whose calendar is not connected yet."""
    made: Rep = make_rep()
    return made


def connect_calendar(side: Sidebar) -> None:
    """A1 end to end: the connect card's button, the server's start route, the stand-in's
    consent page ("Allow"), and the callback."""
    card = side.home()
    assert card["name"] == "connect"
    link = button(card, "Connect Google Calendar")["onClick"]["openLink"]
    assert (link["openAs"], link["onClose"]) == ("OVERLAY", "RELOAD")
    start = side.client.get(path_of(link["url"]))
    assert start.status_code == 302, start.get_data(as_text=True)
    consent_url = start.headers["Location"]
    assert consent_url.startswith(side.google.settings()["GOOGLE_AUTH_URI"] + "?")
    page = requests.get(consent_url, timeout=10)
    assert page.status_code == 200
    assert 'id="allow"' in page.text
    allowed = requests.post(
        consent_url,
        data={"decision": "allow", "email": side.email},
        allow_redirects=False,
        timeout=10,
    )
    assert allowed.status_code == 302
    callback = allowed.headers["Location"]
    assert callback.startswith(BASE_URL + connections.callback_path("google") + "?")
    done = side.client.get(path_of(callback))
    assert done.status_code == 200, done.get_data(as_text=True)
    assert "Calendar connected" in done.get_data(as_text=True)


@pytest.fixture
def connected(rep: Rep) -> Rep:
    """The rep, with their calendar connected through the consent flow."""
    connect_calendar(rep.side)
    return rep


def connection_of(database: Database, email: str) -> CalendarConnection | None:
    with database.transaction() as session:
        user = accounts.user_by_email(session, email)
        assert user is not None
        row = connections.connection_for(session, user)
        if row is not None:
            session.expunge(row)
        return row


def add_user(database: Database, account_id: int, email: str) -> None:
    with database.transaction() as session:
        account = session.get(Account, account_id)
        assert account is not None
        accounts.add_user(session, account, email)


def meeting_ids(database: Database, account_id: int) -> list[int]:
    """The account's meeting engagements, oldest first."""
    with database.transaction() as session:
        rows = session.scalars(
            select(Meeting.id).where(Meeting.account_id == account_id).order_by(Meeting.id)
        )
        return list(rows)
