"""Crash and flood on the scale-out setup: PostgreSQL, Redis, 2 gunicorn web processes and 3
``meeting-assistant worker`` processes, started as the Procfile starts them.

    python -m bench.chaos [--events 20000] [--meetings 500] [--connections 50]
                          [--notifications 10000] [--chaos-seconds 120]

While workers are killed with SIGKILL at random moments and started again:

1. a rep's calendar of ``--events`` events syncs for the first time (a share of them with a
   contact as guest: each must be logged exactly once, nothing else);
2. ``--meetings`` meetings are scheduled through the REST API on another rep's calendar: each
   must be in the CRM once and create exactly one event (no second invitation);
3. ``--notifications`` push notifications arrive at the webhook for ``--connections``
   calendars: none refused, each calendar synced a handful of times, the webhook's p99 timed.

Then the killing stops and the system must settle: every lock released, the queue drained.
Prints one JSON object. ``PG_ADMIN_URL`` (default the local server) and ``REDIS_URL`` name the
services; a throwaway database is made and dropped.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections import Counter
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import requests
from cryptography.fernet import Fernet
from sqlalchemy import create_engine, func, select, text

from bench.common import connect
from bench.remote import RemoteStandIn
from bench.sidebar_load import free_port, procfile_web
from server import migrate
from server.app import create_app
from server.calendars import tasks
from server.calendars.tables import CalendarOutboxItem, CalendarSyncState
from server.config import Settings
from server.crm import accounts, services
from server.crm.models import Meeting
from server.db import Database
from server.stand_ins.google import GoogleStandIn

ROOT = Path(__file__).resolve().parents[1]
PG_ADMIN_URL = os.environ.get(
    "PG_ADMIN_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
)
REDIS_URL = os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/12")
WORKER = Path(sys.executable).with_name("meeting-assistant")
DOMAIN = "acme.example"
CONTACTS = 200


def rep(n: int) -> str:
    return f"rep{n}@{DOMAIN}"


# -- in the stand-in's process ----------------------------------------------------------------


def seed_calendar(stand_in: GoogleStandIn, owner: str, events: int, seed: int) -> list[str]:
    """``events`` events on ``owner``'s calendar; returns the ids that must be logged (a
    contact among the guests, not private, not all-day)."""
    rng = random.Random(seed)
    start = (datetime.now(UTC) + timedelta(days=1)).replace(minute=0, second=0, microsecond=0)
    must_log = []
    for i in range(events):
        when = start + timedelta(hours=i % 3000)
        body: dict[str, Any] = {
            "summary": f"Event {i}",
            "start": {"dateTime": when.isoformat(), "timeZone": "UTC"},
            "end": {"dateTime": (when + timedelta(minutes=30)).isoformat(), "timeZone": "UTC"},
        }
        kind = rng.random()
        contact = f"contact{rng.randrange(CONTACTS)}@client.example"
        if kind < 0.6:
            body["attendees"] = [{"email": owner}, {"email": contact}]
        elif kind < 0.8:
            body["attendees"] = [{"email": f"stranger{i}@else.example"}]
        elif kind < 0.9:
            body["attendees"] = [{"email": f"colleague@{DOMAIN}"}]
        else:
            body["visibility"] = "private"
            body["attendees"] = [{"email": contact}]
        made = stand_in.calendar.add_event(owner, body)
        if kind < 0.6:
            must_log.append(str(made["id"]))
    return must_log


def channel_headers(stand_in: GoogleStandIn) -> list[dict[str, str]]:
    """A notification's headers for every live watch channel."""
    return [dict(c.notification("exists").headers) for c in stand_in.calendar.channels.values()]


def titles(stand_in: GoogleStandIn, owner: str, prefix: str) -> dict[str, int]:
    """How many events of ``owner`` carry each title starting with ``prefix``."""
    counts: Counter[str] = Counter()
    for event in stand_in.calendar.events(owner):
        summary = str(event.get("summary", ""))
        if summary.startswith(prefix) and event.get("status") != "cancelled":
            counts[summary] += 1
    return dict(counts)


