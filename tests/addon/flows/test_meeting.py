"""A3 (meeting card: attendees as contact / internal / not a contact; a contact's card), A4
(Add: one contact whatever the replays), A5 (Start meeting: Meet link or the Calendar page, and
``started_at`` on the meeting engagement)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import func, select

from server.addon import paths, scopes
from server.crm.models import Contact, Meeting
from server.db import Database

from .conftest import NOW, Rep, meeting_ids
from .sidebar import BASE_URL, button, decorated, only_card, texts

MEET = "https://meet.google.com/abc-defg-hij"


def _event(rep: Rep, **extra: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "summary": "Pricing call",
        "start": {"dateTime": "2025-06-04T14:00:00+02:00"},
        "end": {"dateTime": "2025-06-04T15:00:00+02:00"},
        "attendees": [
            {"email": rep.email, "responseStatus": "accepted"},
            {"email": "ada@client.example", "displayName": "Ada Lovelace"},
            {"email": "Grace@Client.example", "displayName": "Grace Hopper"},
            {"email": "bea@acme.example", "displayName": "Bea Colleague"},
            {"email": "ops@meeting-assistant.app"},
            {"email": "room-1@resource.calendar.google.com", "resource": True},
        ],
    }
    body.update(extra)
    created: dict[str, Any] = rep.side.google.calendar.add_event(rep.email, body)
    return created


def _status(card: dict[str, Any], who: str) -> str:
    """contact / internal / not a contact: the first part of the attendee's top label."""
    return str(decorated(card, who)["topLabel"]).split(" \u00b7 ")[0]


def _contacts(database: Database, account_id: int) -> list[tuple[str, str, str]]:
    with database.transaction() as session:
        rows = session.scalars(
            select(Contact).where(Contact.account_id == account_id).order_by(Contact.id)
        )
        return [(c.email, c.first_name, c.last_name) for c in rows]


def test_a3_attendees_are_marked_contact_internal_or_not(connected: Rep) -> None:
    company = connected.api("POST", "/companies", json={"name": "Analytical Engines"})
    connected.api(
        "POST",
        "/contacts",
        json={"email": "ada@client.example", "first_name": "Ada", "company_id": company["id"]},
    )
    card = connected.side.open_event(_event(connected)["id"])
    assert card["header"]["title"] == "Pricing call"
    assert card["header"]["subtitle"] == "Wed 4 Jun, 14:00 \u2013 15:00"
    assert _status(card, "Ada Lovelace") == "Contact"
    assert _status(card, "Grace Hopper") == "Not a contact"
    assert _status(card, "Bea Colleague") == "Internal"
    assert _status(card, "ops@meeting-assistant.app") == "Internal"  # the vendor
    assert (
        decorated(card, connected.email)["topLabel"] == "Internal \u00b7 Organizer \u00b7 Accepted"
    )
    assert "room-1" not in texts(card)  # rooms are not people
    assert "Add" not in str(decorated(card, "Bea Colleague"))
    assert decorated(card, "Grace Hopper")["button"]["text"] == "Add"


def test_a3_a_contacts_name_opens_the_contact_card(connected: Rep) -> None:
    company = connected.api("POST", "/companies", json={"name": "Analytical Engines"})
    connected.api(
        "POST",
        "/contacts",
        json={
            "email": "ada@client.example",
            "first_name": "Ada",
            "last_name": "Lovelace",
            "company_id": company["id"],
        },
    )
    event = _event(connected)
    meeting = connected.side.open_event(event["id"])
    save = button(meeting, "Save note")["onClick"]
    field = save["action"]["parameters"]
    note_field = next(p["value"] for p in field if p["key"] == "note_field")
    meeting = only_card(connected.side.click(save, form={note_field: "Asked for a discount"}))
    answer = connected.side.click(decorated(meeting, "Ada Lovelace")["onClick"])
    assert answer["renderActions"]["action"]["navigations"][0].keys() == {"pushCard"}
    card = only_card(answer)
    assert card["name"] == "contact"
    assert card["header"]["title"] == "Ada Lovelace"
    assert decorated(card, "ada@client.example")["topLabel"] == "Email"
    assert decorated(card, "Analytical Engines")["topLabel"] == "Company"
    assert decorated(card, "Pricing call")["topLabel"] == "Next meeting \u00b7 Wed 4 Jun, 14:00"
    assert decorated(card, "Contact id")["text"].isdigit()
    latest = [w["decoratedText"] for w in card["sections"][1]["widgets"]]
    pricing = next(d for d in latest if d["text"] == "Pricing call")
    assert pricing["topLabel"].startswith("Meeting \u00b7 Wed 4 Jun, 14:00")
    assert decorated(card, "Asked for a discount")["topLabel"].startswith("Note \u00b7 ")


def test_a4_add_creates_the_contact_from_name_and_address_then_refreshes(
    connected: Rep, database: Database
) -> None:
    event = _event(connected)
    card = connected.side.open_event(event["id"])
    add = decorated(card, "Grace Hopper")["button"]["onClick"]
    answer = connected.side.click(add)
    action = answer["renderActions"]["action"]
    assert action["navigations"][0].keys() == {"updateCard"}
    assert action["notification"]["text"] == "Grace Hopper is now a contact"
    refreshed = only_card(answer)
    assert _status(refreshed, "Grace Hopper") == "Contact"
    assert "button" not in decorated(refreshed, "Grace Hopper")
    assert _contacts(database, connected.tenant.account_id) == [
        ("Grace@Client.example", "Grace", "Hopper")
    ]


