"""The Salesforce stand-in, driven over https on 127.0.0.1 (its test CA trusted through
REQUESTS_CA_BUNDLE) by the real simple-salesforce and ``requests``: the OAuth web-server flow
with PKCE, refresh rotation and revocation; records, validation and system fields; SOQL with
paging, queryAll and the sync's cursor under equal stamps; describe; upsert by external id;
sObject Collections; getUpdated/getDeleted; limits and injected faults; merge and purge."""

from __future__ import annotations

import base64
import hashlib
import secrets
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit

import pytest
import requests
from simple_salesforce import Salesforce
from simple_salesforce.exceptions import (
    SalesforceExpiredSession,
    SalesforceGeneralError,
    SalesforceMalformedRequest,
    SalesforceMoreThanOneRecord,
    SalesforceRefusedRequest,
    SalesforceResourceNotFound,
)

from server.stand_ins.salesforce import ApiError, SalesforceStandIn, normalize_id, with_checksum

CLIENT, SECRET, REDIRECT = "3MVG9-test-app", "test-secret", "https://app.test/callback"
EXT = "CRM_Activity_Id__c"


class Clock:
    def __init__(self) -> None:
        self.now = datetime(2026, 12, 4, 10, 0, 0, tzinfo=UTC)

    def __call__(self) -> datetime:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += timedelta(seconds=seconds)


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def stand_in(clock: Clock, monkeypatch: pytest.MonkeyPatch) -> Iterator[SalesforceStandIn]:
    with SalesforceStandIn(now=clock) as sfdc:
        sfdc.org.register_app(CLIENT, SECRET, [REDIRECT])
        monkeypatch.setenv("REQUESTS_CA_BUNDLE", sfdc.ca_bundle_path)
        yield sfdc


@pytest.fixture
def http() -> Iterator[requests.Session]:
    with requests.Session() as session:
        yield session


def auth_url(stand_in: SalesforceStandIn, verifier: str, origin: str | None = None) -> str:
    digest = hashlib.sha256(verifier.encode()).digest()
    query = {
        "response_type": "code",
        "client_id": CLIENT,
        "redirect_uri": REDIRECT,
        "scope": "api refresh_token",
        "state": "s-1",
        "code_challenge": base64.urlsafe_b64encode(digest).rstrip(b"=").decode(),
        "code_challenge_method": "S256",
    }
    return f"{origin or stand_in.instance_url}/services/oauth2/authorize?{urlencode(query)}"


def token(stand_in: SalesforceStandIn, http: requests.Session, **form: str) -> requests.Response:
    body = {"client_id": CLIENT, "client_secret": SECRET, **form}
    return http.post(f"{stand_in.instance_url}/services/oauth2/token", data=body, timeout=10)


def code_flow(stand_in: SalesforceStandIn, http: requests.Session) -> dict[str, Any]:
    verifier = secrets.token_urlsafe(64)
    answer = dict(parse_qsl(urlsplit(stand_in.org.approve(auth_url(stand_in, verifier))).query))
    assert answer["state"] == "s-1"
    form = {"grant_type": "authorization_code", "code": answer["code"]}
    response = token(stand_in, http, **form, code_verifier=verifier, redirect_uri=REDIRECT)
    assert response.status_code == 200, response.text
    return dict(response.json())


@pytest.fixture
def sf(stand_in: SalesforceStandIn, http: requests.Session) -> Salesforce:
    tokens = code_flow(stand_in, http)
    return Salesforce(
        instance_url=tokens["instance_url"],
        session_id=tokens["access_token"],
        version="62.0",
        session=http,
    )


def error_of(info: pytest.ExceptionInfo[Any]) -> tuple[int, str]:
    return info.value.status, info.value.content[0]["errorCode"]


def task(stand_in: SalesforceStandIn, **fields: Any) -> str:
    return stand_in.org.insert("Task", {"Subject": "Call", "TaskSubtype": "Call", **fields})


