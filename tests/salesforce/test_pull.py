"""The pull (P1-P7) through simple-salesforce against the stand-in org: one test (at least)
per rule id, the cursor under equal stamps and across pages, a crash between reading a page
and committing it, token rotation, limits that pause and resume, another account untouched."""

from __future__ import annotations

from collections import Counter
from datetime import timedelta

import pytest
from sqlalchemy import select

from server.crm import services
from server.db import utcnow
from server.salesforce import org as orgs
from server.salesforce.models import SalesforceLink, SalesforceLogEntry
from server.salesforce.tasks import prune_log, retry
from server.stand_ins.salesforce import SalesforceStandIn, with_checksum
from tests.salesforce.conftest import Org, connect_org, pointed_at_salesforce

ANN = "ann@client.example"
BEN = "ben@client.example"


class Crash(Exception):
    pass


def linked(sf: Org) -> tuple[int, str]:
    """A CRM contact and the Salesforce Contact it links to."""
    sf_id = sf.sf_contact(ANN)
    contact = sf.contact(ANN)
    return contact, sf_id


def items(sf: Org, contact: int, kind: str | None = None) -> list[dict[str, object]]:
    found = [i for i in sf.timeline(contact) if i.get("source") == "salesforce"]
    return [i for i in found if kind is None or i.get("type") == kind]


def test_contacts_link_by_email_contact_before_lead_oldest_first(sf: Org) -> None:
    lead = str(sf.sfdc.org.insert("Lead", {"LastName": "Lee", "Company": "C", "Email": ANN}))
    older = sf.sf_contact(ANN.upper())
    sf.sf_contact(ANN)  # a newer duplicate
    lead_only = str(sf.sfdc.org.insert("Lead", {"LastName": "Ng", "Company": "C", "Email": BEN}))
    ann, ben = sf.contact(ANN), sf.contact(BEN)
    sf.contact("nobody@client.example")
    assert sf.pull().status == "ok"
    got = {link.crm_id: (link.salesforce_type, link.salesforce_id) for link in sf.links()}
    assert got == {ann: ("Contact", older), ben: ("Lead", lead_only)}
    assert lead not in {sf_id for _, sf_id in got.values()}


def test_merged_and_deleted_records_unlink_and_the_next_pass_relinks(sf: Org) -> None:
    first = sf.sf_contact(ANN)
    second = sf.sf_contact(ANN)
    sf.contact(ANN)
    sf.pull()
    assert [link.salesforce_id for link in sf.links()] == [first]
    sf.sfdc.org.merge("Contact", second, first)  # the first is merged away
    sf.pull()
    assert [link.salesforce_id for link in sf.links()] == [second]
    sf.sfdc.org.delete("Contact", second)
    sf.pull()
    assert sf.links() == []


def test_p1_a_call_logged_in_salesforce_lands_on_the_timeline_only_while_calls_are_on(
    sf: Org,
) -> None:
    contact, who = linked(sf)
    sf.pull()
    sf.switch(call=True)
    call = sf.task(who, "Call", Description="Talked pricing", CallDurationInSeconds=300)
    task = sf.task(who, "Task", Subject="Send deck")  # tasks are off
    assert sf.pull().status == "ok"
    (item,) = items(sf, contact)
    assert (item["type"], item["title"]) == ("call", "Discovery call")
    assert sf.reasons(call) == [("create", "P3")]
    assert sf.reasons(task) == []  # not even read: only the kinds switched on are queried
    sf.switch(task=True)
    sf.sfdc.org.update("Task", task, {"Subject": "Send deck (v2)"})
    sf.pull()
    assert sorted(i["type"] for i in items(sf, contact)) == ["call", "task"]


def test_p2_nothing_from_before_the_switch(sf: Org) -> None:
    contact, who = linked(sf)
    with sf.clock_at(-5):
        old = sf.task(who, "Call")
    sf.switch(call=True)
    sf.pull()
    assert items(sf, contact) == []
    sf.sfdc.org.update("Task", old, {"Subject": "Follow-up after all"})  # changed afterwards
    sf.pull()
    (item,) = items(sf, contact)
    assert item["title"] == "Follow-up after all"