def test_a4_double_click_and_consent_rerun_make_one_contact(
    connected: Rep, database: Database
) -> None:
    """A4 idempotent: the same click twice, and Google re-running it after a consent prompt."""
    card = connected.side.open_event(_event(connected)["id"])
    add = decorated(card, "Ada Lovelace")["button"]["onClick"]
    partial = tuple(
        s for s in scopes.DESCRIPTOR_SCOPES if s != scopes.CALENDAR_EVENTS_OWNED_READONLY
    )
    assert "requesting_google_scopes" in connected.side.click(add, granted=partial)
    assert _contacts(database, connected.tenant.account_id) == []
    connected.side.click(add)  # Google re-runs the action once the scope is granted
    connected.side.click(add)  # and the rep clicks again before the card refreshed
    assert _contacts(database, connected.tenant.account_id) == [
        ("ada@client.example", "Ada", "Lovelace")
    ]


def test_a4_adding_links_the_logged_meeting_to_the_new_contact(connected: Rep) -> None:
    event = _event(connected)
    card = connected.side.open_event(event["id"])
    note_field = button(card, "Save note")["onClick"]["action"]["parameters"]
    field = next(p["value"] for p in note_field if p["key"] == "note_field")
    card = only_card(connected.side.click(button(card, "Save note")["onClick"], form={field: "Hi"}))
    connected.side.click(decorated(card, "Ada Lovelace")["button"]["onClick"])
    (contact,) = connected.api("GET", "/contacts")["results"]
    timeline = connected.api("GET", f"/contacts/{contact['id']}/timeline")["results"]
    assert [item["type"] for item in timeline] == ["note", "meeting"]


def test_a5_start_opens_the_meet_link_and_records_started_at(
    connected: Rep, database: Database
) -> None:
    event = _event(
        connected,
        hangoutLink=MEET,
        conferenceData={"entryPoints": [{"entryPointType": "video", "uri": MEET}]},
    )
    card = connected.side.open_event(event["id"])
    start = button(card, "Start meeting")["onClick"]
    assert start.keys() == {"openDynamicLinkAction"}
    answer = connected.side.click(start)
    link = answer["renderActions"]["action"]["link"]
    assert link == {"url": MEET, "openAs": "FULL_SIZE"}
    # A5: the meeting card says "Started hh:mm" right away, not on the next refresh.
    (navigation,) = answer["renderActions"]["action"]["navigations"]
    assert decorated(navigation["updateCard"], "Started")["text"] == "10:00"
    (meeting_id,) = meeting_ids(database, connected.tenant.account_id)
    meeting = connected.api("GET", f"/meetings/{meeting_id}")
    assert datetime.fromisoformat(meeting["started_at"]) == NOW
    assert meeting["external_event_id"] == event["id"]
    assert meeting["source"] == "assistant"
    assert meeting["video_url"] == MEET
    assert {a["email"].lower() for a in meeting["attendees"]} >= {"ada@client.example"}
    connected.side.click(start)  # a second start: same meeting, first start kept
    assert meeting_ids(database, connected.tenant.account_id) == [meeting_id]
    card = connected.side.open_event(event["id"])
    assert decorated(card, "Started")["text"] == "10:00"


def test_a5_another_video_provider_falls_back_to_the_calendar_page(connected: Rep) -> None:
    zoom = "https://zoom.us/j/123456789"
    event = _event(
        connected, conferenceData={"entryPoints": [{"entryPointType": "video", "uri": zoom}]}
    )
    card = connected.side.open_event(event["id"])
    link = connected.side.click(button(card, "Start meeting")["onClick"])["renderActions"]
    assert link["action"]["link"]["url"] == event["htmlLink"]
    assert event["htmlLink"].startswith("https://www.google.com/calendar/event?eid=")


def test_a5_without_video_the_event_page_opens(connected: Rep, database: Database) -> None:
    event = _event(connected)
    card = connected.side.open_event(event["id"])
    assert button(card, "Open in Calendar")["onClick"]["openLink"]["url"] == event["htmlLink"]
    answer = connected.side.click(button(card, "Start meeting")["onClick"])
    assert answer["renderActions"]["action"]["link"]["url"] == event["htmlLink"]
    with database.transaction() as session:
        started = session.scalar(select(func.count()).where(Meeting.started_at.is_not(None)))
    assert started == 1


def test_a5_start_from_the_home_card_path(connected: Rep) -> None:
    """The start action carries only ids; its URL is always ours."""
    event = _event(connected, hangoutLink=MEET)
    home = connected.side.home()
    card = only_card(connected.side.click(decorated(home, "Pricing call")["onClick"]))
    action = button(card, "Start meeting")["onClick"]["openDynamicLinkAction"]
    assert action["function"] == BASE_URL + paths.START_MEETING
    assert {p["key"]: p["value"] for p in action["parameters"]}["event_id"] == event["id"]
    assert (
        connected.side.click({"action": action})["renderActions"]["action"]["link"]["url"] == MEET
    )


def test_all_day_meeting_card_shows_its_date(connected: Rep) -> None:
    connected.side.time_zone = "America/Los_Angeles"
    event = connected.side.google.calendar.add_event(
        connected.email,
        {"summary": "Offsite", "start": {"date": "2025-06-04"}, "end": {"date": "2025-06-05"}},
    )
    card = connected.side.open_event(event["id"])
    assert card["header"]["subtitle"] == "Wed 4 Jun, All day"
    assert datetime(2025, 6, 4, tzinfo=UTC)  # midnight UTC is Tuesday in LA
