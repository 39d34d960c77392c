"""The preview page's card renderer, against fixed card JSON (no server: Playwright answers
every request the page makes).

Cards come from the add-on's real builders where they exist, plus one card that uses every
widget the renderer supports. Checks what the page sends for each click (form inputs and
parameters as Google's host sends them) and what it does with each answer (push, update, pop,
pop to root, notifications, links, scope requests).
"""

from __future__ import annotations

import json
import mimetypes
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from server.addon import cards, paths, scopes
from server.addon.views import AttendeeView, MeetingView, NoteView, RenderContext

from .conftest import Shots

pytestmark = pytest.mark.browser

ORIGIN = "http://127.0.0.1:9"  # never reached: every request is answered by the test
STATIC = Path(__file__).resolve().parents[2] / "server" / "preview" / "static"
USER = "rep@demo-company.example"
Json = dict[str, Any]


def url(path: str) -> str:
    return paths.absolute(ORIGIN, path)


def action(path: str, **params: str) -> Json:
    return {
        "function": url(path),
        "parameters": [{"key": k, "value": v} for k, v in params.items()],
    }


KITCHEN_SINK: Json = {
    "name": "sink",
    "header": {"title": "Every widget", "subtitle": "renderer fixture"},
    "cardActions": [{"actionLabel": "Menu refresh", "onClick": {"action": action(paths.REFRESH)}}],
    "sections": [
        {
            "header": "Text",
            "widgets": [
                {
                    "textParagraph": {
                        "text": '<b>Bold</b> <font color="#B3261E">red</font> '
                        "<script>window.pwned = 1</script>"
                        '<img src="x" onerror="window.pwned = 2"><i>kept text</i>'
                        '<a href="javascript:window.pwned=3">bad link</a>'
                    }
                },
                {
                    "decoratedText": {
                        "topLabel": "Contact",
                        "text": "Alice Walker",
                        "bottomLabel": "alice@northwind.example",
                        "startIcon": {"knownIcon": "PERSON"},
                        "onClick": {"action": action(paths.OPEN_CONTACT, contact_id="7")},
                    }
                },
                {
                    "decoratedText": {
                        "topLabel": "Not a contact",
                        "text": "Frank Ortiz",
                        "startIcon": {"materialIcon": {"name": "mail"}},
                        "button": {
                            "text": "Add",
                            "onClick": {"action": action(paths.ADD_CONTACT, email="f@x.example")},
                        },
                    }
                },
                {"divider": {}},
            ],
        },
        {
            "header": "Inputs",
            "widgets": [
                {"textInput": {"name": "title", "label": "Title", "type": "SINGLE_LINE"}},
                {
                    "textInput": {
                        "name": "body",
                        "label": "Body",
                        "type": "MULTIPLE_LINE",
                        "hintText": "a few lines",
                    }
                },
                {
                    "selectionInput": {
                        "name": "outcome",
                        "label": "Outcome",
                        "type": "DROPDOWN",
                        "items": [
                            {"text": "Scheduled", "value": "scheduled", "selected": True},
                            {"text": "Completed", "value": "completed"},
                        ],
                    }
                },
                {
                    "selectionInput": {
                        "name": "tags",
                        "label": "Tags",
                        "type": "CHECK_BOX",
                        "items": [
                            {"text": "Hot", "value": "hot", "selected": True},
                            {"text": "Renewal", "value": "renewal"},
                        ],
                    }
                },
            ],
        },
        {
            "header": "More",
            "collapsible": True,
            "uncollapsibleWidgetsCount": 1,
            "widgets": [
                {"textParagraph": {"text": "always shown"}},
                {"textParagraph": {"text": "hidden until expanded"}},
                {
                    "buttonList": {
                        "buttons": [
                            {
                                "text": "Docs",
                                "onClick": {
                                    "openLink": {"url": ORIGIN + "/docs", "openAs": "FULL_SIZE"}
                                },
                            },
                            {"text": "Ask scopes", "onClick": {"action": action(paths.DISCONNECT)}},
                        ]
                    }
                },
            ],
        },
    ],
    "fixedFooter": {
        "primaryButton": {
            "text": "Save",
            "onClick": {
                "action": {**action(paths.ADD_NOTE, nonce="n1"), "requiredWidgets": ["title"]}
            },
        },
        "secondaryButton": {"text": "Refresh", "onClick": {"action": action(paths.REFRESH)}},
    },
}


