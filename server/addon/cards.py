"""The add-on's cards, as pure functions from view values to google.apps.card.v1 JSON.

Rules A1-A6 of ``reference/calendar-rules.md``. Card reference:
https://developers.google.com/workspace/add-ons/reference/rpc/google.apps.card.v1 and
https://developers.google.com/workspace/add-ons/concepts/cards (limits: 100 widgets per card).

Every action calls ``PUBLIC_BASE_URL`` + a fixed path (:mod:`server.addon.paths`) and carries ids
as string parameters:

=========================  ======================================================================
path                       parameters
=========================  ======================================================================
``open-meeting``           ``event_id``, ``calendar_id``, ``meeting_id``?
``open-contact``           ``contact_id``, ``event_id``?, ``calendar_id``?
``add-contact``            ``email``, ``name``?, ``event_id``, ``calendar_id``, ``meeting_id``?,
                           ``nonce``
``start-meeting``          ``event_id``, ``calendar_id``, ``meeting_id``? (an
                           ``openDynamicLinkAction``: answer with ``responses.open_link``)
``add-note``               ``event_id``, ``calendar_id``, ``meeting_id``?, ``nonce``,
                           ``note_field`` (the form input holding the text)
``refresh``, ``disconnect``  none
=========================  ======================================================================

Parameters arrive from the client and can be tampered with: handlers must check every id
against the verified rep's account.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime, time

from . import paths
from .views import (
    AttendeeView,
    HomeView,
    MeetingSummaryView,
    MeetingView,
    NoteView,
    RenderContext,
)
from .widgets import (
    Json,
    action,
    button,
    buttons,
    card,
    clip,
    decorated,
    error_text,
    esc,
    fmt_datetime,
    fmt_day,
    fmt_range,
    fmt_time,
    on_action,
    on_open_link,
    paragraph,
    section,
)

APP_NAME = "Meeting Assistant"
#: Longest note the add-on accepts (characters); handlers reject longer ones with an inline error.
NOTE_MAX_CHARS = 5000
NOTE_FIELD_PREFIX = "note_"

MAX_HOME_MEETINGS = 40
MAX_ATTENDEES = 40
MAX_NOTES = 25
MAX_TIMELINE = 20
_TITLE_CHARS = 200
_NOTE_SHOWN_CHARS = 1000

_STATUS_LABEL = {"contact": "Contact", "internal": "Internal", "not_contact": "Not a contact"}
_STATUS_ICON = {"contact": "PERSON", "internal": "MEMBERSHIP", "not_contact": "EMAIL"}
_RESPONSE_LABEL = {
    "accepted": "Accepted",
    "declined": "Declined",
    "tentative": "Maybe",
    "needsAction": "Awaiting reply",
}


def note_field(ctx: RenderContext) -> str:
    """The name of the note text input in this render.

    It changes with every render so that a card updated after a save shows an empty input.
    """
    return NOTE_FIELD_PREFIX + (ctx.nonce or "new")


def _more(count: int, noun: str) -> Json:
    return paragraph(f"<i>+ {count} more {noun}</i>")


def _refresh_button(ctx: RenderContext, text: str = "Refresh") -> Json:
    return button(text, on_action(ctx, paths.REFRESH))


# --------------------------------------------------------------------------- A1 and identity


def connect_card(ctx: RenderContext, connect_url: str) -> Json:
    """A1: the rep has no connected Google calendar yet.

    The button opens ``connect_url`` (``paths.connect_url(base, signed_state)``) in an overlay;
    when the rep closes it, Google reloads this card, which then shows the home card.
    """
    return card(
        "connect",
        APP_NAME,
        [
            section(
                [
                    paragraph(
                        "Connect your Google Calendar to see today's meetings, link their "
                        "attendees to your contacts and take notes that land on every "
                        "contact's timeline."
                    ),
                    buttons(
                        button(
                            "Connect Google Calendar",
                            on_open_link(connect_url, overlay_reload=True),
                            filled=True,
                        )
                    ),
                ]
            )
        ],
        subtitle="Connect your calendar",
    )


def unknown_rep_card(ctx: RenderContext, email: str) -> Json:
    """The verified Google user is not a user of any account: say so, show no data."""
    return card(
        "unknown-rep",
        APP_NAME,
        [
            section(
                [
                    paragraph(
                        f"<b>{esc(email, 254)}</b> is not a user of a {APP_NAME} account. "
                        "Ask your administrator to add you, then try again."
                    ),
                    buttons(_refresh_button(ctx, "Try again")),
                ]
            )
        ],
        subtitle="You're not set up yet",
    )


def reconnect_section(connect_url: str) -> Json:
    """A banner section: the stored calendar grant stopped working (revoked or expired)."""
    return section(
        [
            paragraph(
                error_text(
                    "Your calendar connection stopped working, so meetings no "
                    "longer sync to the CRM."
                )
            ),
            buttons(button("Reconnect", on_open_link(connect_url, overlay_reload=True))),
        ]
    )


# --------------------------------------------------------------------------- A2 home


def _meeting_line(ctx: RenderContext, meeting: MeetingSummaryView) -> Json:
    guests = len(meeting.attendee_emails)
    return decorated(
        esc(meeting.title or "(No title)", _TITLE_CHARS),
        top=fmt_range(meeting.start, meeting.end, ctx, all_day=meeting.all_day),
        bottom=f"{guests} guest{'s' if guests != 1 else ''}" if guests else None,
        icon="INVITE",
        on_click=on_action(
            ctx,
            paths.OPEN_MEETING,
            event_id=meeting.event_id,
            calendar_id=meeting.calendar_id,
            meeting_id=meeting.meeting_id,
        ),
    )


def _meeting_lines(ctx: RenderContext, meetings: Sequence[MeetingSummaryView]) -> list[Json]:
    lines = [_meeting_line(ctx, m) for m in meetings[:MAX_HOME_MEETINGS]]
    if len(meetings) > MAX_HOME_MEETINGS:
        lines.append(_more(len(meetings) - MAX_HOME_MEETINGS, "meetings"))
    return lines


def home_card(ctx: RenderContext, home: HomeView) -> Json:
    """A2: the rep's meetings of the day, each opening its meeting card.

    With ``highlight_email`` (Gmail: the open message's sender), the meetings that include that
    address come first, in a section of their own.
    """
    sections: list[Json] = []
    if home.reconnect_url:
        sections.append(reconnect_section(home.reconnect_url))
    if home.notice:
        sections.append(section([paragraph(esc(home.notice, 500))]))
    rest = list(home.meetings)
    first: list[MeetingSummaryView] = []
    if home.highlight_email:
        wanted = home.highlight_email.strip().lower()
        first = [m for m in rest if wanted in (e.lower() for e in m.attendee_emails)]
        rest = [m for m in rest if m not in first]
        if first:
            sections.append(section(_meeting_lines(ctx, first), f"With {home.highlight_email}"))
    if rest:
        header = "Other meetings today" if first else None
        sections.append(section(_meeting_lines(ctx, rest), header))
    if not home.meetings:
        sections.append(section([paragraph("No meetings today.")]))
    day_text = fmt_day(datetime.combine(home.day, time(12)), ctx)  # naive: printed as is
    return card(
        "home",
        "Today's meetings",
        sections,
        subtitle=day_text,
        footer=(_refresh_button(ctx), None),
        menu=[("Disconnect calendar", on_action(ctx, paths.DISCONNECT))],
    )


# --------------------------------------------------------------------------- A3-A6 meeting


def _meeting_ids(meeting: MeetingView) -> dict[str, str | None]:
    return {
        "event_id": meeting.event_id,
        "calendar_id": meeting.calendar_id,
        "meeting_id": meeting.meeting_id,
    }


def _attendee_line(ctx: RenderContext, meeting: MeetingView, person: AttendeeView) -> Json:
    labels = [_STATUS_LABEL[person.status]]
    if person.organizer:
        labels.append("Organizer")
    if person.response_status in _RESPONSE_LABEL:
        labels.append(_RESPONSE_LABEL[person.response_status])
    name = person.name.strip() if person.name else ""
    top = " \u00b7 ".join(labels)
    bottom = person.email if name else None
    icon = _STATUS_ICON[person.status]
    text = esc(name or person.email, 120)
    if person.status == "contact" and person.contact_id:
        click = on_action(
            ctx,
            paths.OPEN_CONTACT,
            contact_id=person.contact_id,
            event_id=meeting.event_id,
            calendar_id=meeting.calendar_id,
        )
        return decorated(text, top=top, bottom=bottom, icon=icon, on_click=click)
    if person.status == "not_contact":
        add = on_action(
            ctx,
            paths.ADD_CONTACT,
            email=person.email,
            name=name or None,
            nonce=ctx.nonce,
            **_meeting_ids(meeting),
        )
        return decorated(text, top=top, bottom=bottom, icon=icon, end_button=button("Add", add))
    return decorated(text, top=top, bottom=bottom, icon=icon)


def _note_line(ctx: RenderContext, note: NoteView) -> Json:
    when = fmt_datetime(note.created_at, ctx)
    top = f"{when} \u00b7 {note.author_email}" if note.author_email else when
    return decorated(esc(note.body, _NOTE_SHOWN_CHARS), top=top, icon="DESCRIPTION")


def _notes_section(
    ctx: RenderContext, meeting: MeetingView, note_error: str | None, note_draft: str | None
) -> Json:
    field_name = note_field(ctx)
    text_input: Json = {
        "name": field_name,
        "label": "New note",
        "type": "MULTIPLE_LINE",
    }
    if note_draft:
        text_input["value"] = note_draft[:NOTE_MAX_CHARS]
    widgets: list[Json] = [{"textInput": text_input}]
    if note_error:
        widgets.append(paragraph(error_text(note_error)))
    save = on_action(
        ctx, paths.ADD_NOTE, nonce=ctx.nonce, note_field=field_name, **_meeting_ids(meeting)
    )
    widgets.append(buttons(button("Save note", save, filled=True)))
    notes = sorted(meeting.notes, key=lambda n: n.created_at, reverse=True)
    widgets += [_note_line(ctx, n) for n in notes[:MAX_NOTES]]
    if len(notes) > MAX_NOTES:
        widgets.append(_more(len(notes) - MAX_NOTES, "notes"))
    if not notes:
        widgets.append(paragraph("<i>No notes yet.</i>"))
    return section(widgets, "Notes")


def meeting_card(
    ctx: RenderContext,
    meeting: MeetingView,
    *,
    note_error: str | None = None,
    note_draft: str | None = None,
    reconnect_url: str | None = None,
) -> Json:
    """A3-A6: when, who (contact / internal / not a contact, with Add), Start, and notes.

    ``note_error`` shows inline under the note input, which keeps ``note_draft``.
    """
    sections: list[Json] = []
    if reconnect_url:
        sections.append(reconnect_section(reconnect_url))
    when = fmt_range(meeting.start, meeting.end, ctx, all_day=meeting.all_day)
    day = None
    if meeting.start and meeting.all_day:  # a calendar date, the same in every zone
        day = fmt_day(datetime.combine(meeting.start.astimezone(UTC).date(), time(12)), ctx)
    elif meeting.start:
        day = fmt_day(meeting.start, ctx)
    about = [decorated(esc(when), top=day, icon="CLOCK")]
    if meeting.started_at:
        about.append(
            decorated(esc(fmt_time(meeting.started_at, ctx)), top="Started", icon="VIDEO_PLAY")
        )
    sections.append(section(about))

    people = list(meeting.attendees)
    lines = [_attendee_line(ctx, meeting, p) for p in people[:MAX_ATTENDEES]]
    if len(people) > MAX_ATTENDEES:
        lines.append(_more(len(people) - MAX_ATTENDEES, "guests"))
    if not lines:
        lines.append(paragraph("<i>No guests.</i>"))
    sections.append(section(lines, f"Attendees ({len(people)})", visible=10))
    sections.append(_notes_section(ctx, meeting, note_error, note_draft))

    start_link = {
        "openDynamicLinkAction": action(ctx, paths.START_MEETING, **_meeting_ids(meeting))
    }
    start = button("Start meeting", start_link, filled=True)
    calendar = (
        button("Open in Calendar", on_open_link(meeting.calendar_url))
        if meeting.calendar_url
        else None
    )
    return card(
        "meeting",
        clip(meeting.title or "(No title)", _TITLE_CHARS),
        sections,
        subtitle=f"{day}, {when}" if day else when,
        footer=(start, calendar),
    )


# --------------------------------------------------------------------------- contact and others


def unsaved_event_card(ctx: RenderContext) -> Json:
    """Calendar opened an event that has no id yet (a new, unsaved event)."""
    return card(
        "unsaved-event",
        APP_NAME,
        [
            section(
                [
                    paragraph(
                        "This event isn't saved yet. Save it in Calendar, then open it again "
                        "to see its attendees and take notes."
                    )
                ]
            )
        ],
        subtitle="Save the event first",
    )


def error_card(ctx: RenderContext, message: str, *, title: str = "Something went wrong") -> Json:
    """A friendly failure: ``message`` is shown as plain text, with a way back home."""
    return card(
        "error",
        title,
        [section([paragraph(esc(message, 1000)), buttons(_refresh_button(ctx, "Back to today"))])],
        subtitle=APP_NAME,
    )