def test_p3_updates_update_and_records_without_a_linked_contact_are_skipped(sf: Org) -> None:
    contact, who = linked(sf)
    stranger = sf.sf_contact("stranger@else.example")  # no CRM contact
    sf.switch(call=True, email=True)
    call = sf.task(who, "Call")
    email = sf.task(who, "Email", Subject="Proposal sent")
    orphan = sf.task(stranger, "Call")
    sf.pull()
    assert sorted(i["type"] for i in items(sf, contact)) == ["call", "email"]
    assert sf.reasons(orphan) == [("skip", "P3")]
    sf.sfdc.org.update("Task", call, {"Subject": "Discovery call (notes)"})
    sf.pull()
    titles = sorted(str(i["title"]) for i in items(sf, contact))
    assert titles == ["Discovery call (notes)", "Proposal sent"]
    assert sf.reasons(call) == [("create", "P3"), ("update", "P3")]
    assert sf.reasons(email) == [("create", "P3")]


def test_p3_events_become_meetings(sf: Org) -> None:
    contact, who = linked(sf)
    sf.switch(meeting=True)
    start = sf.later(86400).replace(microsecond=0)
    event = str(
        sf.sfdc.org.insert(
            "Event",
            {
                "Subject": "Onsite",
                "WhoId": who,
                "StartDateTime": start.isoformat(),
                "EndDateTime": (start + timedelta(hours=1)).isoformat(),
                "DurationInMinutes": 60,
                "Location": "HQ",
            },
        )
    )
    sf.pull()
    (item,) = items(sf, contact)
    assert (item["type"], item["title"]) == ("meeting", "Onsite")
    assert sf.reasons(event) == [("create", "P3")]


@pytest.mark.parametrize("on_delete", ["delete", "keep"])
def test_p4_deletions_follow_the_kinds_setting(sf: Org, on_delete: str) -> None:
    contact, who = linked(sf)
    sf.switch(call=True, call__on_delete=on_delete)
    call = sf.task(who, "Call")
    sf.pull()
    assert len(items(sf, contact)) == 1
    sf.sfdc.org.delete("Task", call)
    sf.pull()
    assert len(items(sf, contact)) == (0 if on_delete == "delete" else 1)
    assert sf.reasons(call)[-1] == ("delete" if on_delete == "delete" else "skip", "P4")


def test_p5_mappings_convert_and_a_bad_value_fails_alone(sf: Org) -> None:
    contact, who = linked(sf)
    sf.switch(call=True)
    mappings = sf.call("GET", "/salesforce/mappings/call").get_json()["results"]
    mappings.append(
        {"salesforce_field": "CallDisposition", "crm_property": "minutes", "type": "number"}
    )
    mappings = [m for m in mappings if m["crm_property"] != "outcome"]
    response = sf.call("PUT", "/salesforce/mappings/call", json=mappings)
    assert response.status_code == 200, response.get_json()
    good = sf.task(who, "Call", CallDurationInSeconds=90, CallDisposition="12")
    bad = sf.task(who, "Call", CallDisposition="twelve")
    assert sf.pull().status == "ok"
    (item,) = items(sf, contact)
    assert item["properties"]["duration_seconds"] == 90
    assert item["properties"]["minutes"] == 12
    assert sf.reasons(good) == [("create", "P3")]
    (failure,) = [e for e in sf.log() if e.salesforce_id == bad]
    assert (failure.action, failure.rule, failure.status) == ("error", "P5", "failed")
    assert "CallDisposition" in failure.error
    assert "twelve" in failure.error
    (shown,) = sf.call("GET", "/salesforce/status").get_json()["errors"]
    assert shown["salesforce_id"] == bad
    assert "twelve" in shown["error"]


def test_p5_a_mapping_to_a_field_the_org_lacks_is_refused_and_nothing_changes(sf: Org) -> None:
    before = sf.call("GET", "/salesforce/mappings/task").get_json()["results"]
    response = sf.call(
        "PUT",
        "/salesforce/mappings/task",
        json=[{"salesforce_field": "Nope__c", "crm_property": "x", "type": "text"}],
    )
    assert response.status_code == 400
    assert "Nope__c" in response.get_json()["error"]["message"]
    assert sf.call("GET", "/salesforce/mappings/task").get_json()["results"] == before
    wrong = [{"salesforce_field": "Subject", "crm_property": "n", "type": "boolean"}]
    assert sf.call("PUT", "/salesforce/mappings/task", json=wrong).status_code == 400
    assert sf.call("GET", "/salesforce/mappings/fax").status_code == 404