def detail_card() -> Json:
    return {
        "name": "detail",
        "header": {"title": "Alice Walker"},
        "sections": [
            {
                "widgets": [
                    {"textParagraph": {"text": "A pushed card"}},
                    {
                        "buttonList": {
                            "buttons": [
                                {
                                    "text": "Pop to root",
                                    "onClick": {"action": action(paths.START_MEETING)},
                                }
                            ]
                        }
                    },
                ]
            }
        ],
    }


def saved_card(title: str) -> Json:
    card = json.loads(json.dumps(KITCHEN_SINK))
    card["header"]["subtitle"] = f"saved {title}"
    return card


@dataclass
class FakeHost:
    """Answers the page's requests: static files, the host API and the add-on's replies."""

    calls: list[Json] = field(default_factory=list)
    home: Json = field(
        default_factory=lambda: {"action": {"navigations": [{"pushCard": KITCHEN_SINK}]}}
    )

    def addon(self, call: Json) -> Json:
        path = call["url"][len(ORIGIN) :]
        if path in (paths.HOME, paths.CALENDAR_EVENT):
            return self.home
        if path == paths.OPEN_CONTACT:
            return {"renderActions": {"action": {"navigations": [{"pushCard": detail_card()}]}}}
        if path == paths.START_MEETING:
            return {
                "renderActions": {
                    "action": {
                        "navigations": [{"popToRoot": True}],
                        "notification": {"text": "Back home"},
                    }
                }
            }
        if path == paths.ADD_NOTE:
            title = call["formInputs"]["title"]["stringInputs"]["value"][0]
            return {
                "renderActions": {
                    "action": {
                        "navigations": [{"updateCard": saved_card(title)}],
                        "notification": {"text": f"Saved {title}"},
                    }
                }
            }
        if path == paths.DISCONNECT:
            if scopes.USERINFO_EMAIL not in call["scopes"]:
                return {"requesting_google_scopes": {"scopes": [scopes.USERINFO_EMAIL]}}
            return {"renderActions": {"action": {"notification": {"text": "Scopes fine"}}}}
        return {"renderActions": {"action": {"notification": {"text": "ok " + path}}}}

    def route(self, route: Any) -> None:
        request = route.request
        address: str = request.url
        if address.startswith(ORIGIN + "/preview/static/"):
            name = address[len(ORIGIN + "/preview/static/") :]
            kind = mimetypes.guess_type(name)[0] or "application/octet-stream"
            route.fulfill(body=(STATIC / name).read_bytes(), content_type=kind)
        elif address == ORIGIN + "/preview/":
            route.fulfill(body=(STATIC / "index.html").read_bytes(), content_type="text/html")
        elif address.startswith(ORIGIN + "/preview/api/context"):
            route.fulfill(json=self.context())
        elif address.startswith(ORIGIN + "/preview/api/calendar"):
            route.fulfill(json={"results": []})
        elif address.startswith(ORIGIN + "/preview/api/invoke"):
            call = json.loads(request.post_data or "{}")
            self.calls.append(call)
            body = self.addon(call)
            shown = {"url": call["url"], "event": {}}
            route.fulfill(json={"status": 200, "body": body, "elapsedMs": 1, "request": shown})
        elif address.startswith(ORIGIN + "/api/v1/contacts"):
            route.fulfill(json={"results": [], "next_cursor": None})
        else:
            route.fulfill(body="<h1>stub page</h1>", content_type="text/html")

    def context(self) -> Json:
        return {
            "users": [{"email": USER, "name": "Riley Rep", "note": "sales rep"}],
            "timeZone": "Europe/Berlin",
            "locale": "en-GB",
            "scopes": list(scopes.DESCRIPTOR_SCOPES),
            "triggers": {
                "home": url(paths.HOME),
                "calendarEvent": url(paths.CALENDAR_EVENT),
                "gmailMessage": url(paths.GMAIL_MESSAGE),
            },
            "apiBase": ORIGIN + "/api/v1",
            "apiToken": "demo-token",
        }