# -- OAuth ------------------------------------------------------------------------------------
def test_code_flow_with_pkce_then_refresh_rotation_and_revocation(
    stand_in: SalesforceStandIn, http: requests.Session
) -> None:
    tokens = code_flow(stand_in, http)
    assert tokens["token_type"] == "Bearer"
    assert tokens["scope"] == "api refresh_token"
    assert tokens["instance_url"] == stand_in.instance_url.rstrip("/")
    org_id, user_id = tokens["id"].split("/")[-2:]
    assert (org_id, user_id) == (stand_in.org.org_id, stand_in.org.integration_user_id)
    who = http.get(tokens["id"], headers={"Authorization": f"Bearer {tokens['access_token']}"})
    assert who.json()["username"] == stand_in.org.integration_username
    first = token(stand_in, http, grant_type="refresh_token", refresh_token=tokens["refresh_token"])
    assert first.status_code == 200
    assert first.json()["refresh_token"] != tokens["refresh_token"]  # rotated
    again = token(stand_in, http, grant_type="refresh_token", refresh_token=tokens["refresh_token"])
    assert (again.status_code, again.json()) == (
        400,
        {"error": "invalid_grant", "error_description": "expired access/refresh token"},
    )
    stand_in.org.revoke(None)
    revoked = token(
        stand_in, http, grant_type="refresh_token", refresh_token=first.json()["refresh_token"]
    )
    assert revoked.json()["error"] == "invalid_grant"
    sf = Salesforce(
        instance_url=stand_in.instance_url, session_id=first.json()["access_token"], session=http
    )
    with pytest.raises(SalesforceExpiredSession) as info:
        sf.query("SELECT Id FROM Task")
    assert error_of(info) == (401, "INVALID_SESSION_ID")


def test_a_wrong_verifier_a_reused_code_and_a_wrong_secret_are_refused(
    stand_in: SalesforceStandIn, http: requests.Session
) -> None:
    verifier = secrets.token_urlsafe(64)
    code = dict(parse_qsl(urlsplit(stand_in.org.approve(auth_url(stand_in, verifier))).query))
    form = {"grant_type": "authorization_code", "code": code["code"], "redirect_uri": REDIRECT}
    wrong = token(stand_in, http, **form, code_verifier="x" * 50)
    assert wrong.json() == {"error": "invalid_grant", "error_description": "invalid code verifier"}
    bad_secret = token(stand_in, http, **form, code_verifier=verifier, client_secret="nope")
    assert bad_secret.json()["error"] == "invalid_client"
    assert token(stand_in, http, **form, code_verifier=verifier).status_code == 200
    reused = token(stand_in, http, **form, code_verifier=verifier)
    assert reused.json()["error"] == "invalid_grant"
    assert stand_in.org.requests[-1].path == "/services/oauth2/token"


def test_the_browser_page_allows_denies_and_refuses_unknown_apps(
    stand_in: SalesforceStandIn, http: requests.Session
) -> None:
    url = auth_url(stand_in, "v" * 50, origin=stand_in.http_origin)  # plain http, for browsers
    page = http.get(url, timeout=10)
    assert 'id="allow"' in page.text.replace("'", '"')
    assert "deny" in page.text
    denied = http.post(url, data={"decision": "deny"}, allow_redirects=False, timeout=10)
    assert denied.status_code == 302
    answer = dict(parse_qsl(urlsplit(denied.headers["Location"]).query))
    assert answer == {
        "error": "access_denied",
        "error_description": "end-user denied authorization",
        "state": "s-1",
    }
    allowed = http.post(url, data={"decision": "allow"}, allow_redirects=False, timeout=10)
    assert "code=" in allowed.headers["Location"]
    for bad in (url.replace(CLIENT, "unknown-app"), url.replace("app.test", "evil.test")):
        refused = http.get(bad, allow_redirects=False, timeout=10)
        assert refused.status_code == 400
        assert "error=" in refused.text


