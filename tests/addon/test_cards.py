"""Card builders (rules A1-A6): every card passes the card proto and our rules."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from server.addon import cards, paths, people_cards, responses
from server.addon.views import (
    AttendeeView,
    ContactView,
    HomeView,
    MeetingSummaryView,
    MeetingView,
    NoteView,
    RenderContext,
    TimelineItemView,
)

from .cardcheck import check_card, check_response
from .conftest import BASE_URL

NY = ZoneInfo("America/New_York")
CTX = RenderContext(BASE_URL, NY, "en-US", "nonce-1")
CTX_FR = RenderContext(BASE_URL, ZoneInfo("Europe/Paris"), "fr-FR", "nonce-2")
START = datetime(2025, 6, 4, 14, 0, tzinfo=UTC)  # 10:00 in New York
CONNECT = paths.connect_url(BASE_URL, "signed.state-value")


def widgets(card: dict[str, Any]) -> list[dict[str, Any]]:
    return [w for s in card["sections"] for w in s["widgets"]]


def params(on_click: dict[str, Any]) -> dict[str, str]:
    action = on_click.get("action") or on_click["openDynamicLinkAction"]
    return {p["key"]: p["value"] for p in action.get("parameters", [])}


def function(on_click: dict[str, Any]) -> str:
    action = on_click.get("action") or on_click["openDynamicLinkAction"]
    result: str = action["function"]
    return result


def meeting(**changes: Any) -> MeetingView:
    values: dict[str, Any] = {
        "event_id": "evt1",
        "calendar_id": "rep@acme.example",
        "title": "Pricing <review> & demo",
        "start": START,
        "end": START + timedelta(minutes=30),
        "attendees": [
            AttendeeView("rep@acme.example", "Rita Rep", "internal", None, "accepted", True),
            AttendeeView("jane@customer.example", "Jane Roe", "contact", "17", "tentative"),
            AttendeeView("bob@customer.example", None, "not_contact", None, "needsAction"),
        ],
        "notes": [
            NoteView("First", START + timedelta(minutes=1), "rep@acme.example", "n1"),
            NoteView("Second <b>bold</b>\nline", START + timedelta(minutes=5), None, "n2"),
        ],
        "video_url": "https://meet.google.com/abc-defg-hij",
        "calendar_url": "https://www.google.com/calendar/event?eid=abc",
        "meeting_id": "5",
    }
    values.update(changes)
    return MeetingView(**values)


# --------------------------------------------------------------------------- A1 and identity


def test_connect_card_opens_oauth_in_an_overlay_that_reloads() -> None:
    card = cards.connect_card(CTX, CONNECT)
    check_card(card, BASE_URL)
    (button,) = [b for w in widgets(card) if "buttonList" in w for b in w["buttonList"]["buttons"]]
    assert button["onClick"]["openLink"] == {
        "url": BASE_URL + "/oauth/google/start?state=signed.state-value",
        "openAs": "OVERLAY",
        "onClose": "RELOAD",
    }


def test_unknown_rep_card_shows_no_data() -> None:
    card = cards.unknown_rep_card(CTX, "stranger@<evil>.example")
    check_card(card, BASE_URL)
    text = json.dumps(card)
    assert "stranger@&lt;evil&gt;.example" in text
    assert "<evil>" not in text


def test_reconnect_banner_on_home_and_meeting() -> None:
    home = cards.home_card(CTX, HomeView(date(2025, 6, 4), reconnect_url=CONNECT))
    check_card(home, BASE_URL)
    first = home["sections"][0]["widgets"]
    assert "stopped working" in first[0]["textParagraph"]["text"]
    assert first[1]["buttonList"]["buttons"][0]["onClick"]["openLink"]["onClose"] == "RELOAD"
    card = cards.meeting_card(CTX, meeting(), reconnect_url=CONNECT)
    check_card(card, BASE_URL)
    assert "stopped working" in json.dumps(card["sections"][0])


# --------------------------------------------------------------------------- A2 home


def summary(event_id: str, hour: int, guests: tuple[str, ...] = ()) -> MeetingSummaryView:
    start = datetime(2025, 6, 4, hour, tzinfo=NY)
    return MeetingSummaryView(
        event_id, "primary", f"Meeting {event_id}", start, start + timedelta(hours=1), False, guests
    )


def test_home_card_lists_meetings_that_open_their_card() -> None:
    home = HomeView(date(2025, 6, 4), [summary("a", 9), summary("b", 13, ("x@y.example",))])
    card = cards.home_card(CTX, home)
    check_card(card, BASE_URL)
    check_response(responses.trigger_response(card), BASE_URL, "trigger")
    assert card["header"] == {"title": "Today's meetings", "subtitle": "Wed, Jun 4"}
    lines = [w["decoratedText"] for w in widgets(card)]
    assert [line["text"] for line in lines] == ["Meeting a", "Meeting b"]
    assert lines[0]["topLabel"] == "9:00 AM \u2013 10:00 AM"
    assert lines[1]["bottomLabel"] == "1 guest"
    assert function(lines[1]["onClick"]) == BASE_URL + paths.OPEN_MEETING
    assert params(lines[1]["onClick"]) == {"event_id": "b", "calendar_id": "primary"}
    assert function(card["fixedFooter"]["primaryButton"]["onClick"]) == BASE_URL + paths.REFRESH
    assert function(card["cardActions"][0]["onClick"]) == BASE_URL + paths.DISCONNECT


def test_home_card_puts_the_senders_meetings_first() -> None:
    home = HomeView(
        date(2025, 6, 4),
        [summary("a", 9), summary("b", 13, ("Jane@Customer.example",)), summary("c", 15)],
        highlight_email="jane@customer.example",
    )
    card = cards.home_card(CTX, home)
    check_card(card, BASE_URL)
    first, rest = card["sections"]
    assert first["header"] == "With jane@customer.example"
    assert [w["decoratedText"]["text"] for w in first["widgets"]] == ["Meeting b"]
    assert rest["header"] == "Other meetings today"
    assert [w["decoratedText"]["text"] for w in rest["widgets"]] == ["Meeting a", "Meeting c"]


def test_home_card_without_meetings() -> None:
    card = cards.home_card(CTX_FR, HomeView(date(2025, 6, 4), notice="Calendar is slow <today>"))
    check_card(card, BASE_URL)
    text = json.dumps(card)
    assert "No meetings today." in text
    assert "&lt;today&gt;" in text
    assert card["header"]["subtitle"] == "Wed 4 Jun"


def test_home_card_caps_its_length() -> None:
    many = [summary(str(i), 9) for i in range(200)]
    card = cards.home_card(CTX, HomeView(date(2025, 6, 4), many, reconnect_url=CONNECT))
    check_card(card, BASE_URL)
    assert "+ 160 more meetings" in json.dumps(card)


def test_all_day_and_cross_midnight_times() -> None:
    late = datetime(2025, 6, 4, 23, 30, tzinfo=NY)
    home = HomeView(
        date(2025, 6, 4),
        [
            MeetingSummaryView("d", "primary", "Offsite", None, None, all_day=True),
            MeetingSummaryView("n", "primary", "Late", late, late + timedelta(hours=1)),
        ],
    )
    labels = [w["decoratedText"]["topLabel"] for w in widgets(cards.home_card(CTX, home))]
    assert labels == ["All day", "11:30 PM \u2013 Thu, Jun 5, 12:30 AM"]
    labels = [w["decoratedText"]["topLabel"] for w in widgets(cards.home_card(CTX_FR, home))]
    assert labels == ["All day", "05:30 \u2013 06:30"]


def test_times_follow_daylight_saving() -> None:
    winter = datetime(2025, 1, 15, 15, tzinfo=UTC)
    summer = datetime(2025, 7, 15, 15, tzinfo=UTC)
    card = cards.home_card(
        CTX,
        HomeView(
            date(2025, 1, 15),
            [
                MeetingSummaryView("w", "primary", "W", winter, None),
                MeetingSummaryView("s", "primary", "S", summer, None),
            ],
        ),
    )
    assert [w["decoratedText"]["topLabel"] for w in widgets(card)] == ["10:00 AM", "11:00 AM"]


# --------------------------------------------------------------------------- A3-A6 meeting


def test_meeting_card_marks_each_attendee() -> None:
    card = cards.meeting_card(CTX, meeting())
    check_card(card, BASE_URL)
    check_response(responses.push_card(card), BASE_URL, "callback")
    assert card["header"]["title"] == "Pricing <review> & demo"  # header titles are plain text
    attendees = next(s for s in card["sections"] if s.get("header", "").startswith("Attendees"))
    rita, jane, bob = (w["decoratedText"] for w in attendees["widgets"])
    assert rita["topLabel"] == "Internal \u00b7 Organizer \u00b7 Accepted"
    assert "onClick" not in rita
    assert "button" not in rita
    assert jane["text"] == "Jane Roe"
    assert jane["topLabel"] == "Contact \u00b7 Maybe"
    assert function(jane["onClick"]) == BASE_URL + paths.OPEN_CONTACT
    assert params(jane["onClick"]) == {
        "contact_id": "17",
        "event_id": "evt1",
        "calendar_id": "rep@acme.example",
    }
    assert bob["text"] == "bob@customer.example"
    assert bob["topLabel"].startswith("Not a contact")
    assert bob["button"]["text"] == "Add"
    assert function(bob["button"]["onClick"]) == BASE_URL + paths.ADD_CONTACT
    assert params(bob["button"]["onClick"]) == {
        "email": "bob@customer.example",
        "nonce": "nonce-1",
        "event_id": "evt1",
        "calendar_id": "rep@acme.example",
        "meeting_id": "5",
    }


def test_add_carries_the_attendee_name() -> None:
    person = AttendeeView("ann@customer.example", "Ann Lee", "not_contact")
    card = cards.meeting_card(CTX, meeting(attendees=[person], meeting_id=None))
    (line,) = next(s for s in card["sections"] if s.get("header") == "Attendees (1)")["widgets"]
    got = params(line["decoratedText"]["button"]["onClick"])
    assert got["name"] == "Ann Lee"
    assert "meeting_id" not in got


def test_start_meeting_is_a_dynamic_link_and_calendar_a_plain_link() -> None:
    card = cards.meeting_card(CTX, meeting())
    footer = card["fixedFooter"]
    start = footer["primaryButton"]["onClick"]
    assert function(start) == BASE_URL + paths.START_MEETING
    assert params(start) == {
        "event_id": "evt1",
        "calendar_id": "rep@acme.example",
        "meeting_id": "5",
    }
    assert footer["secondaryButton"]["onClick"]["openLink"]["url"].startswith(
        "https://www.google.com/calendar/"
    )
    link = responses.open_link("https://meet.google.com/abc-defg-hij", "Meeting started")
    check_response(link, BASE_URL, "callback")
    no_calendar = cards.meeting_card(CTX, meeting(calendar_url=None))
    check_card(no_calendar, BASE_URL)
    assert "secondaryButton" not in no_calendar["fixedFooter"]


def test_notes_newest_first_in_the_reps_zone_and_escaped() -> None:
    card = cards.meeting_card(CTX, meeting())
    notes = next(s for s in card["sections"] if s.get("header") == "Notes")["widgets"]
    text_input = notes[0]["textInput"]
    assert text_input["name"] == "note_nonce-1"
    assert text_input["type"] == "MULTIPLE_LINE"
    save = notes[1]["buttonList"]["buttons"][0]["onClick"]
    assert function(save) == BASE_URL + paths.ADD_NOTE
    assert params(save) == {
        "nonce": "nonce-1",
        "note_field": "note_nonce-1",
        "event_id": "evt1",
        "calendar_id": "rep@acme.example",
        "meeting_id": "5",
    }
    second, first = notes[2]["decoratedText"], notes[3]["decoratedText"]
    assert second["text"] == "Second &lt;b&gt;bold&lt;/b&gt;<br>line"
    assert second["topLabel"] == "Wed, Jun 4, 10:05 AM"
    assert first["topLabel"] == "Wed, Jun 4, 10:01 AM \u00b7 rep@acme.example"


def test_note_error_is_inline_and_keeps_the_draft() -> None:
    card = cards.meeting_card(
        CTX, meeting(notes=[]), note_error="A note can't be empty.", note_draft="  "
    )
    check_card(card, BASE_URL)
    check_response(responses.update_card(card), BASE_URL, "callback")
    notes = next(s for s in card["sections"] if s.get("header") == "Notes")["widgets"]
    assert notes[0]["textInput"]["value"] == "  "
    assert (
        notes[1]["textParagraph"]["text"] == '<font color="#B3261E">A note can\'t be empty.</font>'
    )
    assert "No notes yet." in json.dumps(notes)


def test_started_meeting_shows_when() -> None:
    card = cards.meeting_card(CTX_FR, meeting(started_at=START + timedelta(minutes=2)))
    check_card(card, BASE_URL)
    assert card["sections"][0]["widgets"][1]["decoratedText"]["text"] == "16:02"
    assert card["header"]["subtitle"] == "Wed 4 Jun, 16:00 \u2013 16:30"


def test_huge_meeting_stays_within_card_limits() -> None:
    people = [AttendeeView(f"p{i}@customer.example") for i in range(300)]
    notes = [NoteView("x" * 6000, START + timedelta(minutes=i)) for i in range(80)]
    card = cards.meeting_card(CTX, meeting(attendees=people, notes=notes, title="T" * 500))
    check_card(card, BASE_URL)
    text = json.dumps(card)
    assert "+ 260 more guests" in text
    assert "+ 55 more notes" in text
    assert len(card["header"]["title"]) <= 100


def test_meeting_without_guests_or_times() -> None:
    card = cards.meeting_card(CTX, meeting(attendees=[], start=None, end=None, title=""))
    check_card(card, BASE_URL)
    assert card["header"]["title"] == "(No title)"
    assert "No guests." in json.dumps(card)


# --------------------------------------------------------------------------- contact and others


def test_contact_card() -> None:
    contact = ContactView(
        "17",
        "jane@customer.example",
        "Jane Roe",
        "Customer & Co",
        [
            TimelineItemView("note", "Old note", START - timedelta(days=3)),
            TimelineItemView("meeting", "Pricing review", START),
        ],
    )
    card = people_cards.contact_card(CTX, contact)
    check_card(card, BASE_URL)
    check_response(responses.push_card(card), BASE_URL, "callback")
    assert card["header"] == {"title": "Jane Roe", "subtitle": "jane@customer.example"}
    assert "Customer &amp; Co" in json.dumps(card)
    items = [w["decoratedText"] for w in card["sections"][1]["widgets"]]
    assert [i["text"] for i in items] == ["Pricing review", "Old note"]
    assert items[0]["topLabel"] == "Meeting \u00b7 Wed, Jun 4, 10:00 AM"


def test_contact_card_without_name_or_activity() -> None:
    card = people_cards.contact_card(CTX, ContactView("3", "x@y.example"))
    check_card(card, BASE_URL)
    assert card["header"] == {"title": "x@y.example"}
    assert "No activity yet." in json.dumps(card)


@pytest.mark.parametrize(
    "card",
    [
        cards.unsaved_event_card(CTX),
        cards.error_card(CTX, "The event is not on your calendar <anymore>."),
    ],
)
def test_other_cards(card: dict[str, Any]) -> None:
    check_card(card, BASE_URL)
    check_response(responses.trigger_response(card), BASE_URL, "trigger")
    assert "<anymore>" not in json.dumps(card)


def test_callback_envelopes() -> None:
    home = cards.home_card(CTX, HomeView(date(2025, 6, 4)))
    for resp in (
        responses.pop_to_root(home, "Calendar disconnected"),
        responses.pop_to_root(),
        responses.notify("Contact added"),
        responses.update_card(home, "Saved"),
    ):
        check_response(resp, BASE_URL, "callback")
    assert responses.pop_to_root(home)["renderActions"]["action"]["navigations"] == [
        {"popToRoot": True},
        {"updateCard": home},
    ]


def test_actions_only_target_action_paths() -> None:
    from server.addon.widgets import action

    with pytest.raises(ValueError, match="not an action path"):
        action(CTX, paths.HOME)
