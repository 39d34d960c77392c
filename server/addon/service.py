"""The CRM side of the sidebar: from a rep and a calendar event to view values, and the
writes the cards trigger (A3-A6). Everything is scoped to the rep's account; services flush,
the request commits.

Calendar events come from :mod:`.calendar_api` (read with the rep's own token), so an event id
here is one the rep's calendar holds.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Sequence
from datetime import UTC, datetime

from sqlalchemy import case, or_, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from server.calendars.meetings import attendee_inputs, meeting_key
from server.calendars.provider import CalendarEvent
from server.crm import accounts, services, timeline
from server.crm.models import (
    EMAIL_MAX,
    NAME_MAX,
    TITLE_MAX,
    Association,
    Attendee,
    Contact,
    Meeting,
    Note,
    User,
    normalize_email,
)
from server.db import utcnow
from server.errors import NotFound
from server.rows import get_owned

from . import cards
from .views import (
    AttendeeStatus,
    AttendeeView,
    ContactView,
    MeetingSummaryView,
    MeetingView,
    NoteView,
    TimelineItemView,
)

SOURCE = "assistant"
CALENDAR = "primary"


class Refused(Exception):
    """An action named something the rep cannot see (a tampered or stale id). Nothing changed;
    the message is safe to show."""


def note_key(user: User, event_id: str, nonce: str) -> str:
    """A replayed note submission (same render nonce) maps to the note it made first."""
    digest = hashlib.sha256(f"{user.id}\0{event_id}\0{nonce}".encode()).hexdigest()
    return "addon-note:" + digest[:48]


# --------------------------------------------------------------------------- lookups


def meeting_for_event(session: Session, user: User, event_id: str) -> Meeting | None:
    """The account's meeting logged for ``event_id`` (the rep's own first), if any."""
    return session.scalars(
        select(Meeting)
        .where(Meeting.account_id == user.account_id, Meeting.external_event_id == event_id)
        .order_by(case((Meeting.owner_id == user.id, 0), else_=1), Meeting.id)
        .limit(1)
    ).first()


def meetings_for_events(session: Session, user: User, event_ids: Iterable[str]) -> dict[str, int]:
    """Logged meeting ids by event id, in one query."""
    wanted = list(dict.fromkeys(event_ids))
    if not wanted:
        return {}
    rows = session.execute(
        select(Meeting.external_event_id, Meeting.id)
        .where(Meeting.account_id == user.account_id, Meeting.external_event_id.in_(wanted))
        .order_by(Meeting.id.desc())
    )
    return {str(event_id): meeting_id for event_id, meeting_id in rows}


def owned_meeting(session: Session, user: User, meeting_id: str, event_id: str) -> Meeting:
    """The meeting an action names, checked against the account and the event."""
    if not meeting_id.isdigit():
        raise Refused("That meeting isn't in your account.")
    try:
        meeting = get_owned(session, Meeting, user.account_id, int(meeting_id))
    except NotFound:
        raise Refused("That meeting isn't in your account.") from None
    if meeting.external_event_id != event_id:
        raise Refused("That meeting doesn't belong to this event.")
    return meeting


def owned_contact(session: Session, user: User, contact_id: str | None) -> Contact:
    if not contact_id or not contact_id.isdigit():
        raise Refused("That contact isn't in your account.")
    try:
        return get_owned(session, Contact, user.account_id, int(contact_id))
    except NotFound:
        raise Refused("That contact isn't in your account.") from None


# --------------------------------------------------------------------------- views


def guests(event: CalendarEvent, user: User) -> list[services.AttendeeInput]:
    """The people of an event, as the sync sees them too."""
    return attendee_inputs(event)


def summaries(
    session: Session, user: User, events: Sequence[CalendarEvent]
) -> list[MeetingSummaryView]:
    """A2: one line per meeting of the day, with the logged meeting's id when there is one."""
    meetings = [e for e in events if e.is_meeting]
    logged = meetings_for_events(session, user, (e.id for e in meetings))
    return [
        MeetingSummaryView(
            event_id=e.id,
            calendar_id=CALENDAR,
            title=e.title,
            start=e.start,
            end=e.end,
            all_day=e.all_day,
            attendee_emails=[p.email for p in guests(e, user)],
            meeting_id=str(logged[e.id]) if e.id in logged else None,
        )
        for e in meetings
    ]