def test_without_rotation_the_refresh_token_stays_and_access_tokens_expire(
    stand_in: SalesforceStandIn, http: requests.Session, clock: Clock
) -> None:
    stand_in.org.rotate_refresh_tokens = False
    tokens = code_flow(stand_in, http)
    for _ in range(2):
        again = token(
            stand_in, http, grant_type="refresh_token", refresh_token=tokens["refresh_token"]
        )
        assert again.status_code == 200
        assert "refresh_token" not in again.json()
    sf = Salesforce(
        instance_url=stand_in.instance_url, session_id=tokens["access_token"], session=http
    )
    assert sf.query("SELECT Id FROM User")["totalSize"] == 2
    clock.advance(stand_in.org.access_token_ttl.total_seconds() + 1)
    with pytest.raises(SalesforceExpiredSession):
        sf.query("SELECT Id FROM User")
    assert (
        http.post(
            f"{stand_in.instance_url}/services/oauth2/revoke",
            data={"token": tokens["refresh_token"]},
        ).status_code
        == 200
    )
    gone = token(stand_in, http, grant_type="refresh_token", refresh_token=tokens["refresh_token"])
    assert gone.json()["error"] == "invalid_grant"


# -- records ----------------------------------------------------------------------------------
def test_create_get_update_delete_with_system_fields(
    sf: Salesforce, stand_in: SalesforceStandIn, clock: Clock
) -> None:
    contact = sf.Contact.create({"LastName": "Lee", "Email": "ann@client.example"})
    assert contact["success"]
    assert len(contact["id"]) == 18
    assert contact["id"].startswith("003")
    created = sf.Task.create(
        {"Subject": "Discovery", "WhoId": contact["id"], "TaskSubtype": "Call"}
    )
    got = sf.Task.get(created["id"])
    assert got["attributes"]["type"] == "Task"
    assert (got["Status"], got["Priority"], got["IsClosed"]) == ("Not Started", "Normal", False)
    assert got["CreatedDate"] == "2026-12-04T10:00:00.000+0000" == got["SystemModstamp"]
    assert got["LastModifiedById"] == stand_in.org.integration_user_id == got["OwnerId"]
    clock.advance(61)
    assert sf.Task.update(created["id"], {"Status": "Completed"}) == 204
    got = sf.Task.get(created["id"])
    assert got["IsClosed"]
    assert got["SystemModstamp"] == "2026-12-04T10:01:01.000+0000"
    assert got["CreatedDate"] == "2026-12-04T10:00:00.000+0000"
    assert sf.Task.delete(created["id"]) == 204
    with pytest.raises(SalesforceResourceNotFound) as info:
        sf.Task.get(created["id"])
    assert error_of(info) == (404, "ENTITY_IS_DELETED")
    with pytest.raises(SalesforceResourceNotFound) as info:
        sf.Task.get(with_checksum("00T5g00000zzzzz"))
    assert error_of(info) == (404, "NOT_FOUND")
    stored = stand_in.org.get("Task", created["id"])
    assert stored is not None
    assert stored["IsDeleted"] is True


@pytest.mark.parametrize(
    ("fields", "code"),
    [
        ({"Subject": "x" * 256}, "STRING_TOO_LONG"),
        ({"TaskSubtype": "Fax"}, "INVALID_OR_NULL_FOR_RESTRICTED_PICKLIST"),
        ({"Status": "Bogus"}, "INVALID_OR_NULL_FOR_RESTRICTED_PICKLIST"),
        ({"WhoId": with_checksum("0035g00000zzzzz")}, "INVALID_CROSS_REFERENCE_KEY"),
        ({"WhoId": "not-an-id"}, "MALFORMED_ID"),
        ({"IsClosed": True}, "INVALID_FIELD_FOR_INSERT_UPDATE"),
        ({"Nope__c": 1}, "INVALID_FIELD"),
        ({"ActivityDate": "next tuesday"}, "JSON_PARSER_ERROR"),
    ],
)
def test_invalid_tasks_are_refused(sf: Salesforce, fields: dict[str, Any], code: str) -> None:
    with pytest.raises(SalesforceMalformedRequest) as info:
        sf.Task.create({"Subject": "Call", **fields})
    assert error_of(info) == (400, code)
    assert isinstance(info.value.content, list)
    assert "message" in info.value.content[0]