def open_page(browser: Any, host: FakeHost) -> tuple[Any, Any]:
    context = browser.new_context(viewport={"width": 1280, "height": 860})
    context.set_default_timeout(10_000)
    context.route("**/*", host.route)
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.goto(ORIGIN + "/preview/")
    page.wait_for_selector("body[data-ready=true]")
    page.errors = errors
    return context, page


def test_widgets_forms_and_navigation(browser: Any, shots: Shots) -> None:
    host = FakeHost()
    context, page = open_page(browser, host)
    sidebar = page.locator("aside.sidebar")
    try:
        sidebar.get_by_role("heading", name="Every widget").wait_for()
        shots.take(page, "kitchen sink")
        first = host.calls[0]
        assert first["url"] == url(paths.HOME)
        assert first["host"] == "CALENDAR"
        assert first["timeZone"] == "Europe/Berlin"
        assert first["formInputs"] == {}
        assert first["parameters"] == {}

        # Sanitised text: markup kept, scripts and handlers gone, bad links inert.
        paragraph = sidebar.locator(".text-paragraph").first
        assert paragraph.locator("b").inner_text() == "Bold"
        assert paragraph.locator("span").first.evaluate("n => n.style.color") == "rgb(179, 38, 30)"
        assert paragraph.locator("script, img").count() == 0
        assert paragraph.locator("a").count() == 0
        assert page.evaluate("window.pwned") is None

        # Collapsible section.
        assert not sidebar.get_by_text("hidden until expanded").is_visible()
        sidebar.get_by_role("button", name="Show more (2)").click()
        assert sidebar.get_by_text("hidden until expanded").is_visible()

        # Required widget: nothing is sent until it is filled.
        before = len(host.calls)
        sidebar.get_by_role("button", name="Save").click()
        assert sidebar.get_by_text("Required").first.is_visible()
        assert len(host.calls) == before
        sidebar.get_by_label("Title").fill("Kick-off")
        sidebar.get_by_label("Body").fill("line one\nline two")
        sidebar.get_by_label("Renewal").check()
        sidebar.get_by_role("button", name="Save").click()
        sidebar.get_by_text("saved Kick-off", exact=True).wait_for()
        save = host.calls[-1]
        assert save["url"] == url(paths.ADD_NOTE)
        assert save["parameters"] == {"nonce": "n1"}
        assert save["formInputs"] == {
            "title": {"stringInputs": {"value": ["Kick-off"]}},
            "body": {"stringInputs": {"value": ["line one\nline two"]}},
            "outcome": {"stringInputs": {"value": ["scheduled"]}},
            "tags": {"stringInputs": {"value": ["hot", "renewal"]}},
        }
        assert page.locator("#toast").inner_text() == "Saved Kick-off"
        # updateCard keeps what was typed in fields that are still there.
        assert sidebar.get_by_label("Title").input_value() == "Kick-off"
        shots.take(page, "after update card")

        # Push, back arrow, push again, pop to root.
        sidebar.get_by_role("button", name="Alice Walker").click()
        sidebar.get_by_role("heading", name="Alice Walker").wait_for()
        assert host.calls[-1]["parameters"] == {"contact_id": "7"}
        shots.take(page, "pushed card")
        sidebar.get_by_role("button", name="Back").click()
        sidebar.get_by_role("heading", name="Every widget").wait_for()
        sidebar.get_by_role("button", name="Alice Walker").click()
        sidebar.get_by_role("button", name="Pop to root").click()
        sidebar.get_by_role("heading", name="Every widget").wait_for()
        assert page.locator("#toast").inner_text() == "Back home"

        # Card menu.
        sidebar.get_by_role("button", name="More actions").click()
        sidebar.get_by_role("menuitem", name="Menu refresh").click()
        page.wait_for_function("document.getElementById('toast').textContent.includes('refresh')")

        # openLink FULL_SIZE: a new tab. (The section stays expanded across renders.)
        assert sidebar.get_by_role("button", name="Show less").is_visible()
        with context.expect_page() as tab:
            sidebar.get_by_role("button", name="Docs").click()
        tab.value.wait_for_load_state()
        assert tab.value.url == ORIGIN + "/docs"
        tab.value.close()

        # A scope request: the host asks, then re-runs the action with the scope granted.
        page.locator("summary", has_text="Granted scopes").click()
        page.get_by_label("userinfo.email").uncheck()
        page.locator("summary", has_text="Granted scopes").click()
        sidebar.get_by_role("button", name="Ask scopes").click()
        dialog = sidebar.get_by_role("dialog", name="Grant access")
        dialog.wait_for()
        shots.take(page, "scope request")
        dialog.get_by_role("button", name="Allow").click()
        page.wait_for_function("document.getElementById('toast').textContent === 'Scopes fine'")
        assert scopes.USERINFO_EMAIL in host.calls[-1]["scopes"]
        assert page.errors == []
    finally:
        context.close()


