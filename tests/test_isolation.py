"""Two accounts never see or touch each other's objects: another account's id is a 404."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import func, select

from server.crm.models import Association, Attendee, Company, Contact, Deal, Engagement, Ticket
from server.db import Database

MEETING = {"title": "Kick-off", "start": "2030-05-01T10:00:00Z", "end": "2030-05-01T11:00:00Z"}


@pytest.fixture
def world(make_tenant: Any) -> dict[str, Any]:
    """Account A with one of everything, and account B that will try to reach it."""
    a = make_tenant("Acme", "acme.example")
    b = make_tenant("Globex", "globex.example")
    ids: dict[str, int] = {}
    ids["company"] = a.call("POST", "/companies", json={"name": "Client Inc"}).get_json()["id"]
    ids["deal"] = a.call("POST", "/deals", json={"name": "Renewal"}).get_json()["id"]
    ids["ticket"] = a.call("POST", "/tickets", json={"name": "Outage"}).get_json()["id"]
    ids["contact"] = a.call(
        "POST", "/contacts", json={"email": "ada@client.example", "company_id": ids["company"]}
    ).get_json()["id"]
    meeting = a.call(
        "POST",
        "/meetings",
        json={
            **MEETING,
            "attendee_emails": ["ada@client.example", "rep@acme.example"],
            "associations": [{"type": t, "id": ids[t]} for t in ("contact", "company", "deal")],
        },
    ).get_json()
    ids["meeting"] = meeting["id"]
    ids["note"] = a.call(
        "POST", f"/meetings/{meeting['id']}/notes", json={"body": "Confidential"}
    ).get_json()["id"]
    return {"a": a, "b": b, "ids": ids}


def snapshot(a: Any, ids: dict[str, int], database: Database) -> Any:
    """Everything account A can observe, plus row counts of every table."""
    seen = {
        "contact": a.call("GET", f"/contacts/{ids['contact']}").get_json(),
        "contacts": a.call("GET", "/contacts").get_json(),
        "meeting": a.call("GET", f"/meetings/{ids['meeting']}").get_json(),
        "notes": a.call("GET", f"/meetings/{ids['meeting']}/notes").get_json(),
        "timeline": a.call("GET", f"/contacts/{ids['contact']}/timeline").get_json(),
    }
    for kind, plural in (("company", "companies"), ("deal", "deals"), ("ticket", "tickets")):
        seen[kind] = a.call("GET", f"/{plural}/{ids[kind]}").get_json()
    with database.transaction() as session:
        for model in (Contact, Company, Deal, Ticket, Engagement, Attendee, Association):
            seen[model.__name__] = session.scalar(select(func.count()).select_from(model))
    return seen


def assert_not_found(response: Any) -> None:
    assert response.status_code == 404, (response.status_code, response.get_json())
    error = response.get_json()["error"]
    assert set(error) == {"code", "message", "details"}
    assert error["code"] == "not_found"
    body = response.get_data(as_text=True)
    assert "Confidential" not in body
    assert "ada@client.example" not in body


def test_foreign_ids_answer_404_and_change_nothing(
    world: dict[str, Any], database: Database
) -> None:
    a, b, ids = world["a"], world["b"], world["ids"]
    before = snapshot(a, ids, database)
    meeting, contact = ids["meeting"], ids["contact"]
    attempts: list[tuple[str, str, Any]] = [
        ("GET", f"/contacts/{contact}", None),
        ("PATCH", f"/contacts/{contact}", {"first_name": "Mallory"}),
        ("DELETE", f"/contacts/{contact}", None),
        ("GET", f"/contacts/{contact}/timeline", None),
        ("GET", f"/companies/{ids['company']}", None),
        ("GET", f"/deals/{ids['deal']}", None),
        ("GET", f"/tickets/{ids['ticket']}", None),
        ("GET", f"/meetings/{meeting}", None),
        ("PATCH", f"/meetings/{meeting}", {"title": "Hijacked"}),
        ("PATCH", f"/meetings/{meeting}", {"attendee_emails": []}),
        ("DELETE", f"/meetings/{meeting}", None),
        ("GET", f"/meetings/{meeting}/notes", None),
        ("POST", f"/meetings/{meeting}/notes", {"body": "Injected"}),
        # A note is an engagement too, but never reachable as a meeting.
        ("GET", f"/meetings/{ids['note']}", None),
        ("DELETE", f"/meetings/{ids['note']}", None),
        # B's own records pointing at A's.
        ("POST", "/contacts", {"email": "eve@client.example", "company_id": ids["company"]}),
    ]
    for kind in ("contact", "company", "deal", "ticket"):
        association = [{"type": kind, "id": ids[kind]}]
        attempts.append(("POST", "/meetings", {**MEETING, "associations": association}))
    for method, path, body in attempts:
        assert_not_found(b.call(method, path, json=body) if body else b.call(method, path))

    # B's own objects may not be pointed at A's either.
    own_meeting = b.call("POST", "/meetings", json=MEETING).get_json()
    own_contact = b.call("POST", "/contacts", json={"email": "eve@client.example"}).get_json()
    for kind in ("contact", "company", "deal", "ticket"):
        association = [{"type": kind, "id": ids[kind]}]
        assert_not_found(
            b.call("PATCH", f"/meetings/{own_meeting['id']}", json={"associations": association})
        )
    assert_not_found(
        b.call("PATCH", f"/contacts/{own_contact['id']}", json={"company_id": ids["company"]})
    )
    assert b.call("GET", f"/meetings/{own_meeting['id']}").get_json()["associations"] == []
    assert b.call("GET", f"/contacts/{own_contact['id']}").get_json()["company_id"] is None

    after = snapshot(a, ids, database)
    for table in ("Contact", "Engagement"):  # B's own meeting and contact
        after[table] -= 1
    assert after == before


def test_lookups_never_cross_accounts(world: dict[str, Any], database: Database) -> None:
    a, b, ids = world["a"], world["b"], world["ids"]
    assert b.call("GET", "/contacts?email=ada@client.example").get_json()["results"] == []
    assert b.call("GET", "/contacts?email=ADA@CLIENT.EXAMPLE").get_json()["results"] == []
    assert b.call("GET", "/contacts").get_json() == {"results": [], "next_cursor": None}

    # The same address is free in B: no 409 reveals that A knows it.
    own = b.call("POST", "/contacts", json={"email": "Ada@Client.example"})
    assert own.status_code == 201
    listed = b.call("GET", "/contacts?email=ada@client.example").get_json()["results"]
    assert [c["id"] for c in listed] == [own.get_json()["id"]]
    found = a.call("GET", "/contacts?email=ada@client.example").get_json()["results"]
    assert [c["id"] for c in found] == [ids["contact"]]

    # B meets Ada and A's rep: the attendees link to B's contact only, and A's rep is not
    # internal to B.
    meeting = b.call(
        "POST",
        "/meetings",
        json={**MEETING, "attendee_emails": ["ada@client.example", "rep@acme.example"]},
    ).get_json()
    attendees = {x["email"]: x for x in meeting["attendees"]}
    assert attendees["ada@client.example"]["contact_id"] == own.get_json()["id"]
    assert attendees["rep@acme.example"]["internal"] is False
    b.call("POST", f"/meetings/{meeting['id']}/notes", json={"body": "B's note"})

    # A user of A cannot own B's meeting.
    owner = b.call("POST", "/meetings", json={**MEETING, "owner_email": a.user_email})
    assert owner.status_code == 400

    # Each timeline holds only its own account's items.
    a_items = a.call("GET", f"/contacts/{ids['contact']}/timeline").get_json()["results"]
    assert {i["id"] for i in a_items} == {ids["meeting"], ids["note"]}
    b_items = b.call("GET", f"/contacts/{own.get_json()['id']}/timeline").get_json()["results"]
    assert {i["type"] for i in b_items} == {"meeting", "note"}
    assert ids["meeting"] not in {i["id"] for i in b_items}


def test_idempotency_keys_are_per_account(world: dict[str, Any]) -> None:
    a, b, ids = world["a"], world["b"], world["ids"]
    headers = {"Idempotency-Key": "same-key"}
    first = a.call("POST", f"/meetings/{ids['meeting']}/notes", json={"body": "A"}, headers=headers)
    own = b.call("POST", "/meetings", json=MEETING).get_json()
    other = b.call("POST", f"/meetings/{own['id']}/notes", json={"body": "B"}, headers=headers)
    assert other.status_code == 201
    assert other.get_json()["body"] == "B"
    assert other.get_json()["id"] != first.get_json()["id"]
