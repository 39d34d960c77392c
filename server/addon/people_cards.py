"""The people cards: a contact's card (A3, the same from Calendar and Gmail) and the Gmail
message card (A4, A7): the open message's sender and recipients, "Log email", and the sender's
meetings today and next.

Action parameters (see :mod:`.cards` for the others):

=========================  ======================================================================
path                       parameters
=========================  ======================================================================
``log-email``              none (the message is the one the event object names)
``add-email-contact``      ``email`` (a person of the open message), ``nonce``
=========================  ======================================================================
"""

from __future__ import annotations

from collections.abc import Sequence

from . import paths
from .cards import MAX_TIMELINE, _meeting_lines, _more, reconnect_section
from .views import ContactView, MessagePersonView, MessageView, RenderContext
from .widgets import (
    Json,
    button,
    buttons,
    card,
    clip,
    decorated,
    esc,
    fmt_datetime,
    on_action,
    paragraph,
    section,
)

MAX_PEOPLE = 40
_TITLE_CHARS = 200
_STATUS_LABEL = {"contact": "Contact", "internal": "Internal", "not_contact": "Not a contact"}
_STATUS_ICON = {"contact": "PERSON", "internal": "MEMBERSHIP", "not_contact": "EMAIL"}


def contact_card(ctx: RenderContext, contact: ContactView) -> Json:
    """A3: a contact's name, email, company, latest timeline items (times in the rep's zone and
    locale), next scheduled meeting and id in the REST API's terms."""
    name = contact.name.strip() if contact.name else ""
    details = [
        decorated(esc(contact.email, 254), top="Email", icon="EMAIL"),
        decorated(esc(contact.company or "\u2014", 200), top="Company", icon="STORE"),
    ]
    if contact.next_meeting is not None:
        title, start = contact.next_meeting
        details.append(
            decorated(
                esc(title or "(No title)", _TITLE_CHARS),
                top=f"Next meeting \u00b7 {fmt_datetime(start, ctx)}",
                icon="INVITE",
            )
        )
    details.append(decorated(esc(contact.contact_id, 40), top="Contact id", icon="BOOKMARK"))
    items = sorted(contact.timeline, key=lambda i: i.occurred_at, reverse=True)
    lines = [
        decorated(
            esc(item.title or "(No title)", _TITLE_CHARS),
            top=f"{item.type.capitalize()} \u00b7 {fmt_datetime(item.occurred_at, ctx)}",
        )
        for item in items[:MAX_TIMELINE]
    ]
    if not lines:
        lines.append(paragraph("<i>No activity yet.</i>"))
    return card(
        "contact",
        name or contact.email,
        [section(details), section(lines, "Latest activity")],
        subtitle=contact.email if name else None,
    )


def _person_line(ctx: RenderContext, person: MessagePersonView) -> Json:
    name = person.name.strip() if person.name else ""
    top = f"{person.role} \u00b7 {_STATUS_LABEL[person.status]}"
    bottom = person.email if name else None
    icon = _STATUS_ICON[person.status]
    text = esc(name or person.email, 120)
    if person.status == "contact" and person.contact_id:
        click = on_action(ctx, paths.OPEN_CONTACT, contact_id=person.contact_id)
        return decorated(text, top=top, bottom=bottom, icon=icon, on_click=click)
    if person.status == "not_contact":
        add = on_action(ctx, paths.ADD_EMAIL_CONTACT, email=person.email, nonce=ctx.nonce)
        return decorated(text, top=top, bottom=bottom, icon=icon, end_button=button("Add", add))
    return decorated(text, top=top, bottom=bottom, icon=icon)


def _people_section(people: Sequence[MessagePersonView], ctx: RenderContext) -> Json:
    lines = [_person_line(ctx, p) for p in people[:MAX_PEOPLE]]
    if len(people) > MAX_PEOPLE:
        lines.append(_more(len(people) - MAX_PEOPLE, "people"))
    return section(lines, f"People ({len(people)})", visible=10)


def _log_section(ctx: RenderContext, message: MessageView) -> Json:
    if message.logged_by is not None:
        when = f" on {fmt_datetime(message.logged_at, ctx)}" if message.logged_at else ""
        text = f"Logged to the CRM by {esc(message.logged_by, 254)}{esc(when)}."
        return section([decorated(text, top="Email logged", icon="BOOKMARK")])
    if not message.loggable:
        return section([paragraph("This message has no Message-ID, so it can't be logged.")])
    contacts = sum(1 for p in message.people if p.status == "contact")
    hint = (
        f"Logs it on the timeline of {contacts} contact{'s' if contacts != 1 else ''}."
        if contacts
        else "None of its people is a contact yet: add them, then log it."
    )
    return section(
        [
            paragraph(hint),
            buttons(button("Log email", on_action(ctx, paths.LOG_EMAIL), filled=True)),
        ]
    )


def message_card(ctx: RenderContext, message: MessageView) -> Json:
    """A4, A7: the open message's people, "Log email" (or who logged it), and the sender's
    meetings today and next."""
    sections: list[Json] = []
    if message.reconnect_url:
        sections.append(reconnect_section(message.reconnect_url))
    sections.append(_log_section(ctx, message))
    sections.append(_people_section(message.people, ctx))
    if message.sender_email:
        lines = _meeting_lines(ctx, message.sender_meetings_today)
        if message.sender_next_meeting is not None:
            lines += _meeting_lines(ctx, [message.sender_next_meeting])
        if not lines:
            lines.append(paragraph("<i>No meetings with the sender today or coming up.</i>"))
        sections.append(section(lines, f"Meetings with {message.sender_email}"))
    return card(
        "message",
        clip(message.subject or "(No subject)", _TITLE_CHARS),
        sections,
        subtitle=fmt_datetime(message.sent_at, ctx),
        footer=(button("Refresh", on_action(ctx, paths.REFRESH)), None),
    )
