"""Changing and deleting engagements as the CRM's API does: the change, then an engagement
event for the features that follow the CRM (``server.crm.events``)."""

from __future__ import annotations

from typing import Any

from sqlalchemy.orm import Session

from server.crm import events, services
from server.crm.accounts import Directory
from server.crm.models import Engagement, Meeting

# The fields of a meeting a calendar event carries (what ``changed`` events name).
MEETING_FIELDS = ("title", "description", "start", "end", "attendees")


def _meeting_fields(meeting: Meeting) -> tuple[Any, ...]:
    emails = frozenset(a.email_normalized for a in meeting.attendees)
    return (meeting.title, meeting.body, meeting.start_at, meeting.end_at, emails)


def update_meeting(
    session: Session,
    meeting: Meeting,
    changes: dict[str, Any],
    people: Directory,
    *,
    notify: bool = True,
) -> frozenset[str]:
    """Apply ``changes`` (title, description, start, end, outcome, owner, attendees as
    :class:`AttendeeInput`, associations) and tell the subscribers which of the fields a
    calendar event carries changed; returns those."""
    before = _meeting_fields(meeting)
    if "start" in changes or "end" in changes:
        start = changes.get("start") or meeting.start_at
        end = changes.get("end") or meeting.end_at
        assert start is not None
        assert end is not None
        services.reschedule(meeting, start, end)
    if "title" in changes:
        meeting.title = changes["title"]
    if "description" in changes:
        meeting.body = changes["description"]
    if "outcome" in changes:
        meeting.outcome = changes["outcome"]
    if "owner" in changes:
        owner = changes["owner"]
        meeting.owner_id = owner.id if owner else None
    if "attendees" in changes:
        services.set_attendees(session, meeting, changes["attendees"], people)
    if "associations" in changes:
        services.set_associations(session, meeting, changes["associations"])
    session.flush()
    after = _meeting_fields(meeting)
    changed = frozenset(
        f for f, old, new in zip(MEETING_FIELDS, before, after, strict=True) if old != new
    )
    if changed:
        events.emit_for(session, "changed", meeting, changed=changed, notify=notify)
    return changed


def delete_engagement(session: Session, engagement: Engagement) -> None:
    """Delete a meeting, note or activity; what it was logged from stays as it is (S2). A
    meeting's notes go with it, each told to the subscribers too."""
    if isinstance(engagement, Meeting):
        for note in engagement.notes:
            events.emit_for(session, "deleted", note)
    events.emit_for(session, "deleted", engagement)
    session.delete(engagement)
    session.flush()
