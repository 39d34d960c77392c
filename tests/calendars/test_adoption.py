"""One meeting per event and account, whoever logged it first: the sync takes over a meeting
the rep logged from the sidebar (A6), one scheduled from the CRM (S1), or one another rep's
calendar logged (R1), instead of logging a second.
"""

from __future__ import annotations

from server.addon import service as sidebar
from server.calendars.google.parse import parse_event
from server.calendars.sync import sync_connection
from server.crm import accounts
from server.crm.models import Account, Meeting, User
from tests.calendars.conftest import REP, Harness, connect_calendar

JANE = "jane@client.example"


def _note_from_sidebar(cal: Harness, event_id: str, body: str) -> int:
    raw = cal.google.calendar.get_event(REP, event_id)
    assert raw is not None
    with cal.database.transaction() as session:
        user = session.get(User, cal.tenant.user_id)
        assert user is not None
        note = sidebar.save_note(session, user, parse_event(raw), body, "n1", ())
        assert note.parent_id is not None
        return note.parent_id


def test_a6_r1_sync_takes_over_the_meeting_noted_in_the_sidebar(cal: Harness) -> None:
    jane = cal.contact(JANE)
    event = cal.event(summary="Intro", guests=[JANE])
    meeting_id = _note_from_sidebar(cal, event["id"], "first call notes")

    assert cal.sync().status == "ok"
    cal.google.calendar.patch_event(REP, event["id"], {"summary": "Intro (moved)"})
    cal.sync()

    (meeting,) = cal.meetings_for(event["id"])
    assert meeting.id == meeting_id
    assert meeting.title == "Intro (moved)"
    timeline = cal.timeline(jane)
    assert [i["type"] for i in timeline].count("meeting") == 1
    assert [i["body"] for i in timeline if i["type"] == "note"] == ["first call notes"]

    # R2 with notes: deleting the event keeps the rep's notes, marked canceled.
    cal.google.calendar.delete_event(REP, event["id"])
    cal.sync()
    (meeting,) = cal.meetings_for(event["id"])
    assert meeting.outcome == "canceled"


def test_r1_two_reps_with_one_event_share_one_meeting(cal: Harness) -> None:
    jane = cal.contact(JANE)
    colleague = "sam@acme.example"
    with cal.database.transaction() as session:
        account = session.get(Account, cal.tenant.account_id)
        assert account is not None
        sam_id = accounts.add_user(session, account, colleague).id
    sam_connection = connect_calendar(cal.settings, cal.database, cal.app, cal.google, sam_id)
    body = {
        "summary": "Joint pitch",
        "start": {"dateTime": "2030-01-07T10:00:00+00:00"},
        "end": {"dateTime": "2030-01-07T11:00:00+00:00"},
        "attendees": [{"email": JANE}, {"email": REP}, {"email": colleague}],
    }
    # Google gives every guest's copy the same event id.
    event = cal.google.calendar.add_event(REP, body)
    cal.google.calendar.add_event(colleague, body, event_id=event["id"])

    cal.sync()
    sync_connection(cal.env(), sam_connection)

    meetings = cal.meetings_for(event["id"])
    assert len(meetings) == 1
    assert isinstance(meetings[0], Meeting)
    assert [i["type"] for i in cal.timeline(jane)] == ["meeting"]
