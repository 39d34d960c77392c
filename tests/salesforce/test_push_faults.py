"""The push under faults (H7, H8): a crash at each step, an org without the external-id
field, a record refused or locked inside its batch, the daily budget running out between
batches, the org's own limit and an outage. Whatever happens, the next run finishes the work:
one Task per activity, with its latest content, and an empty outbox."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import select

from server.salesforce import org as orgs
from server.salesforce.models import SalesforceOutbox
from server.salesforce.tasks import retry
from tests.salesforce.conftest import Org

ANN = "ann@client.example"


class Crash(Exception):
    pass


@pytest.fixture
def sleeps(monkeypatch: pytest.MonkeyPatch) -> list[float]:
    """The client's back-off sleeps, recorded instead of slept."""
    slept: list[float] = []
    real = orgs.open_api

    def quick(*args: Any, **kwargs: Any) -> Any:
        api = real(*args, **kwargs)
        api.sleep = slept.append
        return api

    monkeypatch.setattr(orgs, "open_api", quick)
    return slept


def ready(sf: Org, *, external: bool = True) -> int:
    """Calls pushed, Ann linked (a first run); her CRM contact's id."""
    sf.sfdc.org.external_id_field = external  # before the first push: its setup is cached
    sf.sf_contact(ANN)
    ann = sf.contact(ANN)
    sf.push_on("call")
    assert sf.pull().status == "ok"
    return ann


def calls(sf: Org, ann: int, titles: list[str]) -> dict[int, str]:
    """Activities made; their id -> the Subject their Task should have."""
    return {sf.activity("call", [ann], title=t): f"Call: {t}" for t in titles}


def outbox(sf: Org) -> list[int]:
    with sf.database.transaction() as session:
        query = select(SalesforceOutbox.engagement_id).where(
            SalesforceOutbox.account_id == sf.tenant.account_id
        )
        return list(session.scalars(query))


def failures(sf: Org, activity: int) -> list[str]:
    return [
        e.error
        for e in sf.log()
        if e.crm_id == activity
        and (e.direction, e.action, e.rule, e.status) == ("outbound", "error", "H7", "failed")
    ]


def crash_at(point: str) -> Callable[[str], None]:
    def fault(at: str) -> None:
        if at == point:
            raise Crash(at)

    return fault


def resume(sf: Org) -> None:
    with sf.database.transaction() as session:
        row = orgs.org_of(session, sf.tenant.account_id)
        assert row is not None
        row.paused_until = None


def set_budget(sf: Org, budget: int) -> None:
    doc = sf.call("GET", "/salesforce/settings").get_json()
    doc["daily_api_budget"] = budget
    response = sf.call("PUT", "/salesforce/settings", json=doc)
    assert response.status_code == 200, response.get_json()


def api_requests(sf: Org) -> list[Any]:
    return [r for r in sf.sfdc.org.requests if r.path.startswith("/services/data/")]


def assert_pushed_once(sf: Org, expected: dict[int, str], *, external: bool = True) -> None:
    """Exactly one live Task per activity, with its Subject; links stored; outbox empty."""
    tasks = {str(t["Id"]): t for t in sf.tasks()}
    assert sorted(t["Subject"] for t in tasks.values()) == sorted(expected.values())
    linked = {link.crm_id: link.salesforce_id for link in sf.pushed()}
    assert len(sf.pushed()) == len(linked) == len(expected)
    assert set(linked) == set(expected)
    for activity, subject in expected.items():
        task = tasks[linked[activity]]
        assert task["Subject"] == subject
        if external:
            assert task["CRM_Activity_Id__c"] == str(activity)
    assert outbox(sf) == []


# -- H7: a crash at each step -------------------------------------------------------------------


@pytest.mark.parametrize("point", ["planned", "sent", "stored"])
def test_h7_a_crash_at_each_push_step_leaves_one_task_per_activity(sf: Org, point: str) -> None:
    ann = ready(sf)
    expected = calls(sf, ann, ["Call 0", "Call 1", "Call 2"])
    with pytest.raises(Crash):
        sf.pull(crash_at(point))
    assert len(sf.tasks()) == (0 if point == "planned" else 3)
    edited = next(iter(expected))
    response = sf.call("PATCH", f"/activities/{edited}", json={"title": "Call 0 (edited)"})
    assert response.status_code == 200, response.get_json()
    expected[edited] = "Call: Call 0 (edited)"
    result = sf.pull()
    assert result.status == "ok", result.error
    assert_pushed_once(sf, expected)
    assert all(failures(sf, a) == [] for a in expected)
    assert sf.pull().status == "ok"  # and a run after that changes nothing
    assert_pushed_once(sf, expected)


