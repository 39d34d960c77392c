"""The add-on event object, parsed at the edge into one typed value.

Google POSTs the same JSON shape to every trigger and action endpoint: ``commonEventObject``,
``authorizationEventObject`` and one host object (``gmail`` or ``calendar``).
See https://developers.google.com/workspace/add-ons/concepts/event-objects and the JSON schemas
at the end of https://developers.google.com/workspace/add-ons/guides/alternate-runtimes

Unknown keys are ignored (Google adds fields); known keys with the wrong type are rejected with
:class:`EventError`, which the route turns into a 400.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, timedelta, timezone, tzinfo
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from marshmallow import EXCLUDE, Schema, ValidationError, fields, post_load, validate


class HostApp(enum.StrEnum):
    """The Google app the add-on runs in; the descriptor enables only these two."""

    GMAIL = "GMAIL"
    CALENDAR = "CALENDAR"


@dataclass(frozen=True)
class CalendarAttendee:
    """A guest as the Calendar host sends it (``calendar.attendees[]``)."""

    email: str
    display_name: str | None = None
    response_status: str | None = None
    organizer: bool = False
    is_self: bool = False
    resource: bool = False
    optional: bool = False


@dataclass(frozen=True)
class EntryPoint:
    """A conference entry point (``calendar.conferenceData.entryPoints[]``)."""

    entry_point_type: str
    uri: str
    label: str | None = None


@dataclass(frozen=True)
class AddonEvent:
    """Everything a handler needs from one add-on request, typed.

    Tokens are excluded from ``repr`` so that logging the value never leaks them.
    """

    host_app: HostApp
    platform: str | None = None
    time_zone_id: str | None = None
    time_zone_offset_ms: int | None = None
    locale: str | None = None
    # Calendar
    calendar_id: str | None = None
    event_id: str | None = None
    recurring_event_id: str | None = None
    organizer_email: str | None = None
    attendees: tuple[CalendarAttendee, ...] = ()
    entry_points: tuple[EntryPoint, ...] = ()
    # Gmail
    message_id: str | None = None
    thread_id: str | None = None
    gmail_access_token: str | None = field(default=None, repr=False)
    # Widget actions
    form_inputs: dict[str, list[str]] = field(default_factory=dict)
    parameters: dict[str, str] = field(default_factory=dict)
    # authorizationEventObject
    user_oauth_token: str | None = field(default=None, repr=False)
    user_id_token: str | None = field(default=None, repr=False)
    authorized_scopes: tuple[str, ...] | None = None

    def param(self, name: str) -> str | None:
        """An ``action.parameters`` value, or None when absent or empty."""
        value = self.parameters.get(name)
        return value if value else None

    def form_value(self, name: str) -> str | None:
        """The first value of the form input ``name`` (a text input gives exactly one)."""
        values = self.form_inputs.get(name)
        return values[0] if values else None

    @property
    def tz(self) -> tzinfo:
        """The rep's time zone: the IANA id if known here, else the offset, else UTC."""
        if self.time_zone_id:
            try:
                return ZoneInfo(self.time_zone_id)
            except (ZoneInfoNotFoundError, ValueError):
                pass
        if self.time_zone_offset_ms is not None and abs(self.time_zone_offset_ms) < 86_400_000:
            return timezone(timedelta(milliseconds=self.time_zone_offset_ms))
        return UTC

    @property
    def video_uri(self) -> str | None:
        """The first video entry point's URI (a Meet link or another provider's)."""
        for entry in self.entry_points:
            if entry.entry_point_type == "video" and entry.uri:
                return entry.uri
        return None


class EventError(ValidationError):
    """A malformed event object. ``str()`` is a one-line message naming each bad field."""

    def __str__(self) -> str:
        return "invalid event object: " + "; ".join(_flatten(self.messages))


def _flatten(messages: Any, prefix: str = "") -> list[str]:
    if isinstance(messages, Mapping):
        out: list[str] = []
        for key, value in messages.items():
            name = str(key) if key != "_schema" else ""
            out += _flatten(value, f"{prefix}.{name}" if prefix and name else prefix or name)
        return out
    if isinstance(messages, list) and all(isinstance(m, str) for m in messages):
        return [f"{prefix or 'event'}: {' '.join(messages)}"]
    if isinstance(messages, list):
        return [line for m in messages for line in _flatten(m, prefix)]
    return [f"{prefix or 'event'}: {messages}"]


# --------------------------------------------------------------------------- schema pieces


class _Int64(fields.Field):
    """An integer sent either as a JSON number or as a decimal string (the docs show both)."""

    default_error_messages = {"invalid": "Not a valid integer."}

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> int:
        if isinstance(value, bool):
            raise self.make_error("invalid")
        if isinstance(value, int):
            return value
        if isinstance(value, float) and value.is_integer():
            return int(value)
        if isinstance(value, str):
            text = value.strip()
            if text.lstrip("+-").isdigit():
                return int(text)
        raise self.make_error("invalid")


class _Base(Schema):
    class Meta:
        unknown = EXCLUDE


class _TimeZone(_Base):
    id = fields.String()
    offset = _Int64()


class _StringInputs(_Base):
    value = fields.List(fields.String(), required=True)


class _DateTimeInput(_Base):
    msSinceEpoch = _Int64(required=True)


