"""The engine: cursors, paging, 410 and reconciliation, crashes at every step, the lock."""

from __future__ import annotations

import threading
from collections import Counter
from datetime import timedelta

import pytest
from sqlalchemy import select

from server.calendars import tasks
from server.calendars.models import CalendarConnection
from server.calendars.sync import sync_connection
from server.calendars.tables import CalendarEventLink, CalendarSyncState
from server.db import utcnow
from tests.calendars.conftest import REP, SOON, Crash, CrashAt, Gate, Harness

JANE = "jane@client.example"


def test_first_sync_is_full_then_incremental_with_the_sync_token(cal: Harness) -> None:
    ids = cal.five_events()
    first = cal.sync()
    assert (first.full_sync, first.actions) == (True, {"log": 5})
    assert cal.state().sync_token
    assert cal.state().full_sync is False
    cal.google.calendar.patch_event(REP, ids[0], {"summary": "Changed"})
    second = cal.sync()
    assert (second.full_sync, second.events, second.actions) == (False, 1, {"update": 1})
    assert "syncToken" in cal.list_requests()[-1]
    cal.assert_each_logged_once(ids)


def test_pages_are_committed_one_by_one(cal: Harness) -> None:
    cal.page_size = 2
    ids = cal.five_events()
    cursors: list[tuple[str | None, str | None]] = []

    def watch(point: str) -> None:
        if point == "committed":
            state = cal.state()
            cursors.append((state.page_token, state.sync_token))

    result = cal.sync(watch)
    assert result.pages == 3
    assert [bool(page) for page, _ in cursors] == [True, True, False]
    assert cursors[-1][1] is not None
    cal.assert_each_logged_once(ids)


@pytest.mark.parametrize("point", ["fetched", "applied", "committed"])
@pytest.mark.parametrize("nth", [1, 2, 3])
def test_a_crash_at_any_step_loses_and_doubles_nothing(cal: Harness, point: str, nth: int) -> None:
    cal.page_size = 2
    ids = cal.five_events()
    with pytest.raises(Crash):
        cal.sync(CrashAt(point, nth))
    assert cal.sync().status == "ok"  # the lock went with the crash
    cal.assert_each_logged_once(ids)
    # And the same during an incremental sync.
    cal.google.calendar.delete_event(REP, ids[0])
    more = [cal.event(SOON + timedelta(days=2, hours=i), guests=[JANE])["id"] for i in range(3)]
    with pytest.raises(Crash):
        cal.sync(CrashAt(point, min(nth, 2)))
    cal.sync()
    cal.assert_each_logged_once(ids[1:] + more, removed=(ids[0],))
    assert [e.action for e in cal.log() if e.external_event_id == ids[0]] == ["log", "remove"]


def test_410_resyncs_fully_reconciles_and_doubles_nothing(cal: Harness) -> None:
    ids = cal.five_events()
    cal.sync()
    # While the cursor is invalid: one event changes, one is deleted and its tombstone purged
    # (Google keeps tombstones only so long), one is deleted normally.
    calendar = cal.google.calendar
    calendar.patch_event(REP, ids[0], {"summary": "Changed"})
    calendar.delete_event(REP, ids[1])
    calendar.calendar(REP).events.pop(ids[1])
    calendar.delete_event(REP, ids[2])
    calendar.invalidate_sync_tokens(REP)
    result = cal.sync()
    assert result.status == "ok"
    assert result.full_sync
    assert result.reconciled == 1
    assert Counter(m.external_event_id for m in cal.meetings()) == Counter([ids[0], ids[3], ids[4]])
    assert cal.meetings_for(ids[0])[0].title == "Changed"
    actions = [(e.action, e.reason) for e in cal.log() if e.external_event_id == ids[1]]
    assert actions[-1][0] == "remove"
    assert "missing from the full listing" in actions[-1][1]
    assert [e.action for e in cal.log() if e.external_event_id is None] == ["full_sync"]
    # The next sync is incremental again.
    assert cal.sync().full_sync is False


def test_a_tombstone_of_an_event_never_seen_is_noted_and_skipped(cal: Harness) -> None:
    event = cal.event(guests=["x@else.example"])
    cal.google.calendar.delete_event(REP, event["id"])
    cal.sync()
    assert cal.meetings() == []
    assert cal.reasons(event["id"]) == [("skip", "R2")]