def creates_sent(sf: Org) -> int:
    posts = [r for r in sf.sfdc.org.requests if r.method == "POST" and "composite" in r.path]
    return sum(len(r.body["records"]) for r in posts)


@pytest.mark.parametrize("point", ["planned", "sent", "stored"])
def test_h7_without_the_external_id_a_lost_create_is_found_not_made_again(
    sf: Org, point: str
) -> None:
    ann = ready(sf, external=False)
    expected = calls(sf, ann, ["Call 0", "Call 1", "Call 2"])
    with pytest.raises(Crash):
        sf.pull(crash_at(point))
    assert len(sf.tasks()) == (0 if point == "planned" else 3)
    result = sf.pull()
    assert result.status == "ok", result.error
    assert_pushed_once(sf, expected, external=False)
    assert creates_sent(sf) == 3  # each created once, ever


def test_h7_without_the_external_id_a_lost_create_is_found_despite_clock_skew(sf: Org) -> None:
    ann = ready(sf, external=False)
    expected = calls(sf, ann, ["Call 0", "Call 1", "Call 2"])
    with pytest.raises(Crash):
        sf.pull(crash_at("sent"))  # the harness's clocks: the app's 6 s ahead of the org's
    assert sf.pull().status == "ok"
    assert len(sf.tasks()) == 3
    assert_pushed_once(sf, expected, external=False)


def test_h7_without_the_external_id_a_lost_create_edited_meanwhile_is_not_doubled(
    sf: Org,
) -> None:
    ann = ready(sf, external=False)
    expected = calls(sf, ann, ["Call 0", "Call 1", "Call 2"])
    with pytest.raises(Crash):
        sf.pull(crash_at("sent"))
    edited = next(iter(expected))
    response = sf.call("PATCH", f"/activities/{edited}", json={"title": "Call 0 (edited)"})
    assert response.status_code == 200, response.get_json()
    expected[edited] = "Call: Call 0 (edited)"
    assert sf.pull().status == "ok"
    assert len(sf.tasks()) == 3
    assert_pushed_once(sf, expected, external=False)


# -- H7: one bad record never fails its batch ---------------------------------------------------


def test_h7_one_invalid_record_fails_alone_and_a_retry_pushes_it_once(sf: Org) -> None:
    ann = ready(sf)
    sf.sfdc.org.fail_record("Bad", "FIELD_CUSTOM_VALIDATION_EXCEPTION")
    expected = calls(sf, ann, ["Good 1", "Bad idea", "Good 2"])
    bad = next(a for a, s in expected.items() if "Bad" in s)
    result = sf.pull()
    assert result.status == "ok", result.error
    assert sorted(t["Subject"] for t in sf.tasks()) == ["Call: Good 1", "Call: Good 2"]
    assert {link.crm_id for link in sf.pushed()} == set(expected) - {bad}
    [error] = failures(sf, bad)
    assert "FIELD_CUSTOM_VALIDATION_EXCEPTION" in error
    assert outbox(sf) == []  # the failure waits in the log for a retry
    (shown,) = sf.call("GET", "/salesforce/status").get_json()["errors"]
    assert "FIELD_CUSTOM_VALIDATION_EXCEPTION" in shown["error"]
    sf.sfdc.org.clear_faults()
    response = sf.call("POST", "/salesforce/retry")
    assert (response.status_code, response.get_json()) == (202, {"queued": 1})
    assert retry(sf.env(), sf.tenant.account_id) == 1
    assert_pushed_once(sf, expected)
    statuses = [e.status for e in sf.log() if e.crm_id == bad and e.direction == "outbound"]
    assert statuses == ["retried", ""]
    assert sf.call("GET", "/salesforce/status").get_json()["errors"] == []


@pytest.mark.parametrize("external", [True, False], ids=["upsert", "create"])
def test_h7_a_locked_record_is_sent_again_in_the_same_run(
    sf: Org, sleeps: list[float], external: bool
) -> None:
    ann = ready(sf, external=external)
    sf.sfdc.org.fail_record("Locked", count=2)  # UNABLE_TO_LOCK_ROW, twice
    expected = calls(sf, ann, ["Locked one", "Free one"])
    result = sf.pull()
    assert result.status == "ok", result.error
    assert_pushed_once(sf, expected, external=external)
    writes = [r for r in sf.sfdc.org.requests if r.method in ("PATCH", "POST")]
    sent = [len(r.body["records"]) for r in writes if "composite/sobjects" in r.path]
    assert sent == [2, 1, 1]
    assert sleeps == [0.5, 1.0]
    assert all(failures(sf, a) == [] for a in expected)


