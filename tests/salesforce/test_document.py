"""The settings document and mappings (P1, P4, P5, H8): defaults, validation that names what
is wrong, switch times (P2); typed conversion; SOQL built from checked parts only."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest

from server.errors import Invalid
from server.salesforce import document, soql
from server.salesforce.convert import Unconvertible, convert


def test_defaults_have_every_kind_switched_off() -> None:
    doc = document.defaults()
    assert set(doc["inbound"]) == {"task", "email", "call", "meeting"}
    assert not any(v["enabled"] for v in doc["inbound"].values())
    assert {v["on_delete"] for v in doc["inbound"].values()} == {"delete"}
    assert "email" not in doc["outbound"]  # plain email is never pushed (H1)
    assert doc["daily_api_budget"] == 5000


@pytest.mark.parametrize(
    ("body", "where"),
    [
        ({"inbound": {"task": {"enabled": True}}, "colour": "red"}, "colour"),
        ({"inbound": {"fax": {"enabled": True}}}, "inbound.fax"),
        ({"inbound": {"task": {"enabled": "yes"}}}, "inbound.task.enabled"),
        ({"inbound": {"task": {"on_delete": "archive"}}}, "inbound.task.on_delete"),
        ({"inbound": {"task": {"sometimes": True}}}, "inbound.task.sometimes"),
        ({"outbound": {"email": {"enabled": True}}}, "outbound.email"),
        ({"outbound": {"note": {"task_type": 7}}}, "outbound.note.task_type"),
        ({"daily_api_budget": 0}, "daily_api_budget"),
        ({"daily_api_budget": True}, "daily_api_budget"),
        ({"daily_api_budget": "5000"}, "daily_api_budget"),
    ],
)
def test_a_bad_document_names_what_is_wrong(body: object, where: str) -> None:
    with pytest.raises(Invalid) as caught:
        document.validate(body)
    assert caught.value.details["field"] == where


def test_p2_switching_on_records_when_and_switching_off_forgets() -> None:
    before = document.defaults()
    after = document.validate({"inbound": {"call": {"enabled": True}}})
    when = datetime(2026, 12, 4, 10, tzinfo=UTC)
    enabled = document.switched_on(before, after, None, when)
    assert enabled == {"inbound.call": when.isoformat()}
    again = document.switched_on(after, after, enabled, datetime(2026, 12, 5, tzinfo=UTC))
    assert again == enabled  # still on: the first time stays
    off = document.validate({})
    assert document.switched_on(after, off, enabled, when) == {}


def test_p5_mappings_default_and_are_checked_against_the_orgs_fields() -> None:
    assert {m["crm_property"] for m in document.default_mappings("call")} >= {
        "title",
        "duration_seconds",
    }
    fields = {"Subject": "string", "CallDurationInSeconds": "int", "ActivityDate": "date"}
    good = [
        {"salesforce_field": "CallDurationInSeconds", "crm_property": "seconds", "type": "number"}
    ]
    assert document.validate_mappings("call", good, fields) == good
    with pytest.raises(Invalid, match="has no field 'Nope__c'"):
        document.validate_mappings(
            "call", [{"salesforce_field": "Nope__c", "crm_property": "x", "type": "text"}], fields
        )
    with pytest.raises(Invalid, match="cannot convert to boolean"):
        document.validate_mappings(
            "call",
            [{"salesforce_field": "Subject", "crm_property": "x", "type": "boolean"}],
            fields,
        )
    with pytest.raises(Invalid, match="letters, digits"):
        document.validate_mappings(
            "call",
            [{"salesforce_field": "Id FROM User --", "crm_property": "x", "type": "text"}],
            None,
        )
    with pytest.raises(Invalid, match="mapped twice"):
        document.validate_mappings("task", [good[0], good[0]], None)


def test_p5_values_convert_by_type_with_an_error_naming_the_field() -> None:
    assert convert("42", "number", "F") == 42
    assert convert(4.5, "number", "F") == 4.5
    assert convert("2026-12-04", "date", "F") == date(2026, 12, 4)
    stamp = convert("2026-12-04T10:20:30.000+0000", "datetime", "F")
    assert stamp == datetime(2026, 12, 4, 10, 20, 30, tzinfo=UTC)
    assert convert(None, "number", "F") is None
    with pytest.raises(Unconvertible, match="CallDurationInSeconds: 'long' is not a number"):
        convert("long", "number", "CallDurationInSeconds")
    with pytest.raises(Unconvertible):
        convert("yes", "boolean", "F")


def test_soql_is_built_from_checked_parts() -> None:
    assert soql.string("o'brien\\x") == "'o\\'brien\\\\x'"
    assert soql.instant(datetime(2026, 12, 4, 10, 0, 0, 123456, tzinfo=UTC)) == (
        "2026-12-04T10:00:00.123Z"
    )
    query = soql.select(("Id", "Who.Email"), "Task", ["IsDeleted = false", ""], ("Id",))
    assert query == "SELECT Id, Who.Email FROM Task WHERE IsDeleted = false ORDER BY Id"
    with pytest.raises(ValueError, match="not a Salesforce field"):
        soql.select(("Id, (SELECT Id FROM Contacts)",), "Task", [])
    with pytest.raises(ValueError, match="not a Salesforce id"):
        soql.record_id("00T' OR Id != '")