def test_p7_the_cursor_survives_equal_stamps_and_pages(sf: Org) -> None:
    contact, who = linked(sf)
    sf.switch(call=True)
    sf.sfdc.org.query_page_size = 2
    frozen = sf.later(1)
    sf.sfdc.org.now = lambda: frozen  # every record gets the same SystemModstamp
    ids = [sf.task(who, "Call", Subject=f"Call {i}") for i in range(5)]
    result = sf.pull()
    assert result.status == "ok"
    assert Counter(e.salesforce_id for e in sf.log() if e.action == "create") == Counter(ids)
    cursor = sf.row().cursors["Task"]
    assert cursor[1] == max(ids)
    sf.sfdc.org.now = lambda: frozen
    more = sf.task(who, "Call", Subject="Call 5")  # same stamp, higher id
    sf.pull()
    assert sf.reasons(more) == [("create", "P3")]
    assert len(items(sf, contact)) == 6


@pytest.mark.parametrize("point", ["fetched", "applied", "committed"])
def test_p7_a_crash_between_reading_and_committing_loses_and_doubles_nothing(
    sf: Org, point: str
) -> None:
    contact, who = linked(sf)
    sf.switch(call=True)
    sf.sfdc.org.query_page_size = 2
    ids = [sf.task(who, "Call", Subject=f"Call {i}") for i in range(5)]
    seen = {"n": 0}

    def crash(at: str) -> None:
        if at == point:
            seen["n"] += 1
            if seen["n"] == 2:
                raise Crash(at)

    with pytest.raises(Crash):
        sf.pull(crash)
    assert sf.pull().status in ("ok",)
    assert Counter(e.salesforce_id for e in sf.log() if e.action == "create") == Counter(ids)
    assert len(items(sf, contact)) == 5


def test_refresh_token_rotation_is_stored_at_once(sf: Org) -> None:
    before = sf.row().refresh_token_encrypted
    sf.pull()
    after = sf.row().refresh_token_encrypted
    assert after != before
    assert sf.pull().status == "ok"  # the rotated one works; the old one no longer would


def test_a_refused_grant_needs_a_reconnect(sf: Org) -> None:
    sf.sfdc.org.revoke(None)
    result = sf.pull()
    assert result.status == "needs_reconnect"
    row = sf.row()
    assert row.status == "needs_reconnect"
    assert sf.call("GET", "/salesforce/status").get_json()["status"] == "needs_reconnect"
    assert sf.pull().status == "inactive"  # its jobs stop until reconnected


def test_h8_limit_errors_pause_and_the_next_pull_resumes(sf: Org) -> None:
    contact, who = linked(sf)
    sf.switch(call=True)
    sf.pull()
    sf.task(who, "Call")
    sf.sfdc.org.fail_next(403, "REQUEST_LIMIT_EXCEEDED")
    assert sf.pull().status == "paused"
    assert sf.row().paused_until is not None
    assert sf.pull().status == "paused"  # still paused: nothing asked of the org
    with sf.database.transaction() as session:
        row = orgs.org_of(session, sf.tenant.account_id)
        assert row is not None
        row.paused_until = None
    assert sf.pull().status == "ok"
    assert len(items(sf, contact)) == 1


def test_h8_the_daily_budget_is_never_exceeded(sf: Org) -> None:
    linked(sf)
    doc = sf.call("GET", "/salesforce/settings").get_json()
    doc["daily_api_budget"] = 3
    assert sf.call("PUT", "/salesforce/settings", json=doc).status_code == 200
    sf.switch(call=True, task=True, email=True, meeting=True)
    assert sf.pull().status == "paused"
    status = sf.call("GET", "/salesforce/status").get_json()
    assert status["api_calls_today"] == 3
    assert status["daily_api_budget"] == 3


def test_another_accounts_org_is_never_touched(sf: Org, make_tenant: object) -> None:
    other = make_tenant("Beta", "beta.example", "boss@beta.example")  # type: ignore[operator]
    linked(sf)
    sf.switch(call=True)
    assert other.call("GET", "/salesforce/status").get_json()["connected"] is False
    assert (
        other.call("GET", "/salesforce/settings").get_json()["inbound"]["call"]["enabled"] is False
    )
    assert other.call("GET", "/salesforce/sync-log").get_json()["results"] == []
    sf.pull()
    with sf.database.transaction() as session:
        accounts = set(session.scalars(select(SalesforceLink.account_id)))
    assert accounts == {sf.tenant.account_id}


