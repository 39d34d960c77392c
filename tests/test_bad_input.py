"""Bad input answers the one error shape with a fitting status, and changes nothing."""

from __future__ import annotations

import base64
import json
from dataclasses import dataclass, field
from typing import Any

import pytest
from sqlalchemy import func, select

from server.crm import services
from server.crm.models import (
    Account,
    Activity,
    ApiToken,
    Association,
    Attendee,
    Company,
    Contact,
    Deal,
    Engagement,
    Ticket,
    User,
)
from server.db import Database, utcnow

START, END = "2030-06-01T10:00:00+02:00", "2030-06-01T11:00:00+02:00"
MEETING = {"title": "Review", "start": START, "end": END}
LONG_EMAIL = "a" * 60 + "@" + "b" * 60 + "." + "c" * 60 + "." + "d" * 60 + "." + "e" * 60 + ".com"


def cursor(raw: str) -> str:
    return base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")


@dataclass(frozen=True)
class Case:
    id: str
    method: str
    path: str  # may name {contact}, {meeting}, {note}, {activity}, {company}
    status: int
    json: Any = None
    data: bytes | str | None = None
    headers: dict[str, str] = field(default_factory=dict)
    code: str | None = None


JSON = {"Content-Type": "application/json"}

CASES = [
    # The body itself.
    Case("malformed json", "POST", "/contacts", 400, data='{"email": ', headers=JSON),
    Case("json list", "POST", "/contacts", 400, data='[{"email": "x@y.example"}]', headers=JSON),
    Case("json string", "POST", "/contacts", 400, data='"x@y.example"', headers=JSON),
    Case("json null", "POST", "/meetings/{meeting}/notes", 400, data="null", headers=JSON),
    Case("json number", "PATCH", "/meetings/{meeting}", 400, data="12", headers=JSON),
    Case("no content type", "POST", "/contacts", 400, data='{"email": "x@y.example"}'),
    Case(
        "text content type",
        "POST",
        "/contacts",
        400,
        data='{"email": "x@y.example"}',
        headers={"Content-Type": "text/plain"},
    ),
    Case("empty body", "POST", "/companies", 400, data="", headers=JSON),
    Case("not utf-8", "POST", "/companies", 400, data=b'{"name": "\xff"}', headers=JSON),
    Case(
        "nested too deep",
        "POST",
        "/contacts",
        400,
        data="[" * 100_000 + "]" * 100_000,
        headers=JSON,
    ),
    Case(
        "over 1 MB",
        "POST",
        "/contacts",
        413,
        json={"email": "x@y.example", "first_name": "x" * 1_100_000},
    ),
    # Wrong types.
    Case(
        "company_id as string",
        "POST",
        "/contacts",
        400,
        {"email": "x@y.example", "company_id": "1"},
    ),
    Case(
        "company_id as float", "POST", "/contacts", 400, {"email": "x@y.example", "company_id": 1.5}
    ),
    Case("name as number", "POST", "/contacts", 400, {"email": "x@y.example", "first_name": 5}),
    Case("name as null", "PATCH", "/contacts/{contact}", 400, {"first_name": None}),
    Case("email as list", "POST", "/contacts", 400, {"email": ["x@y.example"]}),
    Case(
        "start without offset",
        "POST",
        "/meetings",
        400,
        {**MEETING, "start": "2030-06-01T10:00:00"},
    ),
    Case("start as date", "POST", "/meetings", 400, {**MEETING, "start": "2030-06-01"}),
    Case("start as epoch", "POST", "/meetings", 400, {**MEETING, "start": 1906000000}),
    Case(
        "start out of range",
        "POST",
        "/meetings",
        400,
        {**MEETING, "start": "0001-01-01T00:00:00+14:00"},
    ),
    Case(
        "end out of range",
        "PATCH",
        "/meetings/{meeting}",
        400,
        {"end": "9999-12-31T23:59:59-14:00"},
    ),
    Case(
        "attendees as string",
        "POST",
        "/meetings",
        400,
        {**MEETING, "attendee_emails": "a@b.example"},
    ),
    Case(
        "attendee not email", "PATCH", "/meetings/{meeting}", 400, {"attendee_emails": ["nobody"]}
    ),
    Case(
        "association id string",
        "POST",
        "/meetings",
        400,
        {**MEETING, "associations": [{"type": "contact", "id": "1"}]},
    ),
    Case(
        "association type unknown",
        "POST",
        "/meetings",
        400,
        {**MEETING, "associations": [{"type": "lead", "id": 1}]},
    ),
    Case("send_invites as string", "POST", "/meetings", 400, {**MEETING, "send_invites": "maybe"}),
    Case("outcome unknown", "PATCH", "/meetings/{meeting}", 400, {"outcome": "exploded"}),
    Case("title null", "PATCH", "/meetings/{meeting}", 400, {"title": None}),
    Case("note body number", "POST", "/meetings/{meeting}/notes", 400, {"body": 42}),
    # Missing and unknown fields.
    Case("missing email", "POST", "/contacts", 400, {"first_name": "Ada"}),
    Case("missing title", "POST", "/meetings", 400, {"start": START, "end": END}),
    Case("missing body", "POST", "/meetings/{meeting}/notes", 400, {}),
    Case("unknown contact field", "POST", "/contacts", 400, {"email": "x@y.example", "phone": "1"}),
    Case("unknown patch field", "PATCH", "/contacts/{contact}", 400, {"id": 99}),
    Case("unknown meeting field", "POST", "/meetings", 400, {**MEETING, "color": "red"}),
    Case(
        "unknown note field", "POST", "/meetings/{meeting}/notes", 400, {"body": "x", "pin": True}
    ),
    Case("unknown record field", "POST", "/deals", 400, {"name": "D", "amount": 5}),
    Case(
        "unknown association field",
        "POST",
        "/meetings",
        400,
        {**MEETING, "associations": [{"type": "contact", "id": "{contact}", "primary": True}]},
    ),
    Case("unknown query arg", "GET", "/contacts?sort=email", 400),
    # Strings over their limits, and text no database stores.
    Case(
        "first name over 200",
        "POST",
        "/contacts",
        400,
        {"email": "x@y.example", "first_name": "n" * 201},
    ),
    Case("last name over 200", "PATCH", "/contacts/{contact}", 400, {"last_name": "n" * 201}),
    Case("company name over 200", "POST", "/companies", 400, {"name": "n" * 201}),
    Case("ticket name empty", "POST", "/tickets", 400, {"name": ""}),
    Case("title over 500", "POST", "/meetings", 400, {**MEETING, "title": "t" * 501}),
    Case("title empty", "PATCH", "/meetings/{meeting}", 400, {"title": ""}),
    Case(
        "description over 10000", "POST", "/meetings", 400, {**MEETING, "description": "d" * 10_001}
    ),
    Case("note over 10000", "POST", "/meetings/{meeting}/notes", 400, {"body": "n" * 10_001}),
    Case("note empty", "POST", "/meetings/{meeting}/notes", 400, {"body": ""}),
    Case("note blank", "POST", "/meetings/{meeting}/notes", 400, {"body": "  \n\t "}),
    Case("email over 254", "POST", "/contacts", 400, {"email": LONG_EMAIL}),
    Case("email query over 254", "GET", "/contacts?email=" + LONG_EMAIL, 400),
    Case(
        "attendee over 254", "POST", "/meetings", 400, {**MEETING, "attendee_emails": [LONG_EMAIL]}
    ),
    Case(
        "too many attendees",
        "POST",
        "/meetings",
        400,
        {**MEETING, "attendee_emails": [f"p{i}@x.example" for i in range(201)]},
    ),
    Case("NUL in name", "POST", "/companies", 400, {"name": "Acme\u0000Corp"}),
    Case("NUL in note", "POST", "/meetings/{meeting}/notes", 400, {"body": "a\u0000b"}),
    Case("NUL in query", "GET", "/contacts?email=a%00@b.example", 400),
    Case(
        "lone surrogate",
        "POST",
        "/contacts",
        400,
        data='{"email": "x@y.example", "first_name": "\\ud800"}',
        headers=JSON,
    ),
    Case(
        "idempotency key over 200",
        "POST",
        "/meetings/{meeting}/notes",
        400,
        {"body": "x"},
        headers={"Idempotency-Key": "k" * 201},
    ),
    Case(
        "idempotency key with NUL",
        "POST",
        "/meetings/{meeting}/notes",
        400,
        {"body": "x"},
        headers={"Idempotency-Key": "a\x00b"},
    ),
    # Invalid values.
    Case("invalid email", "POST", "/contacts", 400, {"email": "not-an-email"}),
    Case("email without domain", "PATCH", "/contacts/{contact}", 400, {"email": "ada@"}),
    Case("empty email", "POST", "/contacts", 400, {"email": ""}),
    Case("invalid owner email", "POST", "/meetings", 400, {**MEETING, "owner_email": "boss"}),
    Case(
        "unknown owner", "POST", "/meetings", 400, {**MEETING, "owner_email": "boss@acme.example"}
    ),
    Case(
        "end before start",
        "POST",
        "/meetings",
        400,
        {**MEETING, "end": "2030-06-01T09:59:59+02:00"},
    ),
    Case(
        "end before stored start",
        "PATCH",
        "/meetings/{meeting}",
        400,
        {"end": "2030-06-01T07:00:00Z"},
    ),
    Case(
        "start after stored end",
        "PATCH",
        "/meetings/{meeting}",
        400,
        {"start": "2030-06-02T00:00:00Z"},
    ),
    Case(
        "duplicate email other case",
        "POST",
        "/contacts",
        409,
        {"email": "ADA@client.EXAMPLE"},
        code="conflict",
    ),
    Case(
        "email taken by patch",
        "PATCH",
        "/contacts/{other}",
        409,
        {"email": "Ada@Client.Example"},
        code="conflict",
    ),
    # Unknown ids, and ids no column holds.
    Case("unknown contact", "GET", "/contacts/999", 404),
    Case("unknown contact patch", "PATCH", "/contacts/999", 404, {"first_name": "X"}),
    Case("unknown contact delete", "DELETE", "/contacts/999", 404),
    Case("unknown timeline", "GET", "/contacts/999/timeline", 404),
    Case("unknown company", "GET", "/companies/999", 404),
    Case("unknown deal", "GET", "/deals/999", 404),
    Case("unknown ticket", "GET", "/tickets/999", 404),
    Case("unknown meeting", "GET", "/meetings/999", 404),
    Case("unknown meeting patch", "PATCH", "/meetings/999", 404, {"title": "X"}),
    Case("unknown meeting delete", "DELETE", "/meetings/999", 404),
    Case("unknown meeting notes", "GET", "/meetings/999/notes", 404),
    Case("unknown meeting note post", "POST", "/meetings/999/notes", 404, {"body": "x"}),
    Case("note id as meeting", "GET", "/meetings/{note}", 404),
    Case("note id notes", "POST", "/meetings/{note}/notes", 404, {"body": "x"}),
    Case("activity id as meeting", "DELETE", "/meetings/{activity}", 404),
    Case("huge contact id", "GET", "/contacts/100000000000000000000000", 404),
    Case("int8 contact id", "GET", "/contacts/9223372036854775808", 404),
    Case("int4 overflow meeting id", "PATCH", "/meetings/2147483648", 404, {"title": "X"}),
    Case("negative id", "GET", "/contacts/-1", 404),
    Case(
        "unknown company_id", "POST", "/contacts", 404, {"email": "x@y.example", "company_id": 999}
    ),
    Case(
        "huge company_id", "POST", "/contacts", 404, {"email": "x@y.example", "company_id": 10**30}
    ),
    Case("unknown company_id patch", "PATCH", "/contacts/{contact}", 404, {"company_id": 2**31}),
    Case(
        "unknown association",
        "POST",
        "/meetings",
        404,
        {**MEETING, "associations": [{"type": "deal", "id": 999}]},
    ),
    Case(
        "huge association id",
        "PATCH",
        "/meetings/{meeting}",
        404,
        {"associations": [{"type": "ticket", "id": 10**30}]},
    ),
    # A failing PATCH applies none of its other changes.
    Case(
        "patch half valid association",
        "PATCH",
        "/meetings/{meeting}",
        404,
        {
            "title": "Changed",
            "attendee_emails": ["new@x.example"],
            "associations": [{"type": "deal", "id": 999}],
        },
    ),
    Case(
        "patch half valid owner",
        "PATCH",
        "/meetings/{meeting}",
        400,
        {
            "title": "Changed",
            "attendee_emails": ["new@x.example"],
            "owner_email": "nobody@x.example",
        },
    ),
    Case(
        "patch half valid company",
        "PATCH",
        "/contacts/{contact}",
        404,
        {"first_name": "Changed", "company_id": 999},
    ),
    # Cursors and limits.
    Case("cursor garbage", "GET", "/contacts?cursor=!!!!", 400),
    Case("cursor not base64 text", "GET", "/contacts?cursor=_w", 400),
    Case("cursor not a number", "GET", "/contacts?cursor=" + cursor("abc"), 400),
    Case("cursor negative", "GET", "/contacts?cursor=" + cursor("-1"), 400),
    Case("cursor huge", "GET", "/contacts?cursor=" + cursor("9" * 30), 400),
    Case("cursor unicode digit", "GET", "/contacts?cursor=" + cursor("\u00b2"), 400),
    Case("cursor too long", "GET", "/contacts?cursor=" + "A" * 201, 400),
    Case("timeline cursor garbage", "GET", "/contacts/{contact}/timeline?cursor=abc", 400),
    Case(
        "timeline cursor no id",
        "GET",
        "/contacts/{contact}/timeline?cursor=" + cursor("2030-01-01T00:00:00+00:00"),
        400,
    ),
    Case(
        "timeline cursor naive",
        "GET",
        "/contacts/{contact}/timeline?cursor=" + cursor("2030-01-01T00:00:00|5"),
        400,
    ),
    Case(
        "timeline cursor out of range",
        "GET",
        "/contacts/{contact}/timeline?cursor=" + cursor("0001-01-01T00:00:00+14:00|5"),
        400,
    ),
    Case(
        "timeline cursor huge id",
        "GET",
        "/contacts/{contact}/timeline?cursor=" + cursor("2030-01-01T00:00:00+00:00|" + "9" * 30),
        400,
    ),
    Case(
        "contacts cursor on timeline",
        "GET",
        "/contacts/{contact}/timeline?cursor=" + cursor("5"),
        400,
    ),
    Case("limit zero", "GET", "/contacts?limit=0", 400),
    Case("limit negative", "GET", "/contacts?limit=-1", 400),
    Case("limit over 200", "GET", "/contacts?limit=201", 400),
    Case("limit not a number", "GET", "/contacts?limit=ten", 400),
    Case("limit empty", "GET", "/contacts?limit=", 400),
    Case("notes limit over 200", "GET", "/meetings/{meeting}/notes?limit=201", 400),
    Case("notes cursor garbage", "GET", "/meetings/{meeting}/notes?cursor=" + cursor("x|1"), 400),
    Case("timeline limit over 200", "GET", "/contacts/{contact}/timeline?limit=1000", 400),
    # One cursor parser everywhere: the calendar endpoints refuse what the contacts one does.
    Case("connections cursor huge", "GET", "/calendar-connections?cursor=" + cursor("9" * 30), 400),
    Case("connections cursor zero", "GET", "/calendar-connections?cursor=" + cursor("0"), 400),
    # Tokens.
    Case("no token", "GET", "/contacts", 401, headers={"Authorization": ""}, code="unauthorized"),
    Case(
        "bearer without token",
        "GET",
        "/contacts",
        401,
        headers={"Authorization": "Bearer"},
        code="unauthorized",
    ),
    Case(
        "bearer blank",
        "GET",
        "/contacts",
        401,
        headers={"Authorization": "Bearer   "},
        code="unauthorized",
    ),
    Case(
        "garbage token",
        "POST",
        "/contacts",
        401,
        {"email": "x@y.example"},
        headers={"Authorization": "Bearer ma_not-a-token"},
        code="unauthorized",
    ),
    Case(
        "basic scheme",
        "GET",
        "/contacts",
        401,
        headers={"Authorization": "Basic dXNlcjpwYXNz"},
        code="unauthorized",
    ),
    Case(
        "real token other scheme",
        "DELETE",
        "/contacts/{contact}",
        401,
        headers={"Authorization": "Token {token}"},
        code="unauthorized",
    ),
    Case(
        "real token no scheme",
        "DELETE",
        "/meetings/{meeting}",
        401,
        headers={"Authorization": "{token}"},
        code="unauthorized",
    ),
    Case(
        "token with suffix",
        "GET",
        "/contacts",
        401,
        headers={"Authorization": "Bearer {token}x"},
        code="unauthorized",
    ),
    # Routing.
    Case("method not allowed", "PUT", "/contacts/{contact}", 405, {"email": "x@y.example"}),
    Case("unknown route", "GET", "/leads", 404),
]


