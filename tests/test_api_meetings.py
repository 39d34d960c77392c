"""REST round trips for meetings and their notes (CONTRACT.md REST API)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from server.crm import accounts, services
from server.crm.models import Account, Engagement, Meeting
from server.db import Database

START = "2030-03-04T15:00:00+01:00"
END = "2030-03-04T15:30:00+01:00"


def meeting_body(**changes: Any) -> dict[str, Any]:
    return {"title": "Intro call", "start": START, "end": END, **changes}


def create_meeting(tenant: Any, **changes: Any) -> dict[str, Any]:
    response = tenant.call("POST", "/meetings", json=meeting_body(**changes))
    assert response.status_code == 201, response.get_json()
    body: dict[str, Any] = response.get_json()
    return body


def by_email(meeting: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {a["email"]: a for a in meeting["attendees"]}


def test_meeting_round_trip(tenant: Any) -> None:
    created = create_meeting(tenant, description="Agenda: pricing")
    assert created["title"] == "Intro call"
    assert created["description"] == "Agenda: pricing"
    assert created["source"] == "crm"
    assert created["outcome"] == "scheduled"
    assert created["external_event_id"] is None
    assert created["started_at"] is None
    assert created["notes"] == []
    # Times come back as RFC 3339 in UTC, the same instants as sent.
    assert created["start"] == "2030-03-04T14:00:00+00:00"
    assert datetime.fromisoformat(created["end"]) == datetime.fromisoformat(END)

    fetched = tenant.call("GET", f"/meetings/{created['id']}")
    assert fetched.status_code == 200
    assert fetched.get_json() == created

    patched = tenant.call(
        "PATCH",
        f"/meetings/{created['id']}",
        json={"title": "Pricing call", "end": "2030-03-04T14:45:00Z", "outcome": "completed"},
    )
    assert patched.status_code == 200, patched.get_json()
    assert patched.get_json()["title"] == "Pricing call"
    again = tenant.call("GET", f"/meetings/{created['id']}").get_json()
    assert again["title"] == "Pricing call"
    assert again["outcome"] == "completed"
    assert again["start"] == created["start"]
    assert again["end"] == "2030-03-04T14:45:00+00:00"
    assert again["description"] == "Agenda: pricing"

    assert tenant.call("DELETE", f"/meetings/{created['id']}").status_code == 204
    gone = tenant.call("GET", f"/meetings/{created['id']}")
    assert gone.status_code == 404
    assert gone.get_json()["error"]["code"] == "not_found"
    assert tenant.call("GET", f"/meetings/{created['id']}/notes").status_code == 404


def test_attendees_link_contacts_in_any_case_and_mark_internal(
    tenant: Any, database: Database
) -> None:
    contact = tenant.call("POST", "/contacts", json={"email": "Ada@Client.example"}).get_json()
    with database.transaction() as session:
        account = session.get(Account, tenant.account_id)
        assert account is not None
        accounts.add_user(session, account, "partner@freelance.example")

    meeting = create_meeting(
        tenant,
        attendee_emails=[
            "ada@CLIENT.example",
            "Bob@Client.example",
            "Colleague@Acme.Example",
            "partner@FREELANCE.example",
            "ADA@client.example",  # the same person again, in another case
        ],
    )
    people = by_email(meeting)
    assert sorted(people) == [
        "Bob@Client.example",
        "Colleague@Acme.Example",
        "ada@CLIENT.example",
        "partner@FREELANCE.example",
    ]
    assert people["ada@CLIENT.example"]["contact_id"] == contact["id"]
    assert people["ada@CLIENT.example"]["internal"] is False
    assert people["Bob@Client.example"]["contact_id"] is None
    assert people["Bob@Client.example"]["internal"] is False
    # Internal: the account's domain, and a user of the account on another domain.
    assert people["Colleague@Acme.Example"]["internal"] is True
    assert people["partner@FREELANCE.example"]["internal"] is True
    for attendee in meeting["attendees"]:
        assert attendee["response_status"] == "needsAction"

    # A contact created later is linked to the attendee already on the meeting.
    bob = tenant.call("POST", "/contacts", json={"email": "bob@client.EXAMPLE"}).get_json()
    fetched = by_email(tenant.call("GET", f"/meetings/{meeting['id']}").get_json())
    assert fetched["Bob@Client.example"]["contact_id"] == bob["id"]


def test_patch_attendee_emails_replaces_the_list(tenant: Any) -> None:
    ada = tenant.call("POST", "/contacts", json={"email": "ada@client.example"}).get_json()
    meeting = create_meeting(
        tenant, attendee_emails=["ada@client.example", "bob@client.example", "me@acme.example"]
    )

    patched = tenant.call(
        "PATCH",
        f"/meetings/{meeting['id']}",
        json={"attendee_emails": ["BOB@client.example", "dan@client.example"]},
    )
    assert patched.status_code == 200, patched.get_json()
    people = by_email(tenant.call("GET", f"/meetings/{meeting['id']}").get_json())
    # Bob is kept (with the address as first given), Ada and the colleague are gone, Dan is new.
    assert sorted(people) == ["bob@client.example", "dan@client.example"]
    assert all(a["contact_id"] is None for a in people.values())

    tenant.call(
        "PATCH", f"/meetings/{meeting['id']}", json={"attendee_emails": ["Ada@Client.example"]}
    )
    people = by_email(tenant.call("GET", f"/meetings/{meeting['id']}").get_json())
    assert list(people) == ["Ada@Client.example"]
    assert people["Ada@Client.example"]["contact_id"] == ada["id"]

    tenant.call("PATCH", f"/meetings/{meeting['id']}", json={"attendee_emails": []})
    assert tenant.call("GET", f"/meetings/{meeting['id']}").get_json()["attendees"] == []

    # A PATCH without attendee_emails leaves the list alone.
    tenant.call("PATCH", f"/meetings/{meeting['id']}", json={"attendee_emails": ["x@y.example"]})
    tenant.call("PATCH", f"/meetings/{meeting['id']}", json={"title": "Renamed"})
    people = by_email(tenant.call("GET", f"/meetings/{meeting['id']}").get_json())
    assert list(people) == ["x@y.example"]


def test_associations_to_every_record_type(tenant: Any) -> None:
    contact = tenant.call("POST", "/contacts", json={"email": "c@client.example"}).get_json()
    company = tenant.call("POST", "/companies", json={"name": "Client Inc"}).get_json()
    deal = tenant.call("POST", "/deals", json={"name": "Big deal"}).get_json()
    ticket = tenant.call("POST", "/tickets", json={"name": "Help"}).get_json()
    wanted = [
        {"type": "contact", "id": contact["id"]},
        {"type": "company", "id": company["id"]},
        {"type": "deal", "id": deal["id"]},
        {"type": "ticket", "id": ticket["id"]},
    ]
    meeting = create_meeting(tenant, associations=[*wanted, wanted[0]])
    assert meeting["associations"] == wanted
    assert tenant.call("GET", f"/meetings/{meeting['id']}").get_json()["associations"] == wanted

    patched = tenant.call(
        "PATCH", f"/meetings/{meeting['id']}", json={"associations": [wanted[2]]}
    ).get_json()
    assert patched["associations"] == [wanted[2]]
    stored = tenant.call("GET", f"/meetings/{meeting['id']}").get_json()
    assert stored["associations"] == [wanted[2]]


def test_association_to_unknown_record_is_404_and_creates_nothing(
    tenant: Any, database: Database
) -> None:
    deal = tenant.call("POST", "/deals", json={"name": "Big deal"}).get_json()
    for kind in ("contact", "company", "deal", "ticket"):
        answer = tenant.call(
            "POST",
            "/meetings",
            json=meeting_body(
                associations=[{"type": "deal", "id": deal["id"]}, {"type": kind, "id": 999}]
            ),
        )
        assert answer.status_code == 404, kind
        assert answer.get_json()["error"]["code"] == "not_found"
    with database.transaction() as session:
        assert session.query(Meeting).count() == 0


def test_owner_email_must_be_a_user_of_the_account(tenant: Any, make_tenant: Any) -> None:
    other = make_tenant("Other", "other.example")
    meeting = create_meeting(tenant, owner_email=tenant.user_email.upper())
    assert meeting["owner_email"] == tenant.user_email

    for email in ("stranger@acme.example", other.user_email):
        answer = tenant.call("POST", "/meetings", json=meeting_body(owner_email=email))
        assert answer.status_code == 400
        assert answer.get_json()["error"]["details"] == {"owner_email": email}
        patch = tenant.call("PATCH", f"/meetings/{meeting['id']}", json={"owner_email": email})
        assert patch.status_code == 400

    assert len(tenant.call("GET", "/contacts").get_json()["results"]) == 0
    stored = tenant.call("GET", f"/meetings/{meeting['id']}").get_json()
    assert stored["owner_email"] == tenant.user_email

    cleared = tenant.call("PATCH", f"/meetings/{meeting['id']}", json={"owner_email": None})
    assert cleared.get_json()["owner_email"] is None


def test_notes_newest_first_with_author_and_server_time(tenant: Any, database: Database) -> None:
    meeting = create_meeting(tenant)
    before = datetime.now(UTC)
    first = tenant.call(
        "POST", f"/meetings/{meeting['id']}/notes", json={"body": "Budget approved"}
    )
    assert first.status_code == 201
    note = first.get_json()
    assert note["body"] == "Budget approved"
    assert note["author_email"] is None  # an API token acts for the account, not a user
    assert before <= datetime.fromisoformat(note["created_at"]) <= datetime.now(UTC)

    # A note written by a rep (the add-on's path) carries its author.
    with database.transaction() as session:
        row = services.get_owned(session, Meeting, tenant.account_id, meeting["id"])
        author = accounts.user_by_email(session, tenant.user_email)
        services.add_note(session, row, "Follow up next week", author)
    third = tenant.call("POST", f"/meetings/{meeting['id']}/notes", json={"body": "Sent deck"})

    listed = tenant.call("GET", f"/meetings/{meeting['id']}/notes").get_json()
    assert [n["body"] for n in listed["results"]] == [
        "Sent deck",
        "Follow up next week",
        "Budget approved",
    ]
    assert listed["next_cursor"] is None
    assert listed["results"][1]["author_email"] == tenant.user_email
    assert listed["results"][0] == third.get_json()
    times = [datetime.fromisoformat(n["created_at"]) for n in listed["results"]]
    assert times == sorted(times, reverse=True)

    embedded = tenant.call("GET", f"/meetings/{meeting['id']}").get_json()["notes"]
    assert embedded == listed["results"]


def test_note_replayed_with_idempotency_key_is_made_once(tenant: Any) -> None:
    meeting = create_meeting(tenant)
    path = f"/meetings/{meeting['id']}/notes"
    headers = {"Idempotency-Key": "submit-7f3a"}
    first = tenant.call("POST", path, json={"body": "Signed"}, headers=headers)
    second = tenant.call("POST", path, json={"body": "Signed"}, headers=headers)
    assert first.status_code == 201
    assert second.status_code in (200, 201)
    assert second.get_json() == first.get_json()

    other_key = tenant.call(
        "POST", path, json={"body": "Signed"}, headers={"Idempotency-Key": "k2"}
    )
    assert other_key.get_json()["id"] != first.get_json()["id"]
    no_key = tenant.call("POST", path, json={"body": "Signed"})
    assert no_key.get_json()["id"] not in (first.get_json()["id"], other_key.get_json()["id"])
    assert len(tenant.call("GET", path).get_json()["results"]) == 3


def test_deleting_a_meeting_deletes_its_notes(tenant: Any, database: Database) -> None:
    meeting = create_meeting(tenant)
    contact = tenant.call("POST", "/contacts", json={"email": "c@client.example"}).get_json()
    tenant.call(
        "PATCH", f"/meetings/{meeting['id']}", json={"attendee_emails": ["c@client.example"]}
    )
    tenant.call("POST", f"/meetings/{meeting['id']}/notes", json={"body": "Private"})
    assert tenant.call("DELETE", f"/meetings/{meeting['id']}").status_code == 204
    timeline = tenant.call("GET", f"/contacts/{contact['id']}/timeline").get_json()
    assert timeline["results"] == []
    with database.transaction() as session:
        assert session.query(Engagement).count() == 0


def test_notes_page_with_cursor_and_limit(tenant: Any) -> None:
    meeting = create_meeting(tenant)
    path = f"/meetings/{meeting['id']}/notes"
    made = [tenant.call("POST", path, json={"body": f"n{i}"}).get_json()["id"] for i in range(7)]
    seen: list[int] = []
    cursor = None
    while True:
        page = tenant.call("GET", f"{path}?limit=3" + (f"&cursor={cursor}" if cursor else ""))
        assert page.status_code == 200
        assert len(page.get_json()["results"]) <= 3
        seen += [n["id"] for n in page.get_json()["results"]]
        cursor = page.get_json()["next_cursor"]
        if cursor is None:
            break
    assert seen == made[::-1]
    assert tenant.call("GET", f"{path}?limit=0").status_code == 400
    assert tenant.call("GET", f"{path}?cursor=abc").status_code == 400


def test_idempotency_key_reused_on_another_meeting_is_a_conflict(tenant: Any) -> None:
    first, second = create_meeting(tenant), create_meeting(tenant)
    headers = {"Idempotency-Key": "k-1"}
    made = tenant.call(
        "POST", f"/meetings/{first['id']}/notes", json={"body": "A"}, headers=headers
    )
    assert made.status_code == 201
    reused = tenant.call(
        "POST", f"/meetings/{second['id']}/notes", json={"body": "B"}, headers=headers
    )
    assert reused.status_code == 409
    assert reused.get_json()["error"]["code"] == "conflict"
    assert tenant.call("GET", f"/meetings/{second['id']}/notes").get_json()["results"] == []


def test_deleting_a_contact_unlinks_it_from_meetings(tenant: Any) -> None:
    contact = tenant.call("POST", "/contacts", json={"email": "c@client.example"}).get_json()
    meeting = create_meeting(
        tenant,
        attendee_emails=["c@client.example"],
        associations=[{"type": "contact", "id": contact["id"]}],
    )
    assert meeting["attendees"][0]["contact_id"] == contact["id"]
    assert tenant.call("DELETE", f"/contacts/{contact['id']}").status_code == 204
    after = tenant.call("GET", f"/meetings/{meeting['id']}").get_json()
    assert after["attendees"][0]["email"] == "c@client.example"
    assert after["attendees"][0]["contact_id"] is None
    assert after["associations"] == []


def test_r4_an_internal_attendee_never_puts_the_meeting_on_a_timeline(tenant: Any) -> None:
    """A contact record with an internal address stays off the meeting (R4, A3)."""
    inside = tenant.call("POST", "/contacts", json={"email": "boss@acme.example"}).get_json()
    body = {
        "title": "Internal",
        "start": "2030-01-01T10:00:00+00:00",
        "end": "2030-01-01T11:00:00+00:00",
        "attendee_emails": ["boss@acme.example"],
    }
    meeting = tenant.call("POST", "/meetings", json=body).get_json()
    assert meeting["attendees"][0]["internal"] is True
    assert meeting["attendees"][0]["contact_id"] is None
    assert tenant.call("GET", f"/contacts/{inside['id']}/timeline").get_json()["results"] == []
