"""CRM tables as SQLAlchemy 2 typed models.

Engagements share one table (single-table inheritance on ``kind``): meetings, notes and the
generic activities (task, call, email, form submission, ...) that the syncs exchange. A note
hangs off its meeting through ``parent_id``; associations link any engagement to contacts,
companies, deals and tickets.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import (
    JSON,
    Boolean,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
    case,
    false,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from server.db import Base, utcnow

EMAIL_MAX = 254
NAME_MAX = 200
TITLE_MAX = 500
NOTE_MAX = 10_000


def normalize_email(email: str) -> str:
    """The comparison form of an address: trimmed and lower-cased (R3: no alias guessing)."""
    return email.strip().lower()


def email_domain(email: str) -> str:
    return normalize_email(email).rpartition("@")[2]


class Timestamped:
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)


class Account(Timestamped, Base):
    __tablename__ = "accounts"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(NAME_MAX))
    domains: Mapped[list[AccountDomain]] = relationship(
        back_populates="account", cascade="all, delete-orphan", order_by="AccountDomain.domain"
    )


class AccountDomain(Base):
    """An internal email domain of the account (R4: its people are never logged)."""

    __tablename__ = "account_domains"
    __table_args__ = (UniqueConstraint("account_id", "domain"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("accounts.id", ondelete="CASCADE"))
    domain: Mapped[str] = mapped_column(String(253))
    account: Mapped[Account] = relationship(back_populates="domains")


class User(Timestamped, Base):
    """A rep. The address is unique across accounts: it is how the add-on finds the rep."""

    __tablename__ = "users"

    id: Mapped[int] = mapped_column(primary_key=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("accounts.id", ondelete="CASCADE"))
    email: Mapped[str] = mapped_column(String(EMAIL_MAX))
    email_normalized: Mapped[str] = mapped_column(String(EMAIL_MAX), unique=True)
    name: Mapped[str] = mapped_column(String(NAME_MAX), default="")
    # Account admins manage users, domains, API tokens and Salesforce in the settings app.
    is_admin: Mapped[bool] = mapped_column(default=False, server_default=false())
    account: Mapped[Account] = relationship()


class ApiToken(Base):
    """An account API token; only its SHA-256 is stored, the token is shown once. A revoked
    token stays listed (with when it was revoked) and is refused at once."""

    __tablename__ = "api_tokens"

    id: Mapped[int] = mapped_column(primary_key=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("accounts.id", ondelete="CASCADE"))
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    prefix: Mapped[str] = mapped_column(String(12))
    name: Mapped[str] = mapped_column(String(100), default="")
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    last_used_at: Mapped[datetime | None]
    revoked_at: Mapped[datetime | None]


class Company(Timestamped, Base):
    __tablename__ = "companies"

    id: Mapped[int] = mapped_column(primary_key=True)
    account_id: Mapped[int] = mapped_column(
        ForeignKey("accounts.id", ondelete="CASCADE"), index=True
    )
    name: Mapped[str] = mapped_column(String(NAME_MAX))
    domain: Mapped[str | None] = mapped_column(String(253))


class Deal(Timestamped, Base):
    __tablename__ = "deals"

    id: Mapped[int] = mapped_column(primary_key=True)
    account_id: Mapped[int] = mapped_column(
        ForeignKey("accounts.id", ondelete="CASCADE"), index=True
    )
    name: Mapped[str] = mapped_column(String(NAME_MAX))
    company_id: Mapped[int | None] = mapped_column(ForeignKey("companies.id", ondelete="SET NULL"))


class Ticket(Timestamped, Base):
    __tablename__ = "tickets"

    id: Mapped[int] = mapped_column(primary_key=True)
    account_id: Mapped[int] = mapped_column(
        ForeignKey("accounts.id", ondelete="CASCADE"), index=True
    )
    name: Mapped[str] = mapped_column(String(NAME_MAX))


class Contact(Timestamped, Base):
    __tablename__ = "contacts"
    __table_args__ = (UniqueConstraint("account_id", "email_normalized"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("accounts.id", ondelete="CASCADE"))
    email: Mapped[str] = mapped_column(String(EMAIL_MAX))
    email_normalized: Mapped[str] = mapped_column(String(EMAIL_MAX))
    first_name: Mapped[str] = mapped_column(String(NAME_MAX), default="")
    last_name: Mapped[str] = mapped_column(String(NAME_MAX), default="")
    company_id: Mapped[int | None] = mapped_column(ForeignKey("companies.id", ondelete="SET NULL"))
    company: Mapped[Company | None] = relationship()

    @property
    def name(self) -> str:
        return " ".join(part for part in (self.first_name, self.last_name) if part)


class Engagement(Timestamped, Base):
    """Anything that happened with contacts: a meeting, a note, a task, a call, an email, ..."""

    __tablename__ = "engagements"
    __table_args__ = (
        UniqueConstraint("account_id", "idempotency_key"),
        Index("ix_engagements_account_occurred", "account_id", "occurred_at", "id"),
        # Only notes have a parent: a partial index stays small, and its statistics do not
        # tell the planner that a parent lookup matches every meeting (which made SQLite scan).
        Index(
            "ix_engagements_parent_id",
            "parent_id",
            postgresql_where=text("parent_id IS NOT NULL"),
            sqlite_where=text("parent_id IS NOT NULL"),
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("accounts.id", ondelete="CASCADE"))
    kind: Mapped[str] = mapped_column(String(32))
    title: Mapped[str] = mapped_column(String(TITLE_MAX), default="")
    body: Mapped[str] = mapped_column(Text, default="")
    occurred_at: Mapped[datetime] = mapped_column(default=utcnow)
    source: Mapped[str] = mapped_column(String(32), default="crm")
    owner_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    parent_id: Mapped[int | None] = mapped_column(ForeignKey("engagements.id", ondelete="CASCADE"))
    # A client-chosen key (an add-on action's nonce, a sync's external id) that makes a retried
    # create return the first result instead of a second row.
    idempotency_key: Mapped[str | None] = mapped_column(String(200))
    # Free-form fields of an activity (REST ``properties``): flat, scalar values.
    properties: Mapped[dict[str, Any] | None] = mapped_column(JSON)

    owner: Mapped[User | None] = relationship()
    associations: Mapped[list[Association]] = relationship(
        back_populates="engagement", cascade="all, delete-orphan", order_by="Association.id"
    )

    # Meetings and notes have classes of their own; every other kind loads as an Activity.
    __mapper_args__: dict[str, Any] = {
        "polymorphic_on": case(
            (kind == "meeting", "meeting"), (kind == "note", "note"), else_="activity"
        ),
        "polymorphic_abstract": True,
    }


class Activity(Engagement):
    """A generic activity (task, call, email, form submission, ...); ``kind`` says which."""

    __mapper_args__: dict[str, Any] = {"polymorphic_identity": "activity"}


class Meeting(Engagement):
    start_at: Mapped[datetime | None] = mapped_column(use_existing_column=True)
    end_at: Mapped[datetime | None] = mapped_column(use_existing_column=True)
    time_zone: Mapped[str | None] = mapped_column(String(64), use_existing_column=True)
    outcome: Mapped[str | None] = mapped_column(String(32), use_existing_column=True)
    location: Mapped[str | None] = mapped_column(String(TITLE_MAX), use_existing_column=True)
    video_url: Mapped[str | None] = mapped_column(String(2048), use_existing_column=True)
    external_calendar_id: Mapped[str | None] = mapped_column(String(1024), use_existing_column=True)
    external_event_id: Mapped[str | None] = mapped_column(
        String(1024), index=True, use_existing_column=True
    )
    ical_uid: Mapped[str | None] = mapped_column(String(1024), use_existing_column=True)
    started_at: Mapped[datetime | None] = mapped_column(use_existing_column=True)

    attendees: Mapped[list[Attendee]] = relationship(
        back_populates="meeting", cascade="all, delete-orphan", order_by="Attendee.id"
    )
    notes: Mapped[list[Note]] = relationship(
        primaryjoin="Meeting.id == foreign(Note.parent_id)",
        order_by="(Note.occurred_at.desc(), Note.id.desc())",
        cascade="all, delete-orphan",
        overlaps="notes",
    )

    __mapper_args__: dict[str, Any] = {"polymorphic_identity": "meeting"}

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(kind="meeting", **kwargs)


class Note(Engagement):
    """A note; ``occurred_at`` is the server's timestamp, ``owner`` its author."""

    __mapper_args__: dict[str, Any] = {"polymorphic_identity": "note"}

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(kind="note", **kwargs)


