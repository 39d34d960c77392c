"""Pure translations between Microsoft Graph event resources and the neutral values.

Resource reference: https://learn.microsoft.com/en-us/graph/api/resources/event and
https://learn.microsoft.com/en-us/graph/api/resources/datetimetimezone. Graph names time zones
the Windows way ("Pacific Standard Time"); CLDR's table (through ``tzlocal``) maps them to
IANA names and back. The client asks for every time in UTC (``Prefer: outlook.timezone``),
so an instant never depends on a zone table; the event's own zone
(``originalStartTimeZone``) is kept for display and for what the CRM writes back.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from tzlocal.windows_tz import tz_win, win_tz

from server.calendars.provider import (
    CalendarEvent,
    EventAttendee,
    EventChanges,
    NewEvent,
    Visibility,
)

# R8: Graph's sensitivity; "personal" is as private as "private" (closeio's map does the same).
_SENSITIVITY: dict[str, Visibility] = {
    "normal": "default",
    "personal": "private",
    "private": "private",
    "confidential": "confidential",
}
# Graph's response vocabulary in the neutral (Google's) one.
_RESPONSES = {
    "none": "needsAction",
    "notResponded": "needsAction",
    "organizer": "accepted",
    "accepted": "accepted",
    "tentativelyAccepted": "tentative",
    "declined": "declined",
}
_EVENT_TYPES = {"singleInstance", "occurrence", "exception", "seriesMaster"}


def iana_zone(name: Any) -> str | None:
    """A Graph zone name (Windows or IANA) as an IANA name, or None when unknown."""
    if not isinstance(name, str) or not name:
        return None
    candidate = win_tz.get(name, name)
    if candidate in ("UTC", "Etc/UTC", "tzone://Microsoft/Utc"):
        return "UTC"
    try:
        ZoneInfo(candidate)
    except (ZoneInfoNotFoundError, ValueError):
        return None
    return candidate


def windows_zone(name: str) -> str:
    """An IANA zone as Graph's Windows name (Graph takes both; Windows names are what every
    Outlook client understands). Unknown names go as they are."""
    return "UTC" if name in ("UTC", "Etc/UTC") else tz_win.get(name, name)


def parse_instant(value: Any) -> datetime | None:
    """``createdDateTime``, ``originalStart``: ISO 8601 in UTC with up to 7 fraction digits."""
    if not isinstance(value, str) or not value:
        return None
    text = value.strip().replace("Z", "+00:00")
    head, dot, rest = text.partition(".")
    if dot:  # Python reads at most 6 fraction digits
        digits = "".join(ch for ch in rest if ch.isdigit())
        text = f"{head}.{digits[:6]}{rest[len(digits) :]}"
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        return None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def parse_time(field: Any) -> datetime | None:
    """A ``dateTimeTimeZone``: a wall-clock time and the zone it is in."""
    if not isinstance(field, Mapping):
        return None
    moment = parse_instant(field.get("dateTime"))
    if moment is None:
        return None
    zone = iana_zone(field.get("timeZone")) or "UTC"
    return moment.replace(tzinfo=ZoneInfo(zone)).astimezone(UTC)


def _address(value: Any) -> tuple[str, str]:
    box = value.get("emailAddress") if isinstance(value, Mapping) else None
    if not isinstance(box, Mapping):
        return "", ""
    return str(box.get("address") or "").strip(), str(box.get("name") or "")


def _attendee(raw: Mapping[str, Any], organizer: str) -> EventAttendee | None:
    email, name = _address(raw)
    if not email:
        return None
    status = raw.get("status")
    response = str(status.get("response") or "none") if isinstance(status, Mapping) else "none"
    kind = str(raw.get("type") or "required")
    return EventAttendee(
        email=email,
        name=name,
        response_status=_RESPONSES.get(response, "needsAction"),
        organizer=email.lower() == organizer.lower(),
        resource=kind == "resource",
        optional=kind == "optional",
    )


def _video_url(item: Mapping[str, Any]) -> str | None:
    online = item.get("onlineMeeting")
    if isinstance(online, Mapping) and online.get("joinUrl"):
        return str(online["joinUrl"])
    return str(item["onlineMeetingUrl"]) if item.get("onlineMeetingUrl") else None


def _body_text(item: Mapping[str, Any]) -> str:
    body = item.get("body")
    if isinstance(body, Mapping) and body.get("contentType") == "text":
        return str(body.get("content") or "")
    return str(item.get("bodyPreview") or "")  # plain text Graph derives from the html body


def parse_event(item: Mapping[str, Any]) -> CalendarEvent:
    """A Graph event (``singleInstance``, ``occurrence``, ``exception`` or ``seriesMaster``),
    or a delta's ``@removed`` entry (a tombstone carrying nothing but its id)."""
    event_id = str(item["id"])
    if "@removed" in item:
        return CalendarEvent(id=event_id, status="cancelled")
    kind = str(item.get("type") or "singleInstance")
    kind = kind if kind in _EVENT_TYPES else "singleInstance"
    organizer, organizer_name = _address(item.get("organizer"))
    attendees = tuple(
        a
        for a in (
            _attendee(r, organizer) for r in item.get("attendees") or () if isinstance(r, Mapping)
        )
        if a
    )
    location = item.get("location")
    master = item.get("seriesMasterId")
    return CalendarEvent(
        id=event_id,
        status="cancelled" if item.get("isCancelled") else "confirmed",
        recurring_event_id=str(master) if master and kind != "seriesMaster" else None,
        original_start=parse_instant(item.get("originalStart")),
        is_series=kind == "seriesMaster",
        created=parse_instant(item.get("createdDateTime")),
        updated=parse_instant(item.get("lastModifiedDateTime")),
        start=parse_time(item.get("start")),
        end=parse_time(item.get("end")),
        all_day=bool(item.get("isAllDay")),
        time_zone=iana_zone(item.get("originalStartTimeZone"))
        or iana_zone(_mapping(item.get("start")).get("timeZone")),
        title=str(item.get("subject") or ""),
        description=_body_text(item),
        location=str(location.get("displayName") or "") if isinstance(location, Mapping) else "",
        visibility=_SENSITIVITY.get(str(item.get("sensitivity") or "normal"), "default"),
        organizer_email=organizer,
        organizer_name=organizer_name,
        attendees=attendees,
        video_url=_video_url(item),
        html_link=str(item["webLink"]) if item.get("webLink") else None,
        ical_uid=str(item["iCalUId"]) if item.get("iCalUId") else None,
        client_key=str(item["transactionId"]) if item.get("transactionId") else None,
    )


