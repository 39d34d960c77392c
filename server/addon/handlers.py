"""One function per add-on endpoint, run once the request is authenticated and the rep is
known with a calendar connection (see :mod:`.routes`). Each returns the response JSON.

Rules A2-A6 and C5 of ``reference/calendar-rules.md``. Ids in ``action.parameters`` come from
the client: an event id is only ever used through the rep's own Calendar token (a foreign one
is simply not found), and CRM ids are checked against the rep's account.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from functools import cached_property
from typing import Literal

import requests
from sqlalchemy.orm import Session

from server.calendars import connections, push
from server.calendars.models import CalendarConnection
from server.calendars.provider import CalendarEvent
from server.config import Settings
from server.crm.models import User
from server.crypto import TokenCipher

from . import cards, paths, people_cards, responses, service
from .calendar_api import CalendarReader, day_window, local_day
from .descriptor import EXTERNAL_LINK_PREFIXES
from .events import AddonEvent
from .responses import Json
from .service import Refused
from .views import HomeView, RenderContext

log = logging.getLogger(__name__)

Kind = Literal["trigger", "callback"]
MEET_PREFIX = "https://meet.google.com/"


@dataclass
class Call:
    """One authenticated add-on request of a known rep with a calendar connection."""

    settings: Settings
    path: str
    kind: Kind
    event: AddonEvent
    session: Session
    user: User
    connection: CalendarConnection
    now: datetime
    cipher: TokenCipher
    http: requests.Session
    ctx: RenderContext = field(init=False)

    def __post_init__(self) -> None:
        tz, locale = self.event.tz, self.event.locale
        self.ctx = RenderContext.create(self.settings.public_base_url, tz, locale)

    @cached_property
    def reader(self) -> CalendarReader:
        return CalendarReader(self.settings, self.event.user_oauth_token)

    @property
    def vendor_domains(self) -> tuple[str, ...]:
        return self.settings.crm_vendor_domains

    @property
    def reconnect_url(self) -> str | None:
        """Set while the stored grant needs renewing: cards then show a reconnect banner."""
        if self.connection.active:
            return None
        # The same provider again: an Outlook rep's banner must not offer to switch to Google.
        return connections.start_url(self.settings, self.user, self.connection.provider)

    def show(self, card: Json, notification: str | None = None) -> Json:
        """``card`` as the answer: a trigger's root card, or a drill-down from an action."""
        if self.kind == "trigger":
            return responses.trigger_response(card)
        return responses.push_card(card, notification)


Handler = Callable[[Call], Json]


# --------------------------------------------------------------------------- links


def _stand_in_origin(settings: Settings) -> str:
    """The origin of the configured Calendar API, with a trailing slash. A local stand-in
    serves its event and Meet pages there; Google's API host serves none."""
    api = settings.google_calendar_api_url
    scheme_end = api.find("//")
    slash = api.find("/", scheme_end + 2) if scheme_end >= 0 else -1
    return api[: slash + 1] if slash > 0 else ""


def _allowed(url: str | None, settings: Settings, video: bool = False) -> str | None:
    """``url`` if an ``openLink`` may go there: the descriptor's ``openLinkUrlPrefixes`` (only
    Meet for a video link: another provider's is not one), or a local stand-in's page."""
    if not url:
        return None
    ours = settings.public_base_url.rstrip("/") + "/"
    prefixes = (MEET_PREFIX,) if video else (ours, *EXTERNAL_LINK_PREFIXES)
    origin = _stand_in_origin(settings)
    return url if url.startswith(prefixes) or (origin and url.startswith(origin)) else None


def video_link(event: CalendarEvent, settings: Settings) -> str | None:
    """The event's Meet link, if it has one the sidebar may open (A5)."""
    return _allowed(event.video_url, settings, video=True)


def calendar_link(event: CalendarEvent, call: Call) -> str:
    """The event's page in Google Calendar (``htmlLink``), else its day in Calendar."""
    url = _allowed(event.html_link, call.settings)
    if url:
        return url
    if event.start is None:
        return "https://calendar.google.com/calendar/r"
    day = event.start.astimezone(call.ctx.tz)
    return f"https://calendar.google.com/calendar/r/day/{day.year}/{day.month}/{day.day}"


# --------------------------------------------------------------------------- A2 home


def _home(call: Call, highlight: str | None = None, notice: str | None = None) -> Json:
    day = local_day(call.now, call.ctx.tz)
    start, end = day_window(day, call.ctx.tz)
    events = call.reader.list_window(start, end)
    view = HomeView(
        day=day,
        meetings=service.summaries(call.session, call.user, events),
        highlight_email=highlight,
        reconnect_url=call.reconnect_url,
        notice=notice,
    )
    return cards.home_card(call.ctx, view)


def home(call: Call) -> Json:
    """A2: today's meetings in the rep's zone (Gmail and Calendar homepage)."""
    return responses.trigger_response(_home(call))


def refresh(call: Call) -> Json:
    """Back to a fresh home card."""
    return responses.pop_to_root(_home(call))


# --------------------------------------------------------------------------- A3 meeting card


