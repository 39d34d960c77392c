"""Push: watch channels (create, renew, stop, C5 on disconnect) and the webhook."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest
import requests
from sqlalchemy import select, update

from server.calendars import connections, push
from server.calendars.models import CalendarConnection
from server.calendars.tables import CalendarWatchChannel
from server.db import utcnow
from server.stand_ins.google import Notification
from tests.calendars.conftest import REP, SOON, Harness
from tests.workers import running

JANE = "jane@client.example"
HOOK = push.webhook_path("google")


def channels(cal: Harness) -> list[CalendarWatchChannel]:
    with cal.database.transaction() as session:
        return list(session.scalars(select(CalendarWatchChannel).order_by(CalendarWatchChannel.id)))


def deliver(cal: Harness) -> list[int]:
    """Post the stand-in's queued notifications to our webhook; their status codes."""
    client = cal.app.test_client()
    notes = cal.google.calendar.push.pending
    sent = list(notes)
    notes.clear()
    return [client.post(HOOK, headers=n.headers).status_code for n in sent]


@pytest.fixture
def watched(cal: Harness) -> Harness:
    assert push.ensure_channel(cal.env(), cal.connection_id) == "created"
    return cal


def test_a_channel_has_a_random_token_and_our_address(watched: Harness) -> None:
    (row,) = channels(watched)
    remote = watched.google.calendar.channels[row.channel_id]
    assert remote.address == "https://addon.test/webhooks/google/calendar"
    assert remote.token
    assert len(remote.token) >= 32
    assert row.token_hash == push.token_digest(remote.token)
    assert remote.token not in row.token_hash
    assert row.resource_id == remote.resource_id
    assert row.expires_at > utcnow() + timedelta(days=6)
    # The handshake is answered and enqueues nothing.
    assert deliver(watched) == [200]
    assert watched.jobs.huey.pending_count() == 0
    assert push.ensure_channel(watched.env(), watched.connection_id) == "ok"


def test_a_change_notification_enqueues_a_sync_that_logs_the_event(watched: Harness) -> None:
    deliver(watched)
    jane = watched.contact(JANE)
    watched.event(guests=[JANE])
    assert deliver(watched) == [200]
    assert watched.jobs.huey.pending_count() == 1
    assert watched.drain_queue() == 1
    assert len(watched.timeline(jane)) == 1
    assert watched.state().sync_requested_at is None


def test_unknown_or_forged_notifications_get_4xx_and_enqueue_nothing(watched: Harness) -> None:
    (row,) = channels(watched)
    good = dict(watched.google.calendar.push.pending[0].headers)
    good["X-Goog-Resource-State"] = "exists"
    client = watched.app.test_client()
    assert client.post(HOOK, headers={**good, "X-Goog-Channel-ID": "not-ours"}).status_code == 404
    assert client.post(HOOK, headers={**good, "X-Goog-Channel-Token": "guess"}).status_code == 403
    no_token = {k: v for k, v in good.items() if k != "X-Goog-Channel-Token"}
    assert client.post(HOOK, headers=no_token).status_code == 403
    assert client.post(HOOK, headers={**good, "X-Goog-Resource-ID": "other"}).status_code == 403
    assert client.post(HOOK, headers={}).status_code == 400
    assert watched.jobs.huey.pending_count() == 0
    assert client.post(HOOK, headers=good).status_code == 200
    assert watched.jobs.huey.pending_count() == 1
    assert row.channel_id == good["X-Goog-Channel-ID"]


def test_a_flood_of_1000_notifications_enqueues_one_sync(watched: Harness) -> None:
    deliver(watched)
    watched.event(guests=[JANE])
    (note,) = watched.google.calendar.push.pending
    client = watched.app.test_client()
    codes = {client.post(HOOK, headers=note.headers).status_code for _ in range(1000)}
    assert codes == {200}
    assert watched.jobs.huey.pending_count() == 1
    watched.drain_queue()
    assert watched.state().runs == 1


@pytest.fixture
def consumer(watched: Harness) -> Iterator[Any]:
    worker = watched.jobs.huey.create_consumer(
        workers=2, worker_type="thread", periodic=False, initial_delay=0.01, max_delay=0.05
    )
    with running(worker):
        yield worker


