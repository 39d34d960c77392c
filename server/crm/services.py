"""CRM services: the operations the REST API, the add-on and the syncs share.

Every function takes the session and the account it acts for, so no caller can reach another
account's rows: an id from another account is indistinguishable from an unknown one. Services
flush; the caller's boundary commits.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, TypeVar

from sqlalchemy import Select, delete, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from server.crm import events
from server.crm.accounts import Directory
from server.crm.models import (
    Activity,
    Association,
    Attendee,
    Company,
    Contact,
    Deal,
    Engagement,
    Meeting,
    Note,
    Ticket,
    User,
    normalize_email,
)
from server.db import Base, utcnow
from server.errors import Conflict, Invalid
from server.rows import get_owned

T = TypeVar("T", bound=Base)
OBJECT_MODELS: dict[str, type[Any]] = {
    "contact": Contact,
    "company": Company,
    "deal": Deal,
    "ticket": Ticket,
}


# --- generic lookups -----------------------------------------------------------------------


def page(
    session: Session, query: Select[tuple[T]], id_column: Any, cursor: int | None, limit: int
) -> tuple[list[T], int | None]:
    """Keyset pagination by ascending id: the rows after ``cursor`` and the next cursor."""
    if cursor is not None:
        query = query.where(id_column > cursor)
    rows = list(session.scalars(query.order_by(id_column).limit(limit + 1)))
    more = len(rows) > limit
    rows = rows[:limit]
    return rows, (int(rows[-1].id) if more and rows else None)  # type: ignore[attr-defined]


# --- contacts ------------------------------------------------------------------------------


def find_contact(session: Session, account_id: int, email: str) -> Contact | None:
    return session.scalar(
        select(Contact).where(
            Contact.account_id == account_id, Contact.email_normalized == normalize_email(email)
        )
    )


def contacts_by_email(
    session: Session, account_id: int, emails: Iterable[str]
) -> dict[str, Contact]:
    """The account's contacts among ``emails``, keyed by normalised address (one query)."""
    wanted = {normalize_email(e) for e in emails}
    if not wanted:
        return {}
    rows = session.scalars(
        select(Contact).where(
            Contact.account_id == account_id, Contact.email_normalized.in_(wanted)
        )
    )
    return {c.email_normalized: c for c in rows}


def create_contact(
    session: Session,
    account_id: int,
    email: str,
    first_name: str = "",
    last_name: str = "",
    company_id: int | None = None,
) -> Contact:
    """Create a contact; an address already used in the account (any case) is a conflict."""
    if company_id is not None:
        get_owned(session, Company, account_id, company_id)
    if find_contact(session, account_id, email):
        raise Conflict("a contact with this email already exists", {"email": email})
    contact = Contact(
        account_id=account_id,
        email=email.strip(),
        email_normalized=normalize_email(email),
        first_name=first_name,
        last_name=last_name,
        company_id=company_id,
    )
    try:
        with session.begin_nested():
            session.add(contact)
    except IntegrityError as exc:  # a concurrent create of the same address won
        raise Conflict("a contact with this email already exists", {"email": email}) from exc
    link_attendees_to_contact(session, contact)
    events.emit_contact(session, events.ContactEvent("created", contact.id, account_id))
    return contact


def ensure_contact(session: Session, account_id: int, email: str, name: str = "") -> Contact:
    """The contact for ``email``, created from ``name`` if there is none (idempotent, A4)."""
    existing = find_contact(session, account_id, email)
    if existing:
        return existing
    first, _, last = name.strip().partition(" ")
    try:
        return create_contact(session, account_id, email, first, last.strip())
    except Conflict:
        found = find_contact(session, account_id, email)
        assert found is not None
        return found


def update_contact(session: Session, contact: Contact, changes: dict[str, Any]) -> Contact:
    if "email" in changes:
        normalized = normalize_email(changes["email"])
        other = find_contact(session, contact.account_id, normalized)
        if other and other.id != contact.id:
            raise Conflict("a contact with this email already exists", {"email": changes["email"]})
        contact.email = changes["email"].strip()
        contact.email_normalized = normalized
    if changes.get("company_id") is not None:
        get_owned(session, Company, contact.account_id, changes["company_id"])
    for key in ("first_name", "last_name", "company_id"):
        if key in changes:
            setattr(contact, key, changes[key])
    session.flush()
    if "email" in changes:
        link_attendees_to_contact(session, contact)
        event = events.ContactEvent("email_changed", contact.id, contact.account_id)
        events.emit_contact(session, event)
    return contact


def delete_contact(session: Session, contact: Contact) -> None:
    session.execute(
        delete(Association).where(
            Association.object_type == "contact", Association.object_id == contact.id
        )
    )
    session.delete(contact)
    session.flush()


def link_attendees_to_contact(session: Session, contact: Contact) -> None:
    """Point the account's meeting attendees with this address at the contact."""
    meeting_ids = select(Engagement.id).where(Engagement.account_id == contact.account_id)
    for attendee in session.scalars(
        select(Attendee).where(
            Attendee.email_normalized == contact.email_normalized,
            Attendee.meeting_id.in_(meeting_ids),
            Attendee.internal.is_(False),
        )
    ):
        attendee.contact_id = contact.id
    session.flush()


# --- companies, deals, tickets -------------------------------------------------------------


def create_record(session: Session, account_id: int, object_type: str, name: str) -> Any:
    row = OBJECT_MODELS[object_type](account_id=account_id, name=name)
    session.add(row)
    session.flush()
    return row


