"""Reading engagements newest first: a contact's timeline and a meeting's notes, a page at a
time by keyset on ``(occurred_at, id)``."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import Select, and_, or_, select, union, union_all
from sqlalchemy.orm import Session, joinedload, selectinload, with_polymorphic

from server.crm.models import Activity, Association, Attendee, Contact, Engagement, Meeting, Note

TimelineCursor = tuple[datetime, int]


def _newest_first(
    session: Session, query: Select[Any], entity: Any, cursor: TimelineCursor | None, limit: int
) -> tuple[list[Any], TimelineCursor | None]:
    """Keyset pagination by ``(occurred_at, id)`` descending: the page after ``cursor`` and the
    cursor of the next one (``None`` at the end). Ties on ``occurred_at`` are broken by id."""
    query = query.order_by(entity.occurred_at.desc(), entity.id.desc())
    if cursor is not None:
        at, last_id = cursor
        query = query.where(
            or_(entity.occurred_at < at, and_(entity.occurred_at == at, entity.id < last_id))
        )
    rows = list(session.scalars(query.limit(limit + 1)))
    more = len(rows) > limit
    rows = rows[:limit]
    return rows, ((rows[-1].occurred_at, rows[-1].id) if more and rows else None)


def notes(
    session: Session, meeting: Meeting, cursor: TimelineCursor | None, limit: int
) -> tuple[list[Note], TimelineCursor | None]:
    """A meeting's notes, newest first, a page at a time."""
    query = (
        select(Note)
        .where(Note.account_id == meeting.account_id, Note.parent_id == meeting.id)
        .options(joinedload(Note.owner))
    )
    return _newest_first(session, query, Note, cursor, limit)


# Features add fields to timeline items without the CRM knowing them (the Salesforce sync
# adds ``salesforce_id``): each annotator answers {engagement id: {field: value}} for a page.
Annotator = Callable[[Session, int, Sequence[int]], dict[int, dict[str, Any]]]
_annotators: list[Annotator] = []


def annotate_with(annotator: Annotator) -> None:
    if annotator not in _annotators:
        _annotators.append(annotator)


def extra_fields(
    session: Session, account_id: int, ids: Sequence[int]
) -> dict[int, dict[str, Any]]:
    merged: dict[int, dict[str, Any]] = {}
    for annotator in _annotators:
        for engagement_id, fields in annotator(session, account_id, ids).items():
            merged.setdefault(engagement_id, {}).update(fields)
    return merged


def timeline(
    session: Session, contact: Contact, cursor: TimelineCursor | None, limit: int
) -> tuple[list[Engagement], TimelineCursor | None]:
    """A contact's timeline, newest first: meetings the contact attends or is associated with,
    their notes, and the contact's other activities.

    The page is found among the contact's own engagements only (index lookups by id and by
    parent, whatever the size of the account), then loaded with the meetings' attendees,
    notes and associations in bulk: five queries whatever the length.
    """
    related = select(
        union(
            select(Attendee.meeting_id.label("id")).where(Attendee.contact_id == contact.id),
            select(Association.engagement_id.label("id")).where(
                Association.object_type == "contact", Association.object_id == contact.id
            ),
        ).subquery()
    )
    mine = Engagement.account_id == contact.account_id
    keys = union_all(
        select(Engagement.id, Engagement.occurred_at).where(mine, Engagement.id.in_(related)),
        # Notes of those meetings: the same account's by construction, found by their parent.
        select(Engagement.id, Engagement.occurred_at).where(Engagement.parent_id.in_(related)),
    ).subquery()
    page = select(keys.c.id, keys.c.occurred_at).order_by(
        keys.c.occurred_at.desc(), keys.c.id.desc()
    )
    if cursor is not None:
        at, last_id = cursor
        page = page.where(
            or_(keys.c.occurred_at < at, and_(keys.c.occurred_at == at, keys.c.id < last_id))
        )
    found = list(session.execute(page.limit(limit + 1)))
    more = len(found) > limit
    found = found[:limit]
    if not found:
        return [], None
    poly = with_polymorphic(Engagement, [Meeting, Note, Activity])
    query = (
        select(poly)
        .where(poly.id.in_([row.id for row in found]))
        .options(
            selectinload(poly.Meeting.attendees),
            selectinload(poly.Meeting.notes).joinedload(Note.owner),
            selectinload(poly.associations),
            selectinload(poly.owner),
        )
    )
    loaded = {row.id: row for row in session.scalars(query)}
    rows = [loaded[row.id] for row in found if row.id in loaded]
    last = found[-1]
    return rows, ((last.occurred_at, last.id) if more else None)
