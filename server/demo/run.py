"""The foreground loop of ``meeting-assistant demo``: start, print where to go, stop on a signal."""

from __future__ import annotations

import logging
import os
import signal
import threading
from collections.abc import Callable, Mapping
from pathlib import Path
from types import FrameType
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from .people import MANAGER, REP
from .seed import TOKEN_FILE
from .stack import DemoOptions, DemoStack

_UTC_ALIASES = {"UTC", "Etc/UTC", "Etc/Universal", "Etc/Zulu", "Universal", "Zulu", "UCT"}


def _valid_zone(name: str) -> bool:
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        return False
    return True


def local_time_zone(environ: Mapping[str, str] | None = None, etc: Path = Path("/etc")) -> str:
    """This machine's IANA time zone (``TZ``, ``/etc/localtime``, ``/etc/timezone``), else UTC."""
    env = os.environ if environ is None else environ
    candidates = [env.get("TZ", "").lstrip(":")]
    localtime = etc / "localtime"
    if localtime.is_symlink():
        target = str(localtime.resolve())
        candidates.append(target.partition("zoneinfo/")[2])
    timezone_file = etc / "timezone"
    if timezone_file.is_file():
        candidates.append(timezone_file.read_text().strip())
    for name in candidates:
        if name in _UTC_ALIASES:
            return "UTC"
        if name and "/" in name and _valid_zone(name):
            return name
    return "UTC"


def run(options: DemoOptions, echo: Callable[[str], None]) -> None:
    """Run the demo until SIGINT (Ctrl-C) or SIGTERM, then stop everything."""
    stop = threading.Event()

    def on_signal(_signum: int, _frame: FrameType | None) -> None:
        stop.set()

    previous = {s: signal.signal(s, on_signal) for s in (signal.SIGINT, signal.SIGTERM)}
    # One line per queue task, every minute, would bury what the demo prints.
    logging.getLogger("huey").setLevel(logging.WARNING)
    stack = DemoStack(options)
    try:
        url = stack.start()
        settings = stack.settings
        assert settings is not None
        state = "connected" if options.connected else "not connected yet: the sidebar offers it"
        echo(f"Meeting Assistant demo: open {url}")
        echo(f"  signed in to Google as {REP.email} ({options.time_zone}, {options.locale})")
        echo(f"  calendar {state}")
        echo(f"Settings web app: open {stack.settings_url}")
        echo(f"  sign in as {REP.email} (admin) or {MANAGER.email} (rep)")
        token_file = settings.instance_path / TOKEN_FILE
        echo(f"  REST API {settings.public_base_url}/api/v1 (token in {token_file})")
        echo(f"  local Google stand-in {stack.stand_in.base_url}")
        if stack.microsoft is not None:
            echo(f"  local Microsoft sign-in stand-in {stack.microsoft.authority}")
            echo(
                f"Outlook (stand-in): open {stack.microsoft.outlook_url}"
                f" to add meetings to a mailbox, e.g. {MANAGER.email} once connected"
            )
        if stack.salesforce is not None:
            echo(
                f"Salesforce (stand-in): open {stack.salesforce.activities_url} to log a call;"
                " connect the org on the settings' Salesforce page (as the admin)"
            )
        echo(f"  data in {settings.instance_path}")
        if stack.env_file is not None:
            bundle = os.environ.get("REQUESTS_CA_BUNDLE", "")
            echo("Sync every calendar and org now, from another terminal:")
            command = f"meeting-assistant --env-file {stack.env_file} sync run"
            echo(f"  REQUESTS_CA_BUNDLE={bundle} {command}")
        echo("Press Ctrl-C to stop.")
        while not stop.wait(0.2):
            pass
        echo("stopping...")
    finally:
        stack.stop()
        for signum, handler in previous.items():
            signal.signal(signum, handler)
    echo("stopped")