def attendee_views(
    session: Session, user: User, event: CalendarEvent, vendor_domains: Sequence[str]
) -> list[AttendeeView]:
    """A3: every guest marked internal (account domains, users, vendor), contact, or not."""
    people = guests(event, user)
    directory = accounts.directory(session, user.account_id, vendor_domains)
    contacts = services.contacts_by_email(session, user.account_id, (p.email for p in people))
    out = []
    for person in people:
        key = normalize_email(person.email)
        contact = contacts.get(key)
        status: AttendeeStatus
        contact_id: str | None = None
        if directory.is_internal(key):
            status = "internal"
        elif contact is not None:
            status, contact_id = "contact", str(contact.id)
        else:
            status = "not_contact"
        out.append(
            AttendeeView(
                email=person.email,
                name=person.name or (contact.name if contact else None) or None,
                status=status,
                contact_id=contact_id,
                response_status=person.response_status or None,
                organizer=person.organizer,
            )
        )
    return out


def note_views(meeting: Meeting | None) -> list[NoteView]:
    """A6: the meeting's notes, newest first."""
    if meeting is None:
        return []
    notes = sorted(meeting.notes, key=lambda n: (n.occurred_at, n.id), reverse=True)
    return [
        NoteView(
            body=n.body,
            created_at=n.occurred_at,
            author_email=n.owner.email if n.owner else None,
            note_id=str(n.id),
        )
        for n in notes
    ]


def meeting_view(
    session: Session,
    user: User,
    event: CalendarEvent,
    vendor_domains: Sequence[str],
    *,
    video_url: str | None,
    calendar_url: str | None,
) -> MeetingView:
    meeting = meeting_for_event(session, user, event.id)
    return MeetingView(
        event_id=event.id,
        calendar_id=CALENDAR,
        title=event.title,
        start=event.start,
        end=event.end,
        all_day=event.all_day,
        attendees=attendee_views(session, user, event, vendor_domains),
        notes=note_views(meeting),
        video_url=video_url,
        calendar_url=calendar_url,
        meeting_id=str(meeting.id) if meeting else None,
        started_at=meeting.started_at if meeting else None,
    )


def next_meeting(session: Session, contact: Contact, now: datetime) -> Meeting | None:
    """The contact's next scheduled meeting (attending or associated) after ``now``."""
    attending = select(Attendee.meeting_id).where(Attendee.contact_id == contact.id)
    associated = select(Association.engagement_id).where(
        Association.object_type == "contact", Association.object_id == contact.id
    )
    return session.scalars(
        select(Meeting)
        .where(
            Meeting.account_id == contact.account_id,
            Meeting.start_at > now,
            or_(Meeting.outcome.is_(None), Meeting.outcome != "canceled"),
            or_(Meeting.id.in_(attending), Meeting.id.in_(associated)),
        )
        .order_by(Meeting.start_at, Meeting.id)
        .limit(1)
    ).first()


def contact_view(session: Session, contact: Contact, now: datetime | None = None) -> ContactView:
    """A3: the contact card's data: details, the latest timeline items, the next meeting."""
    rows, _ = timeline.timeline(session, contact, None, cards.MAX_TIMELINE)
    upcoming = next_meeting(session, contact, now or utcnow())
    return ContactView(
        contact_id=str(contact.id),
        email=contact.email,
        name=contact.name or None,
        company=contact.company.name if contact.company else None,
        timeline=[
            TimelineItemView(
                type=row.kind,
                title=row.title,
                occurred_at=row.occurred_at,
                item_id=str(row.id),
            )
            for row in rows
        ],
        next_meeting=(
            (upcoming.title, upcoming.start_at)
            if upcoming is not None and upcoming.start_at is not None
            else None
        ),
    )


