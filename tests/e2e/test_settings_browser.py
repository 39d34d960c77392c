"""The settings web app as a person uses it, from the README's first command: open the printed
settings URL in headless Chromium, sign in through the Google stand-in, connect the calendar,
see the sync log, create and revoke an API token as the account's admin, sign in with Microsoft
as a rep who is not an admin and be refused an admin page, then connect that rep's Outlook
calendar, add a meeting in (stand-in) Outlook and watch it logged. Screenshots of each step land in
``test-artifacts/test_admin_signs_in_connects_and_manages_tokens/``.
"""

from __future__ import annotations

import re
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests

from server.demo.people import ALICE, MANAGER, REP

from .conftest import Shots, run_demo

pytestmark = pytest.mark.browser


@pytest.fixture
def demo(tmp_path: Path) -> Iterator[dict[str, str]]:
    with run_demo(tmp_path) as urls:
        yield urls


def _sign_in(page: Any, provider: str, email: str) -> None:
    """Through the stand-in's consent page: Google says "Allow", Microsoft "Accept"."""
    page.get_by_role("link", name=f"Sign in with {provider}").click()
    accept = page.get_by_role("button", name="Allow" if provider == "Google" else "Accept")
    accept.wait_for()
    page.get_by_label("Signed in as").fill(email)
    accept.click()


def _log_text(page: Any) -> str:
    log = page.locator("table#sync-log")
    return str(log.inner_text()) if log.count() else ""


def test_admin_signs_in_connects_and_manages_tokens(
    browser: Any, demo: dict[str, str], shots: Shots
) -> None:
    context = browser.new_context(viewport={"width": 1200, "height": 860})
    context.set_default_timeout(15_000)
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    # A page that breaks its own Content-Security-Policy logs it on the console.
    page.on("console", lambda m: errors.append(m.text) if "Security Policy" in m.text else None)
    try:
        # 1. The settings URL asks to sign in.
        page.goto(demo["settings"])
        page.get_by_role("heading", name="Sign in").wait_for()
        shots.take(page, "sign in")

        # 2. Sign in with Google (the stand-in's consent page), back on the rep's page.
        _sign_in(page, "Google", REP.email)
        page.get_by_role("heading", name="Your calendar").wait_for()
        assert "not connected" in page.locator("#calendar-status").inner_text()
        shots.take(page, "signed in")

        # 3. Connect Google Calendar from the page.
        page.get_by_role("link", name="Connect Google Calendar").click()
        page.get_by_role("button", name="Allow").click()
        page.get_by_text("Your Google calendar is connected").wait_for()
        assert page.locator("#status").get_attribute("data-status") == "active"
        assert page.locator("#account-email").inner_text() == REP.email
        shots.take(page, "calendar connected")

        # 4. The worker syncs it; the log shows what it did and which rule said so.
        deadline = time.monotonic() + 30
        while page.locator("table#sync-log").count() == 0 and time.monotonic() < deadline:
            time.sleep(0.5)
            page.reload()
        log = page.locator("table#sync-log")
        assert log.count() == 1, "no sync log after 30 s"
        assert re.search(r"\b[RC]\d\b", log.inner_text())
        shots.take(page, "sync log", full_page=True)

        # 5. As admin: create an API token (shown once), use it, revoke it.
        page.get_by_role("link", name="API tokens").click()
        page.get_by_label("What it is for").fill("browser test")
        page.get_by_role("button", name="Create token").click()
        token = page.get_by_role("textbox", name="New token").input_value()
        assert token.startswith("ma_")
        shots.take(page, "token created")
        api = demo["settings"].replace("/settings/", "/api/v1/contacts?email=x@y.example")
        auth = {"Authorization": f"Bearer {token}"}
        assert requests.get(api, headers=auth, timeout=10).status_code == 200
        page.get_by_role("link", name="API tokens").click()
        page.get_by_role("button", name=f"Revoke token {token[:10]}").click()
        page.get_by_text("is revoked").wait_for()
        assert requests.get(api, headers=auth, timeout=10).status_code == 401
        shots.take(page, "token revoked")

        # 6. Sign out; a rep who is not an admin signs in with Microsoft and is refused the
        # admin pages.
        page.get_by_role("button", name="Sign out").click()
        page.get_by_role("heading", name="Sign in").wait_for()
        _sign_in(page, "Microsoft", MANAGER.email)
        page.get_by_role("heading", name="Your calendar").wait_for()
        assert page.get_by_role("link", name="API tokens").count() == 0
        response = page.goto(demo["settings"] + "users")
        assert response is not None
        assert response.status == 403
        page.get_by_role("heading", name="Not allowed").wait_for()
        shots.take(page, "admin page refused")

        # 7. That rep connects their Outlook calendar, adds a meeting with a contact in
        # Outlook (the stand-in's page), and watches the push-driven sync log it (R1).
        page.goto(demo["settings"])
        page.get_by_role("link", name="Connect Outlook calendar").click()
        page.get_by_role("button", name="Accept").click()
        page.get_by_text("Your Outlook calendar is connected").wait_for()
        assert page.locator("#account-email").inner_text() == MANAGER.email
        shots.take(page, "outlook connected")
        page.goto(f"{demo['outlook']}?mailbox={MANAGER.email}")
        page.get_by_label("Subject").fill("Northwind renewal")
        page.get_by_label("Guests (comma-separated)").fill(ALICE.email)
        page.get_by_role("button", name="Send").click()
        page.get_by_role("cell", name="Northwind renewal").wait_for()
        shots.take(page, "meeting added in outlook")
        page.goto(demo["settings"])
        deadline = time.monotonic() + 30
        while "R1" not in _log_text(page) and time.monotonic() < deadline:
            time.sleep(0.5)
            page.reload()
        assert "R1" in _log_text(page), "the Outlook meeting was not logged within 30 s"
        shots.take(page, "outlook sync log", full_page=True)
        assert not errors, errors
    finally:
        context.close()
