"""Action parameters come from the client: ids of another account's contacts, meetings or
events are refused with a card and change nothing. Event ids are read through the rep's own
Calendar token, so another calendar's event is simply not found."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import func, select

from server.addon import paths
from server.crm.models import Contact, Meeting, Note
from server.db import Database

from .conftest import Rep, meeting_ids
from .sidebar import button, decorated, only_card, text_input, texts


def _event(rep: Rep, title: str) -> dict[str, Any]:
    created: dict[str, Any] = rep.side.google.calendar.add_event(
        rep.email,
        {
            "summary": title,
            "start": {"dateTime": "2025-06-04T14:00:00+02:00"},
            "end": {"dateTime": "2025-06-04T15:00:00+02:00"},
            "attendees": [{"email": rep.email}, {"email": "ada@client.example"}],
        },
    )
    return created


def _counts(database: Database) -> tuple[int, ...]:
    with database.transaction() as session:
        return tuple(
            int(session.scalar(select(func.count()).select_from(m)) or 0)
            for m in (Contact, Meeting, Note)
        )


@pytest.fixture
def globex(make_rep: Any) -> Rep:
    """Another tenant with a contact, a logged meeting and a note."""
    from .conftest import connect_calendar

    other: Rep = make_rep("globex.example")
    connect_calendar(other.side)
    other.api("POST", "/contacts", json={"email": "ada@client.example", "first_name": "Secret"})
    event = _event(other, "Globex board")
    card = other.side.open_event(event["id"])
    field = text_input(card)["name"]
    other.side.click(button(card, "Save note")["onClick"], form={field: "Globex secret"})
    return other


def _refused(answer: dict[str, Any]) -> str:
    card = only_card(answer)
    assert card["header"]["title"] == "Not found", texts(card)
    assert "Globex" not in texts(card)
    assert "Secret" not in texts(card)
    return texts(card)


def test_another_accounts_contact_id_is_refused(
    connected: Rep, globex: Rep, database: Database
) -> None:
    (theirs,) = globex.api("GET", "/contacts")["results"]
    before = _counts(database)
    answer = connected.side.post(paths.OPEN_CONTACT, parameters={"contact_id": str(theirs["id"])})
    assert "isn't in your account" in _refused(answer)
    for bogus in ("0", "-1", "abc", "99999999999999999999"):
        _refused(connected.side.post(paths.OPEN_CONTACT, parameters={"contact_id": bogus}))
    assert _counts(database) == before


def test_another_accounts_meeting_id_is_refused_for_every_action(
    connected: Rep, globex: Rep, database: Database
) -> None:
    (their_meeting,) = meeting_ids(database, globex.tenant.account_id)
    mine = _event(connected, "Mine")
    card = connected.side.open_event(mine["id"])
    field = text_input(card)["name"]
    before = _counts(database)
    for path, form in (
        (paths.ADD_NOTE, {field: "sneaky"}),
        (paths.START_MEETING, None),
        (paths.ADD_CONTACT, None),
        (paths.OPEN_MEETING, None),
    ):
        params = {
            "event_id": mine["id"],
            "meeting_id": str(their_meeting),
            "nonce": "n",
            "note_field": field,
            "email": "ada@client.example",
        }
        _refused(connected.side.post(path, parameters=params, form=form))
    assert _counts(database) == before
    assert globex.api("GET", f"/meetings/{their_meeting}")["started_at"] is None


def test_another_calendars_event_id_is_not_found(
    connected: Rep, globex: Rep, database: Database
) -> None:
    (theirs,) = globex.side.google.calendar.events(globex.email)
    card = connected.side.open_event(_event(connected, "Mine")["id"])
    field = text_input(card)["name"]
    before = _counts(database)
    for path, form in (
        (paths.OPEN_MEETING, None),
        (paths.ADD_NOTE, {field: "sneaky"}),
        (paths.START_MEETING, None),
        (paths.ADD_CONTACT, None),
    ):
        params = {"event_id": theirs["id"], "nonce": "n", "note_field": field}
        params["email"] = "ada@client.example"
        assert "isn't on your calendar" in _refused(
            connected.side.post(path, parameters=params, form=form)
        )
    _refused(connected.side.post(paths.OPEN_MEETING, parameters={}))
    assert _counts(database) == before


def test_adding_someone_who_is_not_a_guest_is_refused(connected: Rep, database: Database) -> None:
    event = _event(connected, "Mine")
    card = connected.side.open_event(event["id"])
    add = dict(decorated(card, "ada@client.example")["button"]["onClick"]["action"])
    params = [p for p in add["parameters"] if p["key"] != "email"]
    add["parameters"] = [*params, {"key": "email", "value": "mallory@evil.example"}]
    assert "isn't a guest" in _refused(connected.side.click({"action": add}))
    internal = [*params, {"key": "email", "value": connected.email}]
    add["parameters"] = internal
    _refused(connected.side.click({"action": add}))
    assert _counts(database) == (0, 0, 0)


def test_a_meeting_id_of_the_same_account_but_another_event_is_refused(
    connected: Rep, database: Database
) -> None:
    first, second = _event(connected, "First"), _event(connected, "Second")
    card = connected.side.open_event(first["id"])
    connected.side.click(button(card, "Save note")["onClick"], form={text_input(card)["name"]: "x"})
    (meeting_id,) = meeting_ids(database, connected.tenant.account_id)
    answer = connected.side.post(
        paths.START_MEETING, parameters={"event_id": second["id"], "meeting_id": str(meeting_id)}
    )
    assert "doesn't belong to this event" in _refused(answer)
    assert meeting_ids(database, connected.tenant.account_id) == [meeting_id]