# -- processes --------------------------------------------------------------------------------


class Workers:
    """``count`` worker processes; :meth:`kill_one` kills one with SIGKILL and starts another."""

    def __init__(self, env: dict[str, str], count: int, logs: Path) -> None:
        self.env, self.logs = env, logs
        self.processes = [self._start(i) for i in range(count)]
        self.kills = 0

    def _start(self, index: int) -> subprocess.Popen[bytes]:
        with (self.logs / f"worker-{index}.log").open("ab") as log:  # the child keeps its copy
            return subprocess.Popen(
                [str(WORKER), "worker", "--workers", "2"], env=self.env, stdout=log, stderr=log
            )

    def kill_one(self, rng: random.Random) -> None:
        index = rng.randrange(len(self.processes))
        self.processes[index].send_signal(signal.SIGKILL)
        self.processes[index].wait()
        self.kills += 1
        self.processes[index] = self._start(index)

    def stop(self) -> int:
        """SIGTERM: each finishes what it runs and exits; returns how many exited cleanly."""
        for process in self.processes:
            process.send_signal(signal.SIGTERM)
        clean = 0
        for process in self.processes:
            try:
                clean += process.wait(timeout=60) == 0
            except subprocess.TimeoutExpired:
                process.kill()
        return clean


@contextmanager
def web(env: dict[str, str], port: int, logs: Path) -> Iterator[None]:
    command = procfile_web("server.app:create_app()").replace("0.0.0.0", "127.0.0.1")
    with (logs / "web.log").open("ab") as log:
        process = subprocess.Popen(
            ["bash", "-c", f"exec {command}"],
            env={**env, "PORT": str(port), "WEB_CONCURRENCY": "2"},
            cwd=ROOT,
            stdout=log,
            stderr=log,
        )
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                if requests.get(f"http://127.0.0.1:{port}/readyz", timeout=2).status_code == 200:
                    break
            except requests.RequestException:
                time.sleep(0.3)
        yield
    finally:
        process.terminate()
        process.wait(timeout=60)


@contextmanager
def throwaway_database() -> Iterator[str]:
    name = f"chaos_{uuid.uuid4().hex[:12]}"
    admin = create_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        yield PG_ADMIN_URL.rsplit("/", 1)[0] + "/" + name
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


# -- the run ----------------------------------------------------------------------------------


def run(
    *,
    events: int,
    meetings: int,
    connections: int,
    notifications: int,
    chaos_seconds: float,
    settle_seconds: float = 300.0,
    seed: int = 7,
) -> dict[str, Any]:
    rng = random.Random(seed)
    folder = Path(tempfile.mkdtemp(prefix="ma-chaos-"))
    google = RemoteStandIn()
    try:
        with throwaway_database() as database_url:
            return _run(google, folder, database_url, rng, events, meetings, connections,
                        notifications, chaos_seconds, settle_seconds)  # fmt: skip
    finally:
        google.stop()


