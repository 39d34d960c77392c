"""Engagement events: what the CRM tells the features that follow it (the calendar outbox
now, the Salesforce push next) when a meeting, note or activity is created, changed or
deleted; and contact events, when a contact is created or its address changes. No CRM
module imports a feature; a feature subscribes in ``create_app``.

Events are delivered inside the transaction that made the change, so what a subscriber
writes (an outbox row) commits or rolls back with it: a crash loses nothing and a rollback
leaves nothing behind. Work for the queue is handed over after the commit
(:func:`server.rows.after_commit`). Subscribers live on the :class:`~server.db.Database`, so
two apps in one process (tests) never see each other's.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal

from sqlalchemy.orm import Session

from server.db import Database

if TYPE_CHECKING:
    from server.crm.models import Engagement

Kind = Literal["created", "changed", "deleted"]
_KEY = "engagement_subscribers"


@dataclass(frozen=True)
class EngagementEvent:
    kind: Kind
    engagement_id: int
    account_id: int
    engagement_type: str  # "meeting", "note", an activity type
    source: str  # who made it: "crm" (the API), "calendar", "assistant", ...
    changed: frozenset[str] = frozenset()  # for "changed": the fields that changed
    notify: bool = True  # tell the people concerned (a meeting's guests)


Subscriber = Callable[[Session, EngagementEvent], None]


def subscribe(database: Database, subscriber: Subscriber) -> None:
    subscribers: list[Subscriber] = database.session_info.setdefault(_KEY, [])
    if subscriber not in subscribers:
        subscribers.append(subscriber)


def emit(session: Session, event: EngagementEvent) -> None:
    for subscriber in session.info.get(_KEY, ()):
        subscriber(session, event)


def emit_for(
    session: Session,
    kind: Kind,
    engagement: Engagement,
    *,
    changed: frozenset[str] = frozenset(),
    notify: bool = True,
) -> None:
    """Tell the subscribers that ``engagement`` was created, changed or is being deleted."""
    emit(
        session,
        EngagementEvent(
            kind,
            engagement.id,
            engagement.account_id,
            engagement.kind,
            engagement.source,
            changed,
            notify,
        ),
    )


# -- contacts: a new address to look up (the Salesforce sync links contacts by email) ---------

_CONTACT_KEY = "contact_subscribers"


@dataclass(frozen=True)
class ContactEvent:
    kind: Literal["created", "email_changed"]
    contact_id: int
    account_id: int


ContactSubscriber = Callable[[Session, ContactEvent], None]


def subscribe_contacts(database: Database, subscriber: ContactSubscriber) -> None:
    subscribers: list[ContactSubscriber] = database.session_info.setdefault(_CONTACT_KEY, [])
    if subscriber not in subscribers:
        subscribers.append(subscriber)


def emit_contact(session: Session, event: ContactEvent) -> None:
    for subscriber in session.info.get(_CONTACT_KEY, ()):
        subscriber(session, event)
