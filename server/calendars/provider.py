"""The calendar provider interface and the neutral values it returns.

A provider speaks to one rep's calendar (only the primary one, C2) with the rep's grant. It
never touches the database: the sync engine (``sync.py``), the outbox (``outbox.py``) and the
push sweep (``push.py``) map what it returns onto the CRM. Each provider lives in a package of
its own (``calendars/google/``: ``client``, ``parse``, ``provider``, ``push``) and registers
itself in :mod:`server.calendars.providers`, keyed by ``connection.provider``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Literal, Protocol

EventStatus = Literal["confirmed", "tentative", "cancelled"]
Visibility = Literal["default", "public", "private", "confidential"]
PRIVATE_VISIBILITIES = frozenset({"private", "confidential"})
MEETING = "meeting"


@dataclass(frozen=True)
class EventAttendee:
    email: str
    name: str = ""
    response_status: str = "needsAction"
    organizer: bool = False
    self: bool = False
    resource: bool = False  # a room or equipment, never a person
    optional: bool = False


@dataclass(frozen=True)
class CalendarEvent:
    """One event as the provider lists it: a single event, a series master, an exception
    (a modified occurrence, ``recurring_event_id`` set) or a tombstone (``status`` cancelled,
    often with nothing but ids).

    Times are timezone-aware. All-day events carry midnight UTC of their dates and
    ``all_day=True``; their end is exclusive, as Google sends it.
    """

    id: str
    status: EventStatus = "confirmed"
    recurring_event_id: str | None = None
    original_start: datetime | None = None
    is_series: bool = False  # a recurring master (it carries the recurrence rules)
    created: datetime | None = None
    updated: datetime | None = None
    start: datetime | None = None
    end: datetime | None = None
    all_day: bool = False
    time_zone: str | None = None
    title: str = ""
    description: str = ""
    location: str = ""
    visibility: Visibility = "default"
    organizer_email: str = ""
    organizer_name: str = ""
    attendees: tuple[EventAttendee, ...] = ()
    video_url: str | None = None
    html_link: str | None = None
    ical_uid: str | None = None
    sequence: int = 0
    # The key the CRM created it under (S1) where the calendar keeps it apart from its id
    # (Graph's ``transactionId``); Google's events carry the key as their id.
    client_key: str | None = None
    # "meeting", or what else the calendar says it is ("focus_time", "out_of_office",
    # "working_location", ...): the parser maps the provider's vocabulary onto these.
    event_type: str = "meeting"

    @property
    def is_meeting(self) -> bool:
        return self.event_type == MEETING

    @property
    def cancelled(self) -> bool:
        return self.status == "cancelled"

    @property
    def private(self) -> bool:
        return self.visibility in PRIVATE_VISIBILITIES

    @property
    def is_instance(self) -> bool:
        return self.recurring_event_id is not None


@dataclass(frozen=True)
class EventPage:
    """One page of a listing. Exactly one of the cursors is set: ``next_page_token`` while
    more pages follow, ``next_sync_token`` on the last page."""

    events: tuple[CalendarEvent, ...]
    next_page_token: str | None = None
    next_sync_token: str | None = None
    time_zone: str | None = None
    # The time range a full listing covers, where the calendar lists a window and not the
    # whole calendar (Graph's calendarView): reconciling then judges only meetings inside it.
    window: tuple[datetime, datetime] | None = None


@dataclass(frozen=True)
class NewEvent:
    """An event the CRM schedules (S1). ``attendees`` are addresses with display names."""

    title: str
    start: datetime
    end: datetime
    time_zone: str = "UTC"
    description: str = ""
    location: str = ""
    attendees: tuple[tuple[str, str], ...] = ()
    private_properties: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class EventChanges:
    """Fields of an event to change (S3); ``None`` leaves a field as it is."""

    title: str | None = None
    description: str | None = None
    start: datetime | None = None
    end: datetime | None = None
    time_zone: str | None = None
    attendees: tuple[tuple[str, str], ...] | None = None


@dataclass(frozen=True)
class Subscription:
    """A push channel (Google) or subscription (Graph) as the provider answered it."""

    id: str
    resource_id: str
    expires_at: datetime


class ProviderError(Exception):
    """The provider failed in a way that retrying now will not fix."""

    def __init__(self, message: str, status: int | None = None, reason: str = "") -> None:
        super().__init__(message)
        self.status = status
        self.reason = reason


class ReconnectNeeded(ProviderError):
    """The stored grant no longer works (revoked, expired): the rep must connect again."""


class FullSyncRequired(ProviderError):
    """The sync cursor is no longer valid (a 410), or the listed window has to move forward:
    list everything again. The message says which, for the sync log."""


class TemporaryError(ProviderError):
    """Rate limited or unavailable even after the retries; try again after ``retry_after``."""

    def __init__(self, message: str, status: int | None = None, retry_after: float = 60) -> None:
        super().__init__(message, status)
        self.retry_after = retry_after


class NotFound(ProviderError):
    """The event or channel does not exist (any more)."""


class PushChannels(Protocol):
    """Push notifications for the primary calendar: one interface for Google's watch channels
    and Graph's subscriptions. ``push.py`` owns the rows and the sweep; the provider only talks
    to the calendar. Verifying an incoming notification needs no grant: see
    :attr:`server.calendars.providers.CalendarIntegration.read_push`."""

    def subscribe(
        self, subscription_id: str, secret: str, address: str, ttl_seconds: int
    ) -> Subscription:
        """Ask for notifications of changes to the primary calendar at ``address``.
        ``subscription_id`` is ours when the provider lets the caller choose it (Google); the
        answer carries the id the provider uses. ``secret`` comes back with every notification
        (Google's channel token, Graph's ``clientState``)."""
        ...

    def renew(self, subscription: Subscription, ttl_seconds: int) -> Subscription | None:
        """Extend a live subscription, or ``None`` when the provider cannot (Google): the
        caller then subscribes anew and stops the old one once the new one is live."""
        ...

    def unsubscribe(self, subscription_id: str, resource_id: str) -> None:
        """Stop notifications; :class:`NotFound` when the provider no longer knows it."""
        ...


class CalendarProvider(PushChannels, Protocol):
    """What the sync engine, the outbox and the push sweep need from a calendar.

    Every method may raise :class:`ReconnectNeeded` (the grant stopped working),
    :class:`TemporaryError` (rate limited or unavailable after the provider's own retries) or
    :class:`ProviderError` (anything else that retrying now will not fix).
    """

    def list_events(self, *, sync_token: str | None, page_token: str | None) -> EventPage:
        """One page of the primary calendar (C2): everything when ``sync_token`` is ``None``
        (tombstones included), else the changes since it. Exactly one cursor of the answer is
        set (see :class:`EventPage`). Raises :class:`FullSyncRequired` when ``sync_token`` is
        no longer accepted: the caller then lists everything again."""
        ...

    def get_event(self, event_id: str) -> CalendarEvent:
        """One event by its provider id; :class:`NotFound` when it does not exist."""
        ...

    def create_event(self, key: str, event: NewEvent, *, notify: bool) -> CalendarEvent:
        """Create ``event`` (S1) exactly once per ``key``: a retry with the same key (the first
        answer was lost) returns the event the first call made and invites nobody twice. The
        answer's ``id`` is the provider's and is stored apart from the key. ``notify`` sends
        the invitations."""
        ...

    def update_event(self, event_id: str, changes: EventChanges, *, notify: bool) -> CalendarEvent:
        """Change the fields ``changes`` sets (S3); :class:`NotFound` when the event is gone."""
        ...

    def current_grant(self) -> str:
        """The refresh token as it stands now: a provider that rotates it (Microsoft) hands
        back a new one, which the caller stores in place of the one it opened with."""
        ...

    def close(self) -> None:
        """Release the HTTP connections."""
        ...