# --------------------------------------------------------------------------- writes


def add_contact(
    session: Session,
    user: User,
    event: CalendarEvent,
    email: str,
    vendor_domains: Sequence[str],
) -> Contact:
    """A4: the contact for a guest of ``event``, created from the guest's name and address.

    Idempotent on the account's unique (email) constraint: a double click or a replay after a
    consent prompt finds the contact the first call made.
    """
    wanted = normalize_email(email)
    person = next((p for p in guests(event, user) if normalize_email(p.email) == wanted), None)
    if person is None:
        raise Refused("That address isn't a guest of this meeting.")
    return add_person(session, user, person.email, person.name, vendor_domains)


def add_person(
    session: Session, user: User, email: str, name: str, vendor_domains: Sequence[str]
) -> Contact:
    """A4: the person becomes a contact of the rep's account (idempotently), named as the
    calendar or the email names them; people of the rep's own company never do (R4)."""
    if len(email.strip()) > EMAIL_MAX:
        raise Refused("That address is too long to be a contact's.")
    directory = accounts.directory(session, user.account_id, vendor_domains)
    if directory.is_internal(normalize_email(email)):
        raise Refused("People of your own company aren't added as contacts.")
    first, _, last = " ".join(name.replace("\x00", "").split()).partition(" ")
    full = f"{first[:NAME_MAX]} {last[:NAME_MAX]}".strip()
    return services.ensure_contact(session, user.account_id, email.strip(), full)


def ensure_meeting(
    session: Session, user: User, event: CalendarEvent, vendor_domains: Sequence[str]
) -> Meeting:
    """The meeting engagement of ``event``, logged now if it was not (A5, A6).

    Looked up by the event id within the account; else created with the attendees linked to
    their contacts. The idempotency key makes a concurrent second create find the first.
    """
    found = meeting_for_event(session, user, event.id)
    if found is not None:
        return found
    directory = accounts.directory(session, user.account_id, vendor_domains)
    people = guests(event, user)
    contacts = services.contacts_by_email(session, user.account_id, (p.email for p in people))
    external = [c for key, c in contacts.items() if not directory.is_internal(key)]
    start = event.start or utcnow()
    key = meeting_key(event.id)
    try:
        with session.begin_nested():
            meeting = services.create_meeting(
                session,
                user.account_id,
                title=(event.title or "(No title)")[:TITLE_MAX],
                start=start,
                end=max(event.end or start, start),
                people=directory,
                attendees=people,
                associations=[("contact", c.id) for c in external],
                owner=user,
                source=SOURCE,
                description=event.description,
                time_zone=event.time_zone,
                location=event.location[:TITLE_MAX] or None,
                video_url=(event.video_url or "")[:2048] or None,
                external_calendar_id=CALENDAR,
                external_event_id=event.id,
                ical_uid=event.ical_uid,
                idempotency_key=key,
            )
    except IntegrityError:  # the same event, logged concurrently: use that one
        other = session.scalar(
            select(Meeting).where(
                Meeting.account_id == user.account_id, Meeting.idempotency_key == key
            )
        )
        if other is None:
            raise
        return other
    return meeting


def mark_started(
    session: Session,
    user: User,
    event: CalendarEvent,
    vendor_domains: Sequence[str],
    now: datetime,
) -> Meeting:
    """A5: ``started_at`` on the meeting engagement (the first start counts)."""
    meeting = ensure_meeting(session, user, event, vendor_domains)
    if meeting.started_at is None:
        meeting.started_at = now.astimezone(UTC)
        session.flush()
    return meeting


def save_note(
    session: Session,
    user: User,
    event: CalendarEvent,
    body: str,
    nonce: str | None,
    vendor_domains: Sequence[str],
) -> Note:
    """A6: the note on the meeting engagement, with the server's time and the rep as author."""
    meeting = ensure_meeting(session, user, event, vendor_domains)
    key = note_key(user, event.id, nonce) if nonce else None
    return services.add_note(session, meeting, body, user, idempotency_key=key)
