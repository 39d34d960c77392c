"""REST round trips for contacts, records and timelines (CONTRACT.md REST API)."""

from __future__ import annotations

from typing import Any


def test_contact_round_trip(tenant: Any) -> None:
    created = tenant.call(
        "POST", "/contacts", json={"email": "Ada@Client.example", "first_name": "Ada"}
    )
    assert created.status_code == 201
    body = created.get_json()
    assert body["email"] == "Ada@Client.example"
    assert body["created_at"].endswith("+00:00")

    found = tenant.call("GET", "/contacts?email=ada@CLIENT.example").get_json()
    assert [c["id"] for c in found["results"]] == [body["id"]]
    assert found["next_cursor"] is None

    patched = tenant.call("PATCH", f"/contacts/{body['id']}", json={"last_name": "Lovelace"})
    assert patched.get_json()["last_name"] == "Lovelace"
    assert tenant.call("GET", f"/contacts/{body['id']}").get_json()["last_name"] == "Lovelace"

    assert tenant.call("DELETE", f"/contacts/{body['id']}").status_code == 204
    assert tenant.call("GET", f"/contacts/{body['id']}").status_code == 404


def test_contact_email_is_unique_in_any_case(tenant: Any) -> None:
    assert tenant.call("POST", "/contacts", json={"email": "bo@client.example"}).status_code == 201
    again = tenant.call("POST", "/contacts", json={"email": "BO@Client.Example"})
    assert again.status_code == 409
    assert again.get_json()["error"]["code"] == "conflict"
    assert len(tenant.call("GET", "/contacts").get_json()["results"]) == 1


def test_contact_list_pages_with_cursor(tenant: Any) -> None:
    for i in range(5):
        tenant.call("POST", "/contacts", json={"email": f"p{i}@client.example"})
    seen: list[str] = []
    cursor = None
    while True:
        query = "/contacts?limit=2" + (f"&cursor={cursor}" if cursor else "")
        page = tenant.call("GET", query).get_json()
        seen += [c["email"] for c in page["results"]]
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert seen == [f"p{i}@client.example" for i in range(5)]


def test_records_and_contact_company(tenant: Any) -> None:
    company = tenant.call("POST", "/companies", json={"name": "Client Inc"}).get_json()
    deal = tenant.call("POST", "/deals", json={"name": "Big deal"})
    ticket = tenant.call("POST", "/tickets", json={"name": "Help"})
    assert deal.status_code == ticket.status_code == 201
    assert tenant.call("GET", f"/companies/{company['id']}").get_json()["name"] == "Client Inc"
    contact = tenant.call(
        "POST", "/contacts", json={"email": "c@client.example", "company_id": company["id"]}
    )
    assert contact.get_json()["company_id"] == company["id"]


def test_openapi_document_lists_the_routes(client: Any) -> None:
    doc = client.get("/api/v1/openapi.json").get_json()
    assert doc["openapi"].startswith("3.")
    for path in (
        "/contacts",
        "/contacts/{contact_id}/timeline",
        "/meetings",
        "/meetings/{meeting_id}/notes",
    ):
        assert path in doc["paths"], path
    create = doc["paths"]["/contacts"]["post"]
    assert create["requestBody"]["content"]["application/json"]["schema"]
    assert "ContactIn" in doc["components"]["schemas"]
