"""Jobs and the API around the sync: ``sync run``, the worker end to end, the sync log."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest
from flask import Flask
from werkzeug.serving import make_server

from server import cli
from server.app import create_app
from server.calendars import connections, push
from server.crm.models import User
from tests.calendars.conftest import SOON, Harness
from tests.workers import running

JANE = "jane@client.example"


def test_sync_run_runs_the_calendar_sweep_once(cal: Harness) -> None:
    jane = cal.contact(JANE)
    cal.event(guests=[JANE])
    result = cal.app.test_cli_runner().invoke(cli.main, ["sync", "run", "--json"])
    assert result.exit_code == 0, result.output
    report = json.loads(result.output.strip().splitlines()[-1])
    sweep = report["jobs"]["calendar_sweep"]
    assert sweep["syncs"] == {"ok": 1}
    assert sweep["channels"] == {"created": 1}
    assert len(cal.timeline(jane)) == 1


def test_sync_run_syncs_every_active_connection_even_when_not_due(cal: Harness) -> None:
    """CONTRACT: ``sync run`` syncs now, due or not, and reports each connection."""
    assert cal.sync().status == "ok"  # the next poll is minutes away
    jane = cal.contact(JANE)
    cal.event(summary="Added since", guests=[JANE])
    result = cal.app.test_cli_runner().invoke(cli.main, ["sync", "run", "--json"])
    assert result.exit_code == 0, result.output
    sweep = json.loads(result.output.strip().splitlines()[-1])["jobs"]["calendar_sweep"]
    (report,) = sweep["connections"]
    assert (report["connection_id"], report["status"]) == (cal.connection_id, "ok")
    assert report["user_email"] == "rep@acme.example"
    assert report["provider"] == "google"
    assert report["actions"] == {"log": 1}
    assert [i["meeting"]["title"] for i in cal.timeline(jane)] == ["Added since"]
    text = cal.app.test_cli_runner().invoke(cli.main, ["sync", "run"])
    assert f"connection {cal.connection_id} (google, rep@acme.example): ok" in text.output


@pytest.fixture
def live(cal: Harness) -> Iterator[tuple[Flask, str]]:
    """The app served over HTTP on 127.0.0.1, so the stand-in can push to its webhook."""
    holder: dict[str, Flask] = {}
    server = make_server(
        "127.0.0.1", 0, lambda env, start: holder["app"](env, start), threaded=True
    )
    url = f"http://127.0.0.1:{server.server_port}"
    app = create_app(cal.settings.with_overrides(public_base_url=url))
    holder["app"] = app
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield app, url
    server.shutdown()
    server.server_close()
    app.extensions["database"].dispose()


@pytest.fixture
def worker(live: tuple[Flask, str]) -> Iterator[Any]:
    consumer = (
        live[0]
        .extensions["jobs"]
        .huey.create_consumer(
            workers=2, worker_type="thread", periodic=False, initial_delay=0.01, max_delay=0.05
        )
    )
    with running(consumer):
        yield consumer


def test_the_worker_turns_a_push_notification_into_a_timeline_entry(
    cal: Harness, live: tuple[Flask, str], worker: Any
) -> None:
    app, url = live
    env = cal.env()
    env.settings = app.config["SETTINGS"]
    cal.google.calendar.push_mode = "thread"
    assert push.ensure_channel(env, cal.connection_id) == "created"
    cal.sync()
    jane = cal.contact(JANE)
    started = time.monotonic()
    cal.event(summary="Pushed", guests=[JANE])
    deadline = started + 20
    while time.monotonic() < deadline and not cal.timeline(jane):
        time.sleep(0.01)
    lag = time.monotonic() - started
    assert [i["meeting"]["title"] for i in cal.timeline(jane)] == ["Pushed"]
    assert lag < 20
    assert any(d.status == 200 for d in cal.google.calendar.deliveries)
    assert url


def test_sync_log_through_the_api_newest_first_with_rule_ids(
    cal: Harness, make_tenant: Any
) -> None:
    cal.contact(JANE)
    logged = cal.event(guests=[JANE])
    skipped = cal.event(SOON + timedelta(days=1), guests=["nobody@else.example"])
    cal.sync()
    listing = cal.tenant.call("GET", "/calendar-connections").get_json()
    (connection,) = listing["results"]
    assert connection["id"] == cal.connection_id
    assert connection["status"] == "active"
    assert connection["last_synced_at"]
    page = cal.tenant.call("GET", f"/calendar-connections/{cal.connection_id}/sync-log?limit=1")
    body = page.get_json()
    assert page.status_code == 200
    assert len(body["results"]) == 1
    rest = cal.tenant.call(
        "GET", f"/calendar-connections/{cal.connection_id}/sync-log?cursor={body['next_cursor']}"
    ).get_json()
    entries = body["results"] + rest["results"]
    assert {(e["event_id"], e["action"], e["rule"]) for e in entries} == {
        (logged["id"], "log", "R1"),
        (skipped["id"], "skip", "R9"),
    }
    assert entries[0]["id"] > entries[1]["id"]
    assert all(e["reason"] for e in entries)
    stranger = make_tenant("Other", "other.example")
    assert (
        stranger.call("GET", f"/calendar-connections/{cal.connection_id}/sync-log").status_code
        == 404
    )
    assert (
        cal.tenant.client.get(
            f"/api/v1/calendar-connections/{cal.connection_id}/sync-log"
        ).status_code
        == 401
    )
    spec = cal.tenant.client.get("/api/v1/openapi.json").get_json()
    assert "/calendar-connections/{connection_id}/sync-log" in spec["paths"]


def test_asking_for_a_sync_through_the_api_coalesces(cal: Harness) -> None:
    path = f"/calendar-connections/{cal.connection_id}/sync"
    assert cal.tenant.call("POST", path).status_code == 202
    assert cal.tenant.call("POST", path).status_code == 202
    assert cal.jobs.huey.pending_count() == 1
    cal.drain_queue()
    assert cal.state().runs == 1


def test_connecting_through_oauth_starts_push_and_the_first_sync_at_once(
    cal: Harness, make_tenant: Any
) -> None:
    other = make_tenant("Beta", "beta.example", "rep@beta.example")
    client = cal.app.test_client()
    with cal.database.transaction() as session:
        user = session.get(User, other.user_id)
        assert user is not None
        start = connections.start_url(cal.settings, user, "google")
    consent = client.get(start.removeprefix(cal.settings.public_base_url))
    assert consent.status_code == 302
    callback = cal.google.oauth.approve(consent.headers["Location"])
    page = client.get(callback.removeprefix(cal.settings.public_base_url))
    assert page.status_code == 200, page.get_data(as_text=True)
    assert cal.jobs.huey.pending_count() == 1
    cal.drain_queue()
    assert len(cal.google.calendar.channels) == 1
    listing = other.call("GET", "/calendar-connections").get_json()["results"]
    assert listing[0]["last_synced_at"]
    assert listing[0]["push_expires_at"]
