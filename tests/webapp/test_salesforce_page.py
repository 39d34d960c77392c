"""The admin's Salesforce page: connect the org through the OAuth web-server flow with PKCE,
see its status, turn calls on, pull, retry and disconnect; forged or replayed callbacks refused;
non-admins refused (see test_admin_pages)."""

from __future__ import annotations

from urllib.parse import parse_qs, urlsplit

import pytest
from flask import Flask

from server.config import Settings
from server.db import Database
from server.salesforce import org as orgs
from server.stand_ins.salesforce import SalesforceStandIn
from tests.conftest import Tenant
from tests.salesforce.conftest import pointed_at_salesforce, sfdc

from .conftest import Browser, path_of

__all__ = ["sfdc"]


@pytest.fixture
def settings(settings: Settings, sfdc: SalesforceStandIn) -> Settings:
    return pointed_at_salesforce(settings, sfdc)


def connect(browser: Browser, sfdc: SalesforceStandIn) -> str:
    start = browser.get("/settings/salesforce/connect")
    assert start.status_code == 302, start.get_data(as_text=True)
    query = parse_qs(urlsplit(start.headers["Location"]).query)
    assert query["scope"] == ["api refresh_token"]
    assert query["code_challenge_method"] == ["S256"]
    return sfdc.org.approve(start.headers["Location"])


def test_an_admin_connects_the_org_and_turns_calls_on(
    signed_in: Browser, sfdc: SalesforceStandIn, database: Database, tenant: Tenant
) -> None:
    done = signed_in.get(path_of(connect(signed_in, sfdc)))
    assert done.status_code == 302
    assert done.headers["Location"] == "/settings/salesforce"
    page = signed_in.get("/settings/salesforce").get_data(as_text=True)
    assert 'data-status="active"' in page
    assert sfdc.instance_url in page
    with database.transaction() as session:
        org = orgs.org_of(session, tenant.account_id)
        assert org is not None
        assert org.refresh_token_encrypted
        assert org.integration_user_id.startswith("005")
    form = {
        "inbound.call.enabled": "on",
        "inbound.call.on_delete": "keep",
        "inbound.task.on_delete": "delete",
        "inbound.email.on_delete": "delete",
        "inbound.meeting.on_delete": "delete",
        "daily_api_budget": "2000",
    }
    saved = signed_in.post("/settings/salesforce/settings", form, csrf_from="/settings/salesforce")
    assert saved.status_code == 302
    doc = tenant.call("GET", "/salesforce/settings").get_json()
    assert doc["inbound"]["call"] == {"enabled": True, "on_delete": "keep"}
    assert doc["inbound"]["task"]["enabled"] is False
    assert doc["daily_api_budget"] == 2000
    bad = dict(form, **{"inbound.task.on_delete": "shred"})
    signed_in.post("/settings/salesforce/settings", bad, csrf_from="/settings/salesforce")
    assert tenant.call("GET", "/salesforce/settings").get_json() == doc  # nothing changed
    gone = signed_in.post("/settings/salesforce/disconnect", csrf_from="/settings/salesforce")
    assert gone.status_code == 302
    assert tenant.call("GET", "/salesforce/status").get_json()["connected"] is False


def test_a_forged_or_replayed_callback_is_refused(
    signed_in: Browser, sfdc: SalesforceStandIn, app: Flask
) -> None:
    callback = connect(signed_in, sfdc)
    forged = callback.replace("state=", "state=x")
    assert signed_in.get(path_of(forged)).status_code == 400
    # The pending flow went with the forged attempt: the real answer no longer works either.
    assert signed_in.get(path_of(callback)).status_code == 400


def test_mappings_are_edited_on_the_page_and_checked_against_the_org(
    signed_in: Browser, sfdc: SalesforceStandIn, tenant: Tenant
) -> None:
    signed_in.get(path_of(connect(signed_in, sfdc)))
    before = tenant.call("GET", "/salesforce/mappings/call").get_json()["results"]
    rows = {
        "salesforce_field": ["Subject", "CallDurationInSeconds", "Nope__c"],
        "crm_property.0": "title",
        "type.0": "text",
        "crm_property.1": "seconds",
        "type.1": "number",
        "crm_property.2": "x",
        "type.2": "text",
    }
    page = "/settings/salesforce"
    refused = signed_in.post("/settings/salesforce/mappings/call", rows, csrf_from=page)  # type: ignore[arg-type]
    assert refused.status_code == 302
    assert "Nope__c" in signed_in.get(page).get_data(as_text=True)
    assert tenant.call("GET", "/salesforce/mappings/call").get_json()["results"] == before
    rows["salesforce_field"] = ["Subject", "CallDurationInSeconds", ""]
    signed_in.post("/settings/salesforce/mappings/call", rows, csrf_from=page)  # type: ignore[arg-type]
    saved = tenant.call("GET", "/salesforce/mappings/call").get_json()["results"]
    assert saved == [
        {"salesforce_field": "Subject", "crm_property": "title", "type": "text"},
        {"salesforce_field": "CallDurationInSeconds", "crm_property": "seconds", "type": "number"},
    ]


def test_an_admin_turns_pushing_notes_on_with_a_task_type_of_the_org(
    signed_in: Browser, sfdc: SalesforceStandIn, tenant: Tenant
) -> None:
    signed_in.get(path_of(connect(signed_in, sfdc)))
    page = signed_in.get("/settings/salesforce").get_data(as_text=True)
    assert 'name="outbound.note.enabled"' in page
    assert 'name="outbound.sales_email_opened.task_type"' in page
    form = {
        **{f"inbound.{k}.on_delete": "delete" for k in ("task", "email", "call", "meeting")},
        "daily_api_budget": "5000",
        "outbound.note.enabled": "on",
        "outbound.note.task_type": "Meeting",
        "outbound.note.on_delete": "keep",
        "outbound.meeting.enabled": "on",
        "outbound.meeting.task_type": "",
    }
    signed_in.post("/settings/salesforce/settings", form, csrf_from="/settings/salesforce")
    doc = tenant.call("GET", "/salesforce/settings").get_json()
    assert doc["outbound"]["note"] == {"enabled": True, "task_type": "Meeting", "on_delete": "keep"}
    assert doc["outbound"]["meeting"] == {"enabled": True, "task_type": None, "on_delete": "delete"}
    assert doc["outbound"]["call"]["enabled"] is False
    bad = dict(form, **{"outbound.note.task_type": "Carrier pigeon"})  # not in the picklist
    answer = signed_in.post("/settings/salesforce/settings", bad, csrf_from="/settings/salesforce")
    assert answer.status_code == 302
    assert tenant.call("GET", "/salesforce/settings").get_json() == doc  # nothing changed
    shown = signed_in.get("/settings/salesforce").get_data(as_text=True)
    assert "Carrier pigeon" in shown
    assert "picklist" in shown
