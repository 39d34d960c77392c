"""Issue 13's "done when", as people do it in the demo (the README's first command): the admin
connects the stand-in Salesforce org on the settings' Salesforce page and turns on pushing
meetings and notes; the rep takes a note in the sidebar; one ``meeting-assistant sync run``
(the line the demo prints) later, the note is a Task "Note: ..." on Alice in the stand-in org.
Screenshots in ``test-artifacts/test_a_sidebar_note_becomes_a_salesforce_task/``.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from dotenv import dotenv_values

from server.demo.people import ALICE, REP
from server.demo.stack import ENV_FILE

from .conftest import Shots, connect_salesforce, run_demo

pytestmark = pytest.mark.browser

MEETING = "Northwind onboarding"
NOTE = "Alice confirmed the 200 seats; legal review starts Monday."


@pytest.fixture
def demo(tmp_path: Path) -> Iterator[dict[str, str]]:
    with run_demo(tmp_path) as urls:
        urls["env_file"] = str(tmp_path / "instance" / ENV_FILE)
        yield urls


def _sync_run(env_file: str) -> str:
    """The command the demo prints: the demo's settings file, and the CA of its stand-ins
    (set in the command, over whatever bundle the shell names)."""
    script = Path(sys.executable).with_name("meeting-assistant")
    bundle = dotenv_values(env_file)["REQUESTS_CA_BUNDLE"] or ""
    done = subprocess.run(
        [str(script), "--env-file", env_file, "sync", "run"],
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, "REQUESTS_CA_BUNDLE": bundle},
    )
    assert done.returncode == 0, done.stderr[-3000:]
    return done.stdout


def test_a_sidebar_note_becomes_a_salesforce_task(
    browser: Any, demo: dict[str, str], shots: Shots
) -> None:
    context = browser.new_context(viewport={"width": 1360, "height": 900})
    context.set_default_timeout(15_000)
    page = context.new_page()
    try:
        # 1. The admin connects the org and turns on meetings and notes.
        connect_salesforce(page, demo["settings"], REP.email)
        page.locator("input[name='outbound.meeting.enabled']").check()
        page.locator("input[name='outbound.note.enabled']").check()
        page.get_by_role("button", name="Save", exact=True).click()
        page.get_by_text("Saved.").wait_for()
        assert page.locator("input[name='outbound.note.enabled']").is_checked()
        shots.take(page, "meetings and notes on", full_page=True)

        # 2. The rep connects the calendar in the sidebar and takes a note in a meeting.
        page.goto(demo["preview"])
        page.wait_for_selector("body[data-ready=true]")
        sidebar = page.locator("aside.sidebar")
        with context.expect_page() as popup_info:
            sidebar.get_by_role("button", name="Connect Google Calendar").click()
        consent = popup_info.value
        consent.get_by_role("button", name="Allow").click()
        consent.get_by_role("heading", name="Calendar connected").wait_for()
        consent.close()
        sidebar.get_by_role("button", name=re.compile(MEETING)).click()
        sidebar.get_by_role("heading", name=MEETING).wait_for()
        sidebar.get_by_label("New note").fill(NOTE)
        sidebar.get_by_role("button", name="Save note").click()
        sidebar.get_by_text(NOTE, exact=True).wait_for()
        shots.take(page, "note taken")

        # 3. One sync run, from another terminal, as the demo says.
        printed = _sync_run(demo["env_file"])
        assert "salesforce_pull" in printed, printed

        # 4. The note is a Task on Alice in Salesforce, and so is the meeting.
        page.goto(demo["salesforce"])
        rows = page.locator("#tasks tr").all_inner_texts()
        subject = f"Note: {NOTE}"[:86]
        assert any(subject in row and ALICE.name in row for row in rows), rows
        assert any(f"Meeting: {MEETING}" in row and ALICE.name in row for row in rows), rows
        assert not any("200-seat quote by Friday" in row for row in rows)  # from before
        shots.take(page, "task in salesforce", full_page=True)
    finally:
        context.close()
