"""Scheduling from the CRM (S1-S3) through the outbox, against the stand-in."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest

from server.calendars import outbox
from server.calendars.tables import CalendarOutboxItem
from server.crm.models import Meeting
from tests.calendars.conftest import REP, SOON, Harness

JANE = "jane@client.example"


class Crash(Exception):
    pass


def inserts(cal: Harness) -> list[Any]:
    return [
        r for r in cal.google.calendar.requests if r.method == "POST" and r.path.endswith("/events")
    ]


def test_s1_scheduling_creates_the_event_with_invitations_and_logs_once(cal: Harness) -> None:
    jane = cal.contact(JANE)
    meeting = cal.schedule(associations=[{"type": "contact", "id": jane}])
    (item,) = cal.outbox_items()
    assert (item.kind, item.status, item.meeting_id) == ("create", "pending", meeting["id"])
    assert cal.drain_queue() == 1  # handed to the worker once the request committed
    (event,) = cal.google.calendar.events(REP)
    assert event["id"] == item.idempotency_key == cal.outbox_items()[0].remote_event_id
    assert event["summary"] == "Demo"
    assert [a["email"] for a in event["attendees"]] == [JANE]
    (call,) = inserts(cal)
    assert call.query["sendUpdates"] == "all"
    assert cal.outbox_items()[0].status == "done"
    # The sync sees the event and recognises it: still one meeting, the CRM's.
    cal.sync()
    cal.google.calendar.patch_event(REP, event["id"], {"summary": "Demo (moved)"})
    cal.sync()
    (only,) = cal.meetings()
    assert (only.id, only.source, only.title) == (meeting["id"], "crm", "Demo (moved)")
    assert only.external_event_id == event["id"]
    assert [i["meeting"]["id"] for i in cal.timeline(jane)] == [meeting["id"]]


def test_s1_a_create_retried_after_a_crash_makes_no_second_event(cal: Harness) -> None:
    cal.contact(JANE)
    cal.schedule()
    (item,) = cal.outbox_items()

    def crash(point: str) -> None:
        if point == "outbox.called":
            raise Crash(point)

    with pytest.raises(Crash):
        outbox.process_item(cal.env(crash), item.id)
    assert cal.outbox_items()[0].status == "processing"
    # The sync may meet the event before the outbox recorded it: it is ours all the same.
    cal.sync()
    assert len(cal.meetings()) == 1
    with cal.database.transaction() as session:
        row = session.get(CalendarOutboxItem, item.id)
        assert row is not None
        row.claimed_until = cal.google.now() - timedelta(seconds=1)  # the claim ran out
    assert outbox.process_due(cal.env()) == {"done": 1}
    assert len(cal.google.calendar.events(REP)) == 1
    assert [r.status for r in inserts(cal)] == [200, 409]  # the retry met its own event
    assert len(cal.meetings()) == 1
    assert cal.meetings()[0].external_event_id == cal.outbox_items()[0].remote_event_id


def test_s1_send_invites_false_sends_no_updates(cal: Harness) -> None:
    cal.schedule(send_invites=False)
    cal.drain_queue()
    (call,) = inserts(cal)
    assert call.query["sendUpdates"] == "none"


def test_s1_without_a_connected_calendar_the_meeting_is_still_logged(
    cal: Harness, make_tenant: Any
) -> None:
    other = make_tenant("Beta", "beta.example", "solo@beta.example")
    response = other.call(
        "POST",
        "/meetings",
        json={
            "title": "No calendar",
            "start": SOON.isoformat(),
            "end": (SOON + timedelta(hours=1)).isoformat(),
            "owner_email": "solo@beta.example",
        },
    )
    assert response.status_code == 201
    cal.drain_queue()
    (item,) = cal.outbox_items()
    assert item.status == "skipped"
    assert "no connected calendar" in item.reason
    assert inserts(cal) == []
    unowned = other.call(
        "POST",
        "/meetings",
        json={"title": "x", "start": SOON.isoformat(), "end": SOON.isoformat()},
    )
    assert unowned.status_code == 201
    cal.drain_queue()
    assert "no owner" in cal.outbox_items()[1].reason


def test_s2_deleting_in_the_crm_leaves_the_event_alone(cal: Harness) -> None:
    cal.contact(JANE)
    meeting = cal.schedule()
    cal.drain_queue()
    cal.sync()
    assert cal.tenant.call("DELETE", f"/meetings/{meeting['id']}").status_code == 204
    (event,) = cal.google.calendar.events(REP)
    assert event["status"] == "confirmed"
    cal.google.calendar.patch_event(REP, event["id"], {"summary": "Still on"})
    cal.sync()
    assert cal.meetings() == []  # and the sync does not bring it back
    assert cal.reasons(event["id"])[-1] == ("skip", "S2")
    assert [r.method for r in cal.google.calendar.requests if r.method == "DELETE"] == []


def test_s3_attendee_changes_patch_the_event_and_notify(cal: Harness) -> None:
    meeting = cal.schedule()
    cal.drain_queue()
    response = cal.tenant.call(
        "PATCH",
        f"/meetings/{meeting['id']}",
        json={"attendee_emails": [JANE, "tom@client.example"]},
    )
    assert response.status_code == 200
    assert cal.drain_queue() == 1
    (event,) = cal.google.calendar.events(REP)
    assert sorted(a["email"] for a in event["attendees"]) == [JANE, "tom@client.example"]
    patch = next(r for r in cal.google.calendar.requests if r.method == "PATCH")
    assert patch.query["sendUpdates"] == "all"
    assert set(patch.body) == {"attendees"}
    cal.tenant.call(
        "PATCH", f"/meetings/{meeting['id']}", json={"attendee_emails": ["tom@client.example"]}
    )
    cal.drain_queue()
    (event,) = cal.google.calendar.events(REP)
    assert [a["email"] for a in event["attendees"]] == ["tom@client.example"]
    # A change that touches nothing an event carries queues nothing.
    cal.tenant.call("PATCH", f"/meetings/{meeting['id']}", json={"outcome": "completed"})
    assert cal.drain_queue() == 0


def test_s3_an_update_waits_for_its_create(cal: Harness) -> None:
    meeting = cal.schedule()
    cal.tenant.call("PATCH", f"/meetings/{meeting['id']}", json={"title": "Renamed"})
    create, patch = cal.outbox_items()
    assert outbox.process_item(cal.env(), patch.id) == "pending"
    assert outbox.process_item(cal.env(), create.id) == "done"
    with cal.database.transaction() as session:
        row = session.get(CalendarOutboxItem, patch.id)
        assert row is not None
        row.next_attempt_at = cal.google.now()
    assert outbox.process_due(cal.env()) == {"done": 1}
    assert cal.google.calendar.events(REP)[0]["summary"] == "Renamed"


def test_event_ids_are_valid_google_ids_and_stable(cal: Harness) -> None:
    meeting = cal.schedule()
    (item,) = cal.outbox_items()
    assert item.idempotency_key.startswith("ma")
    assert set(item.idempotency_key) <= set("0123456789abcdefghijklmnopqrstuv")
    assert 5 <= len(item.idempotency_key) <= 1024
    with cal.database.transaction() as session:
        row = session.get(Meeting, meeting["id"])
        assert row is not None
        assert outbox.idempotency_key(row) == item.idempotency_key