ACTIVITY_KINDS = ("task", "call", "email", "form_submission", "marketing_email", "activity")
MEETING_OUTCOMES = ("scheduled", "completed", "canceled", "rescheduled", "no_show")
OBJECT_TYPES = ("contact", "company", "deal", "ticket")


class Attendee(Base):
    __tablename__ = "attendees"
    __table_args__ = (UniqueConstraint("meeting_id", "email_normalized"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    meeting_id: Mapped[int] = mapped_column(ForeignKey("engagements.id", ondelete="CASCADE"))
    email: Mapped[str] = mapped_column(String(EMAIL_MAX))
    email_normalized: Mapped[str] = mapped_column(String(EMAIL_MAX))
    name: Mapped[str] = mapped_column(String(NAME_MAX), default="")
    response_status: Mapped[str] = mapped_column(String(32), default="needsAction")
    organizer: Mapped[bool] = mapped_column(Boolean, default=False)
    internal: Mapped[bool] = mapped_column(Boolean, default=False)
    contact_id: Mapped[int | None] = mapped_column(
        ForeignKey("contacts.id", ondelete="SET NULL"), index=True
    )
    meeting: Mapped[Meeting] = relationship(back_populates="attendees")


class Association(Base):
    """Links an engagement to a contact, company, deal or ticket of the same account."""

    __tablename__ = "associations"
    __table_args__ = (
        UniqueConstraint("engagement_id", "object_type", "object_id"),
        Index("ix_associations_object", "object_type", "object_id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    engagement_id: Mapped[int] = mapped_column(ForeignKey("engagements.id", ondelete="CASCADE"))
    object_type: Mapped[str] = mapped_column(String(16))
    object_id: Mapped[int] = mapped_column(Integer)
    engagement: Mapped[Engagement] = relationship(back_populates="associations")
