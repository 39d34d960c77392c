"""Connecting Outlook from the rep's page (C1) through msal and the Microsoft stand-in, and
replacing a Google connection with it (C3): the Google channel is stopped and its grant
revoked, what Google logged stays, the Outlook calendar is listed afresh."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
from flask import Flask
from sqlalchemy import select

from server.calendars import push
from server.calendars.tables import CalendarWatchChannel
from server.config import Settings
from server.crm.models import Meeting
from server.db import Database
from server.stand_ins.microsoft import MicrosoftStandIn
from tests.calendars.outlook.conftest import attendee, graph_time, into, pointed_at_microsoft
from tests.conftest import Tenant

from .conftest import Browser, path_of
from .test_rep_page import _connection, _event, _sync, connect_google


@pytest.fixture
def outlook(monkeypatch: pytest.MonkeyPatch) -> Iterator[MicrosoftStandIn]:
    stand_in = MicrosoftStandIn()
    stand_in.start()
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", stand_in.ca_bundle_path)
    stand_in.graph.allowed_push_hosts.add("addon.test")
    yield stand_in
    stand_in.stop()


@pytest.fixture
def settings(settings: Settings, outlook: MicrosoftStandIn) -> Settings:
    return pointed_at_microsoft(settings, outlook)


def connect_outlook(browser: Browser, outlook: MicrosoftStandIn, email: str) -> Any:
    start = browser.get("/settings/calendar/connect/microsoft")
    assert start.status_code == 302, start.get_data(as_text=True)
    authorize = start.headers["Location"]
    assert authorize.startswith(outlook.http_origin)  # the authority's authorize page
    query = parse_qs(urlsplit(authorize).query)
    assert query["code_challenge_method"] == ["S256"]
    callback = outlook.identity.approve(authorize, email=email)
    return browser.get(path_of(callback))


def _outlook_event(outlook: MicrosoftStandIn, owner: str, guest: str, subject: str) -> str:
    start = datetime.now(UTC).replace(microsecond=0) + timedelta(days=1)
    made = outlook.graph.add_event(
        owner,
        subject=subject,
        start=graph_time(start),
        end=graph_time(start + timedelta(minutes=30)),
        attendees=[attendee(guest)],
    )
    return str(made["id"])


def _titles(database: Database) -> list[str]:
    with database.transaction() as session:
        return sorted(session.scalars(select(Meeting.title)))


def test_connect_outlook_from_the_page_and_watch_it_sync(
    signed_in: Browser, tenant: Tenant, app: Flask, database: Database, outlook: MicrosoftStandIn
) -> None:
    done = connect_outlook(signed_in, outlook, tenant.user_email)
    assert done.status_code == 302
    assert done.headers["Location"] == "/settings/?connected=microsoft"
    page = signed_in.get(done.headers["Location"]).get_data(as_text=True)
    assert "Your Outlook calendar is connected" in page
    assert 'data-status="active"' in page
    connection = _connection(database, tenant.user_id)
    assert (connection.provider, connection.external_email) == ("microsoft", tenant.user_email)
    tenant.call("POST", "/contacts", json={"email": "buyer@client.example"})
    _outlook_event(outlook, tenant.user_email, "buyer@client.example", "Pricing call")
    _sync(app)
    page = signed_in.get("/settings/").get_data(as_text=True)
    assert "R1" in page
    assert "logged on their timelines" in page


def test_connecting_outlook_for_someone_else_is_refused(
    signed_in: Browser, tenant: Tenant, database: Database, outlook: MicrosoftStandIn
) -> None:
    done = connect_outlook(signed_in, outlook, "someone@else.example")
    assert done.status_code == 400
    assert "connect the calendar of" in done.get_data(as_text=True)
    with database.transaction() as session:
        assert session.scalars(select(CalendarWatchChannel)).all() == []


def test_c3_outlook_replaces_google_stopping_its_channel_and_keeping_what_it_logged(
    signed_in: Browser, tenant: Tenant, app: Flask, database: Database, outlook: MicrosoftStandIn
) -> None:
    google = signed_in.google
    connect_google(signed_in, tenant.user_email)
    tenant.call("POST", "/contacts", json={"email": "buyer@client.example"})
    _event(google, tenant.user_email, "buyer@client.example", "Logged from Google")
    _sync(app)
    before = _connection(database, tenant.user_id)
    with database.transaction() as session:
        (channel,) = session.scalars(select(CalendarWatchChannel)).all()
        channel_id = channel.channel_id
    assert channel_id in google.calendar.channels
    outlook.graph.deliver = into(app)
    done = connect_outlook(signed_in, outlook, tenant.user_email)
    assert done.headers["Location"] == "/settings/?connected=microsoft"
    assert channel_id not in google.calendar.channels  # stopped at Google
    after = _connection(database, tenant.user_id)
    assert (after.id, after.provider) == (before.id, "microsoft")
    assert after.connected_at > before.connected_at  # a new period for the new calendar (R5)
    assert _titles(database) == ["Logged from Google"]
    _outlook_event(outlook, tenant.user_email, "buyer@client.example", "Logged from Outlook")
    _sync(app)
    assert _titles(database) == ["Logged from Google", "Logged from Outlook"]
    with database.transaction() as session:
        rows = session.scalars(select(CalendarWatchChannel)).all()
        assert {(r.status, r.channel_id in outlook.graph.subscriptions) for r in rows} == {
            ("stopped", False),
            ("active", True),
        }
    assert (
        push.webhook_path("microsoft")
        in outlook.graph.subscriptions[
            next(r.channel_id for r in rows if r.status == "active")
        ].notification_url
    )
