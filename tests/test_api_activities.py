"""The activities resource (contract "Activities (REST)"): typed activities on contacts'
timelines; bad input, unknown and foreign ids answered with nothing written."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import func, select

from server.crm.models import Activity
from server.db import Database
from tests.conftest import Tenant

WHEN = "2026-11-30T09:15:00+01:00"


def _contact(tenant: Tenant, email: str) -> int:
    return int(tenant.call("POST", "/contacts", json={"email": email}).get_json()["id"])


def _count(database: Database) -> int:
    with database.transaction() as session:
        return int(session.scalar(select(func.count()).select_from(Activity)) or 0)


def test_an_activity_lands_on_each_contacts_timeline(tenant: Tenant) -> None:
    ada, bo = _contact(tenant, "ada@client.example"), _contact(tenant, "bo@client.example")
    company = tenant.call("POST", "/companies", json={"name": "Client"}).get_json()["id"]
    made = tenant.call(
        "POST",
        "/activities",
        json={
            "type": "call",
            "title": "Discovery call",
            "body": "Budget approved.",
            "occurred_at": WHEN,
            "contact_ids": [ada, bo],
            "associations": [{"type": "company", "id": company}],
            "owner_email": tenant.user_email,
            "properties": {"duration_minutes": 25, "outcome": "connected"},
        },
    )
    assert made.status_code == 201, made.get_json()
    body = made.get_json()
    assert body["type"] == "call"
    assert body["contact_ids"] == [ada, bo]
    assert body["associations"] == [{"type": "company", "id": company}]
    assert body["occurred_at"] == "2026-11-30T08:15:00+00:00"
    assert body["source"] == "crm"
    assert body["properties"] == {"duration_minutes": 25, "outcome": "connected"}
    for contact in (ada, bo):
        item = tenant.call("GET", f"/contacts/{contact}/timeline").get_json()["results"][0]
        assert (item["type"], item["id"], item["title"]) == ("call", body["id"], "Discovery call")
        assert item["body"] == "Budget approved."
        assert {"type": "company", "id": company} in item["associations"]
    assert tenant.call("GET", f"/activities/{body['id']}").get_json() == body


def test_patch_replaces_contacts_and_delete_removes_it(tenant: Tenant) -> None:
    ada, bo = _contact(tenant, "ada@client.example"), _contact(tenant, "bo@client.example")
    activity = tenant.call(
        "POST",
        "/activities",
        json={"type": "task", "title": "Send deck", "occurred_at": WHEN, "contact_ids": [ada]},
    ).get_json()
    changed = tenant.call(
        "PATCH", f"/activities/{activity['id']}", json={"contact_ids": [bo], "title": "Deck sent"}
    )
    assert changed.status_code == 200
    assert changed.get_json()["contact_ids"] == [bo]
    assert tenant.call("GET", f"/contacts/{ada}/timeline").get_json()["results"] == []
    assert tenant.call("GET", f"/contacts/{bo}/timeline").get_json()["results"][0]["title"] == (
        "Deck sent"
    )
    assert tenant.call("DELETE", f"/activities/{activity['id']}").status_code == 204
    assert tenant.call("GET", f"/activities/{activity['id']}").status_code == 404
    assert tenant.call("GET", f"/contacts/{bo}/timeline").get_json()["results"] == []


@pytest.mark.parametrize(
    ("change", "status"),
    [
        ({"type": "meeting"}, 400),
        ({"type": "fax"}, 400),
        ({"contact_ids": []}, 400),
        ({"contact_ids": None}, 400),
        ({"contact_ids": [999999]}, 404),
        ({"title": ""}, 400),
        ({"title": "x" * 501}, 400),
        ({"occurred_at": "yesterday"}, 400),
        ({"occurred_at": "2026-11-30T09:15:00"}, 400),  # no offset
        ({"owner_email": "stranger@else.example"}, 400),
        ({"associations": [{"type": "deal", "id": 999999}]}, 404),
        ({"properties": {"nested": {"a": 1}}}, 400),
        ({"properties": {str(n): n for n in range(51)}}, 400),
        ({"properties": {"long": "x" * 2001}}, 400),
        ({"unknown": 1}, 400),
    ],
)
def test_bad_input_is_refused_and_writes_nothing(
    tenant: Tenant, database: Database, change: dict[str, Any], status: int
) -> None:
    ada = _contact(tenant, "ada@client.example")
    body = {"type": "call", "title": "Call", "occurred_at": WHEN, "contact_ids": [ada], **change}
    if change.get("contact_ids", 0) is None:
        del body["contact_ids"]
    response = tenant.call("POST", "/activities", json=body)
    assert response.status_code == status, response.get_json()
    assert response.get_json()["error"]["details"] or status == 404
    assert _count(database) == 0


def test_another_accounts_contacts_and_activities_are_not_found(
    tenant: Tenant, make_tenant: Any, database: Database
) -> None:
    other = make_tenant("Globex", "globex.example")
    theirs = _contact(other, "x@client.example")
    mine = _contact(tenant, "ada@client.example")
    refused = tenant.call(
        "POST",
        "/activities",
        json={"type": "call", "title": "Call", "occurred_at": WHEN, "contact_ids": [mine, theirs]},
    )
    assert refused.status_code == 404
    assert _count(database) == 0
    their_activity = other.call(
        "POST",
        "/activities",
        json={"type": "call", "title": "Theirs", "occurred_at": WHEN, "contact_ids": [theirs]},
    ).get_json()["id"]
    for method in ("GET", "PATCH", "DELETE"):
        kwargs = {"json": {"title": "Mine now"}} if method == "PATCH" else {}
        assert tenant.call(method, f"/activities/{their_activity}", **kwargs).status_code == 404
    assert other.call("GET", f"/activities/{their_activity}").get_json()["title"] == "Theirs"
