"""A6: notes are stored with the server's time and their author on the meeting engagement
(logged on the first note, attendees linked to contacts), listed newest first in the rep's
zone, shown with the meeting on every attendee contact's timeline (REST); empty or oversize
notes get an inline error; a replayed submission makes one note."""

from __future__ import annotations

import threading
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from flask import Flask
from sqlalchemy import func, select

from server.addon import cards, paths
from server.calendars.meetings import meeting_key
from server.crm.models import Meeting, Note
from server.db import Database, utcnow

from ..cardcheck import check_response
from .conftest import Rep, meeting_ids
from .sidebar import BASE_URL, Sidebar, button, decorated, only_card, text_input, texts


def _event(rep: Rep) -> dict[str, Any]:
    created: dict[str, Any] = rep.side.google.calendar.add_event(
        rep.email,
        {
            "summary": "Pricing call",
            "start": {"dateTime": "2025-06-04T14:00:00+02:00"},
            "end": {"dateTime": "2025-06-04T15:00:00+02:00"},
            "attendees": [
                {"email": rep.email},
                {"email": "ada@client.example", "displayName": "Ada Lovelace"},
                {"email": "grace@client.example", "displayName": "Grace Hopper"},
                {"email": "bea@acme.example"},
            ],
        },
    )
    return created


def _save(side: Sidebar, card: dict[str, Any], text: str) -> dict[str, Any]:
    """Type ``text`` into the card's note input and press Save: the answer."""
    return side.click(button(card, "Save note")["onClick"], form={text_input(card)["name"]: text})


def _notes(database: Database) -> list[tuple[str, int | None, int | None]]:
    with database.transaction() as session:
        rows = session.scalars(select(Note).order_by(Note.id))
        return [(n.body, n.parent_id, n.owner_id) for n in rows]


def _note_lines(card: dict[str, Any]) -> list[str]:
    notes = next(s for s in card["sections"] if s.get("header") == "Notes")
    return [w["decoratedText"]["text"] for w in notes["widgets"] if "decoratedText" in w]


def test_a6_first_note_logs_the_meeting_with_its_attendees(
    connected: Rep, database: Database
) -> None:
    ada = connected.api("POST", "/contacts", json={"email": "ada@client.example"})
    grace = connected.api("POST", "/contacts", json={"email": "grace@client.example"})
    event = _event(connected)
    card = connected.side.open_event(event["id"])
    assert meeting_ids(database, connected.tenant.account_id) == []
    before = utcnow()
    answer = _save(connected.side, card, "Budget approved\nNext: contract")
    after = utcnow()
    assert answer["renderActions"]["action"]["notification"]["text"] == "Note saved"
    (meeting_id,) = meeting_ids(database, connected.tenant.account_id)
    meeting = connected.api("GET", f"/meetings/{meeting_id}")
    assert meeting["source"] == "assistant"
    assert meeting["external_event_id"] == event["id"]
    assert meeting["owner_email"] == connected.email
    linked = {a["email"]: (a["contact_id"], a["internal"]) for a in meeting["attendees"]}
    assert linked["ada@client.example"] == (ada["id"], False)
    assert linked["grace@client.example"] == (grace["id"], False)
    assert linked["bea@acme.example"] == (None, True)
    (note,) = meeting["notes"]
    assert note["body"] == "Budget approved\nNext: contract"
    assert note["author_email"] == connected.email
    assert before <= datetime.fromisoformat(note["created_at"]) <= after
    for contact in (ada, grace):  # on every attendee contact's timeline
        timeline = connected.api("GET", f"/contacts/{contact['id']}/timeline")["results"]
        assert [(i["type"], i["id"]) for i in timeline] == [
            ("note", note["id"]),
            ("meeting", meeting_id),
        ]


def test_a6_notes_are_listed_newest_first_in_the_reps_zone(
    connected: Rep, database: Database
) -> None:
    connected.side.time_zone = "Asia/Kolkata"
    card = connected.side.open_event(_event(connected)["id"])
    assert "No notes yet." in texts(card)
    card = only_card(_save(connected.side, card, "first"))
    assert text_input(card).get("value") is None  # a fresh, empty input after a save
    card = only_card(_save(connected.side, card, "second <b>bold</b>"))
    assert _note_lines(card) == ["second &lt;b&gt;bold&lt;/b&gt;", "first"]
    with database.transaction() as session:
        stamps = list(session.scalars(select(Note.occurred_at).order_by(Note.id)))
    local = stamps[-1].astimezone(ZoneInfo("Asia/Kolkata"))
    label = decorated(card, "second")["topLabel"]
    assert label == f"{local:%a} {local.day} {local:%b}, {local:%H:%M} \u00b7 {connected.email}"


