"""The push (H1-H9) through simple-salesforce against the stand-in org."""

from __future__ import annotations

from tests.salesforce.conftest import Org

ANN = "ann@client.example"


def test_h1_a_call_is_pushed_as_a_task(sf: Org) -> None:
    who = sf.sf_contact(ANN)
    ann = sf.contact(ANN)
    sf.push_on("call")
    sf.pull()
    activity = sf.activity("call", [ann], body="They want a quote")
    result = sf.pull()
    assert result.status == "ok", result.error
    [task] = sf.tasks()
    assert task["Subject"] == "Call: Discovery call"
    assert task["TaskSubtype"] == "Call"
    assert task["WhoId"] == who
    assert task["Status"] == "Completed"
    assert task["CRM_Activity_Id__c"] == str(activity)
    assert task["Description"] == "They want a quote"