def _run(
    google: RemoteStandIn,
    folder: Path,
    database_url: str,
    rng: random.Random,
    events: int,
    meetings: int,
    connections: int,
    notifications: int,
    chaos_seconds: float,
    settle_seconds: float,
) -> dict[str, Any]:
    port = free_port()
    urls = google.settings()
    env = {
        "PATH": f"{Path(sys.executable).parent}:{os.environ.get('PATH', '')}",
        "MEETING_ASSISTANT_INSTANCE": str(folder),
        "DATABASE_URL": database_url,
        "QUEUE_URL": REDIS_URL,
        "SECRET_KEY": uuid.uuid4().hex,
        "TOKEN_ENCRYPTION_KEYS": Fernet.generate_key().decode(),
        "PUBLIC_BASE_URL": f"http://127.0.0.1:{port}",
        "GOOGLE_CLIENT_ID": "chaos.apps.googleusercontent.com",
        "GOOGLE_CLIENT_SECRET": "chaos",
        "WEBHOOK_RATE_LIMIT": "1000000/minute",
        "LOG_FORMAT": "json",
        **urls,
    }
    settings = Settings.from_env(env)
    database = Database(database_url)
    migrate.upgrade(database)
    app = create_app(settings)  # the driver's own handle on the same database and queue
    jobs = app.extensions["jobs"]
    jobs.huey.flush()
    reps = max(connections, 2)
    with database.transaction() as session:
        account, first, token = accounts.create_account(session, "Acme", [DOMAIN], rep(0))
        user_ids = [first.id] + [
            accounts.add_user(session, account, rep(n)).id for n in range(1, reps)
        ]
        contact_ids = [
            services.create_contact(session, account.id, f"contact{n}@client.example").id
            for n in range(CONTACTS)
        ]
    connection_ids = [connect(settings, database, app, google, uid) for uid in user_ids]
    must_log = set(google.run("bench.chaos:seed_calendar", rep(0), events, 11))
    logs = folder / "logs"
    logs.mkdir()
    base = f"http://127.0.0.1:{port}"
    started = time.monotonic()
    with web(env, port, logs):
        workers = Workers(env, 3, logs)
        stop = threading.Event()

        def chaos() -> None:
            while not stop.wait(rng.uniform(0.5, 2.0)):
                workers.kill_one(rng)

        killer = threading.Thread(target=chaos, name="chaos", daemon=True)
        killer.start()
        try:
            for connection_id in connection_ids:
                jobs.tasks[tasks.CONNECTED_TASK](connection_id)
            scheduled = _schedule(base, token, meetings, rep(1), contact_ids)
            _wait(lambda: bool(google.run("bench.chaos:channel_headers")), 120)
            flood = _flood(base, google, notifications, connection_ids, database)
            time.sleep(max(0.0, chaos_seconds - (time.monotonic() - started)))
        finally:
            stop.set()
            killer.join()
        settled = _settle(jobs, database, connection_ids, settle_seconds)
        checks = _check(database, google, must_log, scheduled, jobs)
        checks["workers_drained"] = workers.stop()
    checks.update(flood)
    checks.update(
        events=events,
        meetings=meetings,
        connections=len(connection_ids),
        kills=workers.kills,
        settled=settled,
        seconds=round(time.monotonic() - started, 1),
    )
    database.dispose()
    app.extensions["database"].dispose()
    return checks


def _schedule(base: str, token: str, count: int, owner: str, contacts: list[int]) -> list[str]:
    """``count`` meetings through the REST API (the web processes), 8 at a time."""
    titles_ = [f"Chaos meeting {n}" for n in range(count)]
    start = datetime.now(UTC) + timedelta(days=400)

    def post(n: int) -> None:
        when = start + timedelta(hours=n)
        body = {
            "title": titles_[n],
            "start": when.isoformat(),
            "end": (when + timedelta(minutes=30)).isoformat(),
            "attendee_emails": [f"contact{n % CONTACTS}@client.example"],
            "associations": [{"type": "contact", "id": contacts[n % len(contacts)]}],
            "owner_email": owner,
        }
        headers = {"Authorization": f"Bearer {token}"}
        response = requests.post(f"{base}/api/v1/meetings", json=body, headers=headers, timeout=30)
        response.raise_for_status()

    with ThreadPoolExecutor(8) as pool:
        list(pool.map(post, range(count)))
    return titles_


def _flood(
    base: str, google: RemoteStandIn, count: int, connection_ids: list[int], database: Database
) -> dict[str, Any]:
    headers = google.run("bench.chaos:channel_headers")
    runs_before = _runs(database, connection_ids)
    statuses: Counter[int] = Counter()
    latencies: list[float] = []
    lock = threading.Lock()

    def send(n: int) -> None:
        one = dict(headers[n % len(headers)])
        one["X-Goog-Message-Number"] = str(1000 + n)
        began = time.perf_counter()
        try:
            status = requests.post(
                f"{base}/webhooks/google/calendar", headers=one, timeout=30
            ).status_code
        except requests.RequestException:
            status = 0
        with lock:
            statuses[status] += 1
            latencies.append(time.perf_counter() - began)

    with ThreadPoolExecutor(32) as pool:
        list(pool.map(send, range(count)))
    time.sleep(5)
    runs_after = _runs(database, connection_ids)
    synced = [runs_after[c] - runs_before.get(c, 0) for c in connection_ids if c in runs_after]
    latencies.sort()
    return {
        "notifications": count,
        "notification_statuses": {str(k): v for k, v in sorted(statuses.items())},
        "webhook_p50_ms": round(statistics.median(latencies) * 1000, 1),
        "webhook_p99_ms": round(latencies[int(len(latencies) * 0.99) - 1] * 1000, 1),
        "syncs_per_connection_max": max(synced, default=0),
        "syncs_per_connection_median": statistics.median(synced) if synced else 0,
    }


