"""A2: the home card lists the rep's meetings of today in the rep's time zone, read from the
primary calendar with the request's token; right across midnight and daylight-saving changes,
east and west of UTC. Calendar's
event-open trigger shows that event's meeting card directly."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from server.addon.calendar_api import day_window

from .conftest import Clock, Rep
from .sidebar import decorated, only_card, texts


def _add(rep: Rep, title: str, start: datetime, minutes: int = 30, **extra: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "summary": title,
        "start": {"dateTime": start.isoformat()},
        "end": {"dateTime": (start + timedelta(minutes=minutes)).isoformat()},
        "attendees": [{"email": rep.email}, {"email": "ada@client.example"}],
    }
    body.update(extra)
    created: dict[str, Any] = rep.side.google.calendar.add_event(rep.email, body)
    return created


def _titles(card: dict[str, Any]) -> list[str]:
    return [
        w["decoratedText"]["text"]
        for s in card["sections"]
        for w in s["widgets"]
        if "decoratedText" in w and "onClick" in w["decoratedText"]
    ]


def _listed_window(rep: Rep) -> tuple[str, str]:
    (call,) = [r for r in rep.side.google.calendar.requests if r.path.endswith("/events")]
    assert call.query["singleEvents"] == "true"
    assert call.query["orderBy"] == "startTime"
    assert call.path.endswith("/calendars/primary/events")
    return call.query["timeMin"], call.query["timeMax"]


# (zone, local day, instant of local midnight in UTC, of the next local midnight)
WINDOWS = [
    ("America/New_York", "2025-03-09", "2025-03-09T05:00:00Z", "2025-03-10T04:00:00Z"),  # 23 h
    ("America/New_York", "2025-11-02", "2025-11-02T04:00:00Z", "2025-11-03T05:00:00Z"),  # 25 h
    ("Europe/Berlin", "2025-03-30", "2025-03-29T23:00:00Z", "2025-03-30T22:00:00Z"),  # 23 h
    ("Europe/Berlin", "2025-10-26", "2025-10-25T22:00:00Z", "2025-10-26T23:00:00Z"),  # 25 h
    ("Asia/Tokyo", "2025-06-04", "2025-06-03T15:00:00Z", "2025-06-04T15:00:00Z"),  # east
    ("Pacific/Kiritimati", "2025-06-04", "2025-06-03T10:00:00Z", "2025-06-04T10:00:00Z"),
    ("America/Los_Angeles", "2025-06-04", "2025-06-04T07:00:00Z", "2025-06-05T07:00:00Z"),  # west
    ("Pacific/Pago_Pago", "2025-06-04", "2025-06-04T11:00:00Z", "2025-06-05T11:00:00Z"),
    (
        "America/Santiago",
        "2025-09-07",
        "2025-09-07T04:00:00Z",
        "2025-09-08T03:00:00Z",
    ),  # 00:00 skipped
]


@pytest.mark.parametrize(("zone", "day", "start", "end"), WINDOWS)
def test_a2_today_is_the_reps_local_day(
    connected: Rep, clock: Clock, zone: str, day: str, start: str, end: str
) -> None:
    """A2: midnight to midnight in the rep's zone, as Google is asked and as listed: the first
    and last minutes of the day are in, a minute either side is out."""
    tz = ZoneInfo(zone)
    first = datetime.fromisoformat(start)
    last = datetime.fromisoformat(end)
    assert day_window(datetime.fromisoformat(day).date(), tz) == (first, last)
    clock.now = first + (last - first) / 2
    connected.side.time_zone = zone
    connected.side.google.calendar.requests.clear()
    _add(connected, "Too early", first - timedelta(minutes=31))
    _add(connected, "First thing", first)
    _add(connected, "Last thing", last - timedelta(minutes=1), minutes=1)
    _add(connected, "Too late", last)
    card = connected.side.home()
    assert _titles(card) == ["First thing", "Last thing"]
    assert _listed_window(connected) == (start.replace("+00:00", "Z"), end.replace("+00:00", "Z"))


def test_a2_the_day_follows_the_reps_zone_not_utc(connected: Rep, clock: Clock) -> None:
    """A2 across midnight: 23:30 on Wednesday in Los Angeles is Thursday in UTC; the rep
    still sees Wednesday, and a minute past local midnight they see Thursday."""
    la = ZoneInfo("America/Los_Angeles")
    connected.side.time_zone = "America/Los_Angeles"
    _add(connected, "Wednesday late", datetime(2025, 6, 4, 22, 0, tzinfo=la))
    _add(connected, "Thursday early", datetime(2025, 6, 5, 8, 0, tzinfo=la))
    clock.now = datetime(2025, 6, 4, 23, 30, tzinfo=la)
    assert clock.now.astimezone(UTC).day == 5
    card = connected.side.home()
    assert _titles(card) == ["Wednesday late"]
    assert card["header"]["subtitle"] == "Wed 4 Jun"
    clock.now = datetime(2025, 6, 5, 0, 1, tzinfo=la)
    assert _titles(connected.side.home()) == ["Thursday early"]


def test_a2_home_lists_today_in_order_with_local_times(connected: Rep, clock: Clock) -> None:
    berlin = ZoneInfo("Europe/Berlin")
    _add(connected, "Afternoon", datetime(2025, 6, 4, 15, 0, tzinfo=berlin))
    _add(connected, "Morning", datetime(2025, 6, 4, 9, 0, tzinfo=UTC))  # 11:00 in Berlin
    connected.side.google.calendar.add_event(
        connected.email,
        {"summary": "Offsite", "start": {"date": "2025-06-04"}, "end": {"date": "2025-06-05"}},
    )
    cancelled = _add(connected, "Cancelled", datetime(2025, 6, 4, 16, 0, tzinfo=berlin))
    connected.side.google.calendar.delete_event(connected.email, cancelled["id"])
    _add(connected, "Someone else's", datetime(2025, 6, 4, 12, 0, tzinfo=berlin))
    connected.side.google.calendar.add_event(
        "other@acme.example",
        {
            "summary": "Not mine",
            "start": {"dateTime": "2025-06-04T12:00:00+02:00"},
            "end": {"dateTime": "2025-06-04T13:00:00+02:00"},
        },
    )
    card = connected.side.home()
    assert _titles(card) == ["Offsite", "Morning", "Someone else's", "Afternoon"]
    assert decorated(card, "Morning")["topLabel"] == "11:00 \u2013 11:30"
    assert decorated(card, "Offsite")["topLabel"] == "All day"
    assert decorated(card, "Afternoon")["bottomLabel"] == "2 guests"


def test_a2_no_meetings_today(connected: Rep) -> None:
    card = connected.side.home()
    assert "No meetings today." in texts(card)


def test_a2_each_meeting_opens_its_meeting_card(connected: Rep) -> None:
    event = _add(connected, "Pricing", datetime(2025, 6, 4, 12, 0, tzinfo=UTC))
    home = connected.side.home()
    answer = connected.side.click(decorated(home, "Pricing")["onClick"])
    assert answer["renderActions"]["action"]["navigations"][0].keys() == {"pushCard"}
    card = only_card(answer)
    assert card["name"] == "meeting"
    assert card["header"]["title"] == "Pricing"
    assert event["id"] in str(card)


def test_a2_calendar_event_open_shows_the_meeting_card(connected: Rep) -> None:
    event = _add(connected, "Quarterly review", datetime(2025, 6, 9, 12, 0, tzinfo=UTC))
    card = connected.side.open_event(event["id"])
    assert card["name"] == "meeting"
    assert card["header"]["title"] == "Quarterly review"
    assert "Mon 9 Jun" in card["header"]["subtitle"]  # any day, not only today


def test_a2_unsaved_event_gets_a_friendly_card(connected: Rep) -> None:
    card = connected.side.open_event(None)
    assert card["name"] == "unsaved-event"
    assert "isn't saved yet" in texts(card)


def test_a2_an_event_of_another_calendar_is_not_found(connected: Rep, make_rep: Any) -> None:
    other: Rep = make_rep("globex.example")
    theirs = _add(other, "Globex board", datetime(2025, 6, 4, 12, 0, tzinfo=UTC))
    card = connected.side.open_event(theirs["id"])
    assert card["header"]["title"] == "Event not found"
    assert "Globex" not in texts(card)


def test_a2_calendar_outage_gets_an_error_card(connected: Rep) -> None:
    connected.side.google.calendar.fail_next(3, 503)
    card = connected.side.home()
    assert card["name"] == "error"
    assert "didn't answer" in texts(card)
