"""Scheduling from the CRM on an Outlook rep's calendar (S1-S3): created through Graph with a
``transactionId`` from the outbox row, so a retry never makes a second event or a second round
of invitations; attendee changes patch the event; a CRM delete leaves it."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from server.calendars import outbox
from server.calendars.microsoft.parse import insert_body, patch_body
from server.calendars.provider import EventChanges, NewEvent
from server.calendars.tables import CalendarOutboxItem
from tests.calendars.outlook.conftest import REP, Outlook

JANE = "jane@client.example"
TOM = "tom@client.example"


class Crash(Exception):
    pass


def creates(ms: Outlook) -> list[Any]:
    return [r for r in ms.graph.requests if r.method == "POST" and r.path.endswith("/me/events")]


def test_s1_scheduling_creates_the_event_with_a_transaction_id_and_logs_once(
    ms: Outlook,
) -> None:
    jane = ms.contact(JANE)
    meeting = ms.schedule(associations=[{"type": "contact", "id": jane}])
    assert ms.drain_queue() == 1
    (event,) = ms.graph.events(REP)
    (item,) = ms.outbox_items()
    assert event["transactionId"] == item.idempotency_key
    assert event["id"] == item.remote_event_id != item.idempotency_key
    assert event["subject"] == "Demo"
    assert [a["emailAddress"]["address"] for a in event["attendees"]] == [JANE]
    assert [i.addresses for i in ms.graph.invitations] == [(JANE,)]
    ms.sync()
    ms.graph.patch_event(REP, event["id"], subject="Demo (moved)")
    ms.sync()
    (only,) = ms.meetings()
    assert (only.id, only.source, only.title) == (meeting["id"], "crm", "Demo (moved)")
    assert [i["meeting"]["id"] for i in ms.timeline(jane)] == [meeting["id"]]


def test_s1_the_meetings_zone_is_sent_as_wall_time_and_its_windows_name() -> None:
    """Graph ignores an offset inside ``dateTime``: the wall-clock time in the meeting's zone
    goes with the zone's Windows name, so guests see the right time across DST."""
    berlin = ZoneInfo("Europe/Berlin")
    summer = datetime(2027, 7, 1, 10, 0, tzinfo=berlin)
    body = insert_body(
        "key-1",
        NewEvent("Demo", summer, summer + timedelta(hours=1), time_zone="Europe/Berlin"),
    )
    assert body["start"] == {
        "dateTime": "2027-07-01T10:00:00",
        "timeZone": "W. Europe Standard Time",
    }
    assert body["transactionId"] == "key-1"
    assert patch_body(EventChanges(start=summer.astimezone(UTC)))["start"]["timeZone"] == "UTC"


def test_s1_a_create_retried_after_a_crash_makes_no_second_event_or_invitation(
    ms: Outlook,
) -> None:
    ms.contact(JANE)
    ms.schedule()
    (item,) = ms.outbox_items()

    def crash(point: str) -> None:
        if point == "outbox.called":
            raise Crash(point)

    with pytest.raises(Crash):
        outbox.process_item(ms.env(crash), item.id)
    # The sync may meet the event before the outbox recorded its id: Graph kept our key.
    ms.sync()
    assert len(ms.meetings()) == 1
    assert ms.meetings()[0].source == "crm"
    with ms.database.transaction() as session:
        row = session.get(CalendarOutboxItem, item.id)
        assert row is not None
        row.claimed_until = ms.clock() - timedelta(seconds=1)
    assert outbox.process_due(ms.env()) == {"done": 1}
    assert len(ms.graph.events(REP)) == 1
    assert len(creates(ms)) == 2  # the retry was answered with the first event
    assert len(ms.graph.invitations) == 1
    assert len(ms.meetings()) == 1
    assert ms.meetings()[0].external_event_id == ms.outbox_items()[0].remote_event_id


def test_s2_deleting_in_the_crm_leaves_the_event_alone(ms: Outlook) -> None:
    ms.contact(JANE)
    meeting = ms.schedule()
    ms.drain_queue()
    ms.sync()
    assert ms.tenant.call("DELETE", f"/meetings/{meeting['id']}").status_code == 204
    (event,) = ms.graph.events(REP)
    ms.graph.patch_event(REP, event["id"], subject="Still on")
    ms.sync()
    assert ms.meetings() == []
    assert ms.reasons(event["id"])[-1] == ("skip", "S2")
    assert [r for r in ms.graph.requests if r.method == "DELETE"] == []


def test_s3_attendee_changes_patch_the_event(ms: Outlook) -> None:
    meeting = ms.schedule()
    ms.drain_queue()
    response = ms.tenant.call(
        "PATCH", f"/meetings/{meeting['id']}", json={"attendee_emails": [JANE, TOM]}
    )
    assert response.status_code == 200
    assert ms.drain_queue() == 1
    (event,) = ms.graph.events(REP)
    assert sorted(a["emailAddress"]["address"] for a in event["attendees"]) == [JANE, TOM]
    patch = next(r for r in ms.graph.requests if r.method == "PATCH")
    assert set(patch.body) == {"attendees"}
    assert [i.kind for i in ms.graph.invitations] == ["new", "update"]
