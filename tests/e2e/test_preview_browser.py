"""The README's first command, used as a new rep would: ``meeting-assistant demo``, then the
printed preview URL in headless Chromium.

Connect the calendar through the stand-in's consent page, see today's meetings, open one, add
an attendee who is not a contact, start the meeting (a new tab opens), type two notes, and see
them with their times in the card and on the contact's timeline (read through the REST API);
then in Gmail open the contact's email and log it (A7): it shows on the timeline panel once.
Screenshots of every step land in ``test-artifacts/test_rep_runs_a_meeting_from_the_sidebar/``.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from server.addon.views import RenderContext
from server.addon.widgets import fmt_datetime
from server.demo.people import FRANK

from .conftest import Shots, run_demo

pytestmark = pytest.mark.browser

ZONE = "Europe/Berlin"
LOCALE = "en-GB"
MEETING = "Northwind onboarding"
EMAIL = "Onboarding questions"
NOTES = ("Frank needs SSO before the rollout.", "Next step: send the security questionnaire.")


@pytest.fixture
def demo_url(tmp_path: Path) -> Iterator[str]:
    with run_demo(tmp_path, "--time-zone", ZONE, "--locale", LOCALE) as urls:
        yield urls["preview"]


def _times_between(start: datetime, end: datetime) -> set[str]:
    """How the card prints any minute from ``start`` to ``end`` (the server's clock)."""
    ctx = RenderContext("http://unused", ZoneInfo(ZONE), LOCALE)
    moment = start.replace(second=0, microsecond=0)
    out = set()
    while moment <= end:
        out.add(fmt_datetime(moment, ctx))
        moment += timedelta(minutes=1)
    return out


def test_rep_runs_a_meeting_from_the_sidebar(browser: Any, demo_url: str, shots: Shots) -> None:
    context = browser.new_context(viewport={"width": 1360, "height": 900})
    context.set_default_timeout(15_000)
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    sidebar = page.locator("aside.sidebar")
    try:
        # 1. The first screen: the calendar is not connected yet (A1).
        page.goto(demo_url)
        page.wait_for_selector("body[data-ready=true]")
        connect = sidebar.get_by_role("button", name="Connect Google Calendar")
        connect.wait_for()
        assert page.locator(".host-item.event").count() == 5  # today's calendar, host side
        shots.take(page, "connect card")

        # 2. Connect through the stand-in's consent page, in a window of its own.
        with context.expect_page() as popup_info:
            connect.click()
        consent = popup_info.value
        consent.wait_for_load_state()
        consent.get_by_role("button", name="Allow").wait_for()
        shots.take(consent, "consent page")
        consent.get_by_role("button", name="Allow").click()
        consent.get_by_role("heading", name="Calendar connected").wait_for()
        shots.take(consent, "calendar connected")
        consent.close()  # closing the overlay reloads the card

        # 3. Today's meetings (A2).
        sidebar.get_by_role("heading", name="Today's meetings").wait_for()
        for title in ("Pipeline review", "Initech weekly check-in", MEETING):
            assert sidebar.get_by_role("button", name=re.compile(re.escape(title))).count() == 1
        shots.take(page, "todays meetings")

        # 4. Open one (A3): attendees marked contact / internal / not a contact.
        sidebar.get_by_role("button", name=re.compile(MEETING)).click()
        sidebar.get_by_role("heading", name=MEETING).wait_for()
        frank = sidebar.locator(".decorated", has_text=FRANK.name)
        assert "Not a contact" in frank.inner_text()
        assert "Internal" in sidebar.locator(".decorated", has_text="Morgan Manager").inner_text()
        shots.take(page, "meeting card")

        # 5. Add the attendee who is not a contact (A4); the card refreshes.
        frank.get_by_role("button", name="Add").click()
        page.wait_for_function(
            "(name) => [...document.querySelectorAll('#card-area .decorated')]"
            ".some(n => n.textContent.includes(name) && n.textContent.includes('Contact')"
            " && !n.textContent.includes('Not a contact'))",
            arg=FRANK.name,
        )
        assert frank.get_by_role("button", name="Add").count() == 0
        shots.take(page, "attendee added")

        # 6. Start the meeting (A5): the video link opens in a new tab, the sidebar stays.
        with context.expect_page() as tab_info:
            sidebar.get_by_role("button", name="Start meeting").click()
        tab = tab_info.value
        tab.wait_for_url(re.compile(r"/meet/[a-z-]+$"))
        tab.get_by_role("heading", name=re.compile("Video call")).wait_for()
        shots.take(tab, "meeting tab")
        shots.take(page, "meeting started")
        assert page.locator("#toast").inner_text() == "Meeting started"
        tab.close()

        # 7. Two notes (A6), newest first, each with its time in the rep's zone.
        before = datetime.now(UTC)
        for note in NOTES:
            box = sidebar.get_by_label("New note")
            box.fill(note)
            sidebar.get_by_role("button", name="Save note").click()
            sidebar.get_by_text(note, exact=True).wait_for()
            assert sidebar.get_by_label("New note").input_value() == ""
        after = datetime.now(UTC)
        lines = sidebar.locator(".decorated", has_text=re.compile("|".join(map(re.escape, NOTES))))
        texts = lines.all_inner_texts()
        assert [n for t in texts for n in NOTES if n in t] == list(reversed(NOTES))
        assert sidebar.get_by_text("Started", exact=True).is_visible()  # A5, on the refreshed card
        allowed = _times_between(before, after)
        for text in texts:
            assert any(stamp in text for stamp in allowed), (text, allowed)
        shots.take(page, "two notes")

        # 8. The contact's timeline (REST API): the meeting with both notes.
        timeline = page.locator("#timeline")
        page.wait_for_function(
            "(notes) => notes.every(n => document.getElementById('timeline').textContent"
            ".includes(n))",
            arg=list(NOTES),
        )
        assert FRANK.email in page.locator("#contact option:checked").inner_text()
        assert timeline.locator(".tl-meeting", has_text=MEETING).count() == 1
        for note in NOTES:
            item = timeline.locator(".tl-note", has_text=note)
            stamp = datetime.fromisoformat(item.locator("time").get_attribute("datetime") or "")
            assert before - timedelta(seconds=1) <= stamp <= after + timedelta(seconds=1)
        shots.take(page, "contact timeline", full_page=True)

        # 9. Gmail (A7): open Frank's email, its people on the card, log it once; it lands on
        # his timeline.
        page.locator("#host-GMAIL").click()
        page.locator(".host-item.message", has_text=EMAIL).click()
        sidebar.get_by_role("heading", name=EMAIL).wait_for()
        sender = sidebar.locator(".decorated", has_text=FRANK.name)
        assert "From · Contact" in sender.inner_text()
        shots.take(page, "gmail message card")
        sidebar.get_by_role("button", name="Log email").click()
        sidebar.get_by_text(re.compile("Logged to the CRM by")).wait_for()
        timeline.locator(".tl-email", has_text=EMAIL).wait_for()
        assert timeline.locator(".tl-email", has_text=EMAIL).count() == 1
        assert sidebar.get_by_role("button", name="Log email").count() == 0
        shots.take(page, "email logged", full_page=True)
        assert errors == []
    finally:
        context.close()