def test_two_workers_racing_on_one_connection_run_one_sync(cal: Harness) -> None:
    ids = cal.five_events()
    gate = Gate("fetched")
    results: list[str] = []
    first = threading.Thread(target=lambda: results.append(cal.sync(gate).status))
    first.start()
    assert gate.reached.wait(30)
    requests_before = len(cal.list_requests())
    assert cal.sync().status == "locked"
    assert len(cal.list_requests()) == requests_before  # the loser never called Google
    gate.release.set()
    first.join(30)
    assert results == ["ok"]
    cal.assert_each_logged_once(ids)
    assert cal.state().runs == 1


def test_a_revoked_grant_marks_the_connection_reconnect_needed(cal: Harness) -> None:
    cal.google.oauth.revoke(REP)
    assert cal.sync().status == "needs_reconnect"
    connection = cal.connection()
    assert connection.status == "needs_reconnect"
    assert connection.status_reason
    assert [e.action for e in cal.log()] == ["reconnect"]
    assert cal.sync().status == "inactive"


def test_rate_limits_beyond_the_retries_reschedule_the_sync(cal: Harness) -> None:
    cal.google.calendar.fail_next(5, 429, retry_after=1)
    result = cal.sync()
    assert result.status == "retry_later"
    state = cal.state()
    assert state.failures == 1
    assert "429" in state.last_error
    assert state.next_sync_at > cal.google.now() + timedelta(seconds=30)
    assert cal.sleeps == [1.0, 1.0, 1.5, 3.0]  # backoff, never under Retry-After
    assert cal.sync().status == "ok"


def test_a_calendar_disconnected_mid_sync_gets_nothing_more(cal: Harness) -> None:
    ids = cal.five_events()

    def disconnect(point: str) -> None:
        if point == "fetched":
            with cal.database.transaction() as session:
                row = session.get(CalendarConnection, cal.connection_id)
                assert row is not None
                row.status = "disconnected"

    assert cal.sync(disconnect).status == "inactive"
    assert cal.meetings() == []
    assert ids


def test_links_are_unique_per_connection_and_event(cal: Harness) -> None:
    cal.five_events()
    cal.sync()
    cal.google.calendar.invalidate_sync_tokens(REP)
    cal.sync()
    with cal.database.transaction() as session:
        rows = session.execute(select(CalendarEventLink.external_id)).scalars().all()
    assert len(rows) == len(set(rows)) == 5


def test_a_queue_lock_left_by_a_dead_worker_is_taken_over(cal: Harness) -> None:
    if cal.database.dialect == "postgresql":
        pytest.skip("PostgreSQL's advisory lock dies with the worker's connection")
    cal.five_events()
    cal.sync()
    lock = cal.jobs.huey.lock_task(f"calendar-sync-{cal.connection_id}")
    lock.acquire()  # a worker that died mid-sync
    assert cal.sync().status == "locked"  # its heartbeat is fresh: it may still be alive
    with cal.database.transaction() as session:
        state = session.get(CalendarSyncState, cal.connection_id)
        assert state is not None
        state.heartbeat_at = state.heartbeat_at - timedelta(minutes=11)  # type: ignore[operator]
    assert cal.sync().status == "ok"
    assert not lock.is_locked()


def test_a_push_sync_that_finds_the_lock_taken_looks_again_shortly(cal: Harness) -> None:
    gate = Gate("fetched")
    running = threading.Thread(target=cal.sync, args=(gate,))
    running.start()
    assert gate.reached.wait(30)
    with cal.database.transaction() as session:
        assert tasks.request_sync(session, cal.connection_id, cal.google.now())
    tasks.enqueue_sync(cal.jobs, cal.connection_id)
    cal.drain_queue()
    assert cal.jobs.huey.scheduled_count() == 1
    gate.release.set()
    running.join(30)


def test_a_stopping_worker_ends_after_its_page_and_another_goes_on(cal: Harness) -> None:
    """SIGTERM on a worker: the sync stops after the page it is in, its lock is released,
    the connection is due at once, and the next sync carries on from that page."""
    cal.page_size = 2
    ids = cal.five_events()
    env = cal.env()
    env.stopping = lambda: True
    paused = sync_connection(env, cal.connection_id)
    assert (paused.status, paused.pages) == ("interrupted", 1)
    state = cal.state()
    assert state.page_token is not None
    assert state.next_sync_at <= utcnow()
    resumed = cal.sync()  # the lock was released
    assert resumed.status == "ok"
    assert resumed.pages == 2
    cal.assert_each_logged_once(ids)
