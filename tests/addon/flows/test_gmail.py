"""Gmail sidebar (A4, A7): the open message's card with its people, "Log email" once per
Message-ID per account, "Add" for a person who is not a contact; the contact card from Gmail.
Host-level: signed event objects through the routes, Gmail and Calendar read from the stand-in."""

from __future__ import annotations

import logging
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from flask import Flask
from sqlalchemy import func, select

from server.addon import paths
from server.crm.emails import EmailMessage
from server.crm.models import Activity
from server.db import Database

from .conftest import Rep, add_user, connect_calendar
from .sidebar import GMAIL_TOKEN, Sidebar, button, decorated, only_card, texts

MESSAGE_ID = "<deal-42@client.example>"


def _mail(rep: Rep, gmail_id: str = "msg-1", **kwargs: Any) -> dict[str, Any]:
    fields: dict[str, Any] = {
        "sender": "Ada Client <Ada@Client.example>",
        "subject": "Next steps",
        "to": [rep.email, "bob@client.example", "Carol Prospect <carol@prospect.example>"],
        "cc": ["colleague@acme.example"],
        "body": "Hello, here are the next steps for the pilot.",
        "date": datetime(2025, 6, 3, 15, 30, tzinfo=UTC),
        "rfc822_id": MESSAGE_ID,
    }
    fields.update(kwargs)
    sender, subject = fields.pop("sender"), fields.pop("subject")
    return rep.side.google.gmail.add_message(rep.email, gmail_id, sender, subject, **fields)


def _open(side: Sidebar, gmail_id: str = "msg-1", token: str | None = GMAIL_TOKEN) -> Any:
    gmail = {"messageId": gmail_id, "threadId": "t-1"}
    if token is not None:
        gmail["accessToken"] = token
    return only_card(side.post(paths.GMAIL_MESSAGE, host="GMAIL", gmail=gmail))


def _click(side: Sidebar, on_click: Any, gmail_id: str = "msg-1") -> Any:
    gmail = {"messageId": gmail_id, "threadId": "t-1", "accessToken": GMAIL_TOKEN}
    return side.click(on_click, host="GMAIL", gmail=gmail)


def _contact(rep: Rep, email: str, name: str = "") -> int:
    first, _, last = name.partition(" ")
    body = {"email": email, "first_name": first or None, "last_name": last or None}
    return int(rep.api("POST", "/contacts", json={k: v for k, v in body.items() if v})["id"])


def _timeline(rep: Rep, contact_id: int) -> list[dict[str, Any]]:
    results: list[dict[str, Any]] = rep.api("GET", f"/contacts/{contact_id}/timeline")["results"]
    return results


def _emails(database: Database, account_id: int) -> int:
    with database.transaction() as session:
        return int(
            session.scalar(
                select(func.count(Activity.id)).where(
                    Activity.account_id == account_id, Activity.kind == "email"
                )
            )
            or 0
        )


def test_a7_message_card_marks_each_person(connected: Rep) -> None:
    _contact(connected, "ada@client.example", "Ada Client")
    _mail(connected)
    card = _open(connected.side)
    assert card["name"] == "message"
    assert card["header"]["title"] == "Next steps"
    ada = decorated(card, "Ada Client")
    assert ada["topLabel"] == "From \u00b7 Contact"
    assert ada["onClick"]["action"]["function"].endswith(paths.OPEN_CONTACT)
    bob = decorated(card, "bob@client.example")
    assert bob["topLabel"] == "To \u00b7 Not a contact"
    assert bob["button"]["text"] == "Add"  # A4
    assert decorated(card, "Carol Prospect")["bottomLabel"] == "carol@prospect.example"
    assert decorated(card, "colleague@acme.example")["topLabel"] == "Cc \u00b7 Internal"
    assert decorated(card, connected.email)["topLabel"] == "To \u00b7 Internal"
    assert "button" not in decorated(card, "colleague@acme.example")
    (call,) = connected.side.google.gmail.requests
    assert call.query["format"] == "metadata"
    assert call.headers.get("X-Goog-Gmail-Access-Token") == GMAIL_TOKEN


