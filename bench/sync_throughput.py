"""Calendar sync throughput against a reference measured in the same run.

    python -m bench.sync_throughput [--events 5000] [--rss-events 50000] [--no-postgres]

For each database (SQLite, and PostgreSQL when it answers on 127.0.0.1): a full sync of a
calendar of ``--events`` events, then an incremental sync after ``--changes`` of them changed,
each as events per second; and, as the reference, the rate at which the benchmark itself bulk
inserts the same number of meeting rows into the same database (one executemany, rolled
back). ``--rss-events`` adds a full sync of a calendar that size on SQLite with the worker's
resident memory sampled after every page (flat = pages are streamed, nothing accumulates).

The calendar mixes what reps have: meetings with contacts, meetings with strangers only,
internal meetings, private and all-day events, and weekly series with moved and cancelled
occurrences. The Google stand-in runs in a process of its own (``bench.remote``), so the
figures are the worker's: the real client over HTTP, parsing, the rules, the writes.
Prints one JSON object.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import socket
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import create_engine, insert, text

from bench.common import REP, World, build
from server.calendars.sync import SyncEnv, sync_connection
from server.calendars.writer import ENGAGEMENTS
from server.crm import services
from server.stand_ins.google import GoogleStandIn

PG_ADMIN = "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"


def seed_calendar(stand_in: GoogleStandIn, events: int, contacts: int, seed: int) -> list[str]:
    """Runs in the stand-in's process: the rep's calendar, ``events`` events long."""
    rng = random.Random(seed)
    start = (datetime.now(UTC) + timedelta(days=1)).replace(minute=0, second=0, microsecond=0)
    calendar = stand_in.calendar
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


def change_events(stand_in: GoogleStandIn, ids: list[str]) -> None:
    for event_id in ids:
        stand_in.calendar.patch_event(REP, event_id, {"summary": "Changed"})


def rss_mb() -> float:
    with open("/proc/self/statm") as statm:
        pages = int(statm.read().split()[1])
    return round(pages * os.sysconf("SC_PAGE_SIZE") / 2**20, 1)


def reference_insert_rate(world: World, rows: int) -> float:
    """Meeting rows per second that one executemany INSERT reaches in this database."""
    now = datetime.now(UTC)
    batch = [
        {
            "account_id": world.account_id,
            "kind": "meeting",
            "title": f"Reference {i}",
            "body": "",
            "source": "calendar",
            "occurred_at": now,
            "start_at": now,
            "end_at": now,
            "idempotency_key": f"reference:{i}",
            "created_at": now,
            "updated_at": now,
        }
        for i in range(rows)
    ]
    with world.database.engine.connect() as conn:
        began = time.perf_counter()
        conn.execute(insert(ENGAGEMENTS), batch)
        seconds = time.perf_counter() - began
        conn.rollback()
    return rows / seconds


def env_for(world: World, samples: list[float] | None = None) -> SyncEnv:
    def fault(point: str) -> None:
        if samples is not None and point == "committed":
            samples.append(rss_mb())

    return SyncEnv(
        world.settings,
        world.database,
        world.app.extensions["cipher"],
        world.app.extensions["jobs"].huey,
        fault=fault,
    )


def measure(world: World, args: argparse.Namespace) -> dict[str, Any]:
    with world.database.transaction() as session:
        for i in range(args.contacts):
            services.create_contact(session, world.account_id, f"contact{i}@client.example")
    ids = world.google.run("bench.sync_throughput:seed_calendar", args.events, args.contacts, 4)
    env = env_for(world)
    began = time.perf_counter()
    full = sync_connection(env, world.connection_id)
    full_seconds = time.perf_counter() - began
    changed = random.Random(5).sample(ids, min(args.changes, len(ids)))
    world.google.run("bench.sync_throughput:change_events", changed)
    began = time.perf_counter()
    incremental = sync_connection(env, world.connection_id)
    incremental_seconds = time.perf_counter() - began
    reference = reference_insert_rate(world, full.events)
    full_rate = full.events / full_seconds
    return {
        "events_full": full.events,
        "pages_full": full.pages,
        "full_events_per_second": round(full_rate, 1),
        "events_incremental": incremental.events,
        "incremental_events_per_second": round(incremental.events / incremental_seconds, 1),
        "reference_bulk_insert_rows_per_second": round(reference, 1),
        "full_ratio_to_reference": round(full_rate / reference, 3),
        "incremental_ratio_to_reference": round(
            incremental.events / incremental_seconds / reference, 3
        ),
        "full_actions": full.actions,
        "incremental_actions": incremental.actions,
        "status": [full.status, incremental.status],
    }


def memory(events: int, contacts: int) -> dict[str, Any]:
    world = build(None, None, remote=True)
    try:
        world.google.run("bench.sync_throughput:seed_calendar", events, contacts, 4)
        samples: list[float] = []
        result = sync_connection(env_for(world, samples), world.connection_id)
        return {
            "events": result.events,
            "pages": result.pages,
            "rss_after_first_page_mb": samples[0] if samples else None,
            "peak_rss_mb": max(samples, default=None),
            "rss_after_last_page_mb": samples[-1] if samples else None,
        }
    finally:
        world.google.stop()
        world.database.dispose()


def postgres_answers() -> bool:
    try:
        with socket.create_connection(("127.0.0.1", 5432), timeout=1):
            return True
    except OSError:
        return False


@contextmanager
def postgres_database() -> Iterator[str]:
    name = f"ma_bench_{uuid.uuid4().hex[:10]}"
    admin = create_engine(PG_ADMIN, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        yield PG_ADMIN.rsplit("/", 1)[0] + "/" + name
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


def run(database_url: str | None, args: argparse.Namespace) -> dict[str, Any]:
    world = build(database_url, None, remote=True)
    try:
        return measure(world, args)
    finally:
        world.google.stop()
        world.database.dispose()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--events", type=int, default=5000)
    parser.add_argument("--contacts", type=int, default=500)
    parser.add_argument("--changes", type=int, default=0, help="default: half the events")
    parser.add_argument("--rss-events", type=int, default=0)
    parser.add_argument("--no-postgres", action="store_true")
    args = parser.parse_args()
    args.changes = args.changes or max(1, args.events // 2)
    report: dict[str, Any] = {
        "benchmark": "sync_throughput",
        "machine": f"{os.cpu_count()} cores",
        "events": args.events,
        "changes": args.changes,
        "sqlite": run(None, args),
    }
    if not args.no_postgres and postgres_answers():
        with postgres_database() as url:
            report["postgresql"] = run(url, args)
    if args.rss_events:
        report["memory_sqlite"] = memory(args.rss_events, args.contacts)
    print(json.dumps(report))


if __name__ == "__main__":
    main()
