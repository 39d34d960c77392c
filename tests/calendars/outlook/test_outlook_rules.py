"""R1-R9 on Graph's model, through the Graph client against the stand-in: one test (at least)
per rule id, as for Google in ``tests/calendars/test_sync_rules.py``."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from tests.calendars.outlook.conftest import REP, SOON, Outlook, attendee, graph_time

JANE = "jane@client.example"
BOB = "bob@client.example"
COLLEAGUE = "pat@acme.example"


def test_r1_an_event_with_a_contact_is_logged_on_the_contacts_timeline(ms: Outlook) -> None:
    jane = ms.contact(JANE)
    event = ms.event(guests=[JANE], subject="Intro", location={"displayName": "Room 1"})
    result = ms.sync()
    assert (result.status, result.actions) == ("ok", {"log": 1})
    (meeting,) = ms.meetings()
    assert (meeting.title, meeting.location, meeting.source) == ("Intro", "Room 1", "calendar")
    assert meeting.start_at == SOON
    assert meeting.external_event_id == event["id"]
    assert meeting.ical_uid == event["iCalUId"]
    assert [i["meeting"]["id"] for i in ms.timeline(jane)] == [meeting.id]
    assert ms.reasons(event["id"]) == [("log", "R1")]


def test_r1_a_contact_inviting_the_rep_is_logged_too(ms: Outlook) -> None:
    jane = ms.contact(JANE)
    event = ms.event(
        guests=None,
        organizer={"emailAddress": {"address": JANE, "name": "Jane"}},
        attendees=[attendee(REP, "accepted")],
        isOrganizer=False,
    )
    ms.sync()
    (meeting,) = ms.meetings()
    assert [i["meeting"]["id"] for i in ms.timeline(jane)] == [meeting.id]
    assert ms.reasons(event["id"]) == [("log", "R1")]


def test_r2_edits_update_and_deletion_removes(ms: Outlook) -> None:
    ms.contact(JANE)
    event = ms.event(guests=[JANE])
    ms.sync()
    later = SOON + timedelta(hours=2)
    ms.graph.patch_event(
        REP, event["id"], subject="Moved", start=graph_time(later), end=graph_time(later, "UTC")
    )
    assert ms.sync().actions == {"update": 1}
    (meeting,) = ms.meetings()
    assert (meeting.title, meeting.start_at) == ("Moved", later)
    ms.graph.delete_event(REP, event["id"])
    assert ms.sync().actions == {"remove": 1}
    assert ms.meetings() == []
    assert ms.reasons(event["id"]) == [("log", "R1"), ("update", "R2"), ("remove", "R2")]


def test_r3_guests_match_contacts_case_insensitively_and_nobody_is_created(ms: Outlook) -> None:
    ms.contact(JANE)
    before = ms.count_contacts()
    event = ms.event(guests=[JANE.upper(), "stranger@else.example"])
    ms.sync()
    (meeting,) = ms.meetings()
    assert ms.count_contacts() == before
    matched = {a.email_normalized: a.contact_id is not None for a in meeting.attendees}
    assert matched == {JANE: True, "stranger@else.example": False, REP: False}
    assert ms.reasons(event["id"]) == [("log", "R1")]


def test_r4_internal_guests_are_never_logged(ms: Outlook) -> None:
    event = ms.event(guests=[COLLEAGUE, "someone@meeting-assistant.app"])
    ms.sync()
    assert ms.meetings() == []
    assert ms.reasons(event["id"]) == [("skip", "R4")]


def test_r5_events_created_before_the_connection_are_never_synced(ms: Outlook) -> None:
    ms.contact(JANE)
    old = ms.event(guests=[JANE], createdDateTime=datetime.now(UTC) - timedelta(days=3))
    ms.sync()
    assert ms.meetings() == []
    ms.graph.patch_event(REP, old["id"], subject="Still old")
    ms.sync()
    assert ms.meetings() == []
    assert [r for _, r in ms.reasons(old["id"])] == ["R5", "R5"]


def weekly(start: datetime, zone: str = "UTC", count: int = 6) -> dict[str, object]:
    local = start.astimezone(ZoneInfo("UTC" if zone == "UTC" else "America/Los_Angeles"))
    return {
        "pattern": {
            "type": "weekly",
            "interval": 1,
            "daysOfWeek": [local.strftime("%A").lower()],
            "firstDayOfWeek": "sunday",
        },
        "range": {
            "type": "numbered",
            "startDate": local.date().isoformat(),
            "numberOfOccurrences": count,
            "recurrenceTimeZone": zone,
        },
    }


def test_r6_a_series_is_logged_once_at_its_first_occurrence(ms: Outlook) -> None:
    jane = ms.contact(JANE)
    series = ms.event(guests=[JANE], subject="Weekly", recurrence=weekly(SOON))
    result = ms.sync()
    assert result.actions["log"] == 1
    (meeting,) = ms.meetings()
    assert (meeting.title, meeting.start_at, meeting.external_event_id) == (
        "Weekly",
        SOON,
        series["id"],
    )
    assert [i["meeting"]["id"] for i in ms.timeline(jane)] == [meeting.id]
    assert ms.reasons(series["id"]) == [("log", "R6")]
    # Each occurrence (the first one too: it is the series' meeting) follows the series:
    # skipped, and remembered for when it stops following it.
    skipped = [e for e in ms.log() if e.action == "skip" and e.rule == "R6"]
    assert len(skipped) == 6
    assert {link.recurring_event_id for link in ms.links() if not link.is_series} == {series["id"]}


def test_r6_a_moved_occurrence_is_logged_on_its_own(ms: Outlook) -> None:
    ms.contact(JANE)
    series = ms.event(guests=[JANE], subject="Weekly", recurrence=weekly(SOON))
    ms.sync()
    third = SOON + timedelta(weeks=2)
    moved = third + timedelta(hours=3)
    occurrence = ms.graph.modify_occurrence(
        REP,
        series["id"],
        third,
        start=graph_time(moved),
        end=graph_time(moved + timedelta(minutes=30)),
    )
    assert ms.sync().actions.get("log") == 1
    starts = sorted(m.start_at for m in ms.meetings())
    assert starts == [SOON, moved]
    assert ms.reasons(occurrence["id"])[-1] == ("log", "R6")


def test_r6_an_occurrence_answered_differently_is_logged_on_its_own(ms: Outlook) -> None:
    ms.contact(JANE)
    series = ms.event(guests=[JANE], recurrence=weekly(SOON))
    ms.sync()
    second = SOON + timedelta(weeks=1)
    ms.graph.modify_occurrence(REP, series["id"], second, attendees=[attendee(JANE, "declined")])
    ms.sync()
    assert sorted(m.start_at for m in ms.meetings()) == [SOON, second]


def test_r6_an_occurrence_cancelled_on_its_own_is_logged_as_canceled(ms: Outlook) -> None:
    ms.contact(JANE)
    series = ms.event(guests=[JANE], subject="Weekly", recurrence=weekly(SOON))
    ms.sync()
    third = SOON + timedelta(weeks=2)
    ms.graph.cancel_occurrence(REP, series["id"], third)
    result = ms.sync()
    assert result.actions.get("mark_canceled") == 1
    by_start = {m.start_at: m for m in ms.meetings()}
    assert set(by_start) == {SOON, third}
    assert (by_start[third].outcome, by_start[third].title) == ("canceled", "Weekly")
    assert by_start[SOON].outcome == "scheduled"


def test_r6_deleting_the_series_removes_every_meeting_it_logged(ms: Outlook) -> None:
    ms.contact(JANE)
    series = ms.event(guests=[JANE], recurrence=weekly(SOON))
    ms.sync()
    second = SOON + timedelta(weeks=1)
    ms.graph.modify_occurrence(REP, series["id"], second, subject="Special")
    ms.sync()
    assert len(ms.meetings()) == 2
    ms.graph.delete_event(REP, series["id"])
    result = ms.sync()
    assert result.status == "ok"
    assert ms.meetings() == []
    assert ("remove", "R6") in ms.reasons(series["id"])
    assert not any(a == "mark_canceled" for a, _ in (e for e in ms.reasons(series["id"])))


def test_r7_all_day_events_are_not_synced(ms: Outlook) -> None:
    ms.contact(JANE)
    day = SOON.replace(hour=0)
    event = ms.graph.add_event(
        REP,
        subject="Offsite",
        attendees=[attendee(JANE)],
        isAllDay=True,
        start=graph_time(day),
        end=graph_time(day + timedelta(days=1)),
    )
    ms.sync()
    assert ms.meetings() == []
    assert ms.reasons(event["id"]) == [("skip", "R7")]


def test_r8_private_events_are_skipped_and_a_logged_one_turned_private_is_frozen(
    ms: Outlook,
) -> None:
    ms.contact(JANE)
    secret = ms.event(guests=[JANE], sensitivity="private")
    personal = ms.event(SOON + timedelta(hours=1), guests=[JANE], sensitivity="personal")
    open_event = ms.event(SOON + timedelta(hours=2), guests=[JANE], subject="Open")
    ms.sync()
    assert ms.reasons(secret["id"]) == [("skip", "R8")]
    assert ms.reasons(personal["id"]) == [("skip", "R8")]
    ms.graph.patch_event(REP, open_event["id"], sensitivity="confidential")
    ms.sync()
    ms.graph.patch_event(REP, open_event["id"], subject="Renamed while private")
    ms.sync()
    (meeting,) = ms.meetings()
    assert meeting.title == "Open"
    assert [a for a, _ in ms.reasons(open_event["id"])] == ["log", "freeze", "skip"]


def test_r9_no_contact_no_log_until_a_guest_becomes_a_contact(ms: Outlook) -> None:
    event = ms.event(guests=[BOB])
    ms.sync()
    assert ms.meetings() == []
    assert ms.reasons(event["id"]) == [("skip", "R9")]
    bob = ms.contact(BOB)
    ms.sync()
    assert ms.meetings() == []  # no backfill
    ms.graph.patch_event(REP, event["id"], subject="Agenda added")
    ms.sync()
    (meeting,) = ms.meetings()
    assert [i["meeting"]["id"] for i in ms.timeline(bob)] == [meeting.id]


def test_windows_time_zones_keep_the_local_time_across_dst(ms: Outlook) -> None:
    """09:00 Pacific in winter and in summer, written with the Windows zone name: the instants
    are right (17:00 and 16:00 UTC) and the zone is kept by its IANA name."""
    ms.contact(JANE)
    pacific = ZoneInfo("America/Los_Angeles")
    now = datetime.now(UTC)
    winter = datetime(now.year + 1, 1, 12, 9, 0, tzinfo=pacific)
    summer = datetime(now.year + 1, 7, 13, 9, 0, tzinfo=pacific)
    for moment in (winter, summer):
        ms.event(moment, guests=[JANE], zone="Pacific Standard Time")
    assert ms.sync().actions == {"log": 2}
    by_month = {m.start_at.astimezone(pacific).month: m for m in ms.meetings()}
    assert by_month[1].start_at.astimezone(UTC).hour == 17
    assert by_month[7].start_at.astimezone(UTC).hour == 16
    assert {m.start_at.astimezone(pacific).hour for m in by_month.values()} == {9}
    assert {m.time_zone for m in by_month.values()} == {"America/Los_Angeles"}


def test_r6_a_weekly_series_in_pacific_time_keeps_its_local_hour_across_dst(ms: Outlook) -> None:
    """An occurrence after the clocks change, moved by an hour, is logged at the right
    instant: the series' occurrences are read in UTC, whatever the zone."""
    ms.contact(JANE)
    pacific = ZoneInfo("America/Los_Angeles")
    now = datetime.now(UTC)
    first = datetime(now.year + 1, 2, 22, 9, 0, tzinfo=pacific)  # before the March change
    series = ms.event(
        first,
        guests=[JANE],
        zone="Pacific Standard Time",
        recurrence=weekly(first, "Pacific Standard Time", 6),
    )
    ms.sync()
    after = datetime(now.year + 1, 3, 22, 9, 0, tzinfo=pacific)  # after it: UTC-7
    moved = after + timedelta(hours=1)
    ms.graph.modify_occurrence(
        REP,
        series["id"],
        after.astimezone(UTC),
        start=graph_time(moved, "Pacific Standard Time"),
        end=graph_time(moved + timedelta(minutes=30), "Pacific Standard Time"),
    )
    ms.sync()
    starts = sorted(m.start_at for m in ms.meetings())
    assert starts == [first.astimezone(UTC), moved.astimezone(UTC)]
