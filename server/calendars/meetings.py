"""What a calendar event makes in the CRM, in one place for the sync and the add-on: the
people of the meeting and the idempotency key of the meeting logged for the event."""

from __future__ import annotations

import hashlib

from server.calendars.provider import CalendarEvent
from server.crm.models import normalize_email
from server.crm.services import AttendeeInput

KEY_MAX = 200  # engagements.idempotency_key


def meeting_key(event_id: str) -> str:
    """The key of the meeting an account logs for a calendar event, whoever logs it (the sync
    of any rep's calendar, the sidebar): a replayed page or two concurrent first notes make one
    meeting. Event ids are shared by every guest's copy of an event."""
    key = "calendar-event:" + event_id
    if len(key) <= KEY_MAX:
        return key
    return "calendar-event:#" + hashlib.sha256(event_id.encode()).hexdigest()


def attendee_inputs(event: CalendarEvent) -> list[AttendeeInput]:
    """The people of an event: its guests (rooms and equipment left out), and the organizer
    first when the event does not list them among its guests."""
    people = [
        AttendeeInput(a.email, a.name, a.response_status, a.organizer)
        for a in event.attendees
        if not a.resource and a.email
    ]
    listed = {normalize_email(p.email) for p in people}
    if event.organizer_email and normalize_email(event.organizer_email) not in listed:
        people.insert(
            0, AttendeeInput(event.organizer_email, event.organizer_name, "accepted", True)
        )
    return people
