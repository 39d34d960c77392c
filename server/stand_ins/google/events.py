"""Calendar data: stored events, validation of incoming bodies, and Google's renderings."""

from __future__ import annotations

import base64
import copy
import re
import secrets
import string
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from .common import ApiError, JsonDict, new_id, rfc3339
from .recurrence import (
    Occurrence,
    event_bounds,
    expand,
    is_all_day,
    parse_event_time,
    split_instance_id,
    zone,
)

EVENT_ID = re.compile(r"^[a-v0-9]{5,1024}$")
STATUSES = {"confirmed", "tentative", "cancelled"}
VISIBILITIES = {"default", "public", "private", "confidential"}
READ_ONLY = {
    "kind",
    "etag",
    "id",
    "htmlLink",
    "created",
    "updated",
    "creator",
    "recurringEventId",
    "originalStartTime",
}
_KEY_ORDER = [
    "kind",
    "etag",
    "id",
    "status",
    "htmlLink",
    "created",
    "updated",
    "summary",
    "description",
    "location",
    "colorId",
    "creator",
    "organizer",
    "start",
    "end",
    "endTimeUnspecified",
    "recurrence",
    "recurringEventId",
    "originalStartTime",
    "transparency",
    "visibility",
    "iCalUID",
    "sequence",
    "attendees",
    "guestsCanInviteOthers",
    "privateCopy",
    "hangoutLink",
    "conferenceData",
    "reminders",
    "eventType",
]


@dataclass
class StoredEvent:
    resource: JsonDict
    order: int
    seq: int = 0

    @property
    def id(self) -> str:
        return str(self.resource["id"])

    @property
    def cancelled(self) -> bool:
        return self.resource.get("status") == "cancelled"

    @property
    def is_master(self) -> bool:
        return bool(self.resource.get("recurrence")) and "recurringEventId" not in self.resource

    @property
    def master_id(self) -> str | None:
        value = self.resource.get("recurringEventId")
        return str(value) if value else None


@dataclass
class CalendarData:
    """One user's primary calendar; its id is the owner's email."""

    owner: str
    updated: datetime
    time_zone: str = "UTC"
    events: dict[str, StoredEvent] = field(default_factory=dict)
    seq: int = 0
    next_order: int = 0
    generation: int = 0
    # The sorted rows of recent full listings, so paging through one sorts it once.
    listings: dict[Any, Any] = field(default_factory=dict, compare=False, repr=False)

    def exceptions_of(self, master_id: str) -> list[StoredEvent]:
        return [e for e in self.events.values() if e.master_id == master_id]


def ordered(resource: JsonDict) -> JsonDict:
    keys = [k for k in _KEY_ORDER if k in resource]
    keys += [k for k in resource if k not in _KEY_ORDER]
    return {k: resource[k] for k in keys}


def etag_for(moment: datetime, seq: int) -> str:
    return f'"3{int(moment.timestamp() * 1000):013d}{seq % 1000:03d}"'


def html_link(base_url: str, event_id: str, owner: str) -> str:
    eid = base64.urlsafe_b64encode(f"{event_id} {owner}".encode()).decode().rstrip("=")
    return f"{base_url}/calendar/event?eid={eid}"


def check_client_id(event_id: str) -> None:
    if not EVENT_ID.match(event_id):
        raise ApiError(400, "invalid", "Invalid resource id value.")


def person(email: str, owner: str, display_name: str | None = None) -> JsonDict:
    out: JsonDict = {"email": email}
    if display_name:
        out["displayName"] = display_name
    if email.lower() == owner:
        out["self"] = True
    return out


def validate(resource: JsonDict, owner: str, default_tz: str) -> None:
    """Check times, recurrence, status, visibility and attendees; normalise attendees."""
    if resource.get("status", "confirmed") not in STATUSES:
        raise ApiError(400, "invalid", "Invalid value for: status")
    if resource.get("visibility", "default") not in VISIBILITIES:
        raise ApiError(400, "invalid", "Invalid value for: visibility")
    start, end = resource.get("start"), resource.get("end")
    if not isinstance(start, dict) or not start:
        raise ApiError(400, "required", "Missing start time.")
    if not isinstance(end, dict) or not end:
        raise ApiError(400, "required", "Missing end time.")
    if is_all_day(start) != is_all_day(end):
        raise ApiError(
            400, "invalid", "Start and end times must either both be date or both be dateTime."
        )
    recurrence = resource.get("recurrence")
    if recurrence and not is_all_day(start) and not start.get("timeZone"):
        raise ApiError(400, "invalid", "Missing time zone definition for start time.")
    begins = parse_event_time(start, default_tz)
    ends = parse_event_time(end, default_tz, "end")
    if ends < begins:
        raise ApiError(400, "timeRangeEmpty", "The specified time range is empty.")
    if recurrence is not None:
        if not isinstance(recurrence, list) or not all(isinstance(r, str) for r in recurrence):
            raise ApiError(400, "invalid", "Invalid value for: recurrence")
        if recurrence:
            expand(resource, default_tz, None, begins + timedelta(days=1), limit=1)
    attendees = resource.get("attendees")
    if attendees is None:
        return
    if not isinstance(attendees, list):
        raise ApiError(400, "invalid", "Invalid value for: attendees")
    organizer = str((resource.get("organizer") or {}).get("email", owner)).lower()
    normalised = []
    for attendee in attendees:
        if not isinstance(attendee, dict) or not attendee.get("email"):
            raise ApiError(400, "required", "Missing attendee email.")
        item = dict(attendee)
        email = str(item["email"]).lower()
        if email == organizer:
            item["organizer"] = True
        if email == owner:
            item["self"] = True
        default = "accepted" if email == organizer == owner else "needsAction"
        item.setdefault("responseStatus", default)
        normalised.append(item)
    resource["attendees"] = normalised


