"""The push (H1-H7, P6 mirrored) through simple-salesforce against the stand-in org: one test
(at least) per rule id. Faults, crashes and limits are in ``test_push_faults.py``."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import select, update

from server.crm import services
from server.crm.models import Contact
from server.db import utcnow
from server.salesforce.models import SalesforceOutbox
from tests.salesforce.conftest import ADMIN, Org

ANN = "ann@client.example"
BEN = "ben@client.example"
CAT = "cat@client.example"


def linked(sf: Org, *kinds: str, email: str = ANN) -> tuple[int, str]:
    """A CRM contact linked to a Salesforce Contact, pushing ``kinds`` switched on."""
    who = sf.sf_contact(email)
    contact = sf.contact(email)
    sf.push_on(*kinds)
    sf.pull()
    return contact, who


def pricing_review(sf: Org) -> dict[str, Any]:
    """A meeting with Ann, made through the REST API."""
    start = utcnow() + timedelta(hours=1)
    body = {
        "title": "Pricing review",
        "start": start.isoformat(),
        "end": (start + timedelta(minutes=30)).isoformat(),
        "attendee_emails": [ANN],
        "send_invites": False,
    }
    response = sf.call("POST", "/meetings", json=body)
    assert response.status_code == 201, response.get_json()
    return dict(response.get_json())


def outbox_rows(sf: Org) -> int:
    with sf.database.transaction() as session:
        return len(list(session.scalars(select(SalesforceOutbox.id))))


def test_h1_a_call_becomes_a_closed_task_on_the_linked_contact(sf: Org) -> None:
    ann, who = linked(sf, "call")
    activity = sf.activity("call", [ann], body="They want a quote")
    result = sf.pull()
    assert result.status == "ok", result.error
    [task] = sf.tasks()
    assert task["Subject"] == "Call: Discovery call"
    assert task["TaskSubtype"] == "Call"
    assert (task["WhoId"], task["Status"], task["IsClosed"]) == (who, "Completed", True)
    assert task["CRM_Activity_Id__c"] == str(activity)
    assert task["Description"] == "They want a quote"
    assert task["CreatedById"] == sf.sfdc.org.integration_user_id
    [link] = sf.pushed()
    assert (link.crm_id, link.salesforce_id) == (activity, task["Id"])
    assert link.written_stamp == task["SystemModstamp"]  # our write's stamp, read back (H6)
    assert [(e.direction, e.action, e.rule) for e in sf.log() if e.crm_id == activity] == [
        ("outbound", "create", "H1")
    ]
    assert sf.call("GET", "/salesforce/status").get_json()["last_push_at"]


def test_h1_only_the_kinds_switched_on_are_pushed(sf: Org) -> None:
    ann, _ = linked(sf, "sales_email_opened")
    sf.activity("call", [ann])
    sf.activity("email", [ann], title="A plain email")  # never a pushed kind
    sf.activity("sales_email_opened", [ann], title="Pricing")
    assert outbox_rows(sf) == 1  # nothing is queued for a kind that is off
    sf.pull()
    assert [t["Subject"] for t in sf.tasks()] == ["Opened: Pricing"]
    doc = sf.call("GET", "/salesforce/settings").get_json()
    doc["outbound"]["email"] = {"enabled": True}
    assert sf.call("PUT", "/salesforce/settings", json=doc).status_code == 400


def test_h2_the_kinds_task_type_is_set(sf: Org) -> None:
    ann, _ = linked(sf, "call", "form_submission")
    sf.push_on(call="Call")
    sf.activity("call", [ann])
    sf.activity("form_submission", [ann], title="Demo request")
    sf.pull()
    assert {t["Subject"]: t["Type"] for t in sf.tasks()} == {
        "Call: Discovery call": "Call",
        "Submitted: Demo request": None,
    }


SUBJECTS = [
    ("call", "Call: Discovery call", "Call"),
    ("task", "Task: Discovery call", "Task"),
    ("sales_email_sent", "Sent: Discovery call", "Email"),
    ("sales_email_opened", "Opened: Discovery call", "Email"),
    ("sales_email_clicked", "Clicked: Discovery call", "Email"),
    ("sales_email_replied", "Replied: Discovery call", "Email"),
    ("marketing_email_sent", "Sent: Discovery call", "Email"),
    ("marketing_email_opened", "Opened: Discovery call", "Email"),
    ("marketing_email_clicked", "Clicked: Discovery call", "Email"),
    ("form_submission", "Submitted: Discovery call", "Task"),
    ("sales_content_view", "Viewed: Discovery call", "Task"),
    ("integration_event", "Event: Discovery call", "Task"),
]


@pytest.mark.parametrize(("kind", "subject", "subtype"), SUBJECTS)
def test_h3_subject_patterns_and_task_subtypes(
    sf: Org, kind: str, subject: str, subtype: str
) -> None:
    ann, _ = linked(sf, kind)
    sf.activity(kind, [ann])
    sf.pull()
    [task] = sf.tasks()
    assert (task["Subject"], task["TaskSubtype"]) == (subject, subtype)


def test_h3_a_note_from_the_sidebar_is_a_task_with_its_first_80_characters(sf: Org) -> None:
    ann, who = linked(sf, "note", "meeting")
    meeting = pricing_review(sf)
    body = "Alice wants the 200-seat quote by Friday. " * 4
    response = sf.call("POST", f"/meetings/{meeting['id']}/notes", json={"body": body})
    assert response.status_code == 201, response.get_json()
    sf.pull()
    subjects = sorted(t["Subject"] for t in sf.tasks(WhoId=who))
    assert subjects == ["Meeting: Pricing review", "Note: " + " ".join(body.split())[:80]]
    assert ann


def test_h4_nothing_from_before_the_switch(sf: Org) -> None:
    who = sf.sf_contact(ANN)
    ann = sf.contact(ANN)
    sf.pull()
    before = sf.activity("call", [ann], title="Before")
    sf.push_on("call")
    sf.activity("call", [ann], title="After")
    sf.activity(
        "call", [ann], occurred_at=(utcnow() - timedelta(days=3)).isoformat(), title="Logged late"
    )
    sf.call("PATCH", f"/activities/{before}", json={"body": "changed after the switch"})
    sf.pull()
    assert sorted(t["Subject"] for t in sf.tasks(WhoId=who)) == [
        "Call: After",
        "Call: Logged late",
    ]


def test_h4_an_activity_waits_for_its_contact_to_be_linked(sf: Org) -> None:
    sf.push_on("call")
    ann = sf.contact(ANN)
    activity = sf.activity("call", [ann])
    sf.pull()
    assert sf.tasks() == []
    assert ("skip", "H4") in [(e.action, e.rule) for e in sf.log() if e.crm_id == activity]
    who = sf.sf_contact(ANN)
    sf.pull()  # linked now, and its activity pushed in the same run
    assert [t["WhoId"] for t in sf.tasks()] == [who]


@pytest.mark.parametrize(
    ("kind", "days", "pushed"),
    [
        ("marketing_email_opened", 29, True),
        ("marketing_email_opened", 31, False),
        ("marketing_email_sent", 29, True),
        ("form_submission", 364, True),
        ("form_submission", 366, False),
        ("call", 1, False),  # no look-back for calls
    ],
)
def test_h4_look_back_windows_when_a_contact_is_linked(
    sf: Org, kind: str, days: int, pushed: bool
) -> None:
    ann = sf.contact(ANN)
    when = utcnow() - timedelta(days=days)
    sf.activity(kind, [ann], title="Old", occurred_at=when.isoformat())
    sf.push_on(kind)
    sf.sf_contact(ANN)
    sf.pull()
    assert len(sf.tasks()) == (1 if pushed else 0)


def test_h4_no_look_back_for_a_contact_linked_before_the_switch(sf: Org) -> None:
    ann, _ = linked(sf)
    sf.activity("form_submission", [ann], occurred_at=(utcnow() - timedelta(days=3)).isoformat())
    sf.push_on("form_submission")
    sf.pull()
    assert sf.tasks() == []


def test_h5_one_target_the_most_recently_created_linked_contact(sf: Org) -> None:
    sf.push_on("call")
    ann, ben, cat = sf.contact(ANN), sf.contact(BEN), sf.contact(CAT)
    sf.sf_contact(ANN)
    ben_who = sf.sf_contact(BEN)  # cat, the newest CRM contact, has no Salesforce record
    with sf.database.transaction() as session:
        base = utcnow() - timedelta(days=1)
        for offset, contact in enumerate((ann, ben, cat)):
            session.execute(
                update(Contact)
                .where(Contact.id == contact)
                .values(created_at=base + timedelta(minutes=offset))
            )
    sf.pull()
    sf.activity("call", [ann, ben, cat])
    sf.pull()
    assert [t["WhoId"] for t in sf.tasks()] == [ben_who]


def test_h5_equal_creation_times_go_to_the_highest_id(sf: Org) -> None:
    sf.push_on("call")
    ann, ben = sf.contact(ANN), sf.contact(BEN)
    sf.sf_contact(ANN)
    ben_who = sf.sf_contact(BEN)
    same = utcnow() - timedelta(days=1)
    with sf.database.transaction() as session:
        session.execute(update(Contact).where(Contact.id.in_([ann, ben])).values(created_at=same))
    sf.pull()
    sf.activity("call", [ben, ann])
    sf.pull()
    assert max(ann, ben) == ben
    assert [t["WhoId"] for t in sf.tasks()] == [ben_who]


def test_h5_a_newer_contact_linked_later_takes_the_task(sf: Org) -> None:
    ann, _ = linked(sf, "call")
    ben = sf.contact(BEN)
    activity = sf.activity("call", [ann, ben])
    sf.pull()
    ben_who = sf.sf_contact(BEN)
    sf.pull()
    [task] = sf.tasks()
    assert (task["WhoId"], task["CRM_Activity_Id__c"]) == (ben_who, str(activity))


def test_h6_our_own_writes_are_not_pulled_back(sf: Org) -> None:
    ann, _ = linked(sf, "call")
    sf.switch(call=True, task=True)
    activity = sf.activity("call", [ann])
    sf.pull()
    sf.call("PATCH", f"/activities/{activity}", json={"title": "Renamed"})
    sf.pull()  # the update is written by the integration user
    sf.pull()  # and read back: our own write, no news
    [task] = sf.tasks()
    assert task["Subject"] == "Call: Renamed"
    assert task["LastModifiedById"] == sf.sfdc.org.integration_user_id
    inbound = [e for e in sf.log() if e.direction == "inbound" and e.salesforce_id == task["Id"]]
    assert inbound == []
    timeline = sf.timeline(ann)
    assert [(i["type"], i["title"]) for i in timeline] == [("call", "Renamed")]


def test_h6_a_persons_edit_of_a_pushed_task_is_pulled(sf: Org) -> None:
    ann, _ = linked(sf, "call")
    sf.switch(call=True)
    activity = sf.activity("call", [ann], body="first")
    sf.pull()
    [task] = sf.tasks()
    with sf.clock_at(3):
        changes = {"Subject": "Call: Discovery (moved)", "Description": "notes from Salesforce"}
        sf.sfdc.org.update("Task", task["Id"], changes)
    sf.pull()
    item = sf.call("GET", f"/activities/{activity}").get_json()
    assert (item["title"], item["body"]) == ("Discovery (moved)", "notes from Salesforce")
    assert item["contact_ids"] == [ann]
    assert len(sf.tasks()) == 1
    assert ("update", "H6") in sf.reasons(task["Id"])
    sf.pull()  # the pulled change is not pushed back
    assert sf.tasks()[0]["LastModifiedById"] == sf.sfdc.org.rep_user_id


def test_h6_what_the_pull_made_is_never_pushed(sf: Org) -> None:
    _, who = linked(sf, "call", "task")
    sf.switch(call=True, task=True)
    sf.task(who, "Call", Subject="Logged in Salesforce")
    sf.pull()
    sf.pull()
    assert [t["Subject"] for t in sf.tasks()] == ["Logged in Salesforce"]
    assert outbox_rows(sf) == 0


def test_h7_an_edit_updates_the_task_and_an_unchanged_one_sends_nothing(sf: Org) -> None:
    ann, _ = linked(sf, "call")
    activity = sf.activity("call", [ann])
    sf.pull()
    sf.call("PATCH", f"/activities/{activity}", json={"body": "follow-up booked"})
    sf.pull()
    [task] = sf.tasks()
    assert task["Description"] == "follow-up booked"
    sf.call("PATCH", f"/activities/{activity}", json={"properties": {"x": 1}})  # not on the Task
    seen = len(sf.sfdc.org.requests)
    sf.pull()
    writes = [r for r in sf.sfdc.org.requests[seen:] if "composite" in r.path]
    assert writes == []
    assert outbox_rows(sf) == 0


def test_h1_a_crm_delete_deletes_the_task_or_keeps_it(sf: Org) -> None:
    ann, _ = linked(sf, "call", "task")
    gone = sf.activity("call", [ann], title="Gone")
    kept = sf.activity("task", [ann], title="Kept")
    sf.pull()
    doc = sf.call("GET", "/salesforce/settings").get_json()
    doc["outbound"]["task"]["on_delete"] = "keep"
    assert sf.call("PUT", "/salesforce/settings", json=doc).status_code == 200
    assert sf.call("DELETE", f"/activities/{gone}").status_code == 204
    assert sf.call("DELETE", f"/activities/{kept}").status_code == 204
    sf.pull()
    assert [t["Subject"] for t in sf.tasks()] == ["Task: Kept"]
    assert ("delete", "H1") in [(e.action, e.rule) for e in sf.log() if e.crm_id == gone]


def test_h1_activity_date_is_the_local_date(sf: Org) -> None:
    ann, _ = linked(sf, "call")  # the integration user is in America/Los_Angeles
    late = datetime(2026, 12, 4, 3, 30, tzinfo=UTC)  # 19:30 on the 3rd in Los Angeles
    sf.activity("call", [ann], occurred_at=late.isoformat())
    sf.pull()
    assert str(sf.tasks()[0]["ActivityDate"]) == "2026-12-03"


def test_p6_what_id_from_the_deal_else_the_company_and_owner_from_the_user(sf: Org) -> None:
    ann, _ = linked(sf, "call")
    org = sf.sfdc.org
    account = str(org.insert("Account", {"Name": "Client Co"}))
    opportunity = str(
        org.insert(
            "Opportunity",
            {
                "Name": "200 seats",
                "AccountId": account,
                "StageName": "Prospecting",
                "CloseDate": "2027-01-31",
            },
        )
    )
    owner = org.add_user(ADMIN, "Ada Admin")
    with sf.database.transaction() as session:
        company = services.create_record(session, sf.tenant.account_id, "company", "Client Co")
        deal = services.create_record(session, sf.tenant.account_id, "deal", "200 seats")
        deal.company_id = company.id
        company_id, deal_id = company.id, deal.id
    sf.activity(
        "call",
        [ann],
        title="With deal",
        owner_email=ADMIN,
        associations=[{"type": "company", "id": company_id}, {"type": "deal", "id": deal_id}],
    )
    sf.activity(
        "call", [ann], title="With company", associations=[{"type": "company", "id": company_id}]
    )
    sf.pull()
    got = {t["Subject"]: (t["WhatId"], t["OwnerId"]) for t in sf.tasks()}
    assert got == {
        "Call: With deal": (opportunity, owner),
        "Call: With company": (account, org.integration_user_id),
    }


def test_p6_an_inactive_owner_leaves_the_task_to_the_integration_user(sf: Org) -> None:
    ann, _ = linked(sf, "call")
    sf.sfdc.org.add_user(ADMIN, "Ada Admin", active=False)
    activity = sf.activity("call", [ann], owner_email=ADMIN)
    sf.pull()
    assert sf.tasks()[0]["OwnerId"] == sf.sfdc.org.integration_user_id
    assert ("warning", "P6") in [(e.action, e.rule) for e in sf.log() if e.crm_id == activity]


def test_p6_a_lead_gets_no_what_id(sf: Org) -> None:
    sf.push_on("call")
    lead = str(sf.sfdc.org.insert("Lead", {"LastName": "Lee", "Company": "C", "Email": ANN}))
    ann = sf.contact(ANN)
    sf.sfdc.org.insert("Account", {"Name": "Client Co"})
    with sf.database.transaction() as session:
        company = services.create_record(session, sf.tenant.account_id, "company", "Client Co")
        company_id = company.id
    sf.pull()
    sf.activity("call", [ann], associations=[{"type": "company", "id": company_id}])
    sf.pull()
    [task] = sf.tasks()
    assert (task["WhoId"], task["WhatId"]) == (lead, None)


def test_another_accounts_activities_never_reach_this_org(sf: Org, make_tenant: object) -> None:
    linked(sf, "call")
    other = make_tenant("Other", "other.example")  # type: ignore[operator]
    with sf.database.transaction() as session:
        contact = services.create_contact(session, other.account_id, ANN, "Ann", "Lee")
        contact_id = contact.id
    response = other.call(
        "POST",
        "/activities",
        json={
            "type": "call",
            "title": "Theirs",
            "occurred_at": utcnow().isoformat(),
            "contact_ids": [contact_id],
        },
    )
    assert response.status_code == 201
    sf.pull()
    assert sf.tasks() == []
    assert outbox_rows(sf) == 0


def test_h1_a_change_schedules_a_push_shortly_after_it_commits(sf: Org) -> None:
    ann, _ = linked(sf, "call")
    huey = sf.app.extensions["jobs"].huey
    huey.flush()
    for title in ("First", "Second", "Third"):
        sf.activity("call", [ann], title=title)
    queued = []
    while (task := huey.dequeue()) is not None:
        queued.append(task)
    assert [t.name for t in queued] == ["salesforce.push"] * 3  # one per transaction
    assert all(t.args == (sf.tenant.account_id,) and t.eta for t in queued)  # delayed
    seen = len(sf.sfdc.org.requests)
    for task in queued:
        huey.execute(task, timestamp=task.eta)  # as the consumer does once it is due
    upserts = [r for r in sf.sfdc.org.requests[seen:] if r.method == "PATCH"]
    assert len(upserts) == 1  # the first push took all three; the others found nothing
    assert sorted(t["Subject"] for t in sf.tasks()) == [
        "Call: First",
        "Call: Second",
        "Call: Third",
    ]


def test_h1_a_deleted_meeting_takes_its_notes_tasks_along(sf: Org) -> None:
    linked(sf, "meeting", "note")
    meeting = pricing_review(sf)
    sf.call("POST", f"/meetings/{meeting['id']}/notes", json={"body": "Budget approved."})
    sf.pull()
    assert len(sf.tasks()) == 2
    assert sf.call("DELETE", f"/meetings/{meeting['id']}").status_code == 204
    sf.pull()
    assert sf.tasks() == []


@pytest.mark.parametrize("external", [True, False])
def test_h6_a_pushed_task_deleted_in_salesforce_is_made_again_by_the_next_edit(
    sf: Org, external: bool
) -> None:
    sf.sfdc.org.external_id_field = external
    ann, _ = linked(sf, "call")  # calls are not pulled: the deletion is seen by the push
    activity = sf.activity("call", [ann])
    sf.pull()
    [task] = sf.tasks()
    sf.sfdc.org.delete("Task", task["Id"])
    sf.call("PATCH", f"/activities/{activity}", json={"title": "Renamed"})
    assert sf.pull().status == "ok"
    [again] = sf.tasks()
    assert (again["Subject"], again["WhoId"]) == ("Call: Renamed", task["WhoId"])
    assert [link.salesforce_id for link in sf.pushed()] == [again["Id"]]
    assert [e for e in sf.log() if e.status == "failed"] == []
    assert outbox_rows(sf) == 0
