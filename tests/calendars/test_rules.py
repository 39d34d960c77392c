"""The rules function alone: one table row per case, each naming the rule it checks."""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta

import pytest

from server.calendars.provider import CalendarEvent, EventAttendee
from server.calendars.rules import (
    Action,
    Known,
    LinkStatus,
    People,
    Series,
    decide,
    fingerprint,
    match_guests,
)
from server.crm.accounts import Directory

CONNECTED = datetime(2030, 1, 1, 9, 0, tzinfo=UTC)
AFTER = CONNECTED + timedelta(hours=1)
BEFORE = CONNECTED - timedelta(hours=1)
START = datetime(2030, 2, 1, 10, 0, tzinfo=UTC)

PEOPLE = People(
    calendar_email="rep@acme.example",
    directory=Directory(
        domains=frozenset({"acme.example"}),
        user_emails=frozenset({"rep@acme.example", "consultant@gmail.example"}),
        vendor_domains=frozenset({"meeting-assistant.app"}),
    ),
    contacts=frozenset(
        {
            "jane@client.example",
            "bob@acme.example",  # a contact with an internal address (R4 still wins)
            "consultant@gmail.example",  # a user of the account who is also a contact
            "help@meeting-assistant.app",
        }
    ),
)


def guest(email: str, status: str = "needsAction", **kw: bool) -> EventAttendee:
    return EventAttendee(email=email, response_status=status, **kw)


BASE = CalendarEvent(
    id="evt1",
    created=AFTER,
    updated=AFTER,
    start=START,
    end=START + timedelta(minutes=30),
    title="Call",
    organizer_email="rep@acme.example",
    attendees=(guest("rep@acme.example", "accepted", self=True), guest("jane@client.example")),
)
SERIES_EVENT = replace(BASE, id="ser1", is_series=True)
SERIES = Series(cancelled=False, logged=True, created=AFTER, fingerprint=fingerprint(SERIES_EVENT))
INSTANCE = replace(
    BASE,
    id="ser1_20300208T100000Z",
    recurring_event_id="ser1",
    original_start=START + timedelta(days=7),
    start=START + timedelta(days=7),
    end=START + timedelta(days=7, minutes=30),
)
TOMBSTONE = CalendarEvent(id="evt1", status="cancelled")
LOGGED = Known(LinkStatus.LOGGED, has_meeting=True, updated=AFTER)
LATER = AFTER + timedelta(minutes=5)


@dataclass(frozen=True)
class Case:
    name: str
    event: CalendarEvent
    action: Action
    rule: str
    known: Known | None = None
    series: Series | None = None
    contacts: tuple[str, ...] = ()