@pytest.fixture
def world(tenant: Any, database: Database) -> dict[str, Any]:
    ids: dict[str, Any] = {"token": tenant.token}
    ids["company"] = tenant.call("POST", "/companies", json={"name": "Client"}).get_json()["id"]
    ids["contact"] = tenant.call(
        "POST", "/contacts", json={"email": "ada@client.example", "first_name": "Ada"}
    ).get_json()["id"]
    ids["other"] = tenant.call("POST", "/contacts", json={"email": "bo@client.example"}).get_json()[
        "id"
    ]
    meeting = tenant.call(
        "POST",
        "/meetings",
        json={
            **MEETING,
            "attendee_emails": ["ada@client.example"],
            "associations": [{"type": "company", "id": ids["company"]}],
        },
    )
    ids["meeting"] = meeting.get_json()["id"]
    note = tenant.call("POST", f"/meetings/{ids['meeting']}/notes", json={"body": "Kept"})
    ids["note"] = note.get_json()["id"]
    with database.transaction() as session:
        ids["activity"] = services.create_activity(
            session,
            tenant.account_id,
            "call",
            "Called",
            utcnow(),
            associations=[("contact", ids["contact"])],
        ).id
    return ids


def fill(value: Any, ids: dict[str, Any]) -> Any:
    """``value`` with ``{name}`` placeholders replaced by the world's ids (ints stay ints)."""
    if isinstance(value, str):
        for name, real in ids.items():
            if value == "{" + name + "}":
                return real
            value = value.replace("{" + name + "}", str(real))
        return value
    if isinstance(value, dict):
        return {k: fill(v, ids) for k, v in value.items()}
    if isinstance(value, list):
        return [fill(v, ids) for v in value]
    return value


