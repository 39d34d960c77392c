"""Logged emails (rule A7): one ``email`` activity per RFC 822 ``Message-ID`` per account, on the
timeline of every contact among its sender and recipients.

R3/R4 apply: no contact is created, internal people (account domains, users, the vendor) are never
linked. The ``email_messages`` row keeps the message's people so that a contact added later can be
linked to the email it took part in. Idempotent on ``(account_id, rfc822_id)``: a second log, by
the same rep or another, finds the first and changes nothing.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import ForeignKey, String, Text, UniqueConstraint, or_, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Mapped, Session, mapped_column, relationship

from server.crm import accounts, services
from server.crm.models import EMAIL_MAX, TITLE_MAX, Activity, Contact, User, normalize_email
from server.db import Base, utcnow

#: RFC 5322 caps a header line at 998 characters.
MESSAGE_ID_MAX = 998
#: Longest text excerpt kept on the activity.
EXCERPT_MAX = 500
#: At most this many addresses are kept per message.
PEOPLE_MAX = 500
SOURCE = "gmail"


class EmailMessage(Base):
    """The message behind a logged ``email`` activity: its id, people and who logged it."""

    __tablename__ = "email_messages"
    __table_args__ = (UniqueConstraint("account_id", "rfc822_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("accounts.id", ondelete="CASCADE"))
    rfc822_id: Mapped[str] = mapped_column(String(MESSAGE_ID_MAX))
    activity_id: Mapped[int] = mapped_column(ForeignKey("engagements.id", ondelete="CASCADE"))
    sender: Mapped[str] = mapped_column(String(EMAIL_MAX))
    #: Normalised addresses of the To and Cc recipients, one a line.
    recipients: Mapped[str] = mapped_column(Text, default="")
    logged_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    logged_at: Mapped[datetime] = mapped_column(default=utcnow)

    activity: Mapped[Activity] = relationship()
    logged_by: Mapped[User | None] = relationship()

    @property
    def people(self) -> list[str]:
        return [self.sender, *(r for r in self.recipients.split("\n") if r)]


@dataclass(frozen=True)
class MessageFacts:
    """What the add-on read from the open message (metadata format)."""

    rfc822_id: str
    subject: str
    sender: str
    recipients: Sequence[str]
    sent_at: datetime
    excerpt: str = ""


@dataclass(frozen=True)
class LogResult:
    message: EmailMessage
    created: bool
    contacts: list[Contact]


def normalize_message_id(value: str) -> str:
    """``<abc@host>`` as stored: trimmed, angle brackets kept, at most the header's length."""
    return " ".join(value.split())[:MESSAGE_ID_MAX]


def _key(rfc822_id: str) -> str:
    return "email:" + hashlib.sha256(rfc822_id.encode()).hexdigest()[:48]


def find(session: Session, account_id: int, rfc822_id: str) -> EmailMessage | None:
    wanted = normalize_message_id(rfc822_id)
    if not wanted:
        return None
    return session.scalar(
        select(EmailMessage).where(
            EmailMessage.account_id == account_id, EmailMessage.rfc822_id == wanted
        )
    )


def _people(facts: MessageFacts) -> list[str]:
    seen = dict.fromkeys(
        normalize_email(a) for a in (facts.sender, *facts.recipients) if a and "@" in a
    )
    return [a for a in seen if len(a) <= EMAIL_MAX][:PEOPLE_MAX]


def _external_contacts(
    session: Session, account_id: int, emails: Sequence[str], vendor_domains: Sequence[str]
) -> list[Contact]:
    directory = accounts.directory(session, account_id, vendor_domains)
    found = services.contacts_by_email(session, account_id, emails)
    return [c for key, c in found.items() if not directory.is_internal(key)]


def log_email(
    session: Session, user: User, facts: MessageFacts, vendor_domains: Sequence[str]
) -> LogResult:
    """A7: the message as an ``email`` activity on every external contact among its people,
    the rep as author. Logged already in the account: the first log, unchanged."""
    rfc822_id = normalize_message_id(facts.rfc822_id)
    if not rfc822_id:
        raise ValueError("the message has no Message-ID")
    existing = find(session, user.account_id, rfc822_id)
    if existing is not None:
        return LogResult(existing, False, [])
    people = _people(facts)
    contacts = _external_contacts(session, user.account_id, people, vendor_domains)
    sender = normalize_email(facts.sender)[:EMAIL_MAX]
    recipients = [p for p in people if p != sender]
    lines = [f"From: {sender}", f"To: {', '.join(recipients)}"]
    excerpt = " ".join(facts.excerpt.split())[:EXCERPT_MAX]
    try:
        with session.begin_nested():
            activity = services.create_activity(
                session,
                user.account_id,
                "email",
                (facts.subject.strip() or "(No subject)")[:TITLE_MAX],
                facts.sent_at,
                body="\n".join([*lines, "", excerpt]) if excerpt else "\n".join(lines),
                source=SOURCE,
                owner=user,
                associations=[("contact", c.id) for c in contacts],
            )
            activity.idempotency_key = _key(rfc822_id)
            message = EmailMessage(
                account_id=user.account_id,
                rfc822_id=rfc822_id,
                activity_id=activity.id,
                sender=sender,
                recipients="\n".join(recipients),
                logged_by_id=user.id,
            )
            session.add(message)
            session.flush()
    except IntegrityError:  # logged concurrently (another rep, a double click): use that one
        other = find(session, user.account_id, rfc822_id)
        if other is None:
            raise
        return LogResult(other, False, [])
    return LogResult(message, True, contacts)


def link_contact(
    session: Session, contact: Contact, vendor_domains: Sequence[str]
) -> list[EmailMessage]:
    """A contact added after the fact gets the logged emails they took part in."""
    key = normalize_email(contact.email)
    directory = accounts.directory(session, contact.account_id, vendor_domains)
    if directory.is_internal(key):
        return []
    logged = session.scalars(
        select(EmailMessage).where(
            EmailMessage.account_id == contact.account_id,
            or_(EmailMessage.sender == key, EmailMessage.recipients.contains(key)),
        )
    )
    linked = []
    for message in logged:
        if key not in message.people:
            continue
        current = {(a.object_type, a.object_id) for a in message.activity.associations}
        if ("contact", contact.id) not in current:
            services.set_associations(
                session, message.activity, [*current, ("contact", contact.id)]
            )
            linked.append(message)
    return linked
