"""The rep's page: connect Google from it (C1), see status, last and next sync and the sync log
with rule ids, sync now, reconnect after a refused grant (resuming, nothing doubled), disconnect
(C5), and the Outlook link on a server without a Microsoft app (see test_connect_outlook)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from flask import Flask
from sqlalchemy import func, select

from server.calendars.models import CalendarConnection
from server.calendars.tables import CalendarWatchChannel
from server.crm.models import Meeting
from server.db import Database
from server.jobs import Jobs
from server.stand_ins.google import GoogleStandIn
from tests.conftest import Tenant

from .conftest import Browser, path_of


def connect_google(browser: Browser, email: str) -> Any:
    start = browser.get("/settings/calendar/connect/google")
    assert start.status_code == 302, start.get_data(as_text=True)
    callback = browser.google.oauth.approve(start.headers["Location"], email=email)
    return browser.get(path_of(callback))


def _event(google: GoogleStandIn, owner: str, guest: str, summary: str = "Demo") -> str:
    start = datetime.now(UTC).replace(microsecond=0) + timedelta(days=1)
    body = {
        "summary": summary,
        "start": {"dateTime": start.isoformat(), "timeZone": "UTC"},
        "end": {"dateTime": (start + timedelta(minutes=30)).isoformat(), "timeZone": "UTC"},
        "attendees": [{"email": owner}, {"email": guest}],
    }
    return str(google.calendar.add_event(owner, body)["id"])


def _sync(app: Flask) -> None:
    jobs: Jobs = app.extensions["jobs"]
    jobs.run_all_once(now=True)


def _connection(database: Database, user_id: int) -> CalendarConnection:
    with database.transaction() as session:
        row = session.scalar(
            select(CalendarConnection).where(CalendarConnection.user_id == user_id)
        )
        assert row is not None
        session.expunge(row)
        return row


def test_connect_google_from_the_page_and_see_the_sync_log(
    signed_in: Browser, tenant: Tenant, app: Flask, google: GoogleStandIn
) -> None:
    done = connect_google(signed_in, tenant.user_email)
    assert done.status_code == 302
    assert done.headers["Location"] == "/settings/?connected=google"
    page = signed_in.get(done.headers["Location"]).get_data(as_text=True)
    assert "Your Google calendar is connected" in page
    assert 'data-status="active"' in page
    assert "Google" in page
    tenant.call("POST", "/contacts", json={"email": "buyer@client.example"})
    _event(google, tenant.user_email, "buyer@client.example", "Pricing call")
    _event(google, tenant.user_email, "peer@acme.example", "Internal sync")
    _sync(app)
    page = signed_in.get("/settings/").get_data(as_text=True)
    assert 'id="sync-log"' in page
    assert "R1" in page
    assert "logged on their timelines" in page
    assert "R4" in page
    assert "internal people are never logged" in page
    assert "not yet" not in page.split('id="last-sync"')[1][:60]


def test_sync_now_asks_for_one_sync(
    signed_in: Browser, tenant: Tenant, app: Flask, database: Database
) -> None:
    connect_google(signed_in, tenant.user_email)
    _sync(app)
    response = signed_in.post("/settings/calendar/sync", csrf_from="/settings/")
    assert response.status_code == 303
    page = signed_in.get("/settings/").get_data(as_text=True)
    assert "A sync is on its way" in page


def test_a_refused_grant_shows_reconnect_and_reconnecting_resumes(
    signed_in: Browser, tenant: Tenant, app: Flask, database: Database, google: GoogleStandIn
) -> None:
    connect_google(signed_in, tenant.user_email)
    tenant.call("POST", "/contacts", json={"email": "buyer@client.example"})
    _event(google, tenant.user_email, "buyer@client.example", "Before the revoke")
    _sync(app)
    first = _connection(database, tenant.user_id)
    google.oauth.revoke(tenant.user_email)
    _event(google, tenant.user_email, "buyer@client.example", "While revoked")
    _sync(app)
    assert _connection(database, tenant.user_id).status == "needs_reconnect"
    page = signed_in.get("/settings/").get_data(as_text=True)
    assert 'data-status="needs_reconnect"' in page
    assert "Reconnect Google" in page
    with database.transaction() as session:  # its push channels are let go
        live = session.scalar(
            select(func.count()).where(
                CalendarWatchChannel.connection_id == first.id,
                CalendarWatchChannel.status == "active",
            )
        )
    assert live == 0
    connect_google(signed_in, tenant.user_email)
    again = _connection(database, tenant.user_id)
    assert again.status == "active"
    assert again.connected_at == first.connected_at
    _sync(app)
    with database.transaction() as session:
        titles = sorted(session.scalars(select(Meeting.title)))
    assert titles == ["Before the revoke", "While revoked"]  # nothing doubled, nothing lost


def test_disconnect_stops_the_sync_and_keeps_what_was_logged(
    signed_in: Browser, tenant: Tenant, app: Flask, database: Database, google: GoogleStandIn
) -> None:
    connect_google(signed_in, tenant.user_email)
    tenant.call("POST", "/contacts", json={"email": "buyer@client.example"})
    _event(google, tenant.user_email, "buyer@client.example")
    _sync(app)
    response = signed_in.post("/settings/calendar/disconnect", csrf_from="/settings/")
    assert response.status_code == 303
    row = _connection(database, tenant.user_id)
    assert row.status == "disconnected"
    assert row.refresh_token_encrypted is None
    page = signed_in.get("/settings/").get_data(as_text=True)
    assert 'data-status="disconnected"' in page
    assert "Connect Google" in page
    with database.transaction() as session:
        assert session.scalar(select(func.count()).select_from(Meeting)) == 1


def test_outlook_is_offered_and_says_so_when_the_server_has_no_app_for_it(
    signed_in: Browser, tenant: Tenant
) -> None:
    page = signed_in.get("/settings/").get_data(as_text=True)
    assert 'href="/settings/calendar/connect/microsoft"' in page
    response = signed_in.get("/settings/calendar/connect/microsoft")
    assert response.status_code == 503
    assert "Outlook is not configured on this server" in response.get_data(as_text=True)


def test_the_connect_link_needs_a_signed_in_rep(browser: Browser) -> None:
    response = browser.get("/settings/calendar/connect/google")
    assert response.status_code == 302
    assert "/settings/login" in response.headers["Location"]
    assert browser.post("/settings/calendar/disconnect").status_code == 400  # no CSRF token


def test_pages_carry_the_security_headers(signed_in: Browser) -> None:
    response = signed_in.get("/settings/")
    csp = response.headers["Content-Security-Policy"]
    assert "frame-ancestors 'none'" in csp
    assert "script-src" not in csp.replace("default-src", "")
    assert "'unsafe-inline'" not in csp
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert response.headers["Referrer-Policy"] == "same-origin"
    css = signed_in.get("/settings/static/settings.css")
    assert css.status_code == 200
    assert css.mimetype == "text/css"
    css.close()


def test_an_unknown_settings_path_is_a_page_not_json(signed_in: Browser) -> None:
    response = signed_in.get("/settings/nothing-here")
    assert response.status_code == 404
    assert response.mimetype == "text/html"
    assert "Back to your settings" in response.get_data(as_text=True)


def test_connecting_someone_elses_calendar_is_refused_with_a_way_back(
    signed_in: Browser, tenant: Tenant, database: Database
) -> None:
    response = connect_google(signed_in, "someone.else@acme.example")
    assert response.status_code == 400
    page = response.get_data(as_text=True)
    assert "connect the calendar of" in page
    assert "Back to your settings" in page
    with database.transaction() as session:
        assert session.scalars(select(CalendarConnection)).first() is None


def test_every_html_page_has_the_baseline_headers(browser: Browser) -> None:
    page = browser.get("/oauth/google/callback?state=forged")  # the add-on's connect pages
    assert page.mimetype == "text/html"
    csp = page.headers["Content-Security-Policy"]
    assert "frame-ancestors 'none'" in csp
    assert "script-src 'self'" in csp
    assert page.headers["X-Content-Type-Options"] == "nosniff"
    assert page.headers["Referrer-Policy"] == "same-origin"
    api = browser.get("/api/v1/contacts")
    assert api.headers["X-Content-Type-Options"] == "nosniff"