def test_subtype_is_create_only_and_owners_and_references_must_be_live(
    sf: Salesforce, stand_in: SalesforceStandIn
) -> None:
    with pytest.raises(SalesforceMalformedRequest) as info:
        sf.Contact.create({"Email": "x@y.example"})
    assert info.value.content[0]["fields"] == ["LastName"]
    assert error_of(info) == (400, "REQUIRED_FIELD_MISSING")
    created = sf.Task.create({"Subject": "Call", "TaskSubtype": "Call"})["id"]
    with pytest.raises(SalesforceMalformedRequest) as info:
        sf.Task.update(created, {"TaskSubtype": "Email"})
    assert error_of(info) == (400, "INVALID_FIELD_FOR_INSERT_UPDATE")
    gone = stand_in.org.add_user("gone@client.example", "Gone Away", active=False)
    with pytest.raises(SalesforceMalformedRequest) as info:
        sf.Task.update(created, {"OwnerId": gone})
    assert error_of(info) == (400, "INACTIVE_OWNER_OR_USER")
    lead = stand_in.org.insert("Lead", {"LastName": "Ng", "Company": "C"})
    stand_in.org.delete("Lead", lead)
    with pytest.raises(SalesforceMalformedRequest) as info:
        sf.Task.update(created, {"WhoId": lead})
    assert error_of(info) == (400, "ENTITY_IS_DELETED")
    with pytest.raises(ApiError, match="REQUIRED_FIELD_MISSING"):
        stand_in.org.insert("Lead", {"LastName": "No company"})


def test_events_need_an_end_or_a_duration_that_agree(
    sf: Salesforce, stand_in: SalesforceStandIn
) -> None:
    start = datetime(2026, 12, 5, 9, 0, tzinfo=UTC)
    event = stand_in.org.insert(
        "Event",
        {"Subject": "Onsite", "StartDateTime": start.isoformat(), "DurationInMinutes": 60},
    )
    got = sf.Event.get(event)
    assert (got["EndDateTime"], got["ActivityDate"]) == (
        "2026-12-05T10:00:00.000+0000",
        "2026-12-05",
    )
    with pytest.raises(SalesforceMalformedRequest) as info:
        sf.Event.create({"Subject": "No end", "StartDateTime": "2026-12-05T09:00:00Z"})
    assert error_of(info) == (400, "REQUIRED_FIELD_MISSING")


# -- SOQL -------------------------------------------------------------------------------------
def test_query_pages_and_query_all_sees_deleted_rows(
    sf: Salesforce, stand_in: SalesforceStandIn
) -> None:
    stand_in.org.query_page_size = 2
    ids = [task(stand_in, Subject=f"Call {i}") for i in range(5)]
    stand_in.org.delete("Task", ids[0])
    first = sf.query("SELECT Id FROM Task ORDER BY Id")
    assert (first["totalSize"], first["done"], len(first["records"])) == (4, False, 2)
    assert first["nextRecordsUrl"].startswith("/services/data/v62.0/query/01g")
    assert [r["Id"] for r in sf.query_all_iter("SELECT Id FROM Task ORDER BY Id")] == ids[1:]
    every = list(
        sf.query_all_iter("SELECT Id, IsDeleted FROM Task ORDER BY Id", include_deleted=True)
    )
    assert [(r["Id"], r["IsDeleted"]) for r in every][:2] == [(ids[0], True), (ids[1], False)]
    assert len(every) == 5
    assert stand_in.org.requests[-1].path.startswith("/services/data/v62.0/query/01g")


