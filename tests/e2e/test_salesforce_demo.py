"""Issue 12's "done when", as a person does it in the demo (the README's first command): the
admin signs in, connects the stand-in Salesforce org from the settings' Salesforce page, turns
on tasks and calls, logs a call on Alice in (stand-in) Salesforce, asks for a pull, and the call
is on Alice's timeline. Screenshots in
``test-artifacts/test_a_salesforce_call_reaches_the_timeline/``.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests

from server.demo.people import ALICE, REP
from server.demo.seed import TOKEN_FILE

from .conftest import Shots, connect_salesforce, run_demo

pytestmark = pytest.mark.browser


@pytest.fixture
def demo(tmp_path: Path) -> Iterator[dict[str, str]]:
    with run_demo(tmp_path) as urls:
        urls["instance"] = str(tmp_path / "instance")
        yield urls


def _timeline(demo: dict[str, str], email: str) -> list[dict[str, Any]]:
    token = (Path(demo["instance"]) / TOKEN_FILE).read_text().strip()
    api = demo["settings"].replace("/settings/", "/api/v1")
    auth = {"Authorization": f"Bearer {token}"}
    found = requests.get(f"{api}/contacts", params={"email": email}, headers=auth, timeout=10)
    contact = found.json()["results"][0]["id"]
    answer = requests.get(f"{api}/contacts/{contact}/timeline", headers=auth, timeout=10)
    return list(answer.json()["results"])


def test_a_salesforce_call_reaches_the_timeline(
    browser: Any, demo: dict[str, str], shots: Shots
) -> None:
    context = browser.new_context(viewport={"width": 1200, "height": 900})
    context.set_default_timeout(15_000)
    page = context.new_page()
    try:
        # 1. Connect the org: the stand-in's "Allow Access?" page, then back to the page.
        connect_salesforce(page, demo["settings"], REP.email)
        shots.take(page, "org connected")

        # 2. Turn on tasks and calls.
        page.locator("input[name='inbound.task.enabled']").check()
        page.locator("input[name='inbound.call.enabled']").check()
        page.get_by_role("button", name="Save", exact=True).click()
        page.get_by_text("Saved.").wait_for()
        shots.take(page, "tasks and calls on")

        # 3. Log a call on Alice in Salesforce (the stand-in's page).
        page.goto(demo["salesforce"])
        page.get_by_label("Contact").select_option(label=f"{ALICE.name} <{ALICE.email}>")
        page.get_by_label("Type").select_option("Call")
        page.get_by_label("Subject").fill("Pricing call")
        page.get_by_role("button", name="Save", exact=True).click()
        page.get_by_role("cell", name="Pricing call").wait_for()
        shots.take(page, "call logged in salesforce")

        # 4. One pull (once the call is older than the pull's 5 s lag) and it is on the
        # timeline; last week's call, from before the switch, is not.
        page.goto(demo["settings"] + "salesforce")
        deadline = time.monotonic() + 45
        titles: list[str] = []
        while time.monotonic() < deadline:
            titles = [str(i["title"]) for i in _timeline(demo, ALICE.email)]
            if "Pricing call" in titles:
                break
            page.get_by_role("button", name="Sync now").click()
            time.sleep(3)
        assert "Pricing call" in titles, titles
        assert "Intro call (last week)" not in titles
        page.reload()
        shots.take(page, "pulled", full_page=True)
        item = next(i for i in _timeline(demo, ALICE.email) if i["title"] == "Pricing call")
        assert (item["type"], item["source"]) == ("call", "salesforce")
        assert item["salesforce_id"].startswith("00T")
    finally:
        context.close()