def _event(call: Call, event_id: str | None = None) -> CalendarEvent:
    """The event an action names, read through the rep's token; checks ``meeting_id`` too."""
    wanted = event_id or call.event.param("event_id")
    found = call.reader.get_event(wanted) if wanted else None
    if found is None:
        raise Refused("This meeting isn't on your calendar (any more).")
    meeting_id = call.event.param("meeting_id")
    if meeting_id is not None:
        service.owned_meeting(call.session, call.user, meeting_id, found.id)
    return found


def _meeting_card(
    call: Call, event: CalendarEvent, *, note_error: str | None = None, note_draft: str = ""
) -> Json:
    view = service.meeting_view(
        call.session,
        call.user,
        event,
        call.vendor_domains,
        video_url=video_link(event, call.settings),
        calendar_url=_allowed(event.html_link, call.settings),
    )
    return cards.meeting_card(
        call.ctx,
        view,
        note_error=note_error,
        note_draft=note_draft or None,
        reconnect_url=call.reconnect_url,
    )


def calendar_event(call: Call) -> Json:
    """A2 in Calendar: the open event's meeting card directly (an unsaved event has no id)."""
    event_id = call.event.event_id
    if not event_id:
        return responses.trigger_response(cards.unsaved_event_card(call.ctx))
    found = call.reader.get_event(event_id)
    if found is None:
        message = (
            "This event isn't on your primary calendar, which is the only one "
            f"{cards.APP_NAME} reads."
        )
        card = cards.error_card(call.ctx, message, title="Event not found")
        return responses.trigger_response(card)
    return responses.trigger_response(_meeting_card(call, found))


def open_meeting(call: Call) -> Json:
    """A3: drill down from the home card to one meeting."""
    return call.show(_meeting_card(call, _event(call)))


def open_contact(call: Call) -> Json:
    """A3: a contact's card (name, email, company, latest timeline items)."""
    contact = service.owned_contact(call.session, call.user, call.event.param("contact_id"))
    view = service.contact_view(call.session, contact, call.now)
    return call.show(people_cards.contact_card(call.ctx, view))


# --------------------------------------------------------------------------- A4-A6 actions


def add_contact(call: Call) -> Json:
    """A4: a contact from the guest's name and address, then the refreshed meeting card."""
    event = _event(call)
    contact = service.add_contact(
        call.session, call.user, event, call.event.param("email") or "", call.vendor_domains
    )
    card = _meeting_card(call, event)
    return responses.update_card(card, f"{contact.name or contact.email} is now a contact")


def start_meeting(call: Call) -> Json:
    """A5: open the Meet link (else the event's Calendar page) in a new tab; the sidebar stays,
    and the meeting engagement records when it started."""
    event = _event(call)
    service.mark_started(call.session, call.user, event, call.vendor_domains, call.now)
    url = video_link(event, call.settings) or calendar_link(event, call)
    return responses.open_link_and_update(url, _meeting_card(call, event), "Meeting started")


def _note_text(call: Call) -> str:
    name = call.event.param("note_field") or ""
    if not name.startswith(cards.NOTE_FIELD_PREFIX):
        return ""
    return call.event.form_value(name) or ""


def _note_problem(text: str) -> str | None:
    if not text.strip():
        return "Write something first: the note is empty."
    if len(text) > cards.NOTE_MAX_CHARS:
        return (
            f"That note is too long: {len(text):,} characters (at most {cards.NOTE_MAX_CHARS:,})."
        )
    if "\x00" in text or any(0xD800 <= ord(ch) <= 0xDFFF for ch in text):
        return "That note contains characters that can't be saved."
    return None


def add_note(call: Call) -> Json:
    """A6: store the note on the meeting engagement (logging the meeting if needed) with the
    server's time and the rep as author; an empty or oversize note gets an inline error."""
    event = _event(call)
    text = _note_text(call)
    problem = _note_problem(text)
    if problem is not None:
        draft = text if "\x00" not in text else ""
        return responses.update_card(
            _meeting_card(call, event, note_error=problem, note_draft=draft)
        )
    service.save_note(
        call.session, call.user, event, text, call.event.param("nonce"), call.vendor_domains
    )
    return responses.update_card(_meeting_card(call, event), "Note saved")


# --------------------------------------------------------------------------- C5


def disconnect(call: Call) -> Json:
    """C5: stop the sync, stop push channels and drop the grant; what was logged stays."""
    push.disconnect(call.settings, call.session, call.cipher, call.connection, call.http)
    log.info("addon: calendar disconnected", extra={"connection_id": call.connection.id})
    card = cards.connect_card(call.ctx, connections.start_url(call.settings, call.user, "google"))
    return responses.pop_to_root(card, "Calendar disconnected. Your meetings and notes stay.")


HANDLERS: dict[str, tuple[Kind, Handler]] = {
    paths.HOME: ("trigger", home),
    paths.CALENDAR_EVENT: ("trigger", calendar_event),
    paths.OPEN_MEETING: ("callback", open_meeting),
    paths.OPEN_CONTACT: ("callback", open_contact),
    paths.ADD_CONTACT: ("callback", add_contact),
    paths.START_MEETING: ("callback", start_meeting),
    paths.ADD_NOTE: ("callback", add_note),
    paths.DISCONNECT: ("callback", disconnect),
    paths.REFRESH: ("callback", refresh),
}
