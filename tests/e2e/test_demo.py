"""The demo without a browser: the calendar it seeds, the CRM seed, the event objects the
preview sends, and the whole stack over HTTP (in-process and as the console command)."""

from __future__ import annotations

import re
import signal
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
import requests
from flask import Flask
from sqlalchemy import func, select

from server.addon import paths, scopes
from server.crm.models import Company, Contact, Deal, User
from server.db import Database
from server.demo import DemoError, DemoOptions, DemoStack, calendar, seed
from server.demo.people import REP
from server.demo.run import local_time_zone
from server.preview import event_object
from tests.e2e.conftest import run_demo


@pytest.mark.parametrize(
    ("zone", "local_now"),
    [
        ("Europe/Berlin", datetime(2026, 11, 21, 0, 10)),
        ("Europe/Berlin", datetime(2026, 11, 21, 12, 44)),
        ("Europe/Berlin", datetime(2026, 11, 21, 23, 55)),
        ("Europe/Berlin", datetime(2026, 3, 29, 1, 20)),  # the night clocks go forward
        ("America/New_York", datetime(2026, 11, 1, 23, 40)),  # the day clocks go back
        ("Asia/Kolkata", datetime(2026, 6, 1, 4, 0)),
        ("Pacific/Kiritimati", datetime(2026, 6, 1, 22, 31)),
    ],
)
def test_todays_meetings_are_all_today(zone: str, local_now: datetime) -> None:
    tz = ZoneInfo(zone)
    now = local_now.replace(tzinfo=tz).astimezone(UTC)
    events = calendar.todays_events(now, zone)
    rep_events = [body for owner, body in events if owner == REP]
    assert len(rep_events) == len(calendar.PLANS)
    for body in rep_events:
        start = datetime.fromisoformat(body["start"]["dateTime"])
        end = datetime.fromisoformat(body["end"]["dateTime"])
        assert start.tzinfo is not None
        assert body["start"]["timeZone"] == zone
        if body.get("recurrence"):  # began weeks ago on the same weekday, same wall time
            weeks = timedelta(weeks=calendar.PLANS[1].weekly_since_weeks)
            start = (start.replace(tzinfo=None) + weeks).replace(tzinfo=tz)
            end = (end.replace(tzinfo=None) + weeks).replace(tzinfo=tz)
        assert start.astimezone(tz).date() == local_now.date(), body["summary"]
        local_end = end.astimezone(tz)
        assert local_end.date() == local_now.date() or local_end.time() == datetime.min.time()
        assert end > start


def test_demo_calendar_has_each_kind_of_meeting() -> None:
    bodies = [body for owner, body in calendar.todays_events(datetime.now(UTC), "UTC")]
    internal = [
        b
        for b in bodies
        if all(
            a["email"].endswith(("demo-company.example", "demo-company-eu.example"))
            for a in b["attendees"]
        )
    ]
    assert internal, "an internal-only meeting"
    assert any(b.get("recurrence") for b in bodies), "a recurring meeting"
    assert any("conferenceData" in b for b in bodies), "a meeting with a Meet link"
    assert any(b.get("organizer", {}).get("email") == "bob@globex.example" for b in bodies)


def test_seed_once_then_leave_alone(database: Database, tmp_path: Path, app: Flask) -> None:
    first = seed.seed(database, tmp_path)
    second = seed.seed(database, tmp_path)
    assert first.created
    assert not second.created
    assert second.api_token == first.api_token
    token_file = tmp_path / seed.TOKEN_FILE
    assert token_file.stat().st_mode & 0o777 == 0o600
    with database.transaction() as session:
        counts = [
            session.scalar(select(func.count()).select_from(model))
            for model in (User, Contact, Company, Deal)
        ]
    assert counts == [2, 4, 3, 3]
    token_file.unlink()  # lost token: a new one is issued and kept
    third = seed.seed(database, tmp_path)
    assert third.api_token != first.api_token
    client = app.test_client()
    for token in (first.api_token, third.api_token):
        response = client.get("/api/v1/contacts", headers={"Authorization": f"Bearer {token}"})
        assert response.status_code == 200
        assert len(response.get_json()["results"]) == 4


def test_event_object_is_what_google_sends() -> None:
    now = datetime(2026, 7, 1, 12, tzinfo=UTC)
    tokens = event_object.Tokens("ya29.user", "sys.jwt", None, (scopes.CALENDAR_EXECUTE,))
    resource = {
        "id": "abc_20260701T120000Z",
        "recurringEventId": "abc",
        "summary": "never sent: the host has no title",
        "organizer": {"email": "rep@x.example", "self": True},
        "attendees": [{"email": "a@y.example", "responseStatus": "accepted", "extra": 1}],
        "conferenceData": {"entryPoints": [{"entryPointType": "video", "uri": "https://m/x"}]},
    }
    event = event_object.build_event(
        host_app="CALENDAR",
        tokens=tokens,
        time_zone="Europe/Berlin",
        locale="de-DE",
        now=now,
        form_inputs={"note": {"stringInputs": {"value": ["hi"]}}},
        parameters={"event_id": "abc"},
        calendar=event_object.calendar_host_object(resource, "rep@x.example"),
    )
    common = event["commonEventObject"]
    assert common["hostApp"] == "CALENDAR"
    assert common["platform"] == "WEB"
    assert common["timeZone"] == {"id": "Europe/Berlin", "offset": 7_200_000}
    assert common["formInputs"] == {"note": {"stringInputs": {"value": ["hi"]}}}
    assert common["parameters"] == {"event_id": "abc"}
    auth = event["authorizationEventObject"]
    assert "userIdToken" not in auth  # userinfo.email not granted
    assert auth["authorizedScopes"] == [scopes.CALENDAR_EXECUTE]
    cal = event["calendar"]
    assert cal["id"] == "abc_20260701T120000Z"
    assert cal["recurringEventId"] == "abc"
    assert cal["calendarId"] == "rep@x.example"
    assert "summary" not in cal
    assert cal["attendees"] == [{"email": "a@y.example", "responseStatus": "accepted"}]
    shown = event_object.elide_tokens(event)
    assert "ya29.user" not in str(shown)
    assert "sys.jwt" not in str(shown)
    trigger = event_object.build_event(
        host_app="GMAIL", tokens=tokens, time_zone="UTC", locale="en-US", now=now
    )
    assert "formInputs" not in trigger["commonEventObject"]
    assert "parameters" not in trigger["commonEventObject"]