def test_the_sync_cursor_survives_equal_stamps(
    sf: Salesforce, stand_in: SalesforceStandIn, clock: Clock
) -> None:
    stand_in.org.query_page_size = 2
    who = stand_in.org.insert("Contact", {"LastName": "Lee", "Email": "ann@client.example"})
    ids = [task(stand_in, WhoId=who, Subject=f"Call {i}") for i in range(5)]  # one stamp
    clock.advance(301)
    late = task(stand_in, Subject="Later")
    fields = (
        "Id, Subject, Description, ActivityDate, TaskSubtype, WhoId, WhatId, OwnerId, IsDeleted, "
        "SystemModstamp, LastModifiedById, IsRecurrence, RecurrenceActivityId"
    )

    def window(after: str, last_id: str) -> list[dict[str, Any]]:
        soql = (
            f"SELECT {fields} FROM Task WHERE (SystemModstamp > {after} OR "
            f"(SystemModstamp = {after} AND Id > '{last_id}')) "
            "AND SystemModstamp <= 2026-12-04T10:05:00Z ORDER BY SystemModstamp, Id"
        )
        return list(sf.query_all_iter(soql, include_deleted=True))

    assert [r["Id"] for r in window("2026-12-04T09:59:59Z", "")] == ids
    rest = window("2026-12-04T10:00:00.000+0000", ids[2])
    assert [r["Id"] for r in rest] == ids[3:]
    assert rest[0]["SystemModstamp"] == "2026-12-04T10:00:00.000+0000"
    assert late not in [r["Id"] for r in window("2026-12-04T09:00:00Z", "")]


def test_contacts_by_email_relationships_and_merges(
    sf: Salesforce, stand_in: SalesforceStandIn, clock: Clock
) -> None:
    org = stand_in.org
    account = org.insert("Account", {"Name": "Client Co"})
    first = org.insert("Contact", {"LastName": "Lee", "Email": "ann@client.example"})
    clock.advance(1)
    second = org.insert(
        "Contact", {"LastName": "Lee", "Email": "ANN@client.example", "AccountId": account}
    )
    call = task(stand_in, WhoId=first, WhatId=account)
    soql = (
        "SELECT Id, Email, CreatedDate, IsDeleted, MasterRecordId, SystemModstamp FROM Contact "
        "WHERE Email IN ('ann@client.example') ORDER BY CreatedDate, Id"
    )
    assert [r["Id"] for r in sf.query(soql)["records"]] == [first, second]  # case-insensitive
    org.merge("Contact", second, first)
    rows = sf.query_all(soql, include_deleted=True)["records"]
    assert [(r["Id"], r["IsDeleted"], r["MasterRecordId"]) for r in rows] == [
        (first, True, second),
        (second, False, None),
    ]
    row = sf.query(
        f"SELECT Id, Who.Email, What.Type, Owner.Email, Account.Name FROM Task WHERE Id = '{call}'"
    )["records"][0]
    assert row["Who"]["Email"] == "ANN@client.example"  # re-parented to the master
    assert (row["What"]["Type"], row["Account"]["Name"]) == ("Account", "Client Co")
    assert row["Owner"]["Email"] == "sam.rep@stand-in.example"  # hooks act as the rep
    org.purge("Contact", first)
    assert len(sf.query_all(soql, include_deleted=True)["records"]) == 1
    lead = org.insert("Lead", {"LastName": "Ng", "Company": "C", "Email": "ng@client.example"})
    made = org.convert_lead(lead)
    row = sf.query(f"SELECT IsConverted, ConvertedContact.Email FROM Lead WHERE Id = '{lead}'")
    assert row["records"][0]["IsConverted"] is True
    assert row["records"][0]["ConvertedContact"]["Email"] == "ng@client.example"
    assert sf.Contact.get(made)["LastName"] == "Ng"
    with pytest.raises(ApiError, match="INVALID_TYPE"):
        org.merge("Task", call, call)


