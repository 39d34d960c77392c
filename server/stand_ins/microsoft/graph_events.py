"""Microsoft Graph calendar events as the stand-in stores and renders them.

Shapes follow the event resource (https://learn.microsoft.com/en-us/graph/api/resources/event)
and dateTimeTimeZone (https://learn.microsoft.com/en-us/graph/api/resources/datetimetimezone):
instants are kept as aware UTC datetimes plus the event's zone (a Windows name, as Outlook's
``originalStartTimeZone``); ``start``/``end`` are rendered as wall-clock time in the zone the
request asks for with ``Prefer: outlook.timezone`` (https://learn.microsoft.com/en-us/graph/api/
user-list-events#support-various-time-zones). Fields are copied on write, never changed in place,
so a shallow copy of a :class:`StoredEvent` is a snapshot.
"""

from __future__ import annotations

import base64
import copy
import html
import re
import secrets
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, time
from typing import Any
from urllib.parse import quote
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from dateutil.parser import isoparse
from tzlocal.windows_tz import tz_win, win_tz

JsonDict = dict[str, Any]
Clock = Callable[[], datetime]
ID_PREFIX = "AAMkAGVmMDEzMTM4LTZmYWUtNDdkNC1hMDZiLTU1OGY5OTZhYmY4OABGAAAAAAAi"
NO_TIME = "0001-01-01T00:00:00Z"
EPOCH = datetime(1, 1, 1, tzinfo=UTC)
SENSITIVITY = ("normal", "personal", "private", "confidential")
IMPORTANCE = ("low", "normal", "high")
SHOW_AS = ("free", "tentative", "busy", "oof", "workingElsewhere", "unknown")
ATTENDEE_TYPES = ("required", "optional", "resource")
RESPONSES = ("none", "organizer", "tentativelyAccepted", "accepted", "declined", "notResponded")
# Fields a client may set with POST/PATCH (https://learn.microsoft.com/en-us/graph/api/event-update).
_SETTABLE = "subject body importance sensitivity showAs isAllDay location locations attendees"
SETTABLE = tuple(f"{_SETTABLE} categories isOnlineMeeting isReminderOn responseRequested".split())
SETTABLE += ("reminderMinutesBeforeStart",)
# Only the Python hooks (the user, or someone inviting them) set these.
HOOK_ONLY = ("organizer", "iCalUId", "responseStatus")
_UTC_ALIASES = {"utc", "tzone://microsoft/utc", "etc/utc", "z", "gmt"}


class GraphError(Exception):
    """An error answered as ``{"error": {"code", "message", "innerError"}}``
    (https://learn.microsoft.com/en-us/graph/errors)."""

    def __init__(
        self, status: int, code: str, message: str, headers: dict[str, str] | None = None
    ) -> None:
        super().__init__(f"{status} {code}: {message}")
        self.status, self.code, self.message = status, code, message
        self.headers = dict(headers or {})


def not_found() -> GraphError:
    return GraphError(404, "ErrorItemNotFound", "The specified object was not found in the store.")


def invalid(message: str) -> GraphError:
    return GraphError(400, "ErrorInvalidRequest", message)


# -- zones and times ---------------------------------------------------------------------
def zone(name: str) -> tuple[ZoneInfo, str]:
    """A Windows or IANA zone name as (ZoneInfo, Windows name when one maps, else the name)."""
    text = str(name or "").strip()
    if text.lower() in _UTC_ALIASES:
        return ZoneInfo("UTC"), "UTC"
    if text in win_tz:
        return ZoneInfo(win_tz[text]), text
    try:
        found = ZoneInfo(text)
    except (ZoneInfoNotFoundError, ValueError):
        message = (
            "A valid TimeZone value must be specified. "
            f"The following TimeZone value is not supported: '{text}'."
        )
        raise GraphError(400, "TimeZoneNotSupportedException", message) from None
    return found, tz_win.get(text, text)


def graph_timestamp(moment: datetime) -> str:
    """``2026-12-04T10:00:00.1234567Z``: UTC, seven fraction digits."""
    moment = moment.astimezone(UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond:06d}0Z"


def wall_clock(moment: datetime, tz: ZoneInfo) -> str:
    """``2026-12-10T15:00:00.0000000``: wall-clock time in ``tz``, no offset."""
    local = moment.astimezone(tz)
    return local.strftime("%Y-%m-%dT%H:%M:%S.") + f"{local.microsecond:06d}0"


