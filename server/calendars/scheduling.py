"""The CRM's hooks into calendar scheduling (S1-S3), called by the meetings API.

``meeting_created`` queues the calendar event in the meeting's own transaction;
``meeting_changed`` (given a ``snapshot`` taken before the change) queues a patch when the
fields an event carries changed. Deleting a meeting calls nothing: the event stays (S2).
Each queued row is handed to the worker once the request's transaction commits.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import cast

from flask import current_app, has_app_context
from sqlalchemy.orm import Session

from server.calendars import outbox, tasks
from server.crm.models import Meeting, normalize_email
from server.jobs import Jobs


@dataclass(frozen=True)
class MeetingSnapshot:
    title: str
    description: str
    start: datetime | None
    end: datetime | None
    attendees: frozenset[str]


def snapshot(meeting: Meeting) -> MeetingSnapshot:
    return MeetingSnapshot(
        meeting.title,
        meeting.body,
        meeting.start_at,
        meeting.end_at,
        frozenset(normalize_email(a.email) for a in meeting.attendees),
    )


def meeting_created(session: Session, meeting: Meeting, *, send_invites: bool = True) -> None:
    """S1: the event is created on the owner's calendar (invitations unless told not to).
    Without an owner or a connected calendar the row records why nothing was created."""
    item = outbox.schedule_create(session, meeting, send_invites=send_invites)
    _hand_over(session, item.id)


def meeting_changed(
    session: Session, meeting: Meeting, before: MeetingSnapshot, *, send_invites: bool = True
) -> None:
    """S3 (beyond the original): guests added or removed in the CRM, or a new time or title,
    patch the event and notify the guests."""
    session.flush()
    session.expire(meeting, ["attendees"])
    after = snapshot(meeting)
    changed = {
        name
        for name, old, new in (
            ("title", before.title, after.title),
            ("description", before.description, after.description),
            ("start", before.start, after.start),
            ("end", before.end, after.end),
            ("attendees", before.attendees, after.attendees),
        )
        if old != new
    }
    item = outbox.schedule_update(session, meeting, changed, send_invites=send_invites)
    if item is not None:
        _hand_over(session, item.id)


def _hand_over(session: Session, item_id: int) -> None:
    if not has_app_context():
        return  # no queue here (a script); the periodic sweep carries the row out
    jobs = cast(Jobs, current_app.extensions["jobs"])
    outbox.after_commit(session, lambda: tasks.enqueue_outbox(jobs, item_id))
