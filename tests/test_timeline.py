"""A contact's timeline: what it holds, its order, its pages, and its query count."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import event

from server.crm import services
from server.db import Database

T0 = datetime(2030, 1, 1, 9, 0, tzinfo=UTC)


def iso(moment: datetime) -> str:
    return moment.isoformat()


def new_contact(tenant: Any, email: str = "ada@client.example") -> dict[str, Any]:
    response = tenant.call("POST", "/contacts", json={"email": email})
    assert response.status_code == 201
    body: dict[str, Any] = response.get_json()
    return body


def new_meeting(tenant: Any, start: datetime, **fields: Any) -> dict[str, Any]:
    body = {"title": f"Meeting {iso(start)}", "start": iso(start), "end": iso(start), **fields}
    response = tenant.call("POST", "/meetings", json=body)
    assert response.status_code == 201, response.get_json()
    created: dict[str, Any] = response.get_json()
    return created


def new_activity(
    database: Database, tenant: Any, kind: str, at: datetime, contact_id: int, title: str = ""
) -> int:
    with database.transaction() as session:
        row = services.create_activity(
            session,
            tenant.account_id,
            kind,
            title or f"{kind} at {iso(at)}",
            at,
            associations=[("contact", contact_id)],
        )
        return row.id


def whole_timeline(tenant: Any, contact_id: int, limit: int) -> list[dict[str, Any]]:
    items: list[dict[str, Any]] = []
    cursor = None
    for _ in range(1000):
        query = f"/contacts/{contact_id}/timeline?limit={limit}"
        response = tenant.call("GET", query + (f"&cursor={cursor}" if cursor else ""))
        assert response.status_code == 200, response.get_json()
        page = response.get_json()
        assert len(page["results"]) <= limit
        items += page["results"]
        cursor = page["next_cursor"]
        if cursor is None:
            return items
    raise AssertionError("the timeline never ended")


def test_timeline_holds_meetings_notes_and_activities_newest_first(
    tenant: Any, database: Database
) -> None:
    ada = new_contact(tenant)
    bob = new_contact(tenant, "bob@client.example")
    attended = new_meeting(tenant, T0, attendee_emails=["ADA@client.example"])
    associated = new_meeting(
        tenant, T0 + timedelta(days=1), associations=[{"type": "contact", "id": ada["id"]}]
    )
    not_hers = new_meeting(tenant, T0 + timedelta(days=2), attendee_emails=["bob@client.example"])
    note = tenant.call(
        "POST", f"/meetings/{attended['id']}/notes", json={"body": "Wants a pilot\nin March"}
    ).get_json()
    tenant.call("POST", f"/meetings/{not_hers['id']}/notes", json={"body": "Bob only"})
    call = new_activity(database, tenant, "call", T0 + timedelta(hours=3), ada["id"])
    task = new_activity(database, tenant, "task", T0 - timedelta(days=1), ada["id"])
    new_activity(database, tenant, "email", T0 + timedelta(hours=4), bob["id"])

    response = tenant.call("GET", f"/contacts/{ada['id']}/timeline")
    assert response.status_code == 200
    page = response.get_json()
    assert page["next_cursor"] is None
    # The note carries the server's time (now); everything else is dated in 2029-2030.
    assert [(i["type"], i["id"]) for i in page["results"]] == [
        ("meeting", associated["id"]),
        ("call", call),
        ("meeting", attended["id"]),
        ("task", task),
        ("note", note["id"]),
    ]
    items = {i["id"]: i for i in page["results"]}
    assert items[note["id"]]["body"] == "Wants a pilot\nin March"
    assert items[note["id"]]["title"] == "Wants a pilot"
    assert items[note["id"]]["meeting_id"] == attended["id"]
    assert items[note["id"]]["occurred_at"] == note["created_at"]
    assert items[call]["title"].startswith("call at")
    meeting_item = items[attended["id"]]
    assert meeting_item["title"] == attended["title"]
    assert meeting_item["occurred_at"] == attended["start"]
    assert meeting_item["meeting"]["attendees"][0]["contact_id"] == ada["id"]
    assert [n["id"] for n in meeting_item["meeting"]["notes"]] == [note["id"]]
    for item in page["results"]:
        assert datetime.fromisoformat(item["occurred_at"]).utcoffset() == timedelta(0)

    bobs = tenant.call("GET", f"/contacts/{bob['id']}/timeline").get_json()["results"]
    assert {i["type"] for i in bobs} == {"meeting", "note", "email"}


def test_timeline_pages_to_the_end_without_gaps_or_duplicates(
    tenant: Any, database: Database
) -> None:
    contact = new_contact(tenant)
    expected: list[tuple[datetime, int]] = []
    same_time = T0 + timedelta(days=3)
    # Eight items share one instant, so pages must break ties by id.
    for i in range(8):
        row = new_activity(database, tenant, "email", same_time, contact["id"], f"tied {i}")
        expected.append((same_time, row))
    for i in range(6):
        start = T0 + timedelta(days=3) if i % 2 else T0 + timedelta(hours=i)
        meeting = new_meeting(tenant, start, attendee_emails=[contact["email"]])
        expected.append((start, meeting["id"]))
    for i in range(9):
        at = T0 - timedelta(minutes=i)
        expected.append((at, new_activity(database, tenant, "call", at, contact["id"])))
    want = [row_id for _, row_id in sorted(expected, key=lambda p: (p[0], p[1]), reverse=True)]

    for limit in (1, 2, 3, 5, 7, 23, 50):
        items = whole_timeline(tenant, contact["id"], limit)
        assert [i["id"] for i in items] == want, limit

    full = tenant.call("GET", f"/contacts/{contact['id']}/timeline?limit={len(want)}").get_json()
    assert full["next_cursor"] is None
    assert len(full["results"]) == len(want)


def test_timeline_page_query_count_does_not_grow(tenant: Any, database: Database) -> None:
    def fill(contact: dict[str, Any], groups: int) -> None:
        for i in range(groups):
            at = T0 + timedelta(hours=i)
            meeting = new_meeting(
                tenant,
                at,
                attendee_emails=[contact["email"], f"guest{i}@client.example"],
                owner_email=tenant.user_email,
                associations=[{"type": "contact", "id": contact["id"]}],
            )
            tenant.call("POST", f"/meetings/{meeting['id']}/notes", json={"body": f"note {i}"})
            new_activity(database, tenant, "call", at, contact["id"])

    small, large = new_contact(tenant, "small@client.example"), new_contact(tenant)
    fill(small, 1)
    fill(large, 20)

    def count(contact: dict[str, Any]) -> tuple[int, int]:
        with counting(database) as statements:
            response = tenant.call("GET", f"/contacts/{contact['id']}/timeline?limit=200")
        assert response.status_code == 200
        return len(response.get_json()["results"]), len(statements)

    small_items, small_queries = count(small)
    large_items, large_queries = count(large)
    assert (small_items, large_items) == (3, 60)
    assert small_queries == large_queries, (small_queries, large_queries)


@contextmanager
def counting(database: Database) -> Iterator[list[str]]:
    statements: list[str] = []

    def record(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        statements.append(statement)

    event.listen(database.engine, "before_cursor_execute", record)
    try:
        yield statements
    finally:
        event.remove(database.engine, "before_cursor_execute", record)
