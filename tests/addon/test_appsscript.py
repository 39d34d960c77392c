"""appsscript/Code.gs under Node, with recording stand-ins for CardService and UrlFetchApp.

Checks that the forwarder posts each event to the same endpoint as the HTTP deployment and
turns every card our builders make into CardService calls, actions routed through onAction.
"""

from __future__ import annotations

import json
import shutil
import subprocess
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from server.addon import cards, paths, people_cards, responses
from server.addon.auth import scope_request
from server.addon.views import (
    AttendeeView,
    ContactView,
    HomeView,
    MeetingView,
    NoteView,
    RenderContext,
)

from .conftest import BASE_URL

ROOT = Path(__file__).resolve().parents[2]
NODE = shutil.which("node")
pytestmark = pytest.mark.skipif(NODE is None, reason="node is not installed")

CTX = RenderContext(BASE_URL, UTC, "en-GB", "n1")
START = datetime(2025, 6, 4, 9, tzinfo=UTC)
MEETING = MeetingView(
    "e1",
    "primary",
    "Review",
    START,
    START + timedelta(hours=1),
    attendees=[
        AttendeeView("a@x.example", "A", "contact", "1"),
        AttendeeView("b@x.example", None, "not_contact"),
        AttendeeView("me@acme.example", None, "internal"),
    ],
    notes=[NoteView("hello", START)],
    calendar_url="https://calendar.google.com/calendar/event?eid=1",
    meeting_id="9",
)
HOME = cards.home_card(
    CTX, HomeView(date(2025, 6, 4), reconnect_url=paths.connect_url(BASE_URL, "s"))
)


def run(cases: list[dict[str, Any]]) -> list[dict[str, Any]]:
    assert NODE is not None
    payload = {"code": str(ROOT / "appsscript" / "Code.gs"), "base": BASE_URL, "cases": cases}
    done = subprocess.run(
        [NODE, str(Path(__file__).with_name("appsscript_harness.js"))],
        input=json.dumps(payload),
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    )
    result: list[dict[str, Any]] = json.loads(done.stdout)
    return result


def recorded(value: Any, kind: str) -> list[dict[str, Any]]:
    """Every recorded builder of type ``kind`` anywhere inside ``value``."""
    found: list[dict[str, Any]] = []
    if isinstance(value, dict):
        if value.get("type") == kind and "calls" in value:
            found.append(value)
        for item in value.values():
            found += recorded(item, kind)
    elif isinstance(value, list):
        for item in value:
            found += recorded(item, kind)
    return found


def calls(builder: dict[str, Any], name: str) -> list[list[Any]]:
    return [args for call, args in builder["calls"] if call == name]


def test_triggers_forward_the_event_and_build_cards() -> None:
    event = {"commonEventObject": {"hostApp": "GMAIL"}, "gmail": {"messageId": "m1"}}
    (out,) = run(
        [{"fn": "onGmailMessage", "event": event, "response": responses.trigger_response(HOME)}]
    )
    assert out["error"] is None
    (fetch,) = out["fetches"]
    assert fetch["url"] == BASE_URL + paths.GMAIL_MESSAGE
    assert fetch["options"]["method"] == "post"
    assert fetch["options"]["headers"] == {"Authorization": "Bearer ID_TOKEN"}
    assert fetch["options"]["payload"]["gmail"] == {"messageId": "m1"}
    assert fetch["options"]["payload"]["authorizationEventObject"] == {
        "userOAuthToken": "OAUTH_TOKEN",
        "userIdToken": "ID_TOKEN",
    }
    card = out["result"]
    assert card["type"] == "CardBuilder"
    assert calls(card, "setName") == [["home"]]
    (link,) = recorded(card, "OpenLink")
    assert calls(link, "setOpenAs") == [["OpenAs.OVERLAY"]]
    assert calls(link, "setOnClose") == [["OnClose.RELOAD"]]