def state(tenant: Any, ids: dict[str, Any], database: Database) -> dict[str, Any]:
    seen: dict[str, Any] = {
        "contacts": tenant.call("GET", "/contacts").get_json(),
        "meeting": tenant.call("GET", f"/meetings/{ids['meeting']}").get_json(),
        "timeline": tenant.call("GET", f"/contacts/{ids['contact']}/timeline").get_json(),
    }
    models = (Account, User, ApiToken, Company, Deal, Ticket, Contact, Engagement, Activity)
    with database.transaction() as session:
        for model in (*models, Attendee, Association):
            seen[model.__name__] = session.scalar(select(func.count()).select_from(model))
    return seen


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_bad_input(case: Case, tenant: Any, world: dict[str, Any], database: Database) -> None:
    before = state(tenant, world, database)
    path = "/api/v1" + fill(case.path, world)
    headers = {"Authorization": f"Bearer {tenant.token}", **fill(case.headers, world)}
    headers = {k: v for k, v in headers.items() if v}
    kwargs: dict[str, Any] = {"headers": headers}
    if case.json is not None:
        kwargs["json"] = fill(case.json, world)
    if case.data is not None:
        kwargs["data"] = case.data

    response = tenant.client.open(path, method=case.method, **kwargs)

    assert response.status_code == case.status, response.get_data(as_text=True)[:500]
    body = response.get_json()
    assert set(body) == {"error"}
    assert set(body["error"]) == {"code", "message", "details"}
    assert isinstance(body["error"]["code"], str)
    assert body["error"]["message"]
    assert isinstance(body["error"]["details"], dict)
    if case.code:
        assert body["error"]["code"] == case.code
    elif case.status == 400:
        assert body["error"]["code"] == "invalid"
    elif case.status == 404:
        assert body["error"]["code"] == "not_found"
    assert state(tenant, world, database) == before


