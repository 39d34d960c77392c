"""Outlook fixtures: the Microsoft stand-in (identity + Graph) on 127.0.0.1 over TLS with its
test CA, an app pointed at it, and a rep whose Outlook calendar is connected through the real
msal flow. The harness is the calendar harness with the Graph stand-in to act on."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import pytest
import requests
from flask import Flask

from server.calendars import connections
from server.calendars.microsoft import GraphCalendar
from server.calendars.microsoft.oauth import MicrosoftOAuth
from server.calendars.models import CalendarConnection
from server.calendars.provider import CalendarProvider
from server.calendars.retry import Backoff
from server.config import Settings
from server.crm.models import User
from server.db import Database
from server.stand_ins.microsoft import MicrosoftStandIn
from tests.calendars.conftest import REP, SOON, CalendarHarness, Clock
from tests.conftest import Tenant

CLIENT_ID = "6f1c1c4e-0000-4000-8000-meetingassist"
SECRET = "outlook-test-secret"
__all__ = ["REP", "SOON", "Outlook", "connect_outlook", "graph_time"]


def graph_time(moment: datetime, zone: str = "UTC") -> dict[str, str]:
    """A Graph ``dateTimeTimeZone`` for an aware instant, as wall-clock time in ``zone``."""
    from zoneinfo import ZoneInfo

    from server.calendars.microsoft.parse import iana_zone

    local = moment.astimezone(ZoneInfo(iana_zone(zone) or "UTC")).replace(tzinfo=None)
    return {"dateTime": local.isoformat(timespec="seconds"), "timeZone": zone}


def attendee(email: str, response: str = "none", kind: str = "required") -> dict[str, Any]:
    return {
        "type": kind,
        "status": {"response": response, "time": "0001-01-01T00:00:00Z"},
        "emailAddress": {"address": email, "name": email.split("@")[0].title()},
    }


@pytest.fixture
def outlook(clock: Clock, monkeypatch: pytest.MonkeyPatch) -> Iterator[MicrosoftStandIn]:
    stand_in = MicrosoftStandIn(now=clock)
    stand_in.start()
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", stand_in.ca_bundle_path)
    stand_in.graph.allowed_push_hosts.add("addon.test")  # our PUBLIC_BASE_URL in tests
    yield stand_in
    stand_in.stop()


def pointed_at_microsoft(settings: Settings, stand_in: MicrosoftStandIn) -> Settings:
    urls = stand_in.settings()
    stand_in.identity.register_app(
        CLIENT_ID, SECRET, [f"{settings.public_base_url}/oauth/microsoft/callback"]
    )
    return settings.with_overrides(
        microsoft_client_id=CLIENT_ID,
        microsoft_client_secret=SECRET,
        microsoft_authority=urls["MICROSOFT_AUTHORITY"],
        microsoft_graph_url=urls["MICROSOFT_GRAPH_URL"],
    )


@pytest.fixture
def settings(settings: Settings, outlook: MicrosoftStandIn) -> Settings:
    return pointed_at_microsoft(settings, outlook)


def connect_outlook(
    settings: Settings, database: Database, app: Flask, stand_in: MicrosoftStandIn, user_id: int
) -> int:
    """The real msal round trip against the stand-in; returns the connection id."""
    with database.transaction() as session:
        user = session.get(User, user_id)
        assert user is not None
        state = connections.sign_state(settings, user, "microsoft")
        email = user.email
    auth_url, pending = MicrosoftOAuth().begin(settings, state, email)
    callback = stand_in.identity.approve(auth_url, email=email)
    answer = dict(parse_qsl(urlsplit(callback).query))
    with requests.Session() as http:
        grant = MicrosoftOAuth().finish(settings, answer, pending, http)
    with database.transaction() as session:
        user = session.get(User, user_id)
        assert user is not None
        cipher = app.extensions["cipher"]
        return connections.connect(session, cipher, user, grant, provider="microsoft").id


def into(app: Flask) -> Any:
    """Graph's deliveries (validation handshakes, notifications) posted to our app in-process."""
    client = app.test_client()

    def deliver(url: str, headers: dict[str, str], body: bytes) -> tuple[int, str, str]:
        parts = urlsplit(url)
        path = parts.path + (f"?{parts.query}" if parts.query else "")
        response = client.post(path, headers=headers, data=body)
        return response.status_code, response.content_type, response.get_data(as_text=True)

    return deliver


@dataclass
class Outlook(CalendarHarness):
    """The calendar harness on the Graph stand-in."""

    outlook: MicrosoftStandIn = field(kw_only=True)
    clock: Clock = field(kw_only=True)
    mailbox: str = field(default=REP, kw_only=True)

    def provider(self, connection: CalendarConnection, token: str) -> CalendarProvider:
        backoff = Backoff(sleep=self.sleeps.append, rand=lambda: 0.5)
        return GraphCalendar(
            self.settings, token, backoff=backoff, page_size=self.page_size, now=self.clock
        )

    @property
    def graph(self) -> Any:
        return self.outlook.graph

    def event(
        self,
        start: datetime | None = None,
        minutes: int = 30,
        *,
        guests: list[str] | None = None,
        zone: str = "UTC",
        **fields: Any,
    ) -> dict[str, Any]:
        """An event the rep makes in Outlook (organizer: the rep)."""
        start = start or SOON
        body: dict[str, Any] = {
            "subject": "Call",
            "start": graph_time(start, zone),
            "end": graph_time(start + timedelta(minutes=minutes), zone),
        }
        if guests is not None:
            body["attendees"] = [attendee(g) for g in guests]
        body.update(fields)
        return dict(self.graph.add_event(self.mailbox, **body))

    def delta_requests(self) -> list[Any]:
        return [r for r in self.graph.requests if "calendarView/delta" in r.path]


@pytest.fixture
def ms(
    app: Flask,
    settings: Settings,
    database: Database,
    outlook: MicrosoftStandIn,
    clock: Clock,
    make_tenant: Any,
) -> Outlook:
    tenant: Tenant = make_tenant("Acme", "acme.example", REP)
    connection_id = connect_outlook(settings, database, app, outlook, tenant.user_id)
    outlook.graph.deliver = into(app)
    return Outlook(app, settings, database, tenant, connection_id, outlook=outlook, clock=clock)