def test_a7_message_card_lists_the_senders_meetings_today_and_next(connected: Rep) -> None:
    def add(title: str, start: datetime, guests: list[str]) -> None:
        connected.side.google.calendar.add_event(
            connected.email,
            {
                "summary": title,
                "start": {"dateTime": start.isoformat()},
                "end": {"dateTime": (start + timedelta(minutes=30)).isoformat()},
                "attendees": [{"email": e} for e in [connected.email, *guests]],
            },
        )

    add("Standup", datetime(2025, 6, 4, 7, 0, tzinfo=UTC), [])
    add("Pilot review", datetime(2025, 6, 4, 12, 0, tzinfo=UTC), ["ada@client.example"])
    add("Contract call", datetime(2025, 6, 6, 9, 0, tzinfo=UTC), ["ada@client.example"])
    add("Later call", datetime(2025, 6, 9, 9, 0, tzinfo=UTC), ["ada@client.example"])
    _mail(connected)
    card = _open(connected.side)
    section = next(s for s in card["sections"] if s.get("header", "").startswith("Meetings"))
    assert section["header"] == "Meetings with ada@client.example"
    titles = [w["decoratedText"]["text"] for w in section["widgets"]]
    assert titles == ["Pilot review", "Contract call"]


def test_a7_log_email_once_then_twice(connected: Rep, database: Database) -> None:
    ada = _contact(connected, "ada@client.example", "Ada Client")
    carol = _contact(connected, "carol@prospect.example")
    _mail(connected)
    card = _open(connected.side)
    assert "Logs it on the timeline of 2 contacts." in texts(card)
    answer = _click(connected.side, button(card, "Log email")["onClick"])
    assert answer["renderActions"]["action"]["notification"]["text"] == (
        "Email logged on 2 contact timelines"
    )
    logged = only_card(answer)
    assert f"Logged to the CRM by {connected.email}" in texts(logged)
    for contact_id in (ada, carol):
        (item,) = _timeline(connected, contact_id)
        assert (item["type"], item["title"]) == ("email", "Next steps")
        assert item["occurred_at"].startswith("2025-06-03T15:30:00")
    # Logging again (a replayed click) changes nothing.
    again = _click(connected.side, button(card, "Log email")["onClick"])
    assert "Already logged by" in again["renderActions"]["action"]["notification"]["text"]
    assert _emails(database, connected.tenant.account_id) == 1
    assert len(_timeline(connected, ada)) == 1


def test_a7_logged_email_stores_people_and_a_bounded_excerpt(
    connected: Rep, database: Database
) -> None:
    _contact(connected, "ada@client.example")
    _mail(connected, body="word " * 2000)
    card = _open(connected.side)
    _click(connected.side, button(card, "Log email")["onClick"])
    with database.transaction() as session:
        activity = session.scalars(select(Activity).where(Activity.kind == "email")).one()
        assert activity.owner is not None
        assert activity.owner.email == connected.email
        assert activity.body.startswith("From: ada@client.example\nTo: ")
        assert "carol@prospect.example" in activity.body
        assert len(activity.body) < 1500
        message = session.scalars(select(EmailMessage)).one()
        assert message.rfc822_id == MESSAGE_ID


def test_a7_two_reps_log_the_same_message_once(
    connected: Rep, app: Flask, database: Database
) -> None:
    """A7: per account, the second rep's card says who logged it; nothing doubles."""
    ada = _contact(connected, "ada@client.example")
    other_email = "second@acme.example"
    add_user(database, connected.tenant.account_id, other_email)
    other = Sidebar(app.test_client(), connected.side.google, other_email)
    connect_calendar(other)
    _mail(connected)
    connected.side.google.gmail.add_message(
        other_email,
        "other-msg-9",
        "Ada <ada@client.example>",
        "Next steps",
        [other_email, "bob@client.example"],
        rfc822_id=MESSAGE_ID,
    )
    _click(connected.side, button(_open(connected.side), "Log email")["onClick"])
    seen = _open(other, "other-msg-9")
    assert f"Logged to the CRM by {connected.email}" in texts(seen)
    assert "Log email" not in texts(seen)
    # Even a stale card's button changes nothing.
    answer = _click(
        other,
        {"action": {"function": "https://addon.example.com" + paths.LOG_EMAIL}},
        "other-msg-9",
    )
    assert "Already logged" in answer["renderActions"]["action"]["notification"]["text"]
    assert _emails(database, connected.tenant.account_id) == 1
    assert len(_timeline(connected, ada)) == 1


def test_a7_sixty_recipients(connected: Rep, database: Database) -> None:
    recipients = [f"person{n:02d}@client.example" for n in range(60)]
    for email in recipients[:30]:
        _contact(connected, email)
    _mail(connected, to=recipients, cc=[])
    card = _open(connected.side)
    people = next(s for s in card["sections"] if s.get("header", "").startswith("People"))
    assert people["header"] == "People (61)"
    assert "+ 21 more people" in texts(card)
    answer = _click(connected.side, button(card, "Log email")["onClick"])
    assert "on 30 contact timelines" in answer["renderActions"]["action"]["notification"]["text"]
    with database.transaction() as session:
        activity = session.scalars(select(Activity).where(Activity.kind == "email")).one()
        assert len(activity.associations) == 30