# -- H8: the daily budget, the org's limit, an outage ------------------------------------------


def test_h8_the_budget_runs_out_between_batches_and_the_next_run_pushes_the_rest(
    sf: Org,
) -> None:
    ann = ready(sf)
    warm = calls(sf, ann, ["Warm-up 0"])
    assert sf.pull().status == "ok"  # the push's setup is asked now, and cached for a day
    warm |= calls(sf, ann, ["Warm-up 1"])
    before = sf.row().api_calls_today
    assert sf.pull().status == "ok"
    one_batch = sf.row().api_calls_today - before  # a run that pushes one batch
    assert one_batch > 0
    expected = calls(sf, ann, [f"Call {i}" for i in range(250)])
    budget = sf.row().api_calls_today + one_batch
    set_budget(sf, budget)
    result = sf.pull()
    assert result.status == "paused", result.error
    assert "budget" in result.error
    assert sf.row().paused_until is not None
    assert sf.row().api_calls_today == budget
    pushed = {link.crm_id for link in sf.pushed()} - set(warm)
    assert pushed == set(list(expected)[:200])  # the oldest first
    assert len(sf.tasks()) == 202
    assert sorted(outbox(sf)) == sorted(list(expected)[200:])
    status = sf.call("GET", "/salesforce/status").get_json()
    assert status["api_calls_today"] == budget == len(api_requests(sf))
    assert sf.pull().status == "paused"  # nothing asked of the org meanwhile
    assert len(api_requests(sf)) == budget
    set_budget(sf, budget + 100)
    resume(sf)
    result = sf.pull()
    assert result.status == "ok", result.error
    assert_pushed_once(sf, warm | expected)
    status = sf.call("GET", "/salesforce/status").get_json()
    assert 0 < status["api_calls_today"] == len(api_requests(sf)) <= budget + 100


ARMED = ["before the run", "after the send"]


def armed(when: str, fail: Callable[[], None]) -> Callable[[str], None]:
    """``fail`` arms the org's fault now, or once the batch is sent (its stamps read back
    then meet it, the Tasks written but nothing stored)."""
    if when == "before the run":
        fail()
        return lambda point: None
    return lambda point: fail() if point == "sent" else None


@pytest.mark.parametrize("external", [True, False], ids=["upsert", "create"])
@pytest.mark.parametrize("when", ARMED)
def test_h8_the_orgs_request_limit_pauses_and_the_next_run_doubles_nothing(
    sf: Org, when: str, external: bool
) -> None:
    ann = ready(sf, external=external)
    expected = calls(sf, ann, ["Call 0", "Call 1", "Call 2"])
    org = sf.sfdc.org
    fault = armed(
        when, lambda: org.fail_next(403, "REQUEST_LIMIT_EXCEEDED", path_contains="composite")
    )
    result = sf.pull(fault)
    assert result.status == "paused", result.error
    assert sf.row().paused_until is not None
    assert len(sf.tasks()) == (0 if when == "before the run" else 3)
    assert sorted(outbox(sf)) == sorted(expected)
    assert sf.pull().status == "paused"
    resume(sf)
    result = sf.pull()
    assert result.status == "ok", result.error
    assert_pushed_once(sf, expected, external=external)
    status = sf.call("GET", "/salesforce/status").get_json()
    assert 0 < status["api_calls_today"] == len(api_requests(sf))


@pytest.mark.parametrize("external", [True, False], ids=["upsert", "create"])
@pytest.mark.parametrize("when", ARMED)
def test_h8_an_outage_outlasting_the_retries_pauses_and_the_next_run_doubles_nothing(
    sf: Org, sleeps: list[float], when: str, external: bool
) -> None:
    ann = ready(sf, external=external)
    expected = calls(sf, ann, ["Call 0", "Call 1", "Call 2"])
    org = sf.sfdc.org
    fault = armed(when, lambda: org.fail_next(503, count=4, path_contains="composite"))
    result = sf.pull(fault)
    assert result.status == "paused", result.error
    assert "unavailable" in result.error
    assert sleeps == [2.0, 4.0, 8.0]  # three retries, backing off
    assert len(sf.tasks()) == (0 if when == "before the run" else 3)
    assert sorted(outbox(sf)) == sorted(expected)
    assert sf.pull().status == "paused"
    sf.skew += timedelta(minutes=6)  # the pause is over
    result = sf.pull()
    assert result.status == "ok", result.error
    assert_pushed_once(sf, expected, external=external)