def test_1000_notifications_while_a_worker_runs_make_a_handful_of_syncs(
    watched: Harness, consumer: Any
) -> None:
    deliver(watched)
    jane = watched.contact(JANE)
    note: Notification | None = None
    for i in range(3):
        watched.event(watched_start(i), guests=[JANE])
    note = watched.google.calendar.push.pending[0]
    watched.google.calendar.push.pending.clear()

    def flood() -> None:
        client = watched.app.test_client()
        for _ in range(250):
            assert client.post(HOOK, headers=note.headers).status_code == 200

    threads = [threading.Thread(target=flood) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(120)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        state = watched.state()
        idle = watched.jobs.huey.pending_count() == 0 and watched.jobs.huey.scheduled_count() == 0
        if idle and state.sync_requested_at is None and len(watched.timeline(jane)) == 3:
            break
        time.sleep(0.05)
    runs = watched.state().runs
    assert 1 <= runs <= 10, runs
    assert len(watched.timeline(jane)) == 3


def watched_start(i: int) -> Any:
    return SOON + timedelta(hours=i)


def test_channels_are_renewed_well_before_expiry_new_first_then_old_stopped(
    watched: Harness,
) -> None:
    (old,) = channels(watched)
    with watched.database.transaction() as session:
        session.execute(
            update(CalendarWatchChannel).values(expires_at=utcnow() + timedelta(days=1))
        )
    assert push.ensure_channel(watched.env(), watched.connection_id) == "renewed"
    rows = {c.channel_id: c.status for c in channels(watched)}
    new_id = next(k for k, v in rows.items() if v == push.ACTIVE)
    assert rows == {old.channel_id: push.STOPPED, new_id: push.ACTIVE}
    assert set(watched.google.calendar.channels) == {new_id}
    calls = [
        r.path.rsplit("/", 1)[-1] for r in watched.google.calendar.requests if r.method == "POST"
    ]
    assert calls[-2:] == ["watch", "stop"]  # the new channel exists before the old one stops


def test_a_superseded_channel_that_failed_to_stop_is_stopped_by_the_sweep(
    watched: Harness,
) -> None:
    with watched.database.transaction() as session:
        session.execute(
            update(CalendarWatchChannel).values(expires_at=utcnow() + timedelta(hours=1))
        )
    watched.google.calendar.fail_next(1, 400, reason="badRequest", path_contains="channels/stop")
    push.ensure_channel(watched.env(), watched.connection_id)
    assert sorted(c.status for c in channels(watched)) == [push.ACTIVE, push.SUPERSEDED]
    assert push.sweep_channels(watched.env())["stopped"] == 1
    assert sorted(c.status for c in channels(watched)) == [push.ACTIVE, push.STOPPED]
    assert len(watched.google.calendar.channels) == 1


def test_c5_disconnect_stops_every_channel_and_keeps_what_was_logged(watched: Harness) -> None:
    deliver(watched)
    watched.contact(JANE)
    watched.event(guests=[JANE])
    watched.sync()
    handshake = dict(watched.google.calendar.push.pending[0].headers)
    watched.google.calendar.push.pending.clear()
    with watched.database.transaction() as session, requests.Session() as http:
        row = session.get(CalendarConnection, watched.connection_id)
        assert row is not None
        cipher = watched.app.extensions["cipher"]
        push.disconnect(watched.settings, session, cipher, row, http)
    assert watched.google.calendar.channels == {}
    assert {c.status for c in channels(watched)} == {push.STOPPED}
    assert len(watched.meetings()) == 1
    client = watched.app.test_client()
    assert client.post(HOOK, headers=handshake).status_code == 404
    assert watched.sync().status == "inactive"
    assert watched.jobs.huey.pending_count() == 0


def test_the_sweep_creates_channels_and_syncs_new_connections(cal: Harness) -> None:
    jane = cal.contact(JANE)
    cal.event(guests=[JANE])
    result = cal.jobs.run_one("calendar_sweep")
    assert result["channels"] == {"created": 1}
    assert result["syncs"] == {"ok": 1}
    assert len(cal.timeline(jane)) == 1
    assert len(cal.google.calendar.channels) == 1
    again = cal.jobs.run_one("calendar_sweep")
    assert again["syncs"] == {}
    assert again["channels"] == {}
    assert REP


class Crash(Exception):
    pass


def test_a_crash_between_watch_and_storing_leaves_one_live_channel_of_ours(cal: Harness) -> None:
    def crash(point: str) -> None:
        if point == "channel.created":
            raise Crash(point)

    with pytest.raises(Crash):
        push.ensure_channel(cal.env(crash), cal.connection_id)
    assert channels(cal) == []
    (orphan,) = cal.google.calendar.channels
    assert push.ensure_channel(cal.env(), cal.connection_id) == "created"
    (row,) = channels(cal)
    assert row.channel_id != orphan
    # The orphan's notifications are refused until it expires at Google's end.
    notes = [n for n in cal.google.calendar.push.pending if n.channel_id == orphan]
    client = cal.app.test_client()
    assert (
        client.post(
            HOOK, headers={**notes[0].headers, "X-Goog-Resource-State": "exists"}
        ).status_code
        == 404
    )
    assert cal.jobs.huey.pending_count() == 0


def test_notifications_for_a_calendar_needing_reconnect_enqueue_nothing(watched: Harness) -> None:
    headers = dict(watched.google.calendar.push.pending[0].headers)
    headers["X-Goog-Resource-State"] = "exists"
    with watched.database.transaction() as session:
        row = session.get(CalendarConnection, watched.connection_id)
        assert row is not None
        connections.mark_needs_reconnect(session, row, "revoked")
    # Its channels were let go with the grant: the notification names a stopped channel.
    assert watched.app.test_client().post(HOOK, headers=headers).status_code == 404
    assert watched.jobs.huey.pending_count() == 0
