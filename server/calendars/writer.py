"""The meetings a page of events logs, written in bulk.

Deciding stays one event at a time (the rules are one pure function, and an occurrence must
see what its series' master just became); only the writing is batched. A meeting the page
logs is a :class:`NewMeeting` until the page's writes: then every new meeting is one
multi-row ``INSERT ... RETURNING`` and their attendees and associations one ``executemany``
each, and the links and sync-log lines that waited for the ids get them.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, cast

from sqlalchemy import Table, insert
from sqlalchemy.orm import Session

from server.crm import events
from server.crm.accounts import Directory
from server.crm.models import Association, Attendee, Engagement, normalize_email
from server.crm.services import AttendeeInput

ENGAGEMENTS = cast(Table, Engagement.__table__)
ATTENDEES = cast(Table, Attendee.__table__)
ASSOCIATIONS = cast(Table, Association.__table__)


@dataclass
class NewMeeting:
    """A meeting logged by this page, not written yet."""

    event_id: str
    row: dict[str, Any]  # the engagements row
    attendees: list[dict[str, Any]]  # attendees rows, without meeting_id
    associations: list[tuple[str, int]]
    id: int | None = None
    waiting: list[Any] = field(default_factory=list)  # rows whose meeting_id is this one's

    def refer(self, row: Any) -> None:
        """``row.meeting_id`` gets this meeting's id once it is written."""
        if self.id is not None:
            row.meeting_id = self.id
        else:
            self.waiting.append(row)


ATTENDEE_FIELDS = (
    "email",
    "email_normalized",
    "name",
    "response_status",
    "organizer",
    "internal",
    "contact_id",
)


def attendee_rows(
    people: Sequence[AttendeeInput], directory: Directory, contact_ids: dict[str, int]
) -> list[dict[str, Any]]:
    """Attendees as ``set_attendees`` makes them: one per address, internal ones marked and
    never linked to a contact (R4, A3), the others linked to their contact when there is one."""
    rows: dict[str, dict[str, Any]] = {}
    for person in people:
        key = normalize_email(person.email)
        if key in rows:
            continue
        internal = directory.is_internal(key)
        rows[key] = {
            "email": person.email.strip(),
            "email_normalized": key,
            "name": person.name or "",
            "response_status": person.response_status,
            "organizer": person.organizer,
            "internal": internal,
            "contact_id": None if internal else contact_ids.get(key),
        }
    return list(rows.values())


def new_meeting(
    event_id: str,
    *,
    account_id: int,
    owner_id: int,
    title: str | None,
    start: datetime,
    end: datetime,
    attendees: list[dict[str, Any]],
    associations: Iterable[tuple[str, int]],
    now: datetime,
    **fields: Any,
) -> NewMeeting:
    row = {
        "account_id": account_id,
        "kind": "meeting",
        "title": title or "(no title)",
        "body": fields.pop("description", "") or "",
        "start_at": start,
        "end_at": max(end, start),
        "occurred_at": start,
        "source": "calendar",
        "owner_id": owner_id,
        "parent_id": None,
        "created_at": now,
        "updated_at": now,
        **{name: fields.get(name) for name in _OPTIONAL},
    }
    return NewMeeting(event_id, row, attendees, list(dict.fromkeys(associations)))


_OPTIONAL = (
    "time_zone",
    "outcome",
    "location",
    "video_url",
    "external_calendar_id",
    "external_event_id",
    "ical_uid",
    "idempotency_key",
    "started_at",
)


def write(session: Session, pending: Sequence[NewMeeting]) -> None:
    """Insert ``pending`` in bulk and hand each its id (and the rows that waited for it)."""
    if not pending:
        return
    statement = insert(ENGAGEMENTS).returning(ENGAGEMENTS.c.id, sort_by_parameter_order=True)
    ids = session.execute(statement, [m.row for m in pending]).scalars().all()
    attendees: list[dict[str, Any]] = []
    associations: list[dict[str, Any]] = []
    for meeting, meeting_id in zip(pending, ids, strict=True):
        meeting.id = meeting_id
        attendees += [{**a, "meeting_id": meeting_id} for a in meeting.attendees]
        associations += [
            {"engagement_id": meeting_id, "object_type": kind, "object_id": object_id}
            for kind, object_id in meeting.associations
        ]
        for row in meeting.waiting:
            row.meeting_id = meeting_id
        meeting.waiting.clear()
    if attendees:
        session.execute(insert(ATTENDEES), attendees)
    if associations:
        session.execute(insert(ASSOCIATIONS), associations)
    for meeting in pending:
        assert meeting.id is not None
        event = events.EngagementEvent(
            "created", meeting.id, meeting.row["account_id"], "meeting", "calendar"
        )
        events.emit(session, event)