@pytest.mark.parametrize(
    ("soql", "code", "text"),
    [
        ("SELECT Id, Nope FROM Task", "INVALID_FIELD", "No such column 'Nope' on entity 'Task'"),
        ("SELECT Id FROM Task WHERE", "MALFORMED_QUERY", "unexpected token"),
        (
            "SELECT Id FROM Task WHERE IsClosed = true AND Subject = 'a' OR Subject = 'b'",
            "MALFORMED_QUERY",
            "OR",
        ),
        (
            "SELECT Id FROM Task WHERE SystemModstamp > '2026-12-04T10:00:00Z'",
            "INVALID_FIELD",
            "dateTime",
        ),
        ("SELECT Id FROM Task WHERE Description = 'x'", "INVALID_FIELD", "can not be filtered"),
        ("SELECT Id FROM Tasks", "INVALID_TYPE", "sObject type 'Tasks' is not supported"),
    ],
)
def test_bad_queries_are_refused(sf: Salesforce, soql: str, code: str, text: str) -> None:
    with pytest.raises(SalesforceMalformedRequest) as info:
        sf.query(soql)
    assert error_of(info) == (400, code)
    assert text in info.value.content[0]["message"]


def test_task_status_like_not_in_and_escapes(sf: Salesforce, stand_in: SalesforceStandIn) -> None:
    rows = sf.query(
        "SELECT MasterLabel, IsClosed, IsDefault FROM TaskStatus ORDER BY MasterLabel DESC"
    )
    assert [r["MasterLabel"] for r in rows["records"]][:2] == [
        "Waiting on someone else",
        "Not Started",
    ]
    assert {r["MasterLabel"] for r in rows["records"] if r["IsClosed"]} == {"Completed"}
    task(stand_in, Subject="O'Brien call", TaskSubtype="Call")
    task(stand_in, Subject="Pricing email", TaskSubtype="Email")
    task(stand_in, Subject="Todo", TaskSubtype="Task", ActivityDate="2026-12-24")
    found = sf.query(r"SELECT Subject FROM Task WHERE Subject LIKE '%o\'b%'")["records"]
    assert [r["Subject"] for r in found] == ["O'Brien call"]
    found = sf.query(
        "SELECT Subject FROM Task WHERE TaskSubtype NOT IN ('Call','ListEmail') AND "
        "(ActivityDate = null OR ActivityDate >= 2026-12-01) ORDER BY Subject"
    )["records"]
    assert [r["Subject"] for r in found] == ["Pricing email", "Todo"]


# -- describe, upsert, collections ------------------------------------------------------------
def test_describe_shows_types_access_and_picklists(
    sf: Salesforce, stand_in: SalesforceStandIn
) -> None:
    stand_in.org.task_types = ["Call", "Email", "Meeting", "Other", "Webinar"]
    fields = {f["name"]: f for f in sf.Task.describe()["fields"]}
    subtype = fields["TaskSubtype"]
    assert (subtype["createable"], subtype["updateable"], subtype["restrictedPicklist"]) == (
        True,
        False,
        True,
    )
    assert [v["value"] for v in fields["Type"]["picklistValues"]][-1] == "Webinar"
    status = {v["value"]: v["defaultValue"] for v in fields["Status"]["picklistValues"]}
    assert status["Not Started"] is True
    assert "Completed" in status
    assert (fields["Subject"]["type"], fields["Subject"]["length"]) == ("string", 255)
    assert fields["WhoId"]["referenceTo"] == ["Contact", "Lead"]
    assert fields[EXT]["externalId"] is True
    assert {"CallType", "ActivityDate", "IsRecurrence"} <= set(fields)
    assert fields["ActivityDate"]["type"] == "date"
    assert fields["SystemModstamp"]["type"] == "datetime"
    stand_in.org.external_id_field = False
    assert EXT not in {f["name"] for f in sf.Task.describe()["fields"]}
    with pytest.raises(SalesforceResourceNotFound):
        sf.Task.upsert(f"{EXT}/a-1", {"Subject": "x"})


