"""The calendar provider interface and the neutral values it returns.

A provider speaks to one rep's calendar (only the primary one, C2) with the rep's grant. It
never touches the database: the sync engine (``sync.py``) maps what it returns onto the CRM.
Google is the one implementation today (``google.py``); Microsoft Graph would be the next.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Literal, Protocol

EventStatus = Literal["confirmed", "tentative", "cancelled"]
Visibility = Literal["default", "public", "private", "confidential"]
SendUpdates = Literal["all", "externalOnly", "none"]
PRIVATE_VISIBILITIES = frozenset({"private", "confidential"})


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
    event_type: str = "default"

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
class WatchChannel:
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
    """The sync cursor is no longer valid (Google's 410): list everything again."""


class TemporaryError(ProviderError):
    """Rate limited or unavailable even after the retries; try again after ``retry_after``."""

    def __init__(self, message: str, status: int | None = None, retry_after: float = 60) -> None:
        super().__init__(message, status)
        self.retry_after = retry_after


class NotFound(ProviderError):
    """The event or channel does not exist (any more)."""


class CalendarProvider(Protocol):
    """What the sync engine, the outbox and the push channels need from a calendar."""

    def list_events(self, *, sync_token: str | None, page_token: str | None) -> EventPage: ...

    def get_event(self, event_id: str) -> CalendarEvent: ...

    def insert_event(
        self, event_id: str, event: NewEvent, send_updates: SendUpdates
    ) -> CalendarEvent: ...

    def patch_event(
        self, event_id: str, changes: EventChanges, send_updates: SendUpdates
    ) -> CalendarEvent: ...

    def watch(
        self, channel_id: str, token: str, address: str, ttl_seconds: int
    ) -> WatchChannel: ...

    def stop_channel(self, channel_id: str, resource_id: str) -> None: ...

    def close(self) -> None:
        """Release the HTTP connections."""