def test_case_ids_are_unique() -> None:
    assert len({c.id for c in CASES}) == len(CASES)


def test_limits_are_inclusive(tenant: Any) -> None:
    """The longest accepted values sit exactly at the limits the bad cases overstep."""
    contact = tenant.call(
        "POST", "/contacts", json={"email": "x@y.example", "first_name": "n" * 200}
    )
    assert contact.status_code == 201
    assert tenant.call("POST", "/companies", json={"name": "n" * 200}).status_code == 201
    meeting = tenant.call("POST", "/meetings", json={**MEETING, "title": "t" * 500, "end": START})
    assert meeting.status_code == 201
    note = tenant.call(
        "POST", f"/meetings/{meeting.get_json()['id']}/notes", json={"body": "n" * 10_000}
    )
    assert note.status_code == 201
    assert len(note.get_json()["body"]) == 10_000
    assert tenant.call("GET", "/contacts?limit=200").status_code == 200
    assert tenant.call("GET", "/contacts?limit=1").status_code == 200
    # The scheme is case-insensitive (RFC 9110).
    lower = tenant.client.get(
        "/api/v1/contacts", headers={"Authorization": f"bearer {tenant.token}"}
    )
    assert lower.status_code == 200
    assert json.loads(lower.get_data())["results"][0]["first_name"] == "n" * 200


def test_405_says_which_methods_are_allowed(tenant: Any, world: dict[str, Any]) -> None:
    path = "/api/v1" + fill("/contacts/{contact}", world)
    response = tenant.client.put(path, headers={"Authorization": f"Bearer {tenant.token}"})
    assert response.status_code == 405
    allowed = {m.strip() for m in response.headers["Allow"].split(",")}
    assert {"GET", "PATCH", "DELETE"} <= allowed
    assert "PUT" not in allowed
    assert response.get_json()["error"]["code"] == "method_not_allowed"


def test_a_too_long_url_answers_414_in_the_error_shape(tenant: Any) -> None:
    response = tenant.call("GET", "/contacts?email=" + "a" * 9000)
    assert response.status_code == 414
    assert response.get_json()["error"]["code"] == "request_uri_too_long"


def test_the_openapi_document_declares_405_413_and_414(client: Any) -> None:
    document = client.get("/api/v1/openapi.json").get_json()
    contacts = document["paths"]["/contacts"]
    assert {"405", "414", "413"} <= set(contacts["post"]["responses"])
    assert "Allow" in contacts["post"]["responses"]["405"]["headers"]