def test_upsert_by_external_id_creates_then_updates(
    sf: Salesforce, stand_in: SalesforceStandIn, http: requests.Session
) -> None:
    assert sf.Task.upsert(f"{EXT}/act-1", {"Subject": "Sent deck", "TaskSubtype": "Email"}) == 201
    created = sf.Task.get_by_custom_id(EXT, "act-1")
    response = sf.Task.upsert(f"{EXT}/act-1", {"Subject": "Sent deck v2"}, raw_response=True)
    assert response.status_code == 200  # API 46.0+: 200 with a body on update
    assert response.json() == {"id": created["Id"], "success": True, "errors": [], "created": False}
    assert sf.Task.get(created["Id"])["Subject"] == "Sent deck v2"
    old = Salesforce(
        instance_url=stand_in.instance_url, session_id=sf.session_id, version="45.0", session=http
    )
    assert old.Task.upsert(f"{EXT}/act-1", {"Subject": "v3"}) == 204
    task(stand_in, **{EXT: "dup"})
    task(stand_in, **{EXT: "dup"})
    with pytest.raises(SalesforceMoreThanOneRecord) as info:
        sf.Task.upsert(f"{EXT}/dup", {"Subject": "x"})
    assert len(info.value.content) == 2


def test_collections_report_each_record_and_all_or_none_rolls_back(
    sf: Salesforce, stand_in: SalesforceStandIn
) -> None:
    def record(subject: str, **fields: Any) -> dict[str, Any]:
        return {"attributes": {"type": "Task"}, "Subject": subject, **fields}

    batch = [record("One"), record("Bad", TaskSubtype="Fax"), record("Three")]
    results = sf.restful(
        "composite/sobjects", method="POST", json={"allOrNone": False, "records": batch}
    )
    assert [r["success"] for r in results] == [True, False, True]
    assert results[1]["errors"][0]["statusCode"] == "INVALID_OR_NULL_FOR_RESTRICTED_PICKLIST"
    assert len(stand_in.org.records("Task")) == 2
    rolled = sf.restful(
        "composite/sobjects", method="POST", json={"allOrNone": True, "records": batch}
    )
    assert [r["errors"][0]["statusCode"] for r in rolled] == [
        "ALL_OR_NONE_OPERATION_ROLLED_BACK",
        "INVALID_OR_NULL_FOR_RESTRICTED_PICKLIST",
        "ALL_OR_NONE_OPERATION_ROLLED_BACK",
    ]
    assert len(stand_in.org.records("Task")) == 2
    stand_in.org.fail_record("locked", "UNABLE_TO_LOCK_ROW")
    upserts = [record("ok", **{EXT: "a-1"}), record("locked row", **{EXT: "a-2"})]
    results = sf.restful(
        f"composite/sobjects/Task/{EXT}", method="PATCH", json={"records": upserts}
    )
    assert [(r["success"], r["created"]) for r in results] == [(True, True), (False, False)]
    assert results[1]["errors"][0] == {
        "statusCode": "UNABLE_TO_LOCK_ROW",
        "message": "unable to obtain exclusive access to this record",
        "fields": [],
    }
    ids = [r["Id"] for r in stand_in.org.records("Task")]
    updates = [{"attributes": {"type": "Task"}, "Id": i, "Subject": "Renamed"} for i in ids]
    assert all(
        r["success"]
        for r in sf.restful("composite/sobjects", method="PATCH", json={"records": updates})
    )
    deleted = sf.restful(
        "composite/sobjects", method="DELETE", params={"ids": ",".join([*ids, ids[0]])}
    )
    assert [r["success"] for r in deleted] == [True, True, True, False]
    assert deleted[-1]["errors"][0]["statusCode"] == "ENTITY_IS_DELETED"
    with pytest.raises(SalesforceMalformedRequest) as info:
        sf.restful("composite/sobjects", method="POST", json={"records": [record("x")] * 201})
    assert error_of(info) == (400, "EXCEEDED_ID_LIMIT")