def conference(base_url: str, request_id: str) -> tuple[str, JsonDict]:
    """A Meet-like link served by the stand-in, and the conferenceData around it."""
    letters = string.ascii_lowercase
    code = "-".join("".join(secrets.choice(letters) for _ in range(n)) for n in (3, 4, 3))
    uri = f"{base_url}/meet/{code}"
    data: JsonDict = {
        "createRequest": {
            "requestId": request_id,
            "conferenceSolutionKey": {"type": "hangoutsMeet"},
            "status": {"statusCode": "success"},
        },
        "entryPoints": [
            {"entryPointType": "video", "uri": uri, "label": f"meet.google.com/{code}"}
        ],
        "conferenceSolution": {"key": {"type": "hangoutsMeet"}, "name": "Google Meet"},
        "conferenceId": code,
    }
    return uri, data


def new_event_id() -> str:
    return new_id(26)


def render_full(stored: StoredEvent) -> JsonDict:
    return ordered(copy.deepcopy(stored.resource))


def render_tombstone(resource: JsonDict) -> JsonDict:
    """What Google lists for a deleted event or cancelled instance."""
    out: JsonDict = {"kind": "calendar#event", "etag": resource.get("etag"), "id": resource["id"]}
    out["status"] = "cancelled"
    for key in ("recurringEventId", "originalStartTime"):
        if key in resource:
            out[key] = copy.deepcopy(resource[key])
    return out


def render_instance(master: StoredEvent, occ: Occurrence, base_url: str, owner: str) -> JsonDict:
    """A generated (unmodified) instance of a recurring event."""
    out = copy.deepcopy(master.resource)
    out.pop("recurrence", None)
    out["id"] = occ.instance_id
    out["htmlLink"] = html_link(base_url, occ.instance_id, owner)
    out["start"], out["end"] = dict(occ.start), dict(occ.end)
    out["recurringEventId"] = master.id
    out["originalStartTime"] = dict(occ.original_start)
    return ordered(out)


def find_occurrence(master: StoredEvent, instance_id: str, default_tz: str) -> Occurrence | None:
    """The generated occurrence of ``master`` whose id is ``instance_id``, if it exists."""
    parts = split_instance_id(instance_id)
    if parts is None or parts[0] != master.id:
        return None
    suffix = parts[1]
    if "T" in suffix:
        moment = datetime.strptime(suffix[:-1] + "+0000", "%Y%m%dT%H%M%S%z")
        width = timedelta(seconds=1)
    else:
        day = datetime.strptime(suffix + "+0000", "%Y%m%d%z")
        moment = day.replace(tzinfo=zone(default_tz))
        width = timedelta(days=1)
    window_start = moment - timedelta(microseconds=1)
    for occ in expand(master.resource, default_tz, window_start, moment + width):
        if occ.instance_id == instance_id:
            return occ
    return None


def materialise_instance(
    master: StoredEvent, occ: Occurrence, base_url: str, owner: str, order: int
) -> StoredEvent:
    """An exception row for one instance, starting as a copy of the generated instance."""
    return StoredEvent(render_instance(master, occ, base_url, owner), order)


def bounds(resource: JsonDict, default_tz: str) -> tuple[datetime, datetime]:
    return event_bounds(resource, default_tz)


def stamp(resource: JsonDict, moment: datetime, seq: int) -> None:
    resource["updated"] = rfc3339(moment)
    resource["etag"] = etag_for(moment, seq)


def merge(resource: JsonDict, changes: dict[str, Any], *, allow: set[str]) -> JsonDict:
    """PATCH semantics: given top-level fields replace, ``None`` removes."""
    out = copy.deepcopy(resource)
    for key, value in changes.items():
        if key in READ_ONLY and key not in allow:
            continue
        if value is None:
            out.pop(key, None)
        else:
            out[key] = copy.deepcopy(value)
    return out