def test_a6_empty_and_oversize_notes_get_an_inline_error(
    connected: Rep, database: Database
) -> None:
    card = connected.side.open_event(_event(connected)["id"])
    for text, error in (
        ("   \n ", "the note is empty"),
        ("x" * (cards.NOTE_MAX_CHARS + 1), "too long"),
        ("nul \x00 byte", "can't be saved"),
    ):
        answer = _save(connected.side, card, text)
        assert "notification" not in answer["renderActions"]["action"]
        again = only_card(answer)
        assert error in texts(again)
        if error == "too long":  # the draft is kept, so the rep can shorten it
            assert text_input(again)["value"] == "x" * cards.NOTE_MAX_CHARS
    assert _notes(database) == []
    assert meeting_ids(database, connected.tenant.account_id) == []


def test_a6_a_replayed_submission_makes_one_note(connected: Rep, database: Database) -> None:
    card = connected.side.open_event(_event(connected)["id"])
    save = button(card, "Save note")["onClick"]
    form = {text_input(card)["name"]: "Only once"}
    connected.side.click(save, form=form)
    connected.side.click(save, form=form)  # double click / Google's re-run after consent
    assert [body for body, _, _ in _notes(database)] == ["Only once"]
    refreshed = connected.side.open_event(_event_id(connected))
    _save(connected.side, refreshed, "Only once")  # the same text, a new submission
    assert [body for body, _, _ in _notes(database)] == ["Only once", "Only once"]


def _event_id(rep: Rep) -> str:
    (event,) = rep.side.google.calendar.events(rep.email)
    return str(event["id"])


def test_a6_notes_land_on_a_meeting_the_sync_already_logged(
    connected: Rep, database: Database
) -> None:
    """An engagement logged before (by the sync or an earlier note) is reused, not doubled."""
    event = _event(connected)
    card = connected.side.open_event(event["id"])
    _save(connected.side, card, "one")
    other_rep_card = connected.side.open_event(event["id"])
    _save(connected.side, other_rep_card, "two")
    (meeting_id,) = meeting_ids(database, connected.tenant.account_id)
    assert {parent for _, parent, _ in _notes(database)} == {meeting_id}


def test_a6_concurrent_first_notes_make_one_meeting(
    connected: Rep, database: Database, app: Flask
) -> None:
    """Two first notes at once (two tabs): one meeting engagement, both notes on it."""
    event = _event(connected)
    card = connected.side.open_event(event["id"])
    save = button(card, "Save note")["onClick"]["action"]
    field = text_input(card)["name"]
    params = {p["key"]: p["value"] for p in save["parameters"]}
    bodies = []
    for index in range(4):
        p = dict(params, nonce=f"tab-{index}")
        bodies.append(connected.side.event(parameters=p, form={field: f"note {index}"}))
    tokens = [connected.side.system_token(paths.ADD_NOTE) for _ in bodies]
    statuses: list[int] = []

    def submit(body: dict[str, Any], token: str) -> None:
        response = app.test_client().post(
            paths.ADD_NOTE, json=body, headers={"Authorization": f"Bearer {token}"}
        )
        statuses.append(response.status_code)
        check_response(response.get_json(), BASE_URL, "callback")

    threads = [
        threading.Thread(target=submit, args=pair) for pair in zip(bodies, tokens, strict=True)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert statuses == [200] * 4
    (meeting_id,) = meeting_ids(database, connected.tenant.account_id)
    notes = _notes(database)
    assert sorted(body for body, _, _ in notes) == [f"note {i}" for i in range(4)]
    assert {parent for _, parent, _ in notes} == {meeting_id}


def test_a6_a_meeting_created_concurrently_is_found_by_its_key(
    connected: Rep, database: Database
) -> None:
    """The losing side of a concurrent create: the insert hits the unique key, and the note
    goes on the meeting the other request made."""
    event = _event(connected)
    card = connected.side.open_event(event["id"])
    with database.transaction() as session:
        raced = Meeting(
            account_id=connected.tenant.account_id,
            title="Pricing call",
            start_at=utcnow(),
            end_at=utcnow() + timedelta(hours=1),
            source="assistant",
            idempotency_key=meeting_key(event["id"]),
        )
        session.add(raced)
        session.flush()
        raced_id = raced.id
    _save(connected.side, card, "after the race")
    assert _notes(database) == [("after the race", raced_id, connected.tenant.user_id)]
    with database.transaction() as session:
        assert session.scalar(select(func.count()).select_from(Meeting)) == 1
