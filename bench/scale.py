"""The CRM at scale: contacts found by email and a contact's timeline, with a large account.

    python -m bench.scale [--contacts 1000000] [--meetings 1000000] [--samples 300]

Seeds one account in bulk (executemany in chunks): ``--contacts`` contacts and ``--meetings``
meetings, each meeting with two attendees who are contacts and one contact association, on
SQLite and (when it answers on 127.0.0.1) PostgreSQL. Then, for ``--samples`` random
contacts: the lookup by email as a rep would type it (upper case: the lookup is
case-insensitive) and the first page of the contact's timeline, p50/p95 each; and the query
plans of both (``EXPLAIN QUERY PLAN`` / ``EXPLAIN``), to show the indexes they use.
Prints one JSON object.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import statistics
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import event, insert, text

from bench.sync_throughput import postgres_answers, postgres_database
from server import migrate
from server.calendars.writer import ASSOCIATIONS, ATTENDEES, ENGAGEMENTS
from server.crm import accounts, services, timeline
from server.crm.models import Contact
from server.db import Database

CHUNK = 20_000


def seed(database: Database, contacts: int, meetings: int, rng: random.Random) -> int:
    with database.transaction() as session:
        account, _, _ = accounts.create_account(session, "Big", ["big.example"], "rep@big.example")
        account_id = account.id
    now = datetime.now(UTC)
    contact_table = Contact.__table__
    with database.engine.begin() as conn:
        for start in range(0, contacts, CHUNK):
            rows = [
                {
                    "account_id": account_id,
                    "email": f"Person{i}@Client{i % 997}.example",
                    "email_normalized": f"person{i}@client{i % 997}.example",
                    "first_name": f"Person{i}",
                    "last_name": "",
                    "created_at": now,
                    "updated_at": now,
                }
                for i in range(start, min(contacts, start + CHUNK))
            ]
            conn.execute(insert(contact_table), rows)
        first_contact = conn.execute(text("SELECT min(id) FROM contacts")).scalar_one()
    with database.engine.begin() as conn:
        for start in range(0, meetings, CHUNK):
            size = min(meetings, start + CHUNK) - start
            rows = []
            for i in range(start, start + size):
                at = now - timedelta(minutes=i)
                rows.append(
                    {
                        "account_id": account_id,
                        "kind": "meeting",
                        "title": f"Meeting {i}",
                        "body": "",
                        "source": "calendar",
                        "occurred_at": at,
                        "start_at": at,
                        "end_at": at + timedelta(minutes=30),
                        "created_at": now,
                        "updated_at": now,
                    }
                )
            statement = insert(ENGAGEMENTS).returning(
                ENGAGEMENTS.c.id, sort_by_parameter_order=True
            )
            ids = conn.execute(statement, rows).scalars().all()
            attendees, associations = [], []
            for meeting_id in ids:
                pair = rng.sample(range(contacts), 2)
                for n in pair:
                    attendees.append(
                        {
                            "meeting_id": meeting_id,
                            "email": f"Person{n}@Client{n % 997}.example",
                            "email_normalized": f"person{n}@client{n % 997}.example",
                            "name": "",
                            "response_status": "accepted",
                            "organizer": False,
                            "internal": False,
                            "contact_id": first_contact + n,
                        }
                    )
                associations.append(
                    {
                        "engagement_id": meeting_id,
                        "object_type": "contact",
                        "object_id": first_contact + pair[0],
                    }
                )
            conn.execute(insert(ATTENDEES), attendees)
            conn.execute(insert(ASSOCIATIONS), associations)
    return account_id


def percentiles(samples: list[float]) -> dict[str, float]:
    ordered = sorted(samples)
    return {
        "p50_ms": round(1000 * statistics.median(ordered), 2),
        "p95_ms": round(1000 * ordered[int(0.95 * (len(ordered) - 1))], 2),
    }


def plans(database: Database, statements: list[tuple[str, Any]]) -> list[list[str]]:
    prefix = "EXPLAIN QUERY PLAN " if database.dialect == "sqlite" else "EXPLAIN "
    out = []
    with database.engine.connect() as conn:
        raw = conn.connection.dbapi_connection
        assert raw is not None
        for sql, params in statements:
            cursor = raw.cursor()
            cursor.execute(prefix + sql, params)
            out.append([" ".join(str(c) for c in row) for row in cursor.fetchall()])
            cursor.close()
    return out


def measure(database: Database, account_id: int, contacts: int, samples: int) -> dict[str, Any]:
    rng = random.Random(9)
    lookups: list[float] = []
    timelines: list[float] = []
    sizes: list[int] = []
    for _ in range(samples):
        n = rng.randrange(contacts)
        typed = f"PERSON{n}@CLIENT{n % 997}.EXAMPLE"
        with database.transaction() as session:
            began = time.perf_counter()
            contact = services.find_contact(session, account_id, typed)
            lookups.append(time.perf_counter() - began)
            assert contact is not None
            began = time.perf_counter()
            rows, _ = timeline.timeline(session, contact, None, 20)
            timelines.append(time.perf_counter() - began)
            sizes.append(len(rows))
    captured: list[tuple[str, Any]] = []

    def capture(conn: Any, cursor: Any, statement: str, params: Any, *_: Any) -> None:
        captured.append((statement, params))

    event.listen(database.engine, "before_cursor_execute", capture)
    with database.transaction() as session:
        contact = services.find_contact(session, account_id, "PERSON7@CLIENT7.EXAMPLE")
        assert contact is not None
        timeline.timeline(session, contact, None, 20)
    event.remove(database.engine, "before_cursor_execute", capture)
    return {
        "lookup_by_email": percentiles(lookups),
        "timeline_first_page": percentiles(timelines),
        "timeline_items_mean": round(statistics.fmean(sizes), 1),
        "plans": {
            "lookup": plans(database, captured[:1]),
            "timeline": plans(database, captured[1:2]),
        },
    }


def run(url: str, args: argparse.Namespace) -> dict[str, Any]:
    database = Database(url)
    try:
        migrate.upgrade(database)
        began = time.perf_counter()
        account_id = seed(database, args.contacts, args.meetings, random.Random(3))
        seeded = time.perf_counter() - began
        if database.dialect == "postgresql":
            with database.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as c:
                c.execute(text("ANALYZE"))
        else:
            with database.engine.begin() as conn:
                conn.execute(text("ANALYZE"))
        return {
            "seed_seconds": round(seeded, 1),
            **measure(database, account_id, args.contacts, args.samples),
        }
    finally:
        database.dispose()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--contacts", type=int, default=1_000_000)
    parser.add_argument("--meetings", type=int, default=1_000_000)
    parser.add_argument("--samples", type=int, default=300)
    parser.add_argument("--no-postgres", action="store_true")
    args = parser.parse_args()
    folder = Path(tempfile.mkdtemp(prefix="ma-scale-"))
    report: dict[str, Any] = {
        "benchmark": "scale",
        "machine": f"{os.cpu_count()} cores",
        "contacts": args.contacts,
        "meetings": args.meetings,
        "sqlite": run(f"sqlite:///{folder / 'scale.db'}", args),
    }
    if not args.no_postgres and postgres_answers():
        with postgres_database() as url:
            report["postgresql"] = run(url, args)
    print(json.dumps(report))


if __name__ == "__main__":
    main()