def test_h9_failed_records_are_retried_on_request(sf: Org) -> None:
    contact, who = linked(sf)
    sf.switch(call=True)
    mappings = [
        {"salesforce_field": "Subject", "crm_property": "title", "type": "text"},
        {"salesforce_field": "CallDisposition", "crm_property": "minutes", "type": "number"},
    ]
    assert sf.call("PUT", "/salesforce/mappings/call", json=mappings).status_code == 200
    bad = sf.task(who, "Call", CallDisposition="soon")
    sf.pull()
    assert items(sf, contact) == []
    # The admin maps the field as text instead, and retries what failed.
    mappings[1]["type"] = "text"
    assert sf.call("PUT", "/salesforce/mappings/call", json=mappings).status_code == 200
    response = sf.call("POST", "/salesforce/retry")
    assert (response.status_code, response.get_json()) == (202, {"queued": 1})
    assert retry(sf.env(), sf.tenant.account_id) == 1
    assert len(items(sf, contact)) == 1
    statuses = [e.status for e in sf.log() if e.salesforce_id == bad]
    assert statuses == ["retried", ""]


def test_connecting_the_same_org_again_resumes(sf: Org) -> None:
    contact, who = linked(sf)
    sf.switch(call=True)
    sf.task(who, "Call")
    sf.pull()
    cursor = sf.row().cursors
    connect_org(sf.settings, sf.database, sf.app, sf.sfdc, sf.tenant.account_id)
    assert sf.row().cursors == cursor
    sf.pull()
    assert len(items(sf, contact)) == 1


def test_a_contact_whose_email_changes_is_linked_again(sf: Org) -> None:
    first = sf.sf_contact(ANN)
    second = sf.sf_contact(BEN)
    contact = sf.contact(ANN)
    sf.pull()
    assert [link.salesforce_id for link in sf.links()] == [first]
    response = sf.call("PATCH", f"/contacts/{contact}", json={"email": BEN})
    assert response.status_code == 200, response.get_json()
    sf.pull()
    assert [(link.crm_id, link.salesforce_id) for link in sf.links()] == [(contact, second)]


def test_a_query_the_org_refuses_is_logged_and_pauses(sf: Org) -> None:
    linked(sf)
    sf.switch(call=True)
    sf.pull()
    sf.sfdc.org.fail_next(400, "INVALID_FIELD", path_contains="query")
    result = sf.pull()
    assert result.status == "failed"
    assert "INVALID_FIELD" in result.error
    (entry,) = [e for e in sf.log() if e.rule == "H9"]
    assert "INVALID_FIELD" in entry.error
    assert sf.row().paused_until is not None


def test_p4_a_record_purged_from_the_recycle_bin_is_found_by_get_deleted(sf: Org) -> None:
    contact, who = linked(sf)
    sf.switch(call=True)
    call = sf.task(who, "Call")
    sf.pull()
    assert len(items(sf, contact)) == 1
    sf.sfdc.org.purge("Task", call)  # gone for queryAll too
    sf.skew += timedelta(minutes=2)  # getDeleted answers whole minutes
    sf.pull()
    assert items(sf, contact) == []
    assert sf.reasons(call)[-1] == ("delete", "P4")
    assert any("deleted" in r.path for r in sf.sfdc.org.requests)


