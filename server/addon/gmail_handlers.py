"""The Gmail side of the sidebar (rules A4, A7): the message card of the open email, "Log email",
and "Add" for its people. ``HANDLERS`` is every add-on endpoint: the Calendar / home ones of
:mod:`.handlers` plus these.

The open message is the one the event object names (``gmail.messageId``), read with the event's
``gmail.accessToken`` and ``userOAuthToken``: a message id or token that is not the rep's is not
found by Gmail, and the card says so. A Gmail API error gives a card that says what happened.
"""

from __future__ import annotations

import logging
from datetime import timedelta

from . import gmail_service, handlers, paths, people_cards, responses, service
from .calendar_api import GoogleApiError, day_window, local_day
from .cards import error_card
from .gmail_api import OpenMessage, read_message
from .handlers import Call, Handler, Kind
from .responses import Json
from .service import Refused

log = logging.getLogger(__name__)

#: How far ahead the message card looks for the sender's next meeting.
NEXT_MEETING_DAYS = 14


def _problem(exc: GoogleApiError) -> tuple[str, str]:
    """A title and a message for the rep, from a failed Gmail read (no token, no content)."""
    if exc.reason == "missingMessage":
        return "No message open", "Open an email to see its people and log it."
    if exc.status == 401:
        return (
            "Gmail access expired",
            "Gmail didn't accept the access for this message (it may have expired). "
            "Close and reopen the email, then try again.",
        )
    if exc.status in (400, 404):
        return "Message not found", "This message isn't in your mailbox (any more)."
    if exc.status == 403:
        return (
            "Gmail refused",
            "Gmail refused to show this message to the add-on. Reopen the email and allow "
            "the add-on to read it.",
        )
    if exc.status == 429:
        return "Gmail is busy", "Gmail asked us to slow down. Try again in a minute."
    return "Gmail is unavailable", "Gmail couldn't be reached just now. Try again in a minute."


def _message(call: Call) -> OpenMessage:
    event = call.event
    return read_message(
        call.settings, event.user_oauth_token, event.gmail_access_token, event.message_id
    )


def _message_card(call: Call, message: OpenMessage) -> Json:
    day = local_day(call.now, call.ctx.tz)
    start, end = day_window(day, call.ctx.tz)
    ahead = end + timedelta(days=NEXT_MEETING_DAYS)
    events = call.reader.list_window(start, ahead)
    summaries = service.summaries(call.session, call.user, events)
    today = [m for m in summaries if m.start is None or m.start < end]
    upcoming = [m for m in summaries if m.start is not None and m.start >= end]
    view = gmail_service.message_view(
        call.session,
        call.user,
        message,
        call.vendor_domains,
        today=today,
        upcoming=upcoming,
        now=call.now,
        reconnect_url=call.reconnect_url,
    )
    return people_cards.message_card(call.ctx, view)


def _failed(call: Call, exc: GoogleApiError) -> Json:
    log.warning(
        "addon: the open message could not be read",
        extra={"status": exc.status, "reason": exc.reason},
    )
    title, text = _problem(exc)
    return error_card(call.ctx, text, title=title)


def gmail_message(call: Call) -> Json:
    """The Gmail contextual trigger: the open message's card (A4, A7)."""
    try:
        message = _message(call)
    except GoogleApiError as exc:
        if exc.reason == "missingMessage":
            return handlers.home(call)
        return responses.trigger_response(_failed(call, exc))
    return responses.trigger_response(_message_card(call, message))


def refresh(call: Call) -> Json:
    """Back to the root: the message card when an email is open, else today's meetings."""
    if not call.event.message_id:
        return handlers.refresh(call)
    try:
        card = _message_card(call, _message(call))
    except GoogleApiError as exc:
        card = _failed(call, exc)
    return responses.pop_to_root(card)


def log_email(call: Call) -> Json:
    """A7: the open message as an email activity on every contact among its people, once."""
    try:
        message = _message(call)
    except GoogleApiError as exc:
        return responses.update_card(_failed(call, exc))
    result = gmail_service.log_message(call.session, call.user, message, call.vendor_domains)
    if result.created:
        count = len(result.contacts)
        text = f"Email logged on {count} contact timeline{'s' if count != 1 else ''}"
    else:
        who = result.message.logged_by.email if result.message.logged_by else "someone"
        text = f"Already logged by {who}"
    log.info(
        "addon: email logged" if result.created else "addon: email already logged",
        extra={"email_message_id": result.message.id, "user_id": call.user.id},
    )
    return responses.update_card(_message_card(call, message), text)


def add_email_contact(call: Call) -> Json:
    """A4 in Gmail: one of the message's people becomes a contact; the card refreshes."""
    try:
        message = _message(call)
    except GoogleApiError as exc:
        return responses.update_card(_failed(call, exc))
    email = call.event.param("email") or ""
    if not email:
        raise Refused("That address isn't on this message.")
    contact = gmail_service.add_person(call.session, call.user, message, email, call.vendor_domains)
    card = _message_card(call, message)
    return responses.update_card(card, f"{contact.name or contact.email} is now a contact")


HANDLERS: dict[str, tuple[Kind, Handler]] = handlers.HANDLERS | {
    paths.GMAIL_MESSAGE: ("trigger", gmail_message),
    paths.REFRESH: ("callback", refresh),
    paths.LOG_EMAIL: ("callback", log_email),
    paths.ADD_EMAIL_CONTACT: ("callback", add_email_contact),
}