def _mapping(value: Any) -> Mapping[str, Any]:
    return value if isinstance(value, Mapping) else {}


def _time_field(moment: datetime, time_zone: str) -> dict[str, str]:
    # Graph ignores an offset inside dateTime: send the wall-clock time in the meeting's zone
    # and name the zone, so guests elsewhere see the right time across DST.
    zone = iana_zone(time_zone) or "UTC"
    local = moment.astimezone(ZoneInfo(zone)).replace(tzinfo=None)
    return {"dateTime": local.isoformat(timespec="seconds"), "timeZone": windows_zone(zone)}


def _attendees(attendees: tuple[tuple[str, str], ...]) -> list[dict[str, Any]]:
    return [
        {"type": "required", "emailAddress": {"address": email, "name": name or email}}
        for email, name in attendees
    ]


def insert_body(key: str, event: NewEvent) -> dict[str, Any]:
    """``POST /me/events``: ``transactionId`` makes a retried create return the first event
    instead of making (and inviting to) a second one."""
    body: dict[str, Any] = {
        "subject": event.title,
        "start": _time_field(event.start, event.time_zone),
        "end": _time_field(event.end, event.time_zone),
        "attendees": _attendees(event.attendees),
        "transactionId": key,
    }
    if event.description:
        body["body"] = {"contentType": "text", "content": event.description}
    if event.location:
        body["location"] = {"displayName": event.location}
    return body


def patch_body(changes: EventChanges) -> dict[str, Any]:
    """``PATCH /me/events/{id}``: only the fields that change."""
    body: dict[str, Any] = {}
    zone = changes.time_zone or "UTC"
    if changes.title is not None:
        body["subject"] = changes.title
    if changes.description is not None:
        body["body"] = {"contentType": "text", "content": changes.description}
    if changes.start is not None:
        body["start"] = _time_field(changes.start, zone)
    if changes.end is not None:
        body["end"] = _time_field(changes.end, zone)
    if changes.attendees is not None:
        body["attendees"] = _attendees(changes.attendees)
    return body