def test_p6_what_id_and_owner_id_set_the_company_deal_and_owner_where_linked(sf: Org) -> None:
    contact, who = linked(sf)
    with sf.database.transaction() as session:
        company = services.create_record(session, sf.tenant.account_id, "company", "Northwind")
        company.domain = "northwind.example"
        deal = services.create_record(session, sf.tenant.account_id, "deal", "Renewal 2027")
        deal.company_id = company.id
        company_id, deal_id = company.id, deal.id
    org = sf.sfdc.org
    account = org.insert(
        "Account", {"Name": "Other name", "Website": "https://www.northwind.example"}
    )
    opportunity = org.insert(
        "Opportunity",
        {
            "Name": "renewal 2027",
            "AccountId": account,
            "StageName": "Prospecting",
            "CloseDate": "2027-01-31",
        },
    )
    owner = org.add_user(sf.tenant.user_email, "Admin")
    sf.switch(call=True)
    on_account = sf.task(who, "Call", Subject="On the account", WhatId=account, OwnerId=owner)
    on_deal = sf.task(who, "Call", Subject="On the deal", WhatId=opportunity)
    sf.pull()
    by_title = {str(i["title"]): i for i in items(sf, contact)}
    assert {(a["type"], a["id"]) for a in by_title["On the account"]["associations"]} >= {
        ("company", company_id)
    }
    assert ("deal", deal_id) in {
        (a["type"], a["id"]) for a in by_title["On the deal"]["associations"]
    }
    assert by_title["On the account"]["author_email"] == sf.tenant.user_email
    assert {(link.object_type, link.salesforce_id) for link in sf.links("company")} == {
        ("company", account)
    }
    assert sf.reasons(on_account) == [("create", "P3")]
    assert sf.reasons(on_deal) == [("create", "P3")]


def test_a_contact_made_in_the_crm_is_linked_once_it_commits(sf: Org) -> None:
    first, second = sf.sf_contact(ANN), sf.sf_contact(BEN)
    huey = sf.app.extensions["jobs"].huey
    huey.flush()
    response = sf.call("POST", "/contacts", json={"email": ANN})
    assert response.status_code == 201, response.get_json()
    contact = response.get_json()["id"]

    def run_queued() -> int:
        ran = 0
        while (task := huey.dequeue()) is not None:
            huey.execute(task)
            ran += 1
        return ran

    assert run_queued() == 1  # no pull ran: the contact event asked for the link
    assert [(link.crm_id, link.salesforce_id) for link in sf.links()] == [(contact, first)]
    sf.call("PATCH", f"/contacts/{contact}", json={"email": BEN})
    assert run_queued() == 1
    assert [(link.crm_id, link.salesforce_id) for link in sf.links()] == [(contact, second)]


def test_connecting_another_org_forgets_the_old_orgs_links_and_keeps_the_crm_data(
    sf: Org,
) -> None:
    contact, who = linked(sf)
    sf.switch(call=True)
    sf.task(who, "Call")
    sf.pull()
    assert sf.links() != []
    with SalesforceStandIn(ca=sf.sfdc.ca) as other:
        other.org.org_id = with_checksum("00D5g00000Zz9Xy")  # another org
        other_settings = pointed_at_salesforce(sf.settings, other)
        connect_org(other_settings, sf.database, sf.app, other, sf.tenant.account_id)
        row = sf.row()
        assert row.org_id == other.org.org_id
        assert row.cursors is None
        assert sf.links() == []
        assert len(items(sf, contact)) == 1  # what the first org synced stays


def test_old_log_lines_are_pruned_but_failures_waiting_for_a_retry_stay(sf: Org) -> None:
    linked(sf)
    sf.pull()
    with sf.database.transaction() as session:
        old = utcnow() - timedelta(days=31)
        session.add_all(
            [
                SalesforceLogEntry(
                    account_id=sf.tenant.account_id,
                    created_at=old,
                    direction="inbound",
                    action=action,
                    rule="P3",
                    status=status,
                )
                for action, status in (("create", ""), ("error", "failed"))
            ]
        )
    assert prune_log(sf.env()) == 1
    assert [e.status for e in sf.log() if e.created_at < utcnow() - timedelta(days=30)] == [
        "failed"
    ]


def test_h2_an_outbound_task_type_must_be_a_value_of_the_orgs_picklist(sf: Org) -> None:
    doc = sf.call("GET", "/salesforce/settings").get_json()
    doc["outbound"]["note"]["task_type"] = "Carrier pigeon"
    response = sf.call("PUT", "/salesforce/settings", json=doc)
    assert response.status_code == 400
    assert response.get_json()["error"]["details"]["field"] == "outbound.note.task_type"
    assert (
        sf.call("GET", "/salesforce/settings").get_json()["outbound"]["note"]["task_type"] is None
    )
    doc["outbound"]["note"]["task_type"] = "Meeting"
    assert sf.call("PUT", "/salesforce/settings", json=doc).status_code == 200