CASES = [
    Case(
        "R1 a guest is a contact: logged", BASE, Action.LOG, "R1", contacts=("jane@client.example",)
    ),
    Case(
        "R1 a contact invites the rep: the organizer is logged",
        replace(
            BASE,
            organizer_email="jane@client.example",
            attendees=(guest("rep@acme.example", self=True),),
        ),
        Action.LOG,
        "R1",
        contacts=("jane@client.example",),
    ),
    Case("R1 no guests at all", replace(BASE, attendees=()), Action.SKIP, "R1"),
    Case(
        "R1 focus time is not a meeting", replace(BASE, event_type="focusTime"), Action.SKIP, "R1"
    ),
    Case(
        "R2 edited: the meeting is updated",
        replace(BASE, updated=LATER),
        Action.UPDATE,
        "R2",
        LOGGED,
        contacts=("jane@client.example",),
    ),
    Case("R2 deleted: the meeting is removed", TOMBSTONE, Action.REMOVE, "R2", LOGGED),
    Case(
        "R2 deleted, but the meeting carries notes: kept as canceled",
        TOMBSTONE,
        Action.MARK_CANCELED,
        "R2",
        replace(LOGGED, has_notes=True),
    ),
    Case(
        "R2 no guest is a contact any more: removed",
        replace(BASE, updated=LATER, attendees=(guest("x@other.example"),)),
        Action.REMOVE,
        "R2",
        LOGGED,
    ),
    Case("R2 a replay of what was applied is skipped quietly", BASE, Action.SKIP, "-", LOGGED),
    Case(
        "R3 case-insensitive match",
        replace(BASE, attendees=(guest("JANE@Client.Example"),)),
        Action.LOG,
        "R1",
        contacts=("jane@client.example",),
    ),
    Case(
        "R3 no alias guessing (+tag)",
        replace(BASE, attendees=(guest("jane+sales@client.example"),)),
        Action.SKIP,
        "R9",
    ),
    Case(
        "R4 internal domain, even as a contact",
        replace(BASE, attendees=(guest("bob@acme.example"),)),
        Action.SKIP,
        "R4",
    ),
    Case(
        "R4 a user of the account",
        replace(BASE, attendees=(guest("consultant@gmail.example"),)),
        Action.SKIP,
        "R4",
    ),
    Case(
        "R4 the CRM vendor's domain",
        replace(BASE, attendees=(guest("help@meeting-assistant.app"),)),
        Action.SKIP,
        "R4",
    ),
    Case("R5 created before the connection", replace(BASE, created=BEFORE), Action.SKIP, "R5"),
    Case(
        "R5 created in the same millisecond as the connection counts as after",
        replace(BASE, created=CONNECTED + timedelta(microseconds=300)),
        Action.LOG,
        "R1",
        contacts=("jane@client.example",),
    ),
    Case(
        "R6 a series is logged at its first occurrence",
        SERIES_EVENT,
        Action.LOG,
        "R6",
        contacts=("jane@client.example",),
    ),
    Case(
        "R6 an occurrence that follows the series is not logged",
        INSTANCE,
        Action.SKIP,
        "R6",
        series=SERIES,
    ),
    Case(
        "R6 a moved occurrence is logged on its own",
        replace(
            INSTANCE,
            start=INSTANCE.start + timedelta(hours=2),
            end=INSTANCE.end + timedelta(hours=2),
        ),  # type: ignore[operator]
        Action.LOG,
        "R6",
        series=SERIES,
        contacts=("jane@client.example",),
    ),
    Case(
        "R6 an edited occurrence is logged on its own",
        replace(INSTANCE, title="Call (moved room)"),
        Action.LOG,
        "R6",
        series=SERIES,
        contacts=("jane@client.example",),
    ),
    Case(
        "R6 a re-answered occurrence is logged on its own",
        replace(
            INSTANCE,
            attendees=(
                guest("rep@acme.example", "accepted", self=True),
                guest("jane@client.example", "declined"),
            ),
        ),
        Action.LOG,
        "R6",
        series=SERIES,
        contacts=("jane@client.example",),
    ),
    Case(
        "R6 an occurrence cancelled on its own is logged as canceled",
        CalendarEvent(
            id=INSTANCE.id,
            status="cancelled",
            recurring_event_id="ser1",
            original_start=INSTANCE.original_start,
        ),
        Action.MARK_CANCELED,
        "R6",
        series=SERIES,
    ),
    Case(
        "R6 a logged occurrence cancelled later is marked canceled",
        CalendarEvent(id=INSTANCE.id, status="cancelled", recurring_event_id="ser1"),
        Action.MARK_CANCELED,
        "R6",
        LOGGED,
        SERIES,
    ),
    Case(
        "R6 deleting the series removes everything it logged",
        CalendarEvent(id="ser1", status="cancelled"),
        Action.REMOVE,
        "R6",
        replace(LOGGED, is_series=True),
    ),
    Case(
        "R6 occurrences of a deleted series are removed",
        CalendarEvent(id=INSTANCE.id, status="cancelled", recurring_event_id="ser1"),
        Action.REMOVE,
        "R6",
        LOGGED,
        replace(SERIES, cancelled=True),
    ),
    Case(
        "R6 a cancelled occurrence of a series that logged nothing is skipped",
        CalendarEvent(id=INSTANCE.id, status="cancelled", recurring_event_id="ser1"),
        Action.SKIP,
        "R6",
        series=replace(SERIES, logged=False),
    ),
    Case("R7 all-day events are not synced", replace(BASE, all_day=True), Action.SKIP, "R7"),
    Case(
        "R7 a logged event turned all-day is removed",
        replace(BASE, all_day=True, updated=LATER),
        Action.REMOVE,
        "R7",
        LOGGED,
    ),
    Case(
        "R8 private events are not synced", replace(BASE, visibility="private"), Action.SKIP, "R8"
    ),
    Case(
        "R8 confidential counts as private",
        replace(BASE, visibility="confidential"),
        Action.SKIP,
        "R8",
    ),
    Case(
        "R8 public turned private: frozen as it was",
        replace(BASE, visibility="private", updated=LATER),
        Action.FREEZE,
        "R8",
        LOGGED,
    ),
    Case(
        "R8 once frozen, later changes are not synced",
        replace(BASE, title="Renamed", updated=LATER + timedelta(minutes=1)),
        Action.SKIP,
        "R8",
        Known(LinkStatus.FROZEN, has_meeting=True, updated=LATER),
    ),
    Case(
        "R8 once frozen, even deletion is not synced",
        TOMBSTONE,
        Action.SKIP,
        "R8",
        Known(LinkStatus.FROZEN, has_meeting=True),
    ),
    Case(
        "R9 no external guest is a contact: nothing",
        replace(BASE, attendees=(guest("x@other.example"),)),
        Action.SKIP,
        "R9",
    ),
    Case(
        "R9 the next change after a guest became a contact logs it",
        replace(BASE, updated=LATER),
        Action.LOG,
        "R1",
        Known(LinkStatus.SKIPPED, has_meeting=False, updated=AFTER),
        contacts=("jane@client.example",),
    ),
    Case(
        "R9 no backfill: unchanged since the skip, still nothing",
        BASE,
        Action.SKIP,
        "-",
        Known(LinkStatus.SKIPPED, has_meeting=False, updated=AFTER),
    ),
    Case(
        "S1 the CRM's own event is updated, never logged twice",
        replace(BASE, updated=LATER),
        Action.UPDATE,
        "S1",
        replace(LOGGED, origin="crm"),
    ),
    Case(
        "S1 the CRM's own event before its link was recorded is not logged again",
        BASE,
        Action.UPDATE,
        "S1",
        Known(LinkStatus.LOGGED, has_meeting=True, origin="crm"),
    ),
    Case(
        "S2 a meeting deleted in the CRM is not logged again",
        replace(BASE, updated=LATER),
        Action.SKIP,
        "S2",
        Known(LinkStatus.LOGGED, has_meeting=False, updated=AFTER),
    ),
]


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_decide(case: Case) -> None:
    decision = decide(case.event, PEOPLE, CONNECTED, case.known, case.series)
    assert (decision.action, decision.rule) == (case.action, case.rule), decision.reason
    assert decision.contacts == case.contacts
    assert decision.reason


def test_rule_ids_each_have_a_case() -> None:
    named = {c.rule for c in CASES} | {c.name.split()[0] for c in CASES}
    assert {f"R{i}" for i in range(1, 10)} <= named


def test_r4_match_guests_counts_internal_and_external() -> None:
    event = replace(
        BASE,
        attendees=(
            guest("bob@acme.example"),
            guest("x@other.example"),
            guest("Jane@client.example"),
        ),
    )
    found = match_guests(event, PEOPLE)
    assert found.contacts == ("jane@client.example",)
    assert (found.internal, found.external) == (1, 1)


def test_r4_rooms_are_not_people() -> None:
    event = replace(BASE, attendees=(guest("jane@client.example", resource=True),))
    assert decide(event, PEOPLE, CONNECTED).rule == "R1"  # no guests left


def test_r6_series_deletion_cascades() -> None:
    decision = decide(
        CalendarEvent(id="ser1", status="cancelled"),
        PEOPLE,
        CONNECTED,
        replace(LOGGED, is_series=True),
    )
    assert decision.cascade
