"""Calendar sync throughput: a full sync of a large calendar, then incremental syncs.

    python -m bench.sync_throughput --events 5000 [--page-size 250] [--database-url URL]

The calendar mixes what reps have: meetings with contacts, meetings with strangers only,
internal meetings, private and all-day events, and weekly series with moved and cancelled
occurrences. Everything runs locally (the Google stand-in on 127.0.0.1, the real client).
Prints one JSON object: events per second for the full sync and for the incremental one.
"""

from __future__ import annotations

import argparse
import json
import random
import time
from datetime import UTC, datetime, timedelta
from typing import Any

from bench.common import REP, World, build
from server.calendars.google import GoogleCalendar
from server.calendars.models import CalendarConnection
from server.calendars.provider import CalendarProvider
from server.calendars.sync import SyncEnv, sync_connection
from server.crm import services


def seed(world: World, events: int, contacts: int, rng: random.Random) -> list[str]:
    with world.database.transaction() as session:
        for i in range(contacts):
            services.create_contact(session, world.account_id, f"contact{i}@client.example")
    start = (datetime.now(UTC) + timedelta(days=1)).replace(minute=0, second=0, microsecond=0)
    calendar = world.google.calendar
    ids: list[str] = []
    for i in range(events):
        when = start + timedelta(hours=i % 2000)
        kind = rng.random()
        contact = f"contact{rng.randrange(contacts)}@client.example"
        body: dict[str, Any] = {
            "summary": f"Meeting {i}",
            "start": {"dateTime": when.isoformat(), "timeZone": "UTC"},
            "end": {"dateTime": (when + timedelta(minutes=30)).isoformat(), "timeZone": "UTC"},
        }
        if kind < 0.55:  # a meeting with a contact
            body["attendees"] = [{"email": contact}]
        elif kind < 0.75:  # strangers only (R9)
            body["attendees"] = [{"email": f"stranger{i}@else.example"}]
        elif kind < 0.85:  # internal (R4)
            body["attendees"] = [{"email": "colleague@acme.example"}]
        elif kind < 0.9:  # private (R8)
            body["visibility"] = "private"
            body["attendees"] = [{"email": contact}]
        elif kind < 0.95:  # all-day (R7)
            day = when.date()
            body["start"] = {"date": day.isoformat()}
            body["end"] = {"date": (day + timedelta(days=1)).isoformat()}
        else:  # a weekly series with one moved and one cancelled occurrence (R6)
            body["recurrence"] = ["RRULE:FREQ=WEEKLY;COUNT=10"]
            body["attendees"] = [{"email": contact}]
        made = calendar.add_event(REP, body)
        ids.append(made["id"])
        if "recurrence" in body:
            calendar.modify_instance(
                REP, made["id"], (when + timedelta(days=7)).isoformat(), {"summary": "Moved"}
            )
            calendar.cancel_instance(REP, made["id"], (when + timedelta(days=14)).isoformat())
    return ids


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--events", type=int, default=2000)
    parser.add_argument("--contacts", type=int, default=500)
    parser.add_argument("--changes", type=int, default=200)
    parser.add_argument("--page-size", type=int, default=250)
    parser.add_argument("--database-url", default=None)
    parser.add_argument("--queue-url", default=None)
    args = parser.parse_args()
    rng = random.Random(4)
    world = build(args.database_url, args.queue_url)
    try:
        ids = seed(world, args.events, args.contacts, rng)

        def provider(connection: CalendarConnection, token: str) -> CalendarProvider:
            return GoogleCalendar(world.settings, token, page_size=args.page_size)

        env = SyncEnv(
            world.settings,
            world.database,
            world.app.extensions["cipher"],
            world.app.extensions["jobs"].huey,
            provider_factory=provider,
        )
        began = time.perf_counter()
        full = sync_connection(env, world.connection_id)
        full_seconds = time.perf_counter() - began
        for event_id in rng.sample(ids, min(args.changes, len(ids))):
            world.google.calendar.patch_event(REP, event_id, {"summary": "Changed"})
        began = time.perf_counter()
        incremental = sync_connection(env, world.connection_id)
        incremental_seconds = time.perf_counter() - began
        print(
            json.dumps(
                {
                    "database": world.database.dialect,
                    "events_listed_full": full.events,
                    "pages_full": full.pages,
                    "full_seconds": round(full_seconds, 3),
                    "full_events_per_second": round(full.events / full_seconds, 1),
                    "full_actions": full.actions,
                    "events_listed_incremental": incremental.events,
                    "incremental_seconds": round(incremental_seconds, 3),
                    "incremental_events_per_second": round(
                        incremental.events / incremental_seconds, 1
                    ),
                    "incremental_actions": incremental.actions,
                }
            )
        )
    finally:
        world.google.stop()
        world.database.dispose()


if __name__ == "__main__":
    main()
