"""The Google provider through google-api-python-client against the stand-in on 127.0.0.1."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from zoneinfo import ZoneInfo

import pytest

from server.calendars.google import Backoff, GoogleCalendar, retry_after_seconds
from server.calendars.provider import (
    EventChanges,
    FullSyncRequired,
    NewEvent,
    NotFound,
    ProviderError,
    ReconnectNeeded,
    TemporaryError,
)
from tests.calendars.conftest import REP, SOON, Harness

START = SOON


@pytest.fixture
def sleeps() -> list[float]:
    return []


def make(
    cal: Harness, sleeps: list[float], page_size: int = 250, attempts: int = 5
) -> GoogleCalendar:
    token = cal.app.extensions["cipher"].decrypt(cal.connection().refresh_token_encrypted)
    backoff = Backoff(attempts=attempts, sleep=sleeps.append, rand=lambda: 0.5)
    return GoogleCalendar(cal.settings, token, backoff=backoff, page_size=page_size)


@pytest.fixture
def gcal(cal: Harness, sleeps: list[float]) -> Iterator[GoogleCalendar]:
    provider = make(cal, sleeps)
    yield provider
    provider.close()


def list_all(gcal: GoogleCalendar, sync_token: str | None = None) -> tuple[list[str], str]:
    ids: list[str] = []
    page_token = None
    while True:
        page = gcal.list_events(sync_token=sync_token, page_token=page_token)
        ids += [e.id for e in page.events]
        if page.next_sync_token:
            return ids, page.next_sync_token
        page_token = page.next_page_token


def test_full_sync_then_sync_token_lists_only_changes(cal: Harness, gcal: GoogleCalendar) -> None:
    first = cal.event(START)
    ids, token = list_all(gcal)
    assert ids == [first["id"]]
    second = cal.event(START + timedelta(days=1))
    cal.google.calendar.patch_event(REP, first["id"], {"summary": "Renamed"})
    changed, _ = list_all(gcal, token)
    assert sorted(changed) == sorted([first["id"], second["id"]])
    assert all(r.get("showDeleted") == "true" for r in cal.list_requests())
    assert all(r.get("singleEvents") == "false" for r in cal.list_requests())


def test_page_tokens_are_followed_to_the_sync_token(cal: Harness, sleeps: list[float]) -> None:
    made = [cal.event(START + timedelta(hours=i))["id"] for i in range(5)]
    provider = make(cal, sleeps, page_size=2)
    try:
        ids, token = list_all(provider)
    finally:
        provider.close()
    assert sorted(ids) == sorted(made)
    assert token
    assert sum(1 for r in cal.list_requests() if "pageToken" in r) == 2


def test_an_expired_sync_token_asks_for_a_full_sync(cal: Harness, gcal: GoogleCalendar) -> None:
    cal.event(START)
    _, token = list_all(gcal)
    cal.google.calendar.invalidate_sync_tokens(REP)
    with pytest.raises(FullSyncRequired):
        gcal.list_events(sync_token=token, page_token=None)


def test_tombstones_carry_only_ids(cal: Harness, gcal: GoogleCalendar) -> None:
    event = cal.event(START)
    _, token = list_all(gcal)
    cal.google.calendar.delete_event(REP, event["id"])
    page = gcal.list_events(sync_token=token, page_token=None)
    (tombstone,) = page.events
    assert tombstone.id == event["id"]
    assert tombstone.cancelled
    assert tombstone.start is None
    assert tombstone.attendees == ()


def test_recurring_masters_exceptions_and_cancelled_instances(
    cal: Harness, gcal: GoogleCalendar
) -> None:
    master = cal.event(
        START, recurrence=["RRULE:FREQ=WEEKLY;COUNT=4"], guests=["jane@client.example"]
    )
    week2 = (START + timedelta(days=7)).isoformat()
    week3 = (START + timedelta(days=14)).isoformat()
    cal.google.calendar.modify_instance(REP, master["id"], week2, {"summary": "Moved"})
    cal.google.calendar.cancel_instance(REP, master["id"], week3)
    page = gcal.list_events(sync_token=None, page_token=None)
    by_id = {e.id: e for e in page.events}
    assert by_id[master["id"]].is_series
    exceptions = [e for e in page.events if e.recurring_event_id == master["id"]]
    moved = next(e for e in exceptions if not e.cancelled)
    cancelled = next(e for e in exceptions if e.cancelled)
    assert moved.title == "Moved"
    assert moved.original_start == START + timedelta(days=7)
    assert cancelled.original_start == START + timedelta(days=14)
    assert len(page.events) == 3  # singleEvents=false: no expanded instances


def test_created_and_updated_times(cal: Harness, gcal: GoogleCalendar) -> None:
    event = cal.event(START)
    (listed,) = gcal.list_events(sync_token=None, page_token=None).events
    assert listed.created == datetime.fromisoformat(event["created"])
    assert listed.updated == datetime.fromisoformat(event["updated"])
    assert listed.created is not None
    assert listed.created.tzinfo is not None
    assert listed.start == START
    assert listed.end == START + timedelta(minutes=30)


def test_visibility_and_all_day(cal: Harness, gcal: GoogleCalendar) -> None:
    cal.google.calendar.add_event(
        REP, {"summary": "Offsite", "start": {"date": "2030-03-05"}, "end": {"date": "2030-03-06"}}
    )
    cal.event(START, visibility="private")
    events = gcal.list_events(sync_token=None, page_token=None).events
    day = next(e for e in events if e.title == "Offsite")
    private = next(e for e in events if e.title == "Call")
    assert day.all_day
    assert day.start == datetime(2030, 3, 5, tzinfo=UTC)
    assert private.private
    assert private.visibility == "private"


@pytest.mark.parametrize(
    ("status", "reason", "retry_after", "expected"),
    [
        (429, None, 7, [7.0, 7.0]),
        (403, "userRateLimitExceeded", 3, [3.0, 3.0]),
        (403, "rateLimitExceeded", None, [0.375, 0.75]),
        (500, None, None, [0.375, 0.75]),
        (503, None, 2, [2.0, 2.0]),
    ],
)
def test_rate_limits_and_server_errors_are_retried_honouring_retry_after(
    cal: Harness,
    gcal: GoogleCalendar,
    sleeps: list[float],
    status: int,
    reason: str | None,
    retry_after: int | None,
    expected: list[float],
) -> None:
    cal.event(START)
    cal.google.calendar.fail_next(2, status, reason=reason, retry_after=retry_after)
    page = gcal.list_events(sync_token=None, page_token=None)
    assert len(page.events) == 1
    assert sleeps == expected


def test_retries_give_up_after_the_last_attempt(cal: Harness, sleeps: list[float]) -> None:
    provider = make(cal, sleeps, attempts=3)
    cal.google.calendar.fail_next(5, 503)
    try:
        with pytest.raises(TemporaryError):
            provider.list_events(sync_token=None, page_token=None)
    finally:
        provider.close()
    assert len(sleeps) == 2


def test_a_retry_after_beyond_the_longest_wait_reschedules_instead(
    cal: Harness, gcal: GoogleCalendar, sleeps: list[float]
) -> None:
    cal.google.calendar.fail_next(1, 429, retry_after=3600)
    with pytest.raises(TemporaryError) as caught:
        gcal.list_events(sync_token=None, page_token=None)
    assert caught.value.retry_after == 3600
    assert sleeps == []


def test_a_plain_403_is_not_retried(
    cal: Harness, gcal: GoogleCalendar, sleeps: list[float]
) -> None:
    cal.google.calendar.fail_next(1, 403, reason="forbidden")
    with pytest.raises(ProviderError) as caught:
        gcal.list_events(sync_token=None, page_token=None)
    assert caught.value.status == 403
    assert sleeps == []


def test_a_revoked_grant_needs_a_reconnect(cal: Harness, gcal: GoogleCalendar) -> None:
    cal.google.oauth.revoke(REP)
    with pytest.raises(ReconnectNeeded):
        gcal.list_events(sync_token=None, page_token=None)


def test_insert_with_a_client_id_is_idempotent(cal: Harness, gcal: GoogleCalendar) -> None:
    new = NewEvent(
        "Demo",
        START,
        START + timedelta(hours=1),
        "Europe/Paris",
        attendees=(("jane@client.example", "Jane"),),
    )
    first = gcal.create_event("ma0123456789abcdefghijkl", new, notify=True)
    again = gcal.create_event("ma0123456789abcdefghijkl", new, notify=True)
    assert first.id == again.id == "ma0123456789abcdefghijkl"
    assert len(cal.google.calendar.events(REP)) == 1
    inserts = [
        r for r in cal.google.calendar.requests if r.method == "POST" and r.path.endswith("/events")
    ]
    assert [r.status for r in inserts] == [200, 409]
    assert all(r.query.get("sendUpdates") == "all" for r in inserts)
    paris = START.astimezone(ZoneInfo("Europe/Paris")).isoformat()
    assert inserts[0].body["start"] == {"dateTime": paris, "timeZone": "Europe/Paris"}


def test_patch_attendees_notifies(cal: Harness, gcal: GoogleCalendar) -> None:
    event = cal.event(START, guests=["jane@client.example"])
    changes = EventChanges(attendees=(("jane@client.example", ""), ("tom@client.example", "Tom")))
    patched = gcal.update_event(event["id"], changes, notify=True)
    assert {a.email for a in patched.attendees} == {"jane@client.example", "tom@client.example"}
    patch = next(r for r in cal.google.calendar.requests if r.method == "PATCH")
    assert patch.query.get("sendUpdates") == "all"


def test_watch_and_stop(cal: Harness, gcal: GoogleCalendar) -> None:
    channel = gcal.subscribe(
        "chan-1", "secret-token", "https://addon.test/webhooks/google/calendar", 3600
    )
    assert channel.resource_id
    assert channel.expires_at > datetime.now(UTC)
    assert "chan-1" in cal.google.calendar.channels
    assert cal.google.calendar.channels["chan-1"].token == "secret-token"
    gcal.unsubscribe("chan-1", channel.resource_id)
    assert "chan-1" not in cal.google.calendar.channels
    with pytest.raises(NotFound):
        gcal.unsubscribe("chan-1", channel.resource_id)


def test_retry_after_forms() -> None:
    now = datetime(2030, 1, 1, tzinfo=UTC)
    assert retry_after_seconds("12") == 12
    assert retry_after_seconds(format_datetime(now + timedelta(seconds=30), usegmt=True), now) == 30
    assert retry_after_seconds("soon") is None
    assert retry_after_seconds(None) is None


def test_backoff_is_capped_and_jittered() -> None:
    low = Backoff(base=1, cap=8, rand=lambda: 0.0)
    high = Backoff(base=1, cap=8, rand=lambda: 1.0)
    assert [low.delay(n, None) for n in (1, 2, 3, 4, 10)] == [0.5, 1, 2, 4, 4]
    assert [high.delay(n, None) for n in (1, 2, 3, 4, 10)] == [1, 2, 4, 8, 8]
    assert low.delay(1, 20) == 20


def test_c2_only_the_primary_calendar_is_ever_addressed(cal: Harness) -> None:
    cal.contact("jane@client.example")
    cal.event(guests=["jane@client.example"])
    cal.sync()
    cal.tenant.call(
        "POST",
        "/meetings",
        json={
            "title": "Demo",
            "start": START.isoformat(),
            "end": (START + timedelta(hours=1)).isoformat(),
            "owner_email": REP,
        },
    )
    cal.drain_queue()
    paths = {r.path for r in cal.google.calendar.requests}
    assert paths
    assert all(p.startswith("/calendar/v3/calendars/primary/events") for p in paths), paths