def _ctx() -> RenderContext:
    return RenderContext(ORIGIN, ZoneInfo("Europe/Berlin"), "en-GB", "nonce-1")


def test_real_cards_render(browser: Any, shots: Shots) -> None:
    """The add-on's own builders: connect card (overlay + reload) and meeting card."""
    start = datetime(2026, 11, 21, 14, 0, tzinfo=UTC)
    meeting = MeetingView(
        event_id="evt1",
        calendar_id=USER,
        title="Northwind onboarding",
        start=start,
        end=start + timedelta(minutes=45),
        attendees=(
            AttendeeView("alice@northwind.example", "Alice Walker", "contact", "7", "accepted"),
            AttendeeView("frank@northwind.example", "Frank Ortiz", "not_contact"),
            AttendeeView("morgan@demo-company.example", "Morgan Manager", "internal"),
        ),
        notes=(NoteView("Discussed SSO", start + timedelta(minutes=5), USER),),
        video_url=ORIGIN + "/meet/abc",
        calendar_url=ORIGIN + "/calendar/event?eid=x",
        meeting_id="12",
    )
    connect = cards.connect_card(_ctx(), ORIGIN + "/oauth/google/start?state=s")
    host = FakeHost(home={"action": {"navigations": [{"pushCard": connect}]}})
    meeting_answer = {
        "action": {"navigations": [{"pushCard": cards.meeting_card(_ctx(), meeting)}]}
    }

    def addon(call: Json) -> Json:
        path = call["url"][len(ORIGIN) :]
        if path == paths.START_MEETING:
            return {"renderActions": {"action": {"link": {"url": ORIGIN + "/meet/abc"}}}}
        return meeting_answer if host.calls[0] is not call else host.home

    host.addon = addon  # type: ignore[method-assign]
    context, page = open_page(browser, host)
    sidebar = page.locator("aside.sidebar")
    try:
        sidebar.get_by_role("button", name="Connect Google Calendar").wait_for()
        shots.take(page, "connect card")
        # OVERLAY + RELOAD: a window opens; closing it reloads the card (re-runs the trigger).
        with context.expect_page() as overlay:
            sidebar.get_by_role("button", name="Connect Google Calendar").click()
        assert overlay.value.url.startswith(ORIGIN + "/oauth/google/start")
        sidebar.get_by_role("dialog", name="Window open").wait_for()
        overlay.value.close()
        sidebar.get_by_role("heading", name="Northwind onboarding").wait_for()
        assert len(host.calls) == 2
        assert host.calls[1]["url"] == url(paths.HOME)
        shots.take(page, "meeting card")
        assert sidebar.get_by_text("Not a contact").is_visible()
        assert sidebar.get_by_text("Discussed SSO").is_visible()
        # openDynamicLinkAction: the add-on answers with the link; it opens in a new tab.
        with context.expect_page() as tab:
            sidebar.get_by_role("button", name="Start meeting").click()
        tab.value.wait_for_url(ORIGIN + "/meet/abc")
        assert host.calls[-1]["parameters"]["event_id"] == "evt1"
        assert page.errors == []
    finally:
        context.close()