def test_every_card_converts_and_actions_route_through_on_action() -> None:
    all_cards = [
        cards.connect_card(CTX, paths.connect_url(BASE_URL, "s")),
        cards.unknown_rep_card(CTX, "x@y.example"),
        HOME,
        cards.meeting_card(CTX, MEETING, note_error="Too long", note_draft="x"),
        people_cards.contact_card(CTX, ContactView("1", "a@x.example", "A", "X")),
        cards.unsaved_event_card(CTX),
        cards.error_card(CTX, "Oops"),
    ]
    cases = [
        {"fn": "onHomepage", "event": {}, "response": responses.trigger_response(c)}
        for c in all_cards
    ]
    for out in run(cases):
        assert out["error"] is None, out["error"]
        assert out["fetches"][0]["url"] == BASE_URL + paths.HOME
        for action in recorded(out["result"], "Action"):
            assert calls(action, "setFunctionName") == [["onAction"]]
            ((parameters,),) = calls(action, "setParameters")
            assert parameters["_addon_path"] in paths.ACTION_PATHS


def test_callbacks_forward_to_the_action_path_and_answer_action_responses() -> None:
    meeting = cards.meeting_card(CTX, MEETING)
    event = {
        "commonEventObject": {
            "hostApp": "CALENDAR",
            "parameters": {"_addon_path": paths.ADD_NOTE, "nonce": "n1"},
            "formInputs": {"note_n1": {"stringInputs": {"value": ["hi"]}}},
        }
    }
    outs = run(
        [
            {"fn": "onAction", "event": event, "response": responses.update_card(meeting, "Saved")},
            {
                "fn": "onAction",
                "event": event,
                "response": responses.open_link("https://meet.google.com/x"),
            },
            {"fn": "onAction", "event": event, "response": responses.pop_to_root(HOME)},
            {"fn": "onAction", "event": event, "response": responses.notify("Done")},
        ]
    )
    for out in outs:
        assert out["error"] is None, out["error"]
        (fetch,) = out["fetches"]
        assert fetch["url"] == BASE_URL + paths.ADD_NOTE
        assert fetch["options"]["payload"]["commonEventObject"]["parameters"] == {"nonce": "n1"}
        assert out["result"]["type"] == "ActionResponseBuilder"
    updated, link, popped, notified = (o["result"] for o in outs)
    (navigation,) = recorded(updated, "Navigation")
    assert [c[0] for c in navigation["calls"]] == ["updateCard"]
    assert calls(recorded(link, "OpenLink")[0], "setUrl") == [["https://meet.google.com/x"]]
    assert [c[0] for c in recorded(popped, "Navigation")[0]["calls"]] == ["popToRoot", "updateCard"]
    assert calls(recorded(notified, "Notification")[0], "setText") == [["Done"]]


def test_unknown_action_path_is_refused_before_any_request() -> None:
    event = {"commonEventObject": {"hostApp": "GMAIL", "parameters": {"_addon_path": "/admin"}}}
    (out,) = run([{"fn": "onAction", "event": event, "response": {}}])
    assert out["error"] == "Unknown add-on action"
    assert out["fetches"] == []


def test_server_errors_show_an_error_card() -> None:
    (trigger, action) = run(
        [
            {"fn": "onHomepage", "event": {}, "status": 401, "response": {}},
            {
                "fn": "onAction",
                "event": {"commonEventObject": {"parameters": {"_addon_path": paths.REFRESH}}},
                "status": 500,
                "response": {},
            },
        ]
    )
    assert trigger["result"]["type"] == "CardBuilder"
    assert action["result"]["type"] == "ActionResponseBuilder"


def test_scope_requests_become_require_scopes() -> None:
    (out,) = run(
        [{"fn": "onHomepage", "event": {}, "response": scope_request(["https://x.example/s"])}]
    )
    assert out["error"] == "Authorization required"
    assert out["scopes"] == ["https://x.example/s"]
