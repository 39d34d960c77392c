"""Calendar sync fixtures: the Google stand-in on 127.0.0.1 driven by the real client, an app
pointed at it, and a rep with a connected calendar.
"""

from __future__ import annotations

import threading
from abc import ABC, abstractmethod
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import pytest
import requests
from flask import Flask
from sqlalchemy import func, select

from server.calendars import connections
from server.calendars.google import Backoff, GoogleCalendar
from server.calendars.google.oauth import GoogleOAuth
from server.calendars.models import CalendarConnection
from server.calendars.provider import CalendarProvider
from server.calendars.sync import SyncEnv, SyncResult, sync_connection
from server.calendars.tables import (
    CalendarEventLink,
    CalendarOutboxItem,
    CalendarSyncLogEntry,
    CalendarSyncState,
)
from server.config import Settings
from server.crm import services
from server.crm.models import Contact, Meeting, User
from server.db import Database
from server.jobs import Jobs
from server.stand_ins.google import GoogleStandIn
from tests.conftest import Tenant, pointed_at_google

REP = "rep@acme.example"
JANE = "jane@client.example"
# Events start within the stand-in's expansion horizon (a year ahead), a month from now.
SOON = (datetime.now(UTC) + timedelta(days=30)).replace(hour=10, minute=0, second=0, microsecond=0)
CLIENT_ID = "meeting-assistant-test.apps.googleusercontent.com"


class Clock:
    """The stand-in's clock: real time plus an offset tests can move (R5, channel expiry)."""

    def __init__(self) -> None:
        self.offset = timedelta(0)

    def __call__(self) -> datetime:
        return datetime.now(UTC) + self.offset


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def google(clock: Clock) -> Iterator[GoogleStandIn]:
    stand_in = GoogleStandIn(now=clock)
    stand_in.start()
    stand_in.calendar.allowed_push_hosts.add("addon.test")  # our PUBLIC_BASE_URL in tests
    yield stand_in
    stand_in.stop()


@pytest.fixture
def settings(settings: Settings, google: GoogleStandIn) -> Settings:
    return pointed_at_google(settings, google, CLIENT_ID, "test-secret")


def connect_calendar(
    settings: Settings, database: Database, app: Flask, google: GoogleStandIn, user_id: int
) -> int:
    """The real OAuth round trip against the stand-in; returns the connection id."""
    with database.transaction() as session:
        user = session.get(User, user_id)
        assert user is not None
        auth_url, pending = GoogleOAuth().begin(
            settings, connections.sign_state(settings, user, "google"), user.email
        )
    callback = google.oauth.approve(auth_url)
    answer = dict(parse_qsl(urlsplit(callback).query))
    with requests.Session() as http:
        grant = GoogleOAuth().finish(settings, answer, pending, http)
    with database.transaction() as session:
        user = session.get(User, user_id)
        assert user is not None
        return connections.connect(
            session, app.extensions["cipher"], user, grant, provider="google"
        ).id


