"""Today's meetings on the demo calendars, placed around "now" in the rep's time zone.

Pure: given the moment and the zone, the Calendar API event bodies to add to the stand-in
(https://developers.google.com/calendar/api/v3/reference/events#resource). One meeting with
attendees who are not contacts, one recurring, one with a Meet link, one internal-only, and an
invitation from a contact; all inside today, whatever the hour.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from .people import ALICE, BOB, CAROL, DANA, DAVE, ERIN, FRANK, MANAGER, REP, SUPPORT, Person

Json = dict[str, Any]
SLOT = timedelta(minutes=30)


@dataclass(frozen=True)
class Guest:
    person: Person
    response: str = "needsAction"


@dataclass(frozen=True)
class Plan:
    """A meeting relative to the anchor (``now`` rounded down to the half hour)."""

    key: str
    title: str
    offset_minutes: int
    duration_minutes: int
    guests: tuple[Guest, ...]
    organizer: Person = REP
    description: str = ""
    location: str = ""
    weekly_since_weeks: int = 0
    meet: bool = False
    calendars: tuple[Person, ...] = (REP,)
    extra: Json = field(default_factory=dict)


PLANS: tuple[Plan, ...] = (
    Plan(
        "pipeline",
        "Pipeline review",
        -90,
        30,
        (Guest(REP, "accepted"), Guest(MANAGER, "accepted"), Guest(SUPPORT, "tentative")),
        description="Internal: this week's numbers and next steps.",
        calendars=(REP, MANAGER),
    ),
    Plan(
        "initech-weekly",
        "Initech weekly check-in",
        0,
        30,
        (Guest(REP, "accepted"), Guest(CAROL, "accepted"), Guest(DAVE, "needsAction")),
        description="Weekly pilot status with Initech.",
        weekly_since_weeks=3,
    ),
    Plan(
        "northwind-onboarding",
        "Northwind onboarding",
        60,
        45,
        (
            Guest(REP, "accepted"),
            Guest(ALICE, "accepted"),
            Guest(FRANK, "tentative"),
            Guest(MANAGER, "accepted"),
        ),
        description="Kick-off for the 200-seat rollout.",
        meet=True,
        calendars=(REP, MANAGER),
    ),
    Plan(
        "globex-discovery",
        "Discovery call: Globex data team",
        150,
        30,
        (Guest(REP, "accepted"), Guest(DANA, "needsAction"), Guest(ERIN, "accepted")),
        description="First call with Globex's data team (referred by Bob).",
        location="Phone: +1 555 0100",
    ),
    Plan(
        "globex-renewal",
        "Globex renewal terms",
        240,
        30,
        (Guest(BOB, "accepted"), Guest(REP, "accepted")),
        organizer=BOB,
        description="Bob's invitation: pricing and terms for 2027.",
    ),
)


def anchor(now: datetime, zone: ZoneInfo) -> datetime:
    """``now`` rounded down to the half hour in ``zone``, moved so every plan falls on today
    (local date); in UTC, so that adding minutes is exact across daylight-saving changes."""
    local = now.astimezone(zone)
    base = local.replace(minute=local.minute - local.minute % 30, second=0, microsecond=0)
    base = base.astimezone(UTC)
    day_start = datetime.combine(local.date(), time(0), tzinfo=zone).astimezone(UTC)
    day_end = datetime.combine(local.date() + timedelta(days=1), time(0), tzinfo=zone)
    day_end = day_end.astimezone(UTC)
    first = base + timedelta(minutes=min(p.offset_minutes for p in PLANS))
    last = base + timedelta(minutes=max(p.offset_minutes + p.duration_minutes for p in PLANS))
    if first < day_start:
        base += day_start - first
    elif last > day_end:
        base -= last - day_end
    return base


def _when(moment: datetime, time_zone: str) -> Json:
    return {"dateTime": moment.isoformat(), "timeZone": time_zone}


def event_body(plan: Plan, base: datetime, time_zone: str) -> Json:
    """The events.insert body of ``plan`` for the day of ``base`` (a UTC anchor)."""
    zone = ZoneInfo(time_zone)
    start = (base + timedelta(minutes=plan.offset_minutes)).astimezone(zone)
    end = (start + timedelta(minutes=plan.duration_minutes)).astimezone(zone)
    body: Json = {
        "summary": plan.title,
        "description": plan.description,
        "attendees": [
            {"email": g.person.email, "displayName": g.person.name, "responseStatus": g.response}
            for g in plan.guests
        ],
    }
    if plan.location:
        body["location"] = plan.location
    if plan.organizer != REP:
        body["organizer"] = {"email": plan.organizer.email, "displayName": plan.organizer.name}
    if plan.weekly_since_weeks:
        # The series began weeks ago at the same wall-clock time; today's occurrence is ``start``.
        weeks = timedelta(weeks=plan.weekly_since_weeks)
        first = (start.replace(tzinfo=None) - weeks).replace(tzinfo=zone)
        body["start"] = _when(first, time_zone)
        body["end"] = _when(first + (end - start), time_zone)
        body["recurrence"] = ["RRULE:FREQ=WEEKLY"]
    else:
        body["start"] = _when(start, time_zone)
        body["end"] = _when(end, time_zone)
    if plan.meet:
        body["conferenceData"] = {
            "createRequest": {
                "requestId": f"demo-{plan.key}",
                "conferenceSolutionKey": {"type": "hangoutsMeet"},
            }
        }
    body.update(plan.extra)
    return body


def todays_events(now: datetime, time_zone: str) -> list[tuple[Person, Json]]:
    """``(calendar owner, event body)`` for every demo meeting, all on today's date."""
    base = anchor(now, ZoneInfo(time_zone))
    return [
        (owner, event_body(plan, base, time_zone)) for plan in PLANS for owner in plan.calendars
    ]
