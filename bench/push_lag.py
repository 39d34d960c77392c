"""Lag from a change in the rep's calendar to the contact's timeline, through push.

    python -m bench.push_lag [--provider google|microsoft] [--trials 20]
                             [--queue-url redis://127.0.0.1:6379/13]

The app is served over HTTP on 127.0.0.1; the stand-in (Google, or Microsoft Graph) delivers
push notifications to its webhook from its own thread, as the provider would; a real
``meeting-assistant worker`` subprocess runs the sync. Each trial adds an event with a
contact as guest and waits for the meeting on the contact's timeline. Prints one JSON object
with the lags in seconds.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import threading
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from flask import Flask
from sqlalchemy import select
from werkzeug.serving import make_server

from bench.common import REP, build
from server.calendars import push
from server.calendars.sync import SyncEnv, sync_connection
from server.crm import services
from server.crm.models import Meeting

WORKER = Path(sys.executable).parent / "meeting-assistant"


def worker_env(world: Any) -> dict[str, str]:
    s = world.settings
    return {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "MEETING_ASSISTANT_INSTANCE": str(s.instance_path),
        "DATABASE_URL": s.database_url,
        "QUEUE_URL": s.queue_url,
        "SECRET_KEY": s.secret_key,
        "TOKEN_ENCRYPTION_KEYS": ",".join(s.token_encryption_keys),
        "PUBLIC_BASE_URL": s.public_base_url,
        "GOOGLE_AUTH_URI": s.google_auth_uri,
        "GOOGLE_TOKEN_URI": s.google_token_uri,
        "GOOGLE_CERTS_URL": s.google_certs_url,
        "GOOGLE_CALENDAR_API_URL": s.google_calendar_api_url,
        "GOOGLE_CLIENT_ID": s.google_client_id,
        "GOOGLE_CLIENT_SECRET": s.google_client_secret,
        "MICROSOFT_CLIENT_ID": s.microsoft_client_id,
        "MICROSOFT_CLIENT_SECRET": s.microsoft_client_secret,
        "MICROSOFT_AUTHORITY": s.microsoft_authority,
        "MICROSOFT_GRAPH_URL": s.microsoft_graph_url,
        "REQUESTS_CA_BUNDLE": os.environ.get("REQUESTS_CA_BUNDLE", ""),
    }


def add_event(world: Any, trial: int, when: datetime) -> dict[str, Any]:
    end = when + timedelta(minutes=30)
    if world.microsoft is not None:
        made: dict[str, Any] = world.microsoft.graph.add_event(
            REP,
            subject=f"Trial {trial}",
            start={"dateTime": when.replace(tzinfo=None).isoformat(), "timeZone": "UTC"},
            end={"dateTime": end.replace(tzinfo=None).isoformat(), "timeZone": "UTC"},
            attendees=[{"type": "required", "emailAddress": {"address": "jane@client.example"}}],
        )
        return made
    body = {
        "summary": f"Trial {trial}",
        "start": {"dateTime": when.isoformat()},
        "end": {"dateTime": end.isoformat()},
        "attendees": [{"email": "jane@client.example"}],
    }
    created: dict[str, Any] = world.google.calendar.add_event(REP, body)
    return created


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--provider", choices=["google", "microsoft"], default="google")
    parser.add_argument("--trials", type=int, default=20)
    parser.add_argument("--database-url", default=None)
    parser.add_argument("--queue-url", default=None)
    parser.add_argument("--gap", type=float, default=0.5, help="idle seconds between trials")
    args = parser.parse_args()
    holder: dict[str, Flask] = {}
    server = make_server(
        "127.0.0.1", 0, lambda env, start: holder["app"](env, start), threaded=True
    )
    url = f"http://127.0.0.1:{server.server_port}"
    world = build(args.database_url, args.queue_url, public_base_url=url, provider=args.provider)
    holder["app"] = world.app
    threading.Thread(target=server.serve_forever, daemon=True).start()
    huey = world.app.extensions["jobs"].huey
    huey.flush()
    env = SyncEnv(world.settings, world.database, world.app.extensions["cipher"], huey)
    assert push.ensure_channel(env, world.connection_id) == "created"
    sync_connection(env, world.connection_id)
    with world.database.transaction() as session:
        services.create_contact(session, world.account_id, "jane@client.example")
    world.google.calendar.push_mode = "thread"
    if world.microsoft is not None:
        world.microsoft.graph.push_mode = "immediate"
    worker = subprocess.Popen(
        [str(WORKER), "worker", "--workers", "2"],
        env=worker_env(world),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    lags: list[float] = []
    try:
        time.sleep(2)  # the worker is up and polling
        start = (datetime.now(UTC) + timedelta(days=2)).replace(microsecond=0)
        for trial in range(args.trials):
            when = start + timedelta(hours=trial)
            began = time.perf_counter()
            event = add_event(world, trial, when)
            while time.perf_counter() - began < 60:
                with world.database.transaction() as session:
                    found = session.scalar(
                        select(Meeting.id).where(Meeting.external_event_id == event["id"])
                    )
                if found:
                    break
                time.sleep(0.005)
            lags.append(time.perf_counter() - began)
            time.sleep(args.gap)  # idle time: a polling queue backs off meanwhile
    finally:
        worker.terminate()
        worker.wait(30)
        server.shutdown()
        world.google.stop()
        if world.microsoft is not None:
            world.microsoft.stop()
    ordered = sorted(lags)
    print(
        json.dumps(
            {
                "provider": args.provider,
                "queue": world.settings.queue_url.split(":")[0],
                "database": world.database.dialect,
                "trials": len(lags),
                "gap_s": args.gap,
                "median_s": round(statistics.median(lags), 3),
                "p95_s": round(ordered[int(0.95 * (len(ordered) - 1))], 3),
                "max_s": round(max(lags), 3),
                "min_s": round(min(lags), 3),
            }
        )
    )


if __name__ == "__main__":
    main()