class _TimeInput(_Base):
    hours = fields.Integer(strict=True, required=True)
    minutes = fields.Integer(strict=True, required=True)


class _FormInput(_Base):
    stringInputs = fields.Nested(_StringInputs)
    dateTimeInput = fields.Nested(_DateTimeInput)
    dateInput = fields.Nested(_DateTimeInput)
    timeInput = fields.Nested(_TimeInput)


class _Common(_Base):
    hostApp = fields.String(required=True, validate=validate.OneOf([h.value for h in HostApp]))
    platform = fields.String()
    timeZone = fields.Nested(_TimeZone)
    userLocale = fields.String()
    formInputs = fields.Dict(keys=fields.String(), values=fields.Nested(_FormInput))
    parameters = fields.Dict(keys=fields.String(), values=fields.String())


class _Organizer(_Base):
    email = fields.String()


class _Attendee(_Base):
    email = fields.String()
    displayName = fields.String()
    responseStatus = fields.String()
    organizer = fields.Boolean()
    is_self = fields.Boolean(data_key="self")
    resource = fields.Boolean()
    optional = fields.Boolean()


class _EntryPoint(_Base):
    entryPointType = fields.String()
    uri = fields.String()
    label = fields.String()


class _ConferenceData(_Base):
    entryPoints = fields.List(fields.Nested(_EntryPoint))


class _Calendar(_Base):
    id = fields.String()
    calendarId = fields.String()
    recurringEventId = fields.String()
    organizer = fields.Nested(_Organizer)
    attendees = fields.List(fields.Nested(_Attendee))
    conferenceData = fields.Nested(_ConferenceData)


class _Gmail(_Base):
    messageId = fields.String()
    threadId = fields.String()
    accessToken = fields.String()


class _Authorization(_Base):
    userOAuthToken = fields.String()
    userIdToken = fields.String()
    systemIdToken = fields.String()
    authorizedScopes = fields.List(fields.String())


def _flat_form_input(value: Mapping[str, Any]) -> list[str]:
    if "stringInputs" in value:
        return list(value["stringInputs"]["value"])
    for key in ("dateTimeInput", "dateInput"):
        if key in value:
            return [str(value[key]["msSinceEpoch"])]
    if "timeInput" in value:
        return [f"{value['timeInput']['hours']:02d}:{value['timeInput']['minutes']:02d}"]
    return []


class AddonEventSchema(_Base):
    """The one schema from event JSON to :class:`AddonEvent`.

    Field reference: https://developers.google.com/workspace/add-ons/concepts/event-objects
    """

    commonEventObject = fields.Nested(_Common, required=True)
    authorizationEventObject = fields.Nested(_Authorization)
    calendar = fields.Nested(_Calendar)
    gmail = fields.Nested(_Gmail)

    @post_load
    def _make(self, data: dict[str, Any], **_: Any) -> AddonEvent:
        common = data["commonEventObject"]
        cal = data.get("calendar", {})
        gmail = data.get("gmail", {})
        auth = data.get("authorizationEventObject", {})
        tz = common.get("timeZone", {})
        attendees = tuple(
            CalendarAttendee(
                email=a["email"],
                display_name=a.get("displayName") or None,
                response_status=a.get("responseStatus"),
                organizer=a.get("organizer", False),
                is_self=a.get("is_self", False),
                resource=a.get("resource", False),
                optional=a.get("optional", False),
            )
            for a in cal.get("attendees", [])
            if a.get("email")
        )
        entry_points = tuple(
            EntryPoint(e["entryPointType"], e["uri"], e.get("label"))
            for e in cal.get("conferenceData", {}).get("entryPoints", [])
            if e.get("entryPointType") and e.get("uri")
        )
        scopes = auth.get("authorizedScopes")
        return AddonEvent(
            host_app=HostApp(common["hostApp"]),
            platform=common.get("platform"),
            time_zone_id=tz.get("id") or None,
            time_zone_offset_ms=tz.get("offset"),
            locale=common.get("userLocale") or None,
            calendar_id=cal.get("calendarId") or None,
            event_id=cal.get("id") or None,
            recurring_event_id=cal.get("recurringEventId") or None,
            organizer_email=cal.get("organizer", {}).get("email") or None,
            attendees=attendees,
            entry_points=entry_points,
            message_id=gmail.get("messageId") or None,
            thread_id=gmail.get("threadId") or None,
            gmail_access_token=gmail.get("accessToken") or None,
            form_inputs={k: _flat_form_input(v) for k, v in common.get("formInputs", {}).items()},
            parameters=dict(common.get("parameters", {})),
            user_oauth_token=auth.get("userOAuthToken") or None,
            user_id_token=auth.get("userIdToken") or None,
            authorized_scopes=tuple(scopes) if scopes is not None else None,
        )


_SCHEMA = AddonEventSchema()


def parse_event(payload: object) -> AddonEvent:
    """Parse a decoded JSON request body into an :class:`AddonEvent`, or raise :class:`EventError`.

    See https://developers.google.com/workspace/add-ons/concepts/event-objects
    """
    if not isinstance(payload, Mapping):
        raise EventError({"_schema": ["the request body must be a JSON object"]})
    try:
        event = _SCHEMA.load(payload)
    except ValidationError as exc:
        raise EventError(exc.messages) from None
    assert isinstance(event, AddonEvent)
    return event
