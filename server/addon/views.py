"""Plain values the card builders render. Handlers fill them from the CRM and the calendar.

Nothing here knows about Flask, the database or Google's wire format; ids are strings because
they travel back to us as ``action.parameters`` (string to string).
"""

from __future__ import annotations

import secrets
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, tzinfo
from typing import Literal

AttendeeStatus = Literal["contact", "internal", "not_contact"]


@dataclass(frozen=True)
class RenderContext:
    """What every card needs besides its data: where actions go, the rep's zone and locale.

    ``nonce`` is per render: the Add and Save buttons carry it so that a replayed click (double
    click, or Google re-running the action after a consent prompt) can be recognised.
    """

    public_base_url: str
    tz: tzinfo
    locale: str | None = None
    nonce: str = ""

    @classmethod
    def create(cls, public_base_url: str, tz: tzinfo, locale: str | None = None) -> RenderContext:
        """A context with a fresh random nonce."""
        return cls(public_base_url, tz, locale, secrets.token_urlsafe(12))


@dataclass(frozen=True)
class AttendeeView:
    """A meeting guest, resolved against the CRM (rule A3)."""

    email: str
    name: str | None = None
    status: AttendeeStatus = "not_contact"
    contact_id: str | None = None
    response_status: str | None = None  # Calendar's accepted / declined / tentative / needsAction
    organizer: bool = False


@dataclass(frozen=True)
class NoteView:
    """A note saved on a meeting (rule A6). ``created_at`` must be timezone-aware."""

    body: str
    created_at: datetime
    author_email: str | None = None
    note_id: str | None = None


@dataclass(frozen=True)
class MeetingSummaryView:
    """One line of the home card (rule A2)."""

    event_id: str
    calendar_id: str
    title: str
    start: datetime | None
    end: datetime | None
    all_day: bool = False
    attendee_emails: Sequence[str] = ()
    meeting_id: str | None = None


@dataclass(frozen=True)
class MeetingView:
    """A calendar event with its CRM side (rules A3-A6).

    ``meeting_id`` is None until the meeting engagement exists in the CRM; the actions then
    carry ``event_id``/``calendar_id`` so the handler can create it.
    """

    event_id: str
    calendar_id: str
    title: str
    start: datetime | None
    end: datetime | None
    all_day: bool = False
    attendees: Sequence[AttendeeView] = ()
    notes: Sequence[NoteView] = ()
    video_url: str | None = None
    calendar_url: str | None = None
    meeting_id: str | None = None
    started_at: datetime | None = None


@dataclass(frozen=True)
class TimelineItemView:
    """One entry of a contact's timeline (``type``: meeting, note, task, call, email, ...)."""

    type: str
    title: str
    occurred_at: datetime
    item_id: str | None = None


@dataclass(frozen=True)
class ContactView:
    """A CRM contact as the contact card shows it."""

    contact_id: str
    email: str
    name: str | None = None
    company: str | None = None
    timeline: Sequence[TimelineItemView] = field(default_factory=tuple)
    #: The contact's next scheduled meeting (title, start), if any.
    next_meeting: tuple[str, datetime] | None = None


@dataclass(frozen=True)
class HomeView:
    """The home card's data: the rep's meetings of ``day`` (in their zone)."""

    day: date
    meetings: Sequence[MeetingSummaryView] = ()
    #: Gmail: the open message's sender; meetings with them are listed first.
    highlight_email: str | None = None
    #: Set when the rep's stored calendar grant no longer works: shows a reconnect banner.
    reconnect_url: str | None = None
    notice: str | None = None


MessageRole = Literal["From", "To", "Cc"]


@dataclass(frozen=True)
class MessagePersonView:
    """A person of the open Gmail message, resolved against the CRM (rules A4, A7)."""

    email: str
    role: MessageRole
    name: str | None = None
    status: AttendeeStatus = "not_contact"
    contact_id: str | None = None


@dataclass(frozen=True)
class MessageView:
    """The message card's data (rule A7): the open message, its people, whether it is logged."""

    subject: str
    sent_at: datetime
    people: Sequence[MessagePersonView] = ()
    loggable: bool = True
    logged_by: str | None = None
    logged_at: datetime | None = None
    sender_email: str | None = None
    #: The sender's meetings today, then their next one after today (rule A2 in Gmail).
    sender_meetings_today: Sequence[MeetingSummaryView] = ()
    sender_next_meeting: MeetingSummaryView | None = None
    reconnect_url: str | None = None
