"""Each rule R1-R9 end to end: the stand-in's calendar, the real client, the sync engine, and
the contact timelines read back through the REST API."""

from __future__ import annotations

from datetime import timedelta

from server.crm import accounts
from server.crm.models import Account
from tests.calendars.conftest import REP, SOON, Clock, Harness

JANE = "jane@client.example"


def test_r1_an_event_with_a_contact_guest_is_logged_on_the_timeline(cal: Harness) -> None:
    jane = cal.contact(JANE, "Jane", "Doe")
    tom = cal.contact("tom@client.example", "Tom")
    event = cal.event(summary="Intro", guests=[JANE, "tom@client.example", "x@else.example"])
    assert cal.sync().status == "ok"
    (meeting,) = cal.meetings_for(event["id"])
    assert meeting.source == "calendar"
    assert meeting.title == "Intro"
    assert meeting.start_at == SOON
    for contact_id in (jane, tom):
        items = cal.timeline(contact_id)
        assert [i["meeting"]["id"] for i in items if i["type"] == "meeting"] == [meeting.id]
    assert cal.reasons(event["id"]) == [("log", "R1")]


def test_r1_a_contact_inviting_the_rep_is_logged_too(cal: Harness) -> None:
    jane = cal.contact(JANE)
    event = cal.google.calendar.add_event(
        REP,
        {
            "summary": "Jane's invite",
            "organizer": {"email": JANE, "displayName": "Jane"},
            "start": {"dateTime": SOON.isoformat()},
            "end": {"dateTime": (SOON + timedelta(hours=1)).isoformat()},
            "attendees": [{"email": REP}, {"email": JANE, "organizer": True}],
        },
    )
    cal.sync()
    assert [i["meeting"]["title"] for i in cal.timeline(jane)] == ["Jane's invite"]
    assert len(cal.meetings_for(event["id"])) == 1


def test_r2_editing_updates_and_deleting_removes(cal: Harness) -> None:
    jane = cal.contact(JANE)
    event = cal.event(guests=[JANE])
    cal.sync()
    later = SOON + timedelta(days=1)
    cal.google.calendar.patch_event(
        REP,
        event["id"],
        {
            "summary": "Renamed",
            "start": {"dateTime": later.isoformat()},
            "end": {"dateTime": (later + timedelta(hours=1)).isoformat()},
            "attendees": [{"email": JANE, "responseStatus": "accepted"}],
        },
    )
    cal.sync()
    (meeting,) = cal.meetings_for(event["id"])
    assert (meeting.title, meeting.start_at) == ("Renamed", later)
    assert [a.response_status for a in meeting.attendees if a.email == JANE] == ["accepted"]
    cal.google.calendar.delete_event(REP, event["id"])
    cal.sync()
    assert cal.meetings_for(event["id"]) == []
    assert cal.timeline(jane) == []
    assert cal.reasons(event["id"]) == [("log", "R1"), ("update", "R2"), ("remove", "R2")]


def test_r3_matches_case_insensitively_and_never_creates_contacts(cal: Harness) -> None:
    jane = cal.contact("Jane.Doe@Client.Example")
    before = cal.count_contacts()
    matched = cal.event(guests=["jane.doe@CLIENT.example"])
    alias = cal.event(
        SOON + timedelta(days=1), guests=["jane.doe+sales@client.example", "new@else.example"]
    )
    cal.sync()
    assert len(cal.meetings_for(matched["id"])) == 1
    assert cal.meetings_for(alias["id"]) == []
    assert cal.count_contacts() == before
    assert len(cal.timeline(jane)) == 1


def test_r4_internal_people_are_never_logged(cal: Harness) -> None:
    with cal.database.transaction() as session:
        account = session.get(Account, cal.tenant.account_id)
        assert account is not None
        accounts.add_user(session, account, "consultant@gmail.example")
    colleague = cal.contact("bob@acme.example")  # an internal address kept as a contact
    consultant = cal.contact("consultant@gmail.example")  # a user of the account
    vendor = cal.contact("help@meeting-assistant.app")  # CRM_VENDOR_DOMAINS
    internal = cal.event(
        guests=["bob@acme.example", "consultant@gmail.example", "help@meeting-assistant.app"]
    )
    mixed = cal.event(SOON + timedelta(days=1), guests=["bob@acme.example", JANE])
    jane = cal.contact(JANE)
    cal.sync()
    assert cal.meetings_for(internal["id"]) == []
    assert cal.reasons(internal["id"]) == [("skip", "R4")]
    (meeting,) = cal.meetings_for(mixed["id"])
    assert {a.email: (a.internal, a.contact_id) for a in meeting.attendees}["bob@acme.example"] == (
        True,
        None,
    )
    for contact_id in (colleague, consultant, vendor):
        assert cal.timeline(contact_id) == []
    assert len(cal.timeline(jane)) == 1


def test_r5_events_created_before_the_connection_are_never_synced(
    cal: Harness, clock: Clock
) -> None:
    cal.contact(JANE)
    clock.offset = -timedelta(hours=2)
    old = cal.event(guests=[JANE])
    clock.offset = timedelta(0)
    new = cal.event(SOON + timedelta(days=1), guests=[JANE])
    cal.sync()
    assert cal.meetings_for(old["id"]) == []
    assert cal.reasons(old["id"]) == [("skip", "R5")]
    assert len(cal.meetings_for(new["id"])) == 1
    cal.google.calendar.patch_event(REP, old["id"], {"summary": "Edited after connecting"})
    cal.sync()
    assert cal.meetings_for(old["id"]) == []  # still created before: never synced


