"""The sidebar under load, against a bare Flask endpoint measured in the same run.

    python -m bench.sidebar_load [--reps 50] [--seconds 10]

Starts the product exactly as the Procfile's ``web`` line does (gunicorn, 2 workers) on a
SQLite database with ``--reps`` reps, each with a connected calendar of today's meetings in
the Google stand-in (a process of its own); then drives, from load-generator processes of
their own, ``--reps`` concurrent reps opening the homepage, then a meeting card, each rep with
its own Google-signed tokens; and the same load against a bare Flask JSON endpoint under the
same gunicorn command line, as the reference. Repeats at 10 concurrent reps. Prints one JSON
object: requests/s, p50/p95/p99 and the ratio to the bare endpoint's requests/s.
"""

from __future__ import annotations

import argparse
import json
import os
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import requests
from cryptography.fernet import Fernet

from bench import load
from bench.common import connect
from bench.remote import RemoteStandIn
from server import migrate
from server.addon import paths, scopes
from server.app import create_app
from server.config import Settings
from server.crm import accounts, services
from server.db import Database
from server.preview import event_object
from server.stand_ins.google import GoogleStandIn

ROOT = Path(__file__).resolve().parent.parent
SERVICE_ACCOUNT = "service-100000000001@gcp-sa-gsuiteaddons.iam.gserviceaccount.com"
ADDON_CLIENT = "bench-addon.apps.googleusercontent.com"
CALENDAR_CLIENT = "bench-calendar.apps.googleusercontent.com"


def rep_email(n: int) -> str:
    return f"rep{n}@acme.example"


def seed_calendars(stand_in: GoogleStandIn, reps: int) -> dict[str, list[dict[str, Any]]]:
    """Runs in the stand-in's process: six meetings today for every rep."""
    today = datetime.now(UTC).replace(hour=8, minute=0, second=0, microsecond=0)
    made: dict[str, list[dict[str, Any]]] = {}
    for n in range(reps):
        rep = rep_email(n)
        made[rep] = []
        for slot in range(6):
            start = today + timedelta(hours=slot * 2)
            guests = [
                {"email": f"contact{(n + slot) % 40}@client.example"},
                {"email": f"contact{(n + slot + 1) % 40}@client.example"},
                {"email": f"stranger{n}-{slot}@else.example"},
                {"email": rep_email((n + 1) % reps)},
            ]
            body = {
                "summary": f"Call {slot}",
                "start": {"dateTime": start.isoformat(), "timeZone": "UTC"},
                "end": {"dateTime": (start + timedelta(minutes=45)).isoformat(), "timeZone": "UTC"},
                "attendees": guests,
            }
            made[rep].append(stand_in.calendar.add_event(rep, body))
    return made


def tokens_for(stand_in: GoogleStandIn, rep: str, audience: str, wanted: list[str]) -> list[str]:
    """Runs in the stand-in's process: the system ID token, the rep's ID and access tokens."""
    return [
        stand_in.id_token_for(audience=audience, email=SERVICE_ACCOUNT),
        stand_in.id_token_for(audience=ADDON_CLIENT, email=rep),
        stand_in.user_access_token(rep, wanted),
    ]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def environment(folder: Path, port: int, google: dict[str, str]) -> dict[str, str]:
    return {
        "MEETING_ASSISTANT_INSTANCE": str(folder),
        "DATABASE_URL": f"sqlite:///{folder / 'bench.db'}",
        "QUEUE_URL": f"sqlite:///{folder / 'queue.db'}",
        "SECRET_KEY": uuid.uuid4().hex,
        "TOKEN_ENCRYPTION_KEYS": Fernet.generate_key().decode(),
        "PUBLIC_BASE_URL": f"http://127.0.0.1:{port}",
        "ADDON_SERVICE_ACCOUNT_EMAIL": SERVICE_ACCOUNT,
        "ADDON_OAUTH_CLIENT_ID": ADDON_CLIENT,
        "GOOGLE_CLIENT_ID": CALENDAR_CLIENT,
        "GOOGLE_CLIENT_SECRET": "bench",
        **google,
    }


def procfile_web(app: str) -> str:
    """The Procfile's ``web`` command line, for ``app`` (the product, or the bare reference)."""
    line = next(
        line for line in (ROOT / "Procfile").read_text().splitlines() if line.startswith("web:")
    )
    return line.split(":", 1)[1].strip().replace("'server.app:create_app()'", f"'{app}'")