def utc_z(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def parse_instant(value: str, name: str) -> datetime:
    """An ISO 8601 timestamp; without an offset it is taken as UTC (as Graph does)."""
    try:
        moment = isoparse(str(value))
    except (ValueError, OverflowError):
        raise GraphError(400, "ErrorInvalidParameter", f"Invalid value for '{name}'.") from None
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def parse_time(value: Any, name: str) -> tuple[datetime, str]:
    """A dateTimeTimeZone as (UTC instant, Windows zone name)."""
    if not isinstance(value, dict) or not value.get("dateTime"):
        raise invalid(f"Your request can't be completed. '{name}' needs a dateTime.")
    tz, label = zone(str(value.get("timeZone") or "UTC"))
    try:
        moment = isoparse(str(value["dateTime"]))
    except (ValueError, OverflowError):
        raise invalid(
            f"Your request can't be completed. The {name} dateTime is not valid."
        ) from None
    moment = moment.replace(tzinfo=tz) if moment.tzinfo is None else moment
    return moment.astimezone(UTC).replace(microsecond=0), label


def new_event_id() -> str:
    return ID_PREFIX + base64.urlsafe_b64encode(b"E|" + secrets.token_bytes(40)).decode()


def new_change_key() -> str:
    return "DwAAABYAAAA" + base64.urlsafe_b64encode(secrets.token_bytes(21)).decode()


def new_ical_uid() -> str:
    """An Outlook Global Object ID in hex; bytes 16-19 (the instance date) are zero."""
    return "040000008200E00074C5B7101A82E00800000000" + secrets.token_hex(28).upper()


def occurrence_id(master_id: str, original_start: datetime) -> str:
    """Stable, opaque id of one occurrence: it encodes the master id and the original start."""
    raw = f"O|{master_id}|{utc_z(original_start)}".encode()
    return ID_PREFIX + base64.urlsafe_b64encode(raw).decode()


def split_occurrence_id(event_id: str) -> tuple[str, datetime] | None:
    if not event_id.startswith(ID_PREFIX):
        return None
    try:
        raw = base64.urlsafe_b64decode(event_id[len(ID_PREFIX) :]).decode()
    except ValueError:
        return None
    kind, _, rest = raw.partition("|")
    master_id, _, stamp = rest.rpartition("|")
    if kind != "O" or not master_id:
        return None
    try:
        return master_id, datetime.strptime(stamp, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC)
    except ValueError:
        return None


def instance_uid(uid: str, day: datetime) -> str:
    """An occurrence's iCalUId: the series' with the instance date filled in (Outlook's
    Global Object ID layout); a UID of another shape is shared by the whole series."""
    if len(uid) >= 40 and uid.upper().startswith("040000008200E00074C5B7101A82E008"):
        return uid[:32] + f"{day.year:04X}{day.month:02X}{day.day:02X}" + uid[40:]
    return uid


# -- stored events -------------------------------------------------------------------------
@dataclass
class StoredEvent:
    """A single instance, series master, exception, or (transient) occurrence."""

    id: str
    kind: str  # singleInstance | seriesMaster | exception | occurrence
    start: datetime  # aware, UTC
    end: datetime
    start_zone: str  # Windows name
    end_zone: str
    fields: JsonDict = field(default_factory=dict)
    created: datetime = EPOCH
    modified: datetime = EPOCH
    change_key: str = field(default_factory=lambda: new_change_key())
    recurrence: JsonDict | None = None
    master_id: str | None = None
    original_start: datetime | None = None
    cancelled: set[datetime] = field(default_factory=set)  # masters: cancelled occurrences

    @property
    def version(self) -> str:
        return self.change_key

    def overlaps(self, lo: datetime, hi: datetime) -> bool:
        if self.start == self.end:
            return lo <= self.start < hi
        return self.start < hi and self.end > lo


def person(address: str, name: str | None = None) -> JsonDict:
    shown = name or address.split("@")[0].replace(".", " ").title()
    return {"emailAddress": {"name": shown, "address": address}}


def default_fields(mailbox: str) -> JsonDict:
    return {
        "subject": "",
        "body": {"contentType": "html", "content": ""},
        "importance": "normal",
        "sensitivity": "normal",
        "showAs": "busy",
        "isAllDay": False,
        "location": _location({}),
        "locations": [],
        "attendees": [],
        "categories": [],
        "isOnlineMeeting": False,
        "onlineMeeting": None,
        "isReminderOn": True,
        "reminderMinutesBeforeStart": 15,
        "responseRequested": True,
        "transactionId": None,
        "organizer": person(mailbox),
    }


def merge_fields(old: JsonDict, body: JsonDict, *, hook: bool) -> JsonDict:
    """``old`` with the settable fields of ``body`` applied (validated, deep-copied)."""
    out = dict(old)
    allowed = SETTABLE + HOOK_ONLY if hook else SETTABLE
    for name in allowed:
        if name not in body:
            continue
        value = copy.deepcopy(body[name])
        if name == "body":
            out[name] = _body(value)
        elif name in ("sensitivity", "importance", "showAs"):
            options = {"sensitivity": SENSITIVITY, "importance": IMPORTANCE, "showAs": SHOW_AS}
            if value not in options[name]:
                raise GraphError(400, "RequestBodyRead", f"Invalid value '{value}' for {name}.")
            out[name] = value
        elif name in ("isAllDay", "isOnlineMeeting", "isReminderOn", "responseRequested"):
            if not isinstance(value, bool):
                raise GraphError(400, "RequestBodyRead", f"'{name}' must be a boolean.")
            out[name] = value
        elif name == "location":
            out["location"] = _location(value)
            shown = out["location"]["displayName"]
            out["locations"] = [out["location"]] if shown else []
        elif name == "locations":
            out["locations"] = [_location(v) for v in value or []]
            out["location"] = out["locations"][0] if out["locations"] else _location({})
        elif name == "attendees":
            out[name] = _attendees(value, old.get("attendees") or [])
        elif name == "organizer":
            address = str(((value or {}).get("emailAddress") or {}).get("address", "")).lower()
            name_shown = ((value or {}).get("emailAddress") or {}).get("name")
            out[name] = person(address, name_shown)
        else:
            out[name] = value
    if out.get("isOnlineMeeting") and not out.get("onlineMeeting"):
        meeting = secrets.token_hex(16)
        out["onlineMeeting"] = {
            "joinUrl": "https://teams.microsoft.com/l/meetup-join/"
            f"19%3ameeting_{meeting}%40thread.v2/0"
        }
    elif not out.get("isOnlineMeeting"):
        out["onlineMeeting"] = None
    return out


def _body(value: Any) -> JsonDict:
    if not isinstance(value, dict):
        raise GraphError(400, "RequestBodyRead", "'body' must be an itemBody.")
    content = str(value.get("content") or "")
    if str(value.get("contentType", "text")).lower() == "text":
        content = html.escape(content).replace("\n", "<br>\r\n")
        content = f"<html><head></head><body>{content}</body></html>" if content else ""
    return {"contentType": "html", "content": content}


def body_preview(fields: JsonDict) -> str:
    text = re.sub(r"<head>.*?</head>|<[^>]+>", " ", fields["body"]["content"], flags=re.S)
    return re.sub(r"\s+", " ", html.unescape(text)).strip()[:255]


def _location(value: Any) -> JsonDict:
    shown = value if isinstance(value, str) else (value or {}).get("displayName") or ""
    if not shown:
        return {"displayName": "", "locationType": "default", "uniqueIdType": "unknown"}
    return {
        "displayName": str(shown),
        "locationType": "default",
        "uniqueId": str(shown),
        "uniqueIdType": "private",
    }


def _attendees(value: Any, previous: list[JsonDict]) -> list[JsonDict]:
    if not isinstance(value, list):
        raise GraphError(400, "RequestBodyRead", "'attendees' must be a collection.")
    known = {a["emailAddress"]["address"].lower(): a["status"] for a in previous}
    out: list[JsonDict] = []
    for raw in value:
        email = (raw or {}).get("emailAddress") or {}
        address = str(email.get("address") or "").strip()
        if "@" not in address:
            raise GraphError(400, "ErrorInvalidRecipients", "At least one recipient isn't valid.")
        kind = raw.get("type") or "required"
        if kind not in ATTENDEE_TYPES:
            raise GraphError(400, "RequestBodyRead", f"Invalid attendee type '{kind}'.")
        status = raw.get("status") or known.get(address.lower())
        if not status or status.get("response") not in RESPONSES:
            status = {"response": "none", "time": NO_TIME}
        entry = person(address, email.get("name") or address)
        out.append({"type": kind, "status": dict(status), **entry})
    return out


def check_all_day(event: StoredEvent) -> None:
    if not event.fields.get("isAllDay"):
        return
    start_tz, end_tz = zone(event.start_zone)[0], zone(event.end_zone)[0]
    local_start, local_end = event.start.astimezone(start_tz), event.end.astimezone(end_tz)
    if local_start.time() != time() or local_end.time() != time() or local_end <= local_start:
        raise invalid(
            "Your request can't be completed. If isAllDay is set to true, "
            "the start and end times must be midnight and in the same time zone."
        )


# -- rendering ------------------------------------------------------------------------------
def render(event: StoredEvent, mailbox: str, tz: ZoneInfo, label: str) -> JsonDict:
    """The event as Graph answers it, ``start``/``end`` in ``tz`` (named ``label``); an
    all-day event keeps its dates (midnight to midnight) whatever zone is asked for."""
    f = event.fields
    organizer = f["organizer"]
    is_organizer = organizer["emailAddress"]["address"].lower() == mailbox
    response = {"response": "organizer", "time": NO_TIME} if is_organizer else None
    response = response or f.get("responseStatus") or {"response": "notResponded", "time": NO_TIME}
    times = {}
    for name, moment, own in (
        ("start", event.start, event.start_zone),
        ("end", event.end, event.end_zone),
    ):
        shown = wall_clock(moment, zone(own)[0] if f["isAllDay"] else tz)
        times[name] = {"dateTime": shown, "timeZone": label}
    ical_uid = str(f.get("iCalUId") or "")
    if event.kind in ("occurrence", "exception") and event.original_start is not None:
        ical_uid = instance_uid(
            ical_uid, event.original_start.astimezone(zone(event.start_zone)[0])
        )
    online = bool(f.get("isOnlineMeeting"))
    body: JsonDict = {
        "@odata.etag": f'W/"{event.change_key}"',
        "id": event.id,
        "createdDateTime": graph_timestamp(event.created),
        "lastModifiedDateTime": graph_timestamp(event.modified),
        "changeKey": event.change_key,
        "categories": list(f.get("categories") or []),
        "transactionId": f.get("transactionId"),
        "originalStartTimeZone": event.start_zone,
        "originalEndTimeZone": event.end_zone,
        "iCalUId": ical_uid,
        "reminderMinutesBeforeStart": f.get("reminderMinutesBeforeStart", 15),
        "isReminderOn": f.get("isReminderOn", True),
        "hasAttachments": False,
        "subject": f["subject"],
        "bodyPreview": body_preview(f),
        "importance": f["importance"],
        "sensitivity": f["sensitivity"],
        "isAllDay": f["isAllDay"],
        "isCancelled": False,
        "isOrganizer": is_organizer,
        "responseRequested": f.get("responseRequested", True),
        "seriesMasterId": event.master_id,
        "showAs": f["showAs"],
        "type": event.kind,
        "webLink": "https://outlook.office365.com/owa/?itemid="
        f"{quote(event.id, safe='')}&exvsurl=1&path=/calendar/item",
        "onlineMeetingUrl": None,
        "isOnlineMeeting": online,
        "onlineMeetingProvider": "teamsForBusiness" if online else "unknown",
        "allowNewTimeProposals": True,
        "isDraft": False,
        "hideAttendees": False,
        "responseStatus": dict(response),
        "body": dict(f["body"]),
        "start": times["start"],
        "end": times["end"],
        "location": copy.deepcopy(f["location"]),
        "locations": copy.deepcopy(f["locations"]),
        "recurrence": copy.deepcopy(event.recurrence) if event.kind == "seriesMaster" else None,
        "attendees": copy.deepcopy(f["attendees"]),
        "organizer": copy.deepcopy(organizer),
        "onlineMeeting": copy.deepcopy(f.get("onlineMeeting")),
    }
    if event.original_start is not None and event.kind in ("occurrence", "exception"):
        body["originalStart"] = utc_z(event.original_start)
    return body
