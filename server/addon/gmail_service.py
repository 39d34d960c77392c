"""The CRM side of the Gmail message card (A4, A7): the open message's people resolved against
the account, logging the message, adding one of its people as a contact. Services flush, the
request commits.

The message comes from :mod:`.gmail_api` (read with the rep's own tokens), so its people are the
ones the rep's mailbox shows.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy.orm import Session

from server.crm import accounts, emails, services
from server.crm.models import Contact, User, normalize_email

from . import service
from .gmail_api import OpenMessage, Person
from .service import Refused
from .views import AttendeeStatus, MeetingSummaryView, MessagePersonView, MessageView


def _roles(message: OpenMessage) -> list[tuple[Person, str]]:
    out: list[tuple[Person, str]] = []
    if message.sender is not None:
        out.append((message.sender, "From"))
    to = {p.email for p in message.to}
    out += [(p, "To" if p.email in to else "Cc") for p in message.recipients]
    return out


def person_views(
    session: Session, user: User, message: OpenMessage, vendor_domains: Sequence[str]
) -> list[MessagePersonView]:
    """Sender, then To and Cc, each marked contact / internal / not a contact."""
    people = _roles(message)
    directory = accounts.directory(session, user.account_id, vendor_domains)
    contacts = services.contacts_by_email(session, user.account_id, (p.email for p, _ in people))
    out = []
    for person, role in people:
        key = normalize_email(person.email)
        contact = contacts.get(key)
        status: AttendeeStatus = "not_contact"
        contact_id = None
        if directory.is_internal(key):
            status = "internal"
        elif contact is not None:
            status, contact_id = "contact", str(contact.id)
        out.append(
            MessagePersonView(
                email=person.email,
                role=role,  # type: ignore[arg-type]
                name=person.name or (contact.name if contact else None) or None,
                status=status,
                contact_id=contact_id,
            )
        )
    return out


def facts(message: OpenMessage) -> emails.MessageFacts:
    return emails.MessageFacts(
        rfc822_id=message.rfc822_id,
        subject=message.subject,
        sender=message.sender.email if message.sender else "",
        recipients=[p.email for p in message.recipients],
        sent_at=message.sent_at,
        excerpt=message.snippet,
    )


def message_view(
    session: Session,
    user: User,
    message: OpenMessage,
    vendor_domains: Sequence[str],
    *,
    today: Sequence[MeetingSummaryView] = (),
    upcoming: Sequence[MeetingSummaryView] = (),
    now: datetime | None = None,
    reconnect_url: str | None = None,
) -> MessageView:
    logged = emails.find(session, user.account_id, message.rfc822_id)
    sender = message.sender.email if message.sender else None
    with_sender = [m for m in today if sender and sender in (e.lower() for e in m.attendee_emails)]
    later = [
        m
        for m in upcoming
        if sender
        and sender in (e.lower() for e in m.attendee_emails)
        and m not in with_sender
        and (now is None or m.start is None or m.start > now)
    ]
    return MessageView(
        subject=message.subject,
        sent_at=message.sent_at,
        people=person_views(session, user, message, vendor_domains),
        loggable=bool(message.rfc822_id),
        logged_by=(
            (logged.logged_by.email if logged.logged_by else "a former user")
            if logged is not None
            else None
        ),
        logged_at=logged.logged_at if logged is not None else None,
        sender_email=sender,
        sender_meetings_today=with_sender,
        sender_next_meeting=later[0] if later else None,
        reconnect_url=reconnect_url,
    )


def log_message(
    session: Session, user: User, message: OpenMessage, vendor_domains: Sequence[str]
) -> emails.LogResult:
    """A7: log the open message once per account."""
    if not message.rfc822_id:
        raise Refused("This message has no Message-ID, so it can't be logged.")
    return emails.log_email(session, user, facts(message), vendor_domains)


def add_person(
    session: Session,
    user: User,
    message: OpenMessage,
    email: str,
    vendor_domains: Sequence[str],
) -> Contact:
    """A4 in Gmail: a contact from one of the message's people (name and address); the emails
    already logged with them land on the new contact's timeline."""
    wanted = normalize_email(email)
    person = next((p for p, _ in _roles(message) if p.email == wanted), None)
    if person is None:
        raise Refused("That address isn't on this message.")
    contact = service.add_person(session, user, person.email, person.name, vendor_domains)
    emails.link_contact(session, contact, vendor_domains)
    return contact