@contextmanager
def served(app: str, env: dict[str, str], port: int) -> Iterator[None]:
    command = procfile_web(app).replace("0.0.0.0", "127.0.0.1")
    child_env = {
        **os.environ,
        **env,
        "PORT": str(port),
        "WEB_CONCURRENCY": "2",
        "PATH": f"{Path(sys.executable).parent}:{os.environ.get('PATH', '')}",
    }
    process = subprocess.Popen(
        ["bash", "-c", f"exec {command}"],
        env=child_env,
        cwd=ROOT,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                    break
            except OSError:
                time.sleep(0.2)
        time.sleep(1.0)  # both workers up
        yield
    finally:
        process.terminate()
        process.wait(timeout=30)


def prepare(reps: int, google: RemoteStandIn, env: dict[str, str]) -> None:
    settings = Settings.from_env(env)
    database = Database(settings.database_url)
    migrate.upgrade(database)
    app = create_app(settings)
    with database.transaction() as session:
        account, first, _ = accounts.create_account(session, "Acme", ["acme.example"], rep_email(0))
        user_ids = [first.id]
        for n in range(1, reps):
            user_ids.append(accounts.add_user(session, account, rep_email(n)).id)
        for n in range(0, 40, 2):  # half the guests are contacts
            services.create_contact(session, account.id, f"contact{n}@client.example")
    for user_id in user_ids:
        connect(settings, database, app, google, user_id)
    app.extensions["database"].dispose()


def requests_for(
    reps: int, google: RemoteStandIn, base: str, events: dict[str, list[dict[str, Any]]]
) -> dict[str, list[list[load.Request]]]:
    now = datetime.now(UTC)
    out: dict[str, list[list[load.Request]]] = {"homepage": [], "meeting_card": []}
    for n in range(reps):
        rep = rep_email(n)
        for kind, path in (("homepage", paths.HOME), ("meeting_card", paths.CALENDAR_EVENT)):
            wanted = list(scopes.NEEDED_SCOPES[path])
            system, user_id, access = google.run(
                "bench.sidebar_load:tokens_for", rep, base + path, wanted
            )
            tokens = event_object.Tokens(access, system, user_id, tuple(wanted))
            built = []
            for resource in events[rep] if kind == "meeting_card" else events[rep][:1]:
                calendar = event_object.calendar_host_object(resource, rep)
                body = event_object.build_event(
                    host_app="CALENDAR",
                    tokens=tokens,
                    time_zone="UTC",
                    locale="en-US",
                    now=now,
                    calendar=calendar if kind == "meeting_card" else None,
                )
                built.append(
                    load.Request(
                        base + path,
                        {"Authorization": f"Bearer {system}", "Content-Type": "application/json"},
                        json.dumps(body).encode(),
                    )
                )
            out[kind].append(built)
    return out


def check(first: load.Request) -> None:
    answer = requests.post(first.url, data=first.body, headers=first.headers, timeout=30)
    if answer.status_code != 200:
        raise SystemExit(f"sidebar_load: {first.url} answered {answer.status_code}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--reps", type=int, default=50)
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--low", type=int, default=10, help="the second, lower concurrency")
    args = parser.parse_args()
    folder = Path(tempfile.mkdtemp(prefix="ma-sidebar-"))
    google = RemoteStandIn()
    try:
        port = free_port()
        env = environment(folder, port, google.settings())
        base = env["PUBLIC_BASE_URL"]
        events = google.run("bench.sidebar_load:seed_calendars", args.reps)
        prepare(args.reps, google, env)
        work = requests_for(args.reps, google, base, events)
        bare = [[load.Request(f"{base}/bare", {"Content-Type": "application/json"}, b"{}")]] * (
            args.reps
        )
        report: dict[str, Any] = {
            "benchmark": "sidebar_load",
            "machine": f"{os.cpu_count()} cores",
            "server": procfile_web("server.app:create_app()"),
        }
        for concurrency in dict.fromkeys((args.reps, min(args.low, args.reps))):
            with served("bench.bare_app:create_app()", env, port):
                check(bare[0][0])
                reference = load.run(bare[:concurrency], args.seconds)
            results: dict[str, Any] = {"bare_flask": reference}
            with served("server.app:create_app()", env, port):
                for kind, per_rep in work.items():
                    check(per_rep[0][0])
                    measured = load.run(per_rep[:concurrency], args.seconds)
                    measured["ratio_to_bare"] = round(
                        measured["requests_per_second"] / reference["requests_per_second"], 3
                    )
                    results[kind] = measured
            report[f"concurrency_{concurrency}"] = results
        print(json.dumps(report))
    finally:
        google.stop()


if __name__ == "__main__":
    main()