def test_a7_internal_sender_is_never_logged_r4(connected: Rep, database: Database) -> None:
    """R3/R4: the internal sender is not linked, no contact is created."""
    colleague = "colleague@acme.example"
    ada = _contact(connected, "ada@client.example")
    _mail(connected, sender=f"Colleague <{colleague}>", to=["ada@client.example", "x@new.example"])
    card = _open(connected.side)
    assert decorated(card, "Colleague")["topLabel"] == "From \u00b7 Internal"
    _click(connected.side, button(card, "Log email")["onClick"])
    with database.transaction() as session:
        activity = session.scalars(select(Activity).where(Activity.kind == "email")).one()
        assert [(a.object_type, a.object_id) for a in activity.associations] == [("contact", ada)]
    found = connected.api("GET", "/contacts?email=x@new.example")["results"]
    assert found == []  # R3


def test_a7_unicode_subject(connected: Rep) -> None:
    ada = _contact(connected, "ada@client.example")
    subject = "Angebot f\u00fcr M\u00fcnchen \u2014 \u65e5\u672c\u8a9e \U0001f680"
    _mail(connected, subject=subject)
    card = _open(connected.side)
    assert card["header"]["title"] == subject
    _click(connected.side, button(card, "Log email")["onClick"])
    (item,) = _timeline(connected, ada)
    assert item["title"] == subject


def test_a4_contact_added_afterwards_gets_the_logged_email(connected: Rep) -> None:
    _contact(connected, "ada@client.example")
    _mail(connected)
    card = _open(connected.side)
    logged = only_card(_click(connected.side, button(card, "Log email")["onClick"]))
    add = decorated(logged, "Carol Prospect")["button"]
    answer = _click(connected.side, add["onClick"])
    assert "Carol Prospect is now a contact" in str(answer)
    refreshed = only_card(answer)
    carol = decorated(refreshed, "Carol Prospect")
    assert carol["topLabel"] == "To \u00b7 Contact"
    contact_id = int(carol["onClick"]["action"]["parameters"][0]["value"])
    (item,) = _timeline(connected, contact_id)
    assert item["title"] == "Next steps"
    # The contact card, opened from Gmail, shows it too.
    contact_card = only_card(_click(connected.side, carol["onClick"]))
    assert contact_card["name"] == "contact"
    assert "Next steps" in texts(contact_card)
    assert str(contact_id) in texts(contact_card)


def test_a4_add_refuses_an_address_not_on_the_message(connected: Rep) -> None:
    _mail(connected)
    action = {
        "action": {
            "function": "https://addon.example.com" + paths.ADD_EMAIL_CONTACT,
            "parameters": [{"key": "email", "value": "stranger@else.example"}],
        }
    }
    answer = _click(connected.side, action)
    assert "isn't on this message" in str(answer)
    assert connected.api("GET", "/contacts?email=stranger@else.example")["results"] == []


@pytest.mark.parametrize("token", [None, "expired"])
def test_a7_missing_or_expired_message_token(
    connected: Rep, token: str | None, caplog: pytest.LogCaptureFixture
) -> None:
    _mail(connected)
    if token == "expired":
        connected.side.google.gmail.fail_next(1, 401, reason="authError")
    with caplog.at_level(logging.DEBUG):
        card = _open(connected.side, token=None if token is None else GMAIL_TOKEN)
    assert card["name"] == "error"
    assert card["header"]["title"] == "Gmail access expired"
    assert GMAIL_TOKEN not in caplog.text
    assert "Next steps" not in caplog.text


def test_a7_another_reps_message_id_is_not_found(connected: Rep, make_rep: Any) -> None:
    stranger = make_rep("rival.example")
    connect_calendar(stranger.side)
    _mail(stranger, "their-msg")
    card = _open(connected.side, "their-msg")
    assert card["header"]["title"] == "Message not found"


def test_a7_gmail_errors_give_a_card_never_a_500(connected: Rep) -> None:
    _mail(connected)
    connected.side.google.gmail.fail_next(3, 503, reason="backendError")
    card = _open(connected.side)
    assert card["name"] == "error"
    assert "Gmail couldn't be reached" in texts(card)
