"""The event object Google's Gmail and Calendar hosts POST to an HTTP add-on, built for the
preview page.

Shape: https://developers.google.com/workspace/add-ons/concepts/event-objects and the JSON
schemas at the end of https://developers.google.com/workspace/add-ons/guides/alternate-runtimes
(``commonEventObject``, ``authorizationEventObject``, one host object). Pure functions: the
preview routes supply the tokens and the calendar event.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

Json = dict[str, Any]

HOST_APPS = ("GMAIL", "CALENDAR")

# Attendee keys the Calendar host passes on (event-objects doc, "Calendar event object").
_ATTENDEE_KEYS = (
    "email",
    "displayName",
    "optional",
    "organizer",
    "resource",
    "self",
    "responseStatus",
    "comment",
    "additionalGuests",
)
_CONFERENCE_KEYS = ("conferenceId", "conferenceSolution", "entryPoints", "notes", "parameters")


@dataclass(frozen=True)
class Tokens:
    """The ``authorizationEventObject`` values for one request."""

    user_oauth_token: str = field(repr=False)
    system_id_token: str = field(repr=False)
    user_id_token: str | None = field(default=None, repr=False)
    authorized_scopes: tuple[str, ...] = ()


def zone_offset_ms(time_zone: str, now: datetime) -> int:
    """``commonEventObject.timeZone.offset``: milliseconds from UTC in ``time_zone`` at ``now``."""
    offset = now.astimezone(ZoneInfo(time_zone)).utcoffset()
    return int(offset.total_seconds() * 1000) if offset is not None else 0


def calendar_host_object(event: Mapping[str, Any], calendar_id: str) -> Json:
    """The ``calendar`` object of an eventOpen event, from a Calendar API event resource.

    The host sends ids, organizer, attendees, conference data and capabilities, never the
    title or times (the add-on fetches those with ``events.get``).
    """
    out: Json = {"id": str(event["id"]), "calendarId": calendar_id}
    if event.get("recurringEventId"):
        out["recurringEventId"] = str(event["recurringEventId"])
    organizer = event.get("organizer")
    if isinstance(organizer, Mapping) and organizer.get("email"):
        out["organizer"] = {"email": str(organizer["email"])}
    attendees = event.get("attendees")
    if isinstance(attendees, list) and attendees:
        out["attendees"] = [
            {k: a[k] for k in _ATTENDEE_KEYS if k in a} for a in attendees if isinstance(a, dict)
        ]
    conference = event.get("conferenceData")
    if isinstance(conference, Mapping):
        kept = {k: conference[k] for k in _CONFERENCE_KEYS if k in conference}
        if kept:
            out["conferenceData"] = kept
    out["capabilities"] = {
        "canSeeAttendees": True,
        "canAddAttendees": True,
        "canSeeConferenceData": True,
        "canSetConferenceData": True,
        "canAddAttachments": False,
    }
    return out


def gmail_host_object(message_id: str, thread_id: str | None, access_token: str) -> Json:
    """The ``gmail`` object of a contextual-trigger event (ids plus the per-message token)."""
    out: Json = {"messageId": message_id, "accessToken": access_token}
    if thread_id:
        out["threadId"] = thread_id
    return out


def build_event(
    *,
    host_app: str,
    tokens: Tokens,
    time_zone: str,
    locale: str,
    now: datetime,
    form_inputs: Mapping[str, Json] | None = None,
    parameters: Mapping[str, str] | None = None,
    calendar: Json | None = None,
    gmail: Json | None = None,
) -> Json:
    """One event object as the host sends it on the web (``platform: WEB``).

    Trigger events (no widget) leave out ``formInputs`` and ``parameters``; the user's ID
    token is present only when ``userinfo.email`` was granted, as with Google.
    """
    if host_app not in HOST_APPS:
        raise ValueError(f"unknown host app {host_app!r}")
    common: Json = {
        "hostApp": host_app,
        "platform": "WEB",
        "timeZone": {"id": time_zone, "offset": zone_offset_ms(time_zone, now)},
        "userLocale": locale,
    }
    if form_inputs:
        common["formInputs"] = {name: dict(value) for name, value in form_inputs.items()}
    if parameters:
        common["parameters"] = dict(parameters)
    auth: Json = {
        "userOAuthToken": tokens.user_oauth_token,
        "systemIdToken": tokens.system_id_token,
        "authorizedScopes": list(tokens.authorized_scopes),
    }
    if tokens.user_id_token:
        auth["userIdToken"] = tokens.user_id_token
    event: Json = {"commonEventObject": common, "authorizationEventObject": auth}
    if calendar is not None:
        event["calendar"] = calendar
    if gmail is not None:
        event["gmail"] = gmail
    return event


def elide_tokens(event: Mapping[str, Any]) -> Json:
    """A copy of ``event`` for display: each token replaced by a note of its length."""
    out = {k: v for k, v in event.items() if k != "authorizationEventObject"}
    auth = event.get("authorizationEventObject")
    if isinstance(auth, Mapping):
        out["authorizationEventObject"] = {
            k: (
                f"<token: {len(v)} characters>" if k.endswith("Token") and isinstance(v, str) else v
            )
            for k, v in auth.items()
        }
    gmail = event.get("gmail")
    if isinstance(gmail, Mapping) and "accessToken" in gmail:
        out["gmail"] = {**gmail, "accessToken": "<token>"}
    return out