def _runs(database: Database, ids: list[int]) -> dict[int, int]:
    with database.transaction() as session:
        rows = session.execute(
            select(CalendarSyncState.connection_id, CalendarSyncState.runs).where(
                CalendarSyncState.connection_id.in_(ids)
            )
        )
        return {cid: runs for cid, runs in rows}


def _wait(ready: Callable[[], bool], seconds: float) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if ready():
            return True
        time.sleep(1.0)
    return False


def _settle(jobs: Any, database: Database, ids: list[int], seconds: float) -> bool:
    """Until the first syncs are done, the outbox is empty and the queue drained. The
    scheduler's sweeps run every minute; the driver asks for them every few seconds."""

    def quiet() -> bool:
        if jobs.huey.pending_count() == 0:  # never pile sweeps onto a busy queue
            for job in jobs.periodic:
                jobs.tasks["run_periodic"](job.name)
        time.sleep(3)
        with database.transaction() as session:
            busy = session.scalar(
                select(func.count()).where(
                    CalendarSyncState.connection_id.in_(ids),
                    (CalendarSyncState.full_sync.is_(True))
                    | CalendarSyncState.sync_requested_at.is_not(None),
                )
            )
            pending = session.scalar(
                select(func.count()).where(CalendarOutboxItem.status.in_(("pending", "processing")))
            )
        return busy == 0 and pending == 0 and jobs.huey.pending_count() == 0

    return _wait(quiet, seconds)


def _check(
    database: Database,
    google: RemoteStandIn,
    must_log: set[str],
    scheduled: list[str],
    jobs: Any,
) -> dict[str, Any]:
    with database.transaction() as session:
        logged = Counter(
            session.scalars(
                select(Meeting.external_event_id).where(
                    Meeting.source == "calendar", Meeting.external_event_id.is_not(None)
                )
            )
        )
        crm = Counter(session.scalars(select(Meeting.title).where(Meeting.title.in_(scheduled))))
        advisory = session.scalar(text("SELECT count(*) FROM pg_locks WHERE locktype = 'advisory'"))
    events = google.run("bench.chaos:titles", rep(1), "Chaos meeting ")
    return {
        "calendar_lost": len(must_log - set(logged)),
        "calendar_doubled": sum(n - 1 for n in logged.values() if n > 1),
        "calendar_unexpected": len(set(logged) - must_log),
        "meetings_lost": sum(1 for t in scheduled if crm[t] == 0),
        "meetings_doubled": sum(n - 1 for n in crm.values() if n > 1),
        "events_lost": sum(1 for t in scheduled if events.get(t, 0) == 0),
        "events_doubled": sum(n - 1 for n in events.values() if n > 1),
        "locks_held": int(advisory or 0),
        "queue_pending": jobs.huey.pending_count(),
    }


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--events", type=int, default=20_000)
    parser.add_argument("--meetings", type=int, default=500)
    parser.add_argument("--connections", type=int, default=50)
    parser.add_argument("--notifications", type=int, default=10_000)
    parser.add_argument("--chaos-seconds", type=float, default=120.0)
    args = parser.parse_args(argv)
    result = run(
        events=args.events,
        meetings=args.meetings,
        connections=args.connections,
        notifications=args.notifications,
        chaos_seconds=args.chaos_seconds,
    )
    print(json.dumps(result))


if __name__ == "__main__":
    main()
