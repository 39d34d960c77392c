"""Event objects as Google sends them, parsed into one typed value; malformed ones refused."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from server.addon.events import (
    AddonEvent,
    CalendarAttendee,
    EntryPoint,
    EventError,
    HostApp,
    parse_event,
)


def calendar_event(**calendar: Any) -> dict[str, Any]:
    """A Calendar eventOpen event object (shape from the event-objects reference)."""
    return {
        "commonEventObject": {
            "hostApp": "CALENDAR",
            "platform": "WEB",
            "timeZone": {"id": "America/New_York", "offset": -14400000},
            "userLocale": "en-US",
        },
        "authorizationEventObject": {
            "userOAuthToken": "ya29.user",
            "userIdToken": "id.token.user",
            "systemIdToken": "id.token.system",
            "authorizedScopes": ["https://www.googleapis.com/auth/userinfo.email"],
        },
        "calendar": {
            "id": "evt123_20250604T140000Z",
            "calendarId": "rep@acme.example",
            "recurringEventId": "evt123",
            "organizer": {"email": "rep@acme.example"},
            "attendees": [
                {
                    "email": "rep@acme.example",
                    "self": True,
                    "organizer": True,
                    "responseStatus": "accepted",
                },
                {"email": "jane@customer.example", "displayName": "Jane Roe", "optional": True},
                {"email": "room-1@resource.calendar.google.com", "resource": True},
            ],
            "conferenceData": {
                "conferenceId": "abc-defg-hij",
                "conferenceSolution": {"key": {"type": "hangoutsMeet"}, "name": "Google Meet"},
                "entryPoints": [
                    {"entryPointType": "phone", "uri": "tel:+1-555-0100", "pin": "123"},
                    {
                        "entryPointType": "video",
                        "uri": "https://meet.google.com/abc-defg-hij",
                        "label": "meet.google.com/abc-defg-hij",
                    },
                ],
            },
            "capabilities": {"canSeeAttendees": True},
            **calendar,
        },
    }


def test_calendar_event() -> None:
    event = parse_event(calendar_event())
    assert event.host_app is HostApp.CALENDAR
    assert event.platform == "WEB"
    assert event.time_zone_id == "America/New_York"
    assert event.time_zone_offset_ms == -14400000
    assert event.locale == "en-US"
    assert event.event_id == "evt123_20250604T140000Z"
    assert event.calendar_id == "rep@acme.example"
    assert event.recurring_event_id == "evt123"
    assert event.organizer_email == "rep@acme.example"
    assert event.attendees[0] == CalendarAttendee(
        "rep@acme.example", None, "accepted", organizer=True, is_self=True
    )
    assert event.attendees[1].display_name == "Jane Roe"
    assert event.attendees[1].optional
    assert event.attendees[2].resource
    assert event.entry_points[1] == EntryPoint(
        "video", "https://meet.google.com/abc-defg-hij", "meet.google.com/abc-defg-hij"
    )
    assert event.video_uri == "https://meet.google.com/abc-defg-hij"
    assert event.user_oauth_token == "ya29.user"
    assert event.user_id_token == "id.token.user"
    assert event.authorized_scopes == ("https://www.googleapis.com/auth/userinfo.email",)
    assert event.tz == ZoneInfo("America/New_York")


def test_gmail_contextual_event() -> None:
    event = parse_event(
        {
            "commonEventObject": {"hostApp": "GMAIL", "platform": "ANDROID"},
            "authorizationEventObject": {"userOAuthToken": "ya29...", "userIdToken": "id"},
            "gmail": {
                "messageId": "msg-f:1234567",
                "threadId": "thread-f:2345678",
                "accessToken": "xedf241",
            },
            # Deprecated legacy Gmail fields still arrive and are ignored.
            "messageMetadata": {"accessToken": "xedf241", "messageId": "msg-f:1234567"},
            "clientPlatform": "android",
            "userTimezone": {"id": "UTC", "offset": "0"},
        }
    )
    assert event.host_app is HostApp.GMAIL
    assert (event.message_id, event.thread_id) == ("msg-f:1234567", "thread-f:2345678")
    assert event.gmail_access_token == "xedf241"
    assert event.event_id is None
    assert event.attendees == ()
    assert event.authorized_scopes is None
    assert event.tz == UTC


def test_homepage_event_is_minimal() -> None:
    event = parse_event({"commonEventObject": {"hostApp": "CALENDAR"}})
    assert event == AddonEvent(host_app=HostApp.CALENDAR)
    assert event.param("x") is None
    assert event.form_value("note") is None


def test_widget_action_event() -> None:
    event = parse_event(
        {
            "commonEventObject": {
                "hostApp": "GMAIL",
                "parameters": {"event_id": "e1", "nonce": "n1", "empty": ""},
                "formInputs": {
                    "note_n1": {"stringInputs": {"value": ["Discussed pricing"]}},
                    "tags": {"stringInputs": {"value": ["a", "b"]}},
                    "when": {
                        "dateTimeInput": {
                            "msSinceEpoch": "1717500000000",
                            "hasDate": True,
                            "hasTime": True,
                        }
                    },
                    "day": {"dateInput": {"msSinceEpoch": 1717459200000}},
                    "at": {"timeInput": {"hours": 9, "minutes": 5}},
                },
            }
        }
    )
    assert event.parameters == {"event_id": "e1", "nonce": "n1", "empty": ""}
    assert event.param("event_id") == "e1"
    assert event.param("empty") is None
    assert event.form_inputs == {
        "note_n1": ["Discussed pricing"],
        "tags": ["a", "b"],
        "when": ["1717500000000"],
        "day": ["1717459200000"],
        "at": ["09:05"],
    }
    assert event.form_value("note_n1") == "Discussed pricing"


@pytest.mark.parametrize(
    ("offset", "expected"),
    [("3600000", 3600000), (-14400000, -14400000), ("-19800000", -19800000), (0, 0)],
)
def test_time_zone_offset_string_or_int(offset: Any, expected: int) -> None:
    event = parse_event(
        {
            "commonEventObject": {
                "hostApp": "GMAIL",
                "timeZone": {"id": "Nowhere/Else", "offset": offset},
            }
        }
    )
    assert event.time_zone_offset_ms == expected
    # An id unknown here falls back to the offset.
    assert event.tz == timezone(timedelta(milliseconds=expected))


def test_tz_prefers_the_zone_id_for_dst() -> None:
    event = parse_event(
        {"commonEventObject": {"hostApp": "GMAIL", "timeZone": {"id": "Europe/Paris", "offset": 0}}}
    )
    winter = datetime(2025, 1, 15, 12, tzinfo=UTC).astimezone(event.tz)
    summer = datetime(2025, 7, 15, 12, tzinfo=UTC).astimezone(event.tz)
    assert (winter.hour, summer.hour) == (13, 14)


def test_tokens_never_in_repr() -> None:
    event = parse_event(calendar_event())
    text = repr(event) + str(event)
    assert "ya29" not in text
    assert "id.token" not in text


def test_unknown_keys_are_tolerated() -> None:
    data = calendar_event(newCalendarField={"x": 1})
    data["commonEventObject"]["newCommonField"] = [1, 2]
    data["drive"] = {"activeCursorItem": {}}
    data["somethingNew"] = True
    assert parse_event(data).event_id == "evt123_20250604T140000Z"


@pytest.mark.parametrize(
    ("payload", "message"),
    [
        ([], "the request body must be a JSON object"),
        ("text", "the request body must be a JSON object"),
        ({}, "commonEventObject: Missing data for required field."),
        ({"commonEventObject": {}}, "commonEventObject.hostApp: Missing data"),
        ({"commonEventObject": {"hostApp": "DRIVE"}}, "commonEventObject.hostApp: Must be one of"),
        ({"commonEventObject": "GMAIL"}, "commonEventObject: Invalid input type."),
        (
            {"commonEventObject": {"hostApp": "GMAIL", "timeZone": {"offset": "soon"}}},
            "commonEventObject.timeZone.offset: Not a valid integer.",
        ),
        (
            {"commonEventObject": {"hostApp": "GMAIL", "timeZone": {"offset": True}}},
            "commonEventObject.timeZone.offset: Not a valid integer.",
        ),
        (
            {"commonEventObject": {"hostApp": "GMAIL", "parameters": {"event_id": 42}}},
            "commonEventObject.parameters.event_id.value: Not a valid string.",
        ),
        (
            {"commonEventObject": {"hostApp": "GMAIL", "parameters": ["a"]}},
            "commonEventObject.parameters: Not a valid mapping type.",
        ),
        (
            {
                "commonEventObject": {
                    "hostApp": "GMAIL",
                    "formInputs": {"note": {"stringInputs": {"value": "not a list"}}},
                }
            },
            "commonEventObject.formInputs.note.value.stringInputs.value: Not a valid list.",
        ),
        (
            {"commonEventObject": {"hostApp": "GMAIL"}, "gmail": {"messageId": 1234}},
            "gmail.messageId: Not a valid string.",
        ),
        (
            {"commonEventObject": {"hostApp": "CALENDAR"}, "calendar": {"attendees": {"a": 1}}},
            "calendar.attendees: Not a valid list.",
        ),
        (
            {
                "commonEventObject": {"hostApp": "CALENDAR"},
                "calendar": {"attendees": [{"email": ["x@y.z"]}]},
            },
            "calendar.attendees.0.email: Not a valid string.",
        ),
        (
            {
                "commonEventObject": {"hostApp": "GMAIL"},
                "authorizationEventObject": {"authorizedScopes": "all"},
            },
            "authorizationEventObject.authorizedScopes: Not a valid list.",
        ),
        (
            {
                "commonEventObject": {"hostApp": "GMAIL"},
                "authorizationEventObject": {"userIdToken": 12345},
            },
            "authorizationEventObject.userIdToken: Not a valid string.",
        ),
    ],
)
def test_malformed_events(payload: Any, message: str) -> None:
    with pytest.raises(EventError) as info:
        parse_event(payload)
    assert message in str(info.value), str(info.value)
    assert str(info.value).startswith("invalid event object: ")


def test_error_message_never_echoes_values() -> None:
    with pytest.raises(EventError) as info:
        parse_event(
            {
                "commonEventObject": {"hostApp": "GMAIL"},
                "authorizationEventObject": {"userOAuthToken": ["ya29.secret"]},
            }
        )
    assert "ya29" not in str(info.value)