# --- meetings and notes --------------------------------------------------------------------


@dataclass(frozen=True)
class AttendeeInput:
    email: str
    name: str = ""
    response_status: str = "needsAction"
    organizer: bool = False


def set_attendees(
    session: Session, meeting: Meeting, attendees: Sequence[AttendeeInput], people: Directory
) -> None:
    """Replace the meeting's attendees, linking each to its contact and marking internal ones."""
    wanted: dict[str, AttendeeInput] = {}
    for item in attendees:
        wanted.setdefault(normalize_email(item.email), item)
    contacts = contacts_by_email(session, meeting.account_id, wanted)
    current = {a.email_normalized: a for a in meeting.attendees}
    for key, attendee in current.items():
        if key not in wanted:
            meeting.attendees.remove(attendee)
    for key, item in wanted.items():
        row = current.get(key) or Attendee(email=item.email.strip(), email_normalized=key)
        row.name = item.name or row.name or ""
        row.response_status = item.response_status
        row.organizer = item.organizer
        row.internal = people.is_internal(key)
        contact = contacts.get(key)
        # R4 / A3: internal people are shown as such and never put a meeting on a timeline.
        row.contact_id = contact.id if contact and not row.internal else None
        if key not in current:
            meeting.attendees.append(row)
    session.flush()


def set_associations(
    session: Session, engagement: Engagement, associations: Iterable[tuple[str, int]]
) -> None:
    """Replace the engagement's associations; each object must belong to the same account."""
    wanted = list(dict.fromkeys(associations))
    for object_type, object_id in wanted:
        if object_type not in OBJECT_MODELS:
            raise Invalid("unknown association type", {"type": object_type})
        get_owned(session, OBJECT_MODELS[object_type], engagement.account_id, object_id)
    keep = set(wanted)
    for assoc in list(engagement.associations):
        if (assoc.object_type, assoc.object_id) not in keep:
            engagement.associations.remove(assoc)
    have = {(a.object_type, a.object_id) for a in engagement.associations}
    for object_type, object_id in wanted:
        if (object_type, object_id) not in have:
            engagement.associations.append(
                Association(object_type=object_type, object_id=object_id)
            )
    session.flush()


def create_meeting(
    session: Session,
    account_id: int,
    *,
    title: str,
    start: datetime,
    end: datetime,
    people: Directory,
    attendees: Sequence[AttendeeInput] = (),
    associations: Iterable[tuple[str, int]] = (),
    owner: User | None = None,
    source: str = "crm",
    description: str = "",
    time_zone: str | None = None,
    outcome: str = "scheduled",
    notify: bool = True,
    **fields: Any,
) -> Meeting:
    """Create a meeting; subscribers hear of it (a CRM-made one gets its calendar event, S1,
    with invitations when ``notify``)."""
    if end < start:
        raise Invalid("a meeting cannot end before it starts", {"end": end.isoformat()})
    meeting = Meeting(
        account_id=account_id,
        title=title,
        body=description,
        start_at=start,
        end_at=end,
        occurred_at=start,
        time_zone=time_zone,
        source=source,
        outcome=outcome,
        owner_id=owner.id if owner else None,
        **fields,
    )
    session.add(meeting)
    session.flush()
    set_attendees(session, meeting, attendees, people)
    set_associations(session, meeting, associations)
    events.emit_for(session, "created", meeting, notify=notify)
    return meeting


def reschedule(meeting: Meeting, start: datetime, end: datetime) -> None:
    if end < start:
        raise Invalid("a meeting cannot end before it starts", {"end": end.isoformat()})
    meeting.start_at, meeting.end_at, meeting.occurred_at = start, end, start


def add_note(
    session: Session,
    meeting: Meeting,
    body: str,
    author: User | None,
    idempotency_key: str | None = None,
) -> Note:
    """Save a note on the meeting with the server's timestamp (A6).

    With an ``idempotency_key`` a replayed submission returns the note it made the first time.
    """
    if not body.strip():
        raise Invalid("a note cannot be empty", {"body": "empty"})
    if idempotency_key:
        existing = session.scalar(
            select(Note).where(
                Note.account_id == meeting.account_id, Note.idempotency_key == idempotency_key
            )
        )
        if existing:
            if existing.parent_id != meeting.id:
                raise Conflict("the idempotency key was used for another meeting")
            return existing
    note = Note(
        account_id=meeting.account_id,
        parent_id=meeting.id,
        body=body,
        title=body.strip().splitlines()[0][:120],
        occurred_at=utcnow(),
        owner_id=author.id if author else None,
        source=meeting.source,
        idempotency_key=idempotency_key,
    )
    try:
        with session.begin_nested():
            session.add(note)
    except IntegrityError:  # the same submission, concurrently
        found = session.scalar(
            select(Note).where(
                Note.account_id == meeting.account_id, Note.idempotency_key == idempotency_key
            )
        )
        assert found is not None
        return found
    session.expire(meeting, ["notes"])
    events.emit_for(session, "created", note)
    return note


def create_activity(
    session: Session,
    account_id: int,
    kind: str,
    title: str,
    occurred_at: datetime,
    *,
    body: str = "",
    source: str = "crm",
    owner: User | None = None,
    associations: Iterable[tuple[str, int]] = (),
) -> Activity:
    activity = Activity(
        account_id=account_id,
        kind=kind,
        title=title,
        body=body,
        occurred_at=occurred_at,
        source=source,
        owner_id=owner.id if owner else None,
    )
    session.add(activity)
    session.flush()
    set_associations(session, activity, associations)
    return activity