@dataclass
class CalendarHarness(ABC):
    """A rep of account Acme with a connected calendar, and helpers to act and observe;
    a provider's harness adds its stand-in and how to act on it."""

    app: Flask
    settings: Settings
    database: Database
    tenant: Tenant
    connection_id: int
    page_size: int = 250
    sleeps: list[float] = field(default_factory=list)
    fault: Callable[[str], None] = lambda point: None

    @property
    def jobs(self) -> Jobs:
        jobs: Jobs = self.app.extensions["jobs"]
        return jobs

    @abstractmethod
    def provider(self, connection: CalendarConnection, token: str) -> CalendarProvider:
        """A client of the harness' stand-in for the connection's grant."""

    def env(self, fault: Callable[[str], None] | None = None) -> SyncEnv:
        return SyncEnv(
            settings=self.settings,
            database=self.database,
            cipher=self.app.extensions["cipher"],
            huey=self.jobs.huey,
            provider_factory=self.provider,
            fault=fault or self.fault,
        )

    def sync(self, fault: Callable[[str], None] | None = None) -> SyncResult:
        return sync_connection(self.env(fault), self.connection_id)

    @abstractmethod
    def event(
        self, start: datetime | None = None, minutes: int = 30, **fields: Any
    ) -> dict[str, Any]:
        """An event the rep makes on the stand-in calendar (``guests=[...]``: its guests)."""

    def five_events(self) -> list[str]:
        """Five events an hour apart, each with Jane, a contact, as guest."""
        self.contact(JANE)
        return [self.event(SOON + timedelta(hours=i), guests=[JANE])["id"] for i in range(5)]

    def assert_each_logged_once(self, event_ids: list[str], removed: tuple[str, ...] = ()) -> None:
        assert Counter(m.external_event_id for m in self.meetings()) == Counter(event_ids)
        logs = Counter(e.external_event_id for e in self.log() if e.action == "log")
        assert logs == Counter(event_ids + list(removed))
        assert set(Counter(link.external_id for link in self.links()).values()) == {1}

    def schedule(self, **overrides: Any) -> dict[str, Any]:
        """A meeting scheduled from the CRM by the rep, with Jane (S1)."""
        body = {
            "title": "Demo",
            "start": SOON.isoformat(),
            "end": (SOON + timedelta(hours=1)).isoformat(),
            "attendee_emails": [JANE],
            "owner_email": REP,
            "description": "Agenda",
        } | overrides
        response = self.tenant.call("POST", "/meetings", json=body)
        assert response.status_code == 201, response.get_json()
        return dict(response.get_json())

    def outbox_items(self) -> list[CalendarOutboxItem]:
        with self.database.transaction() as session:
            query = select(CalendarOutboxItem).order_by(CalendarOutboxItem.id)
            return list(session.scalars(query))

    def contact(self, email: str, first: str = "", last: str = "") -> int:
        with self.database.transaction() as session:
            return services.create_contact(session, self.tenant.account_id, email, first, last).id

    # -- observing -------------------------------------------------------------------------

    def meetings(self) -> list[Meeting]:
        with self.database.transaction() as session:
            rows = list(
                session.scalars(
                    select(Meeting)
                    .where(Meeting.account_id == self.tenant.account_id)
                    .order_by(Meeting.start_at, Meeting.id)
                )
            )
            for row in rows:
                _ = row.attendees, row.associations
            return rows

    def meetings_for(self, event_id: str) -> list[Meeting]:
        return [m for m in self.meetings() if m.external_event_id == event_id]

    def timeline(self, contact_id: int) -> list[dict[str, Any]]:
        response = self.tenant.call("GET", f"/contacts/{contact_id}/timeline")
        assert response.status_code == 200, response.get_json()
        return list(response.get_json()["results"])

    def log(self) -> list[CalendarSyncLogEntry]:
        with self.database.transaction() as session:
            return list(
                session.scalars(
                    select(CalendarSyncLogEntry)
                    .where(CalendarSyncLogEntry.connection_id == self.connection_id)
                    .order_by(CalendarSyncLogEntry.id)
                )
            )

    def reasons(self, event_id: str) -> list[tuple[str, str]]:
        return [(e.action, e.rule) for e in self.log() if e.external_event_id == event_id]

    def state(self) -> CalendarSyncState:
        with self.database.transaction() as session:
            row = session.get(CalendarSyncState, self.connection_id)
            assert row is not None
            return row

    def links(self) -> list[CalendarEventLink]:
        with self.database.transaction() as session:
            return list(session.scalars(select(CalendarEventLink).order_by(CalendarEventLink.id)))

    def count_contacts(self) -> int:
        with self.database.transaction() as session:
            return int(session.scalar(select(func.count(Contact.id))) or 0)

    def connection(self) -> CalendarConnection:
        with self.database.transaction() as session:
            row = session.get(CalendarConnection, self.connection_id)
            assert row is not None
            return row

    def drain_queue(self) -> int:
        """Run every queued task in this thread; returns how many ran."""
        ran = 0
        while True:
            task = self.jobs.huey.dequeue()
            if task is None:
                return ran
            self.jobs.huey.execute(task)
            ran += 1


@dataclass
class Harness(CalendarHarness):
    """The harness on the Google stand-in."""

    google: GoogleStandIn = field(kw_only=True)

    def provider(self, connection: CalendarConnection, token: str) -> CalendarProvider:
        backoff = Backoff(sleep=self.sleeps.append, rand=lambda: 0.5)
        return GoogleCalendar(self.settings, token, backoff=backoff, page_size=self.page_size)

    def event(
        self, start: datetime | None = None, minutes: int = 30, **fields: Any
    ) -> dict[str, Any]:
        start = start or SOON
        body = {
            "summary": "Call",
            "start": {"dateTime": start.isoformat(), "timeZone": "UTC"},
            "end": {
                "dateTime": (start + timedelta(minutes=minutes)).isoformat(),
                "timeZone": "UTC",
            },
        }
        guests = fields.pop("guests", None)
        if guests is not None:
            body["attendees"] = [{"email": g} for g in guests]
        body.update(fields)
        return self.google.calendar.add_event(REP, body)

    def list_requests(self) -> list[dict[str, str]]:
        return [
            r.query
            for r in self.google.calendar.requests
            if r.method == "GET" and r.path.endswith("/events")
        ]


@pytest.fixture
def cal(
    app: Flask,
    settings: Settings,
    database: Database,
    google: GoogleStandIn,
    make_tenant: Callable[..., Tenant],
) -> Harness:
    tenant = make_tenant("Acme", "acme.example", REP)
    connection_id = connect_calendar(settings, database, app, google, tenant.user_id)
    return Harness(app, settings, database, tenant, connection_id, google=google)


class Crash(Exception):
    pass


class CrashAt:
    """Raise at the ``nth`` time the engine passes ``point``."""

    def __init__(self, point: str, nth: int = 1) -> None:
        self.point, self.nth, self.seen = point, nth, 0

    def __call__(self, point: str) -> None:
        if point == self.point:
            self.seen += 1
            if self.seen == self.nth:
                raise Crash(point)


class Gate:
    """Blocks a thread at a fault point until released (for the lock race)."""

    def __init__(self, point: str) -> None:
        self.point = point
        self.reached = threading.Event()
        self.release = threading.Event()

    def __call__(self, point: str) -> None:
        if point == self.point and not self.reached.is_set():
            self.reached.set()
            assert self.release.wait(30)
