"""Pure translations between Google Calendar v3 event resources and the neutral values.

Resource reference: https://developers.google.com/calendar/api/v3/reference/events
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, date, datetime, time
from typing import Any, cast
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from server.calendars.provider import (
    MEETING,
    CalendarEvent,
    EventAttendee,
    EventChanges,
    EventStatus,
    NewEvent,
    Visibility,
)

_STATUSES = {"confirmed", "tentative", "cancelled"}
_VISIBILITIES = {"default", "public", "private", "confidential"}


def parse_timestamp(value: Any) -> datetime | None:
    """``created``/``updated``: RFC 3339 in UTC with milliseconds."""
    if not isinstance(value, str) or not value:
        return None
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def _zone(name: Any) -> ZoneInfo | None:
    if not isinstance(name, str) or not name:
        return None
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        return None


def parse_time(field: Any, fallback_tz: str | None = None) -> tuple[datetime | None, bool]:
    """An event time (``start``, ``end``, ``originalStartTime``): the instant and whether it
    is an all-day date. A wall-clock time without offset is read in its ``timeZone``."""
    if not isinstance(field, Mapping):
        return None, False
    if field.get("dateTime"):
        try:
            moment = datetime.fromisoformat(str(field["dateTime"]))
        except ValueError:
            return None, False
        if moment.tzinfo is None:
            moment = moment.replace(
                tzinfo=_zone(field.get("timeZone")) or _zone(fallback_tz) or UTC
            )
        return moment, False
    if field.get("date"):
        try:
            day = date.fromisoformat(str(field["date"]))
        except ValueError:
            return None, False
        return datetime.combine(day, time(), UTC), True
    return None, False


def _video_url(item: Mapping[str, Any]) -> str | None:
    if item.get("hangoutLink"):
        return str(item["hangoutLink"])
    conference = item.get("conferenceData")
    if isinstance(conference, Mapping):
        for entry in conference.get("entryPoints") or ():
            if isinstance(entry, Mapping) and entry.get("entryPointType") == "video":
                uri = entry.get("uri")
                return str(uri) if uri else None
    return None


def _attendee(raw: Mapping[str, Any]) -> EventAttendee | None:
    email = str(raw.get("email") or "").strip()
    if not email:
        return None  # Google omits the address of some guests; nothing can match them (R3)
    return EventAttendee(
        email=email,
        name=str(raw.get("displayName") or ""),
        response_status=str(raw.get("responseStatus") or "needsAction"),
        organizer=bool(raw.get("organizer")),
        self=bool(raw.get("self")),
        resource=bool(raw.get("resource")),
        optional=bool(raw.get("optional")),
    )


# Google's ``eventType``: "default" and "fromGmail" are meetings; focus time, out of office,
# working location and birthdays are not (R1).
_EVENT_TYPES = {
    "default": MEETING,
    "fromGmail": MEETING,
    "focusTime": "focus_time",
    "outOfOffice": "out_of_office",
    "workingLocation": "working_location",
    "birthday": "birthday",
}


def event_type(value: Any) -> str:
    """Google's ``eventType`` in the neutral vocabulary of :class:`CalendarEvent`."""
    if not value:
        return MEETING
    return _EVENT_TYPES.get(str(value), str(value))


def _mapping(value: Any) -> Mapping[str, Any]:
    return value if isinstance(value, Mapping) else {}


def parse_event(item: Mapping[str, Any], calendar_tz: str | None = None) -> CalendarEvent:
    """A Google event resource (full, exception or tombstone) as a :class:`CalendarEvent`."""
    status = str(item.get("status") or "confirmed")
    visibility = str(item.get("visibility") or "default")
    start_field = _mapping(item.get("start"))
    tz = str(start_field.get("timeZone") or calendar_tz or "") or None
    start, all_day = parse_time(item.get("start"), tz)
    end, _ = parse_time(item.get("end"), tz)
    original, _ = parse_time(item.get("originalStartTime"), tz)
    organizer = _mapping(item.get("organizer"))
    attendees = tuple(
        a
        for a in (_attendee(r) for r in item.get("attendees") or () if isinstance(r, Mapping))
        if a
    )
    return CalendarEvent(
        id=str(item["id"]),
        status=cast(EventStatus, status if status in _STATUSES else "confirmed"),
        recurring_event_id=str(item["recurringEventId"]) if item.get("recurringEventId") else None,
        original_start=original,
        is_series=bool(item.get("recurrence")),
        created=parse_timestamp(item.get("created")),
        updated=parse_timestamp(item.get("updated")),
        start=start,
        end=end,
        all_day=all_day,
        time_zone=tz,
        title=str(item.get("summary") or ""),
        description=str(item.get("description") or ""),
        location=str(item.get("location") or ""),
        visibility=cast(Visibility, visibility if visibility in _VISIBILITIES else "default"),
        organizer_email=str(organizer.get("email") or ""),
        organizer_name=str(organizer.get("displayName") or ""),
        attendees=attendees,
        video_url=_video_url(item),
        html_link=str(item["htmlLink"]) if item.get("htmlLink") else None,
        ical_uid=str(item["iCalUID"]) if item.get("iCalUID") else None,
        sequence=int(item.get("sequence") or 0),
        event_type=event_type(item.get("eventType")),
    )


def _time_field(moment: datetime, time_zone: str) -> dict[str, str]:
    # Wall-clock time in the meeting's zone plus the zone's name, so a guest in another zone
    # sees the right local time across DST (sending everything in UTC is what drifts).
    zone = _zone(time_zone) or UTC
    return {"dateTime": moment.astimezone(zone).isoformat(), "timeZone": str(zone)}


def _attendee_body(attendees: tuple[tuple[str, str], ...]) -> list[dict[str, str]]:
    out = []
    for email, name in attendees:
        entry = {"email": email}
        if name:
            entry["displayName"] = name
        out.append(entry)
    return out


def insert_body(event_id: str, event: NewEvent) -> dict[str, Any]:
    """The ``events.insert`` body with our client-chosen id (S1)."""
    body: dict[str, Any] = {
        "id": event_id,
        "summary": event.title,
        "start": _time_field(event.start, event.time_zone),
        "end": _time_field(event.end, event.time_zone),
        "attendees": _attendee_body(event.attendees),
    }
    if event.description:
        body["description"] = event.description
    if event.location:
        body["location"] = event.location
    if event.private_properties:
        body["extendedProperties"] = {"private": dict(event.private_properties)}
    return body


def patch_body(changes: EventChanges) -> dict[str, Any]:
    """The ``events.patch`` body: only the fields that change."""
    body: dict[str, Any] = {}
    zone = changes.time_zone or "UTC"
    if changes.title is not None:
        body["summary"] = changes.title
    if changes.description is not None:
        body["description"] = changes.description
    if changes.start is not None:
        body["start"] = _time_field(changes.start, zone)
    if changes.end is not None:
        body["end"] = _time_field(changes.end, zone)
    if changes.attendees is not None:
        body["attendees"] = _attendee_body(changes.attendees)
    return body