# -- replication, limits, faults --------------------------------------------------------------
def test_updated_and_deleted_cover_soft_and_hard_deletes(
    sf: Salesforce, stand_in: SalesforceStandIn, clock: Clock
) -> None:
    start = clock.now
    kept, soft, hard = (task(stand_in, Subject=s) for s in ("kept", "soft", "hard"))
    clock.advance(120)
    stand_in.org.delete("Task", soft)
    stand_in.org.purge("Task", hard)
    stand_in.org.touch("Task", kept)
    clock.advance(120)
    end = clock.now
    assert set(sf.Task.updated(start, end)["ids"]) == {kept}
    deleted = sf.Task.deleted(start, end)
    assert {d["id"] for d in deleted["deletedRecords"]} == {soft, hard}
    assert deleted["latestDateCovered"] == "2026-12-04T10:04:00.000+0000"
    assert deleted["deletedRecords"][0]["deletedDate"] == "2026-12-04T10:02:00.000+0000"
    stand_in.org.earliest_deleted_available = clock.now - timedelta(minutes=1)
    with pytest.raises(SalesforceMalformedRequest) as info:
        sf.Task.deleted(start, end)
    assert error_of(info) == (400, "INVALID_REPLICATION_DATE")


def test_every_answer_counts_api_usage_until_the_limit(
    sf: Salesforce, stand_in: SalesforceStandIn
) -> None:
    limits = sf.limits()
    used = stand_in.org.api_usage
    assert limits["DailyApiRequests"] == {"Max": 15000, "Remaining": 15000 - used}
    sf.query("SELECT Id FROM Task")
    assert sf.api_usage["api-usage"].used == used + 1
    stand_in.org.daily_limit = used + 2
    sf.query("SELECT Id FROM Task")
    with pytest.raises(SalesforceRefusedRequest) as info:
        sf.query("SELECT Id FROM Task")
    assert error_of(info) == (403, "REQUEST_LIMIT_EXCEEDED")
    assert info.value.content[0]["message"] == "TotalRequests Limit exceeded."
    stand_in.org.reset_usage()
    assert sf.query("SELECT Id FROM Task")["totalSize"] == 0


def test_injected_faults_hit_the_next_matching_requests(
    sf: Salesforce, stand_in: SalesforceStandIn, http: requests.Session
) -> None:
    org = stand_in.org
    org.fail_next(401, "INVALID_SESSION_ID")
    with pytest.raises(SalesforceExpiredSession) as info:
        sf.query("SELECT Id FROM Task")
    assert info.value.content == [
        {"message": "Session expired or invalid", "errorCode": "INVALID_SESSION_ID"}
    ]
    org.fail_next(503, "SERVER_UNAVAILABLE", retry_after=30)
    with pytest.raises(SalesforceGeneralError) as info:
        sf.query("SELECT Id FROM Task")
    assert error_of(info) == (503, "SERVER_UNAVAILABLE")
    org.fail_next(503, retry_after=30)
    answer = http.get(
        f"{stand_in.instance_url}/services/data/v62.0/limits/",
        headers={"Authorization": f"Bearer {sf.session_id}"},
    )
    assert (answer.status_code, answer.headers["Retry-After"]) == (503, "30")
    assert answer.headers["Sforce-Limit-Info"].startswith("api-usage=")
    org.fail_next(400, "UNABLE_TO_LOCK_ROW", count=2, path_contains="/sobjects/Task")
    sf.query("SELECT Id FROM Task")  # not a match
    for _ in range(2):
        with pytest.raises(SalesforceMalformedRequest) as info:
            sf.Task.create({"Subject": "x"})
        assert error_of(info) == (400, "UNABLE_TO_LOCK_ROW")
    assert sf.Task.create({"Subject": "x"})["success"]
    last = org.requests[-1]
    assert (last.method, last.status, last.body) == ("POST", 201, {"Subject": "x"})
    assert last.user_id == org.integration_user_id


def test_ids_carry_salesforces_case_checksum() -> None:
    assert with_checksum("001A0000006Vm9r") == "001A0000006Vm9rIAC"
    assert normalize_id("001a0000006vm9riac") == "001A0000006Vm9rIAC"
    assert normalize_id("001A0000006Vm9r") == "001A0000006Vm9rIAC"
    assert normalize_id("001A0000006Vm9rIAD") is None
    assert normalize_id("nope") is None