def test_preview_is_not_served_unless_enabled(client: Any) -> None:
    assert client.get("/preview/").status_code == 404
    assert client.post("/preview/api/invoke", json={}).status_code == 404


def test_local_time_zone(tmp_path: Path) -> None:
    assert local_time_zone({"TZ": "Asia/Tokyo"}, tmp_path) == "Asia/Tokyo"
    assert local_time_zone({"TZ": "Not/AZone"}, tmp_path) == "UTC"
    (tmp_path / "timezone").write_text("Europe/Lisbon\n")
    assert local_time_zone({}, tmp_path) == "Europe/Lisbon"


def test_demo_refuses_to_listen_beyond_loopback(tmp_path: Path) -> None:
    with pytest.raises(DemoError, match="loopback"):
        DemoStack(DemoOptions(instance_path=tmp_path, host="0.0.0.0", port=0)).start()
    with pytest.raises(DemoError, match="time zone"):
        DemoStack(DemoOptions(instance_path=tmp_path, port=0, time_zone="Mars/Base")).start()


# --------------------------------------------------------------------------- the running stack


@pytest.fixture
def stack(tmp_path: Path) -> Iterator[DemoStack]:
    demo = DemoStack(
        DemoOptions(instance_path=tmp_path / "instance", port=0, time_zone="Europe/Berlin")
    )
    demo.start()
    yield demo
    demo.stop()


def invoke(base: str, path: str, **extra: Any) -> requests.Response:
    body = {
        "url": base + path,
        "host": "CALENDAR",
        "user": REP.email,
        "timeZone": "Europe/Berlin",
        "scopes": list(scopes.DESCRIPTOR_SCOPES),
        **extra,
    }
    return requests.post(base + "/preview/api/invoke", json=body, timeout=30)


def test_stack_serves_preview_and_keeps_authentication(stack: DemoStack) -> None:
    assert stack.settings is not None
    base = stack.settings.public_base_url
    assert re.fullmatch(r"http://127\.0\.0\.1:\d+", base)
    assert stack.preview_url == base + "/preview/"
    page = requests.get(stack.preview_url, timeout=10)
    assert page.status_code == 200
    assert "Content-Security-Policy" in page.headers
    context = requests.get(base + "/preview/api/context", timeout=10).json()
    assert context["triggers"]["home"] == base + paths.HOME
    assert context["users"][0]["email"] == REP.email
    events = requests.get(
        base + "/preview/api/calendar", params={"user": REP.email}, timeout=10
    ).json()["results"]
    assert [e["summary"] for e in events] == [p.title for p in calendar.PLANS]
    # Settings point the product at the stand-in, nowhere else.
    google = stack.stand_in.base_url
    assert stack.settings.google_certs_url.startswith(google)
    assert stack.settings.google_calendar_api_url.startswith(google)
    # The add-on routes still demand Google-signed tokens: the preview is no back door.
    assert requests.post(base + paths.HOME, json={}, timeout=10).status_code == 401
    signed_for_another_route = stack.stand_in.id_token_for(
        audience=base + paths.REFRESH, email=stack.settings.addon_service_account_email
    )
    forged = requests.post(
        base + paths.HOME,
        json={"commonEventObject": {"hostApp": "CALENDAR"}},
        headers={"Authorization": f"Bearer {signed_for_another_route}"},
        timeout=10,
    )
    assert forged.status_code == 401
    # Through the preview, the same request is signed for its own route and goes through.
    home = invoke(base, paths.HOME).json()
    assert home["status"] == 200
    card = home["body"]["action"]["navigations"][0]["pushCard"]
    assert card["name"] == "connect"  # A1: the demo starts with the calendar not connected
    # Only this server's add-on endpoints can be called through the preview.
    assert invoke(base, "/api/v1/contacts").status_code == 400
    assert invoke(base, "/addon/home?x=1").status_code == 400
    wrong_host = requests.get(
        base + "/preview/api/context", headers={"Host": "evil.example"}, timeout=10
    )
    assert wrong_host.status_code == 421


def test_console_command_starts_and_stops(tmp_path: Path) -> None:
    with run_demo(tmp_path, "--time-zone", "Europe/Berlin", stop=signal.SIGINT) as urls:
        assert requests.get(urls["preview"], timeout=10).status_code == 200
        assert requests.get(urls["settings"], timeout=10, allow_redirects=False).status_code == 302
    assert "stopped" in urls["stopping"]  # Ctrl-C (the browser tests stop it with SIGTERM)
