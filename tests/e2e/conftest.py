"""Browser fixtures: Debian's Chromium driven by Playwright for Python (no browser download).

``.ci/run`` installs ``chromium`` with apt when it is missing; without it the browser tests skip.
Screenshots go to ``test-artifacts/`` at the repository root (gitignored).
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

CHROMIUM = Path("/usr/bin/chromium")
ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


@pytest.fixture(scope="session")
def browser() -> Iterator[Any]:
    if not CHROMIUM.exists():
        pytest.skip("Debian's Chromium is not installed (apt-get install chromium)")
    sync_api = pytest.importorskip("playwright.sync_api")
    with sync_api.sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()


class Shots:
    """Numbered screenshots of one test, in ``test-artifacts/<test name>/``."""

    def __init__(self, name: str) -> None:
        self.folder = ARTIFACTS / name
        self.folder.mkdir(parents=True, exist_ok=True)
        for old in self.folder.glob("*.png"):
            old.unlink()
        self.count = 0

    def take(self, page: Any, label: str, **kwargs: Any) -> Path:
        self.count += 1
        slug = re.sub(r"[^a-z0-9]+", "-", label.lower()).strip("-")
        path = self.folder / f"{self.count:02d}-{slug}.png"
        page.screenshot(path=str(path), **kwargs)
        return path


@pytest.fixture
def shots(request: pytest.FixtureRequest) -> Shots:
    return Shots(request.node.name)


@contextmanager
def run_demo(tmp_path: Path, *args: str, stop: int = signal.SIGTERM) -> Iterator[dict[str, str]]:
    """``meeting-assistant demo`` on a free port with a fresh instance folder, as the README
    says; yields the URLs it prints (``preview``, ``settings``, ``outlook``, ``salesforce``) and
    stops it with ``stop`` (SIGTERM, or SIGINT as Ctrl-C), which must end it cleanly; what it
    printed while stopping is then under ``"stopping"``."""
    script = Path(sys.executable).with_name("meeting-assistant")
    command = (
        [str(script)]
        if script.exists()
        else [sys.executable, "-c", "from server.cli import main; main()"]
    )
    env = {**os.environ, "MEETING_ASSISTANT_INSTANCE": str(tmp_path / "instance")}
    process = subprocess.Popen(
        [*command, "demo", "--port", "0", *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env=env,
    )
    output: list[str] = []
    urls: dict[str, str] = {}
    try:
        assert process.stdout is not None
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and "Press Ctrl-C" not in "".join(output[-1:]):
            line = process.stdout.readline()
            if not line:
                break
            output.append(line)
            for name, pattern in (
                ("preview", "/preview/"),
                ("settings", "/settings/"),
                ("outlook", "/outlook/"),
                ("salesforce", "/activities/"),
            ):
                found = re.search(rf"open (http://127\.0\.0\.1:\d+{pattern})", line)
                if found:
                    urls[name] = found.group(1)
        assert "preview" in urls, "the demo printed no preview URL:\n" + "".join(output)
        assert "settings" in urls, "the demo printed no settings URL:\n" + "".join(output)
        yield urls
        process.send_signal(stop)
        rest, _ = process.communicate(timeout=30)
        assert process.returncode == 0, "".join(output) + rest
        urls["stopping"] = rest
    finally:
        if process.poll() is None:
            process.kill()
            process.communicate()


def connect_salesforce(page: Any, settings_url: str, admin_email: str) -> None:
    """Sign in to the settings web app as ``admin_email`` and connect the demo's stand-in
    Salesforce org through its "Allow Access?" page."""
    page.goto(settings_url)
    page.get_by_role("link", name="Sign in with Google").click()
    page.get_by_label("Signed in as").fill(admin_email)
    page.get_by_role("button", name="Allow").click()
    page.get_by_role("heading", name="Your calendar").wait_for()
    page.get_by_role("link", name="Salesforce").click()
    page.get_by_role("link", name="Connect Salesforce").click()
    page.get_by_role("button", name="Allow").click()
    page.get_by_text("Salesforce is connected").wait_for()
    assert page.locator("#salesforce-status").get_attribute("data-status") == "active"