def test_r6_recurring_first_occurrence_then_exceptions_on_their_own(cal: Harness) -> None:
    jane = cal.contact(JANE)
    series = cal.event(summary="Weekly", recurrence=["RRULE:FREQ=WEEKLY;COUNT=6"], guests=[JANE])
    cal.sync()
    (first,) = cal.meetings_for(series["id"])
    assert first.start_at == SOON
    week = timedelta(days=7)
    calendar = cal.google.calendar
    moved = calendar.modify_instance(
        REP,
        series["id"],
        (SOON + week).isoformat(),
        {
            "start": {
                "dateTime": (SOON + week + timedelta(hours=3)).isoformat(),
                "timeZone": "UTC",
            },
            "end": {"dateTime": (SOON + week + timedelta(hours=4)).isoformat(), "timeZone": "UTC"},
        },
    )
    edited = calendar.modify_instance(
        REP, series["id"], (SOON + 2 * week).isoformat(), {"summary": "Weekly (demo)"}
    )
    answered = calendar.modify_instance(
        REP,
        series["id"],
        (SOON + 3 * week).isoformat(),
        {"attendees": [{"email": JANE, "responseStatus": "declined"}]},
    )
    cancelled = calendar.cancel_instance(REP, series["id"], (SOON + 4 * week).isoformat())
    cal.sync()
    assert cal.meetings_for(moved["id"])[0].start_at == SOON + week + timedelta(hours=3)
    assert cal.meetings_for(edited["id"])[0].title == "Weekly (demo)"
    assert len(cal.meetings_for(answered["id"])) == 1
    (canceled,) = cal.meetings_for(cancelled["id"])
    assert (canceled.outcome, canceled.start_at, canceled.title) == (
        "canceled",
        SOON + 4 * week,
        "Weekly",
    )
    assert len(cal.timeline(jane)) == 5  # first + moved + edited + re-answered + canceled
    # Deleting the whole series removes every meeting it logged.
    calendar.delete_event(REP, series["id"])
    cal.sync()
    assert cal.meetings() == []
    assert cal.timeline(jane) == []


def test_r6_full_sync_replay_of_a_series_doubles_nothing(cal: Harness) -> None:
    cal.contact(JANE)
    series = cal.event(recurrence=["RRULE:FREQ=DAILY;COUNT=3"], guests=[JANE])
    cal.google.calendar.cancel_instance(REP, series["id"], (SOON + timedelta(days=1)).isoformat())
    cal.sync()
    before = [(m.external_event_id, m.outcome) for m in cal.meetings()]
    cal.google.calendar.invalidate_sync_tokens(REP)
    cal.sync()
    assert [(m.external_event_id, m.outcome) for m in cal.meetings()] == before
    assert len(before) == 2


def test_r7_all_day_events_are_not_synced(cal: Harness) -> None:
    cal.contact(JANE)
    day = SOON.date()
    event = cal.google.calendar.add_event(
        REP,
        {
            "summary": "Offsite",
            "start": {"date": day.isoformat()},
            "end": {"date": (day + timedelta(days=1)).isoformat()},
            "attendees": [{"email": JANE}],
        },
    )
    cal.sync()
    assert cal.meetings_for(event["id"]) == []
    assert cal.reasons(event["id"]) == [("skip", "R7")]


def test_r8_private_events_skipped_and_public_turned_private_frozen(cal: Harness) -> None:
    jane = cal.contact(JANE)
    private = cal.event(visibility="private", guests=[JANE])
    public = cal.event(SOON + timedelta(days=1), summary="Public", guests=[JANE])
    cal.sync()
    assert cal.meetings_for(private["id"]) == []
    (meeting,) = cal.meetings_for(public["id"])
    cal.google.calendar.patch_event(
        REP, public["id"], {"visibility": "private", "summary": "Secret"}
    )
    cal.sync()
    cal.google.calendar.patch_event(REP, public["id"], {"summary": "Still secret"})
    cal.google.calendar.delete_event(REP, public["id"])
    cal.sync()
    (frozen,) = cal.meetings_for(public["id"])
    assert (frozen.id, frozen.title) == (meeting.id, "Public")
    assert len(cal.timeline(jane)) == 1
    assert [r for r in cal.reasons(public["id"])] == [
        ("log", "R1"),
        ("freeze", "R8"),
        ("skip", "R8"),
    ]


def test_r9_no_contact_no_log_then_the_next_change_logs_without_backfill(cal: Harness) -> None:
    event = cal.event(guests=["newbie@client.example"])
    cal.sync()
    assert cal.reasons(event["id"]) == [("skip", "R9")]
    newbie = cal.contact("newbie@client.example")
    cal.sync()
    cal.google.calendar.invalidate_sync_tokens(REP)  # even a full resync does not backfill
    cal.sync()
    assert cal.meetings_for(event["id"]) == []
    cal.google.calendar.patch_event(REP, event["id"], {"summary": "Follow-up"})
    cal.sync()
    assert [i["meeting"]["title"] for i in cal.timeline(newbie)] == ["Follow-up"]
