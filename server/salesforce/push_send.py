"""The push's side of the wire: what the org is like (asked once a day), and sending a
batch as sObject Collections with ``allOrNone=false`` (H7): an upsert on the external-id
field where Tasks have it; else creates and updates, a create whose answer was lost looked up
before it is sent again. ``UNABLE_TO_LOCK_ROW`` records are sent again (H8); a create sent
again with its create-only ``TaskSubtype`` after a lost answer is sent once more without it.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from server.salesforce import links, soql
from server.salesforce import org as orgs
from server.salesforce.client import SalesforceApi
from server.salesforce.convert import parse_stamp
from server.salesforce.env import SyncEnv
from server.salesforce.models import SalesforceLink
from server.salesforce.outgoing import Setup, subtype

BATCH = 200
EXTERNAL_ID = "CRM_Activity_Id__c"
SETUP_KEY = "push_setup"
SETUP_TTL = timedelta(days=1)
LOCK_ATTEMPTS = 3
SKEW = timedelta(minutes=15)


@dataclass
class Send:
    """One engagement of a batch to write (or delete) in Salesforce."""

    engagement_id: int
    kind: str
    rows: list[int]
    fields: dict[str, Any] = field(default_factory=dict)
    link: SalesforceLink | None = None
    salesforce_id: str | None = None  # known: an update; else a create
    delete: bool = False
    # Creates sent before (no external-id field), each {at, who, subject}: any answer lost?
    attempts: list[dict[str, Any]] = field(default_factory=list)
    result: dict[str, Any] | None = None  # Salesforce's SaveResult


# -- what the org is like ----------------------------------------------------------------------


def setup_of(env: SyncEnv, api: SalesforceApi, account_id: int) -> Setup:
    """The org's Task setup, asked again once a day (three calls)."""
    with env.database.transaction() as session:
        org = orgs.org_of(session, account_id)
        assert org is not None
        known = (org.cursors or {}).get(SETUP_KEY)
        user_id = org.integration_user_id
    now = env.now()
    if known and datetime.fromisoformat(known["asked_at"]) > now - SETUP_TTL:
        return Setup(**known)
    described = api.describe("Task")
    external = any(
        f.get("name") == EXTERNAL_ID and f.get("externalId") for f in described.get("fields") or ()
    )
    statuses = [
        r
        for page in api.query_pages(
            soql.select(
                ("MasterLabel", "IsDefault"),
                "TaskStatus",
                ["IsClosed = true"],
                order=("SortOrder",),
            ),
            include_deleted=False,
        )
        for r in page
    ]
    labels = [str(r["MasterLabel"]) for r in statuses]
    closed = "Completed" if "Completed" in labels else (labels[0] if labels else "Completed")
    zone = "UTC"
    query = soql.select(("Id", "TimeZoneSidKey"), "User", [f"Id = {soql.record_id(user_id)}"])
    for page in api.query_pages(query, include_deleted=False):
        for record in page:
            zone = str(record.get("TimeZoneSidKey") or "UTC")
    setup = Setup(external, closed, zone, now.isoformat())
    with env.database.transaction() as session:
        org = orgs.org_of(session, account_id)
        assert org is not None
        org.cursors = {**(org.cursors or {}), SETUP_KEY: setup.as_json()}
        orgs.record_usage(org, api, now)
    return setup


# -- sending -----------------------------------------------------------------------------------


def send_batch(
    env: SyncEnv, api: SalesforceApi, account_id: int, setup: Setup, sends: list[Send]
) -> None:
    deletes = [s for s in sends if s.delete]
    writes = [s for s in sends if not s.delete]
    if not setup.external_id:
        _find_lost_creates(env, api, account_id, writes)
    if deletes:
        answers = api.restful(
            "composite/sobjects",
            method="DELETE",
            params={"ids": ",".join(str(s.salesforce_id) for s in deletes), "allOrNone": "false"},
        )
        for send, answer in zip(deletes, answers or (), strict=False):
            send.result = dict(answer)
    todo = writes
    for attempt in range(LOCK_ATTEMPTS):
        if not todo:
            break
        if attempt:
            api.sleep(0.5 * attempt)
        _write(api, setup, todo)
        todo = [s for s in todo if code_of(s) == "UNABLE_TO_LOCK_ROW"]
    # A create whose answer was lost, sent again with its create-only TaskSubtype: it exists.
    again = [
        s for s in writes if code_of(s) == "INVALID_FIELD_FOR_INSERT_UPDATE" and s.link is None
    ]
    if again and setup.external_id:
        _write(api, setup, again, with_subtype=False)


def _write(
    api: SalesforceApi, setup: Setup, sends: Sequence[Send], *, with_subtype: bool = True
) -> None:
    def record(send: Send, create: bool) -> dict[str, Any]:
        body: dict[str, Any] = {"attributes": {"type": "Task"}, **send.fields}
        if create and with_subtype:
            body["TaskSubtype"] = subtype(send.kind)
        return body

    if setup.external_id:
        records = [{**record(s, s.link is None), EXTERNAL_ID: str(s.engagement_id)} for s in sends]
        answers = api.restful(
            f"composite/sobjects/Task/{EXTERNAL_ID}",
            method="PATCH",
            json={"allOrNone": False, "records": records},
        )
        for send, answer in zip(sends, answers or (), strict=False):
            send.result = dict(answer)
        return
    creates = [s for s in sends if s.salesforce_id is None]
    updates = [s for s in sends if s.salesforce_id is not None]
    if creates:
        answers = api.restful(
            "composite/sobjects",
            method="POST",
            json={"allOrNone": False, "records": [record(s, True) for s in creates]},
        )
        for send, answer in zip(creates, answers or (), strict=False):
            send.result = dict(answer)
    if updates:
        records = [{**record(s, False), "Id": s.salesforce_id} for s in updates]
        answers = api.restful(
            "composite/sobjects", method="PATCH", json={"allOrNone": False, "records": records}
        )
        for send, answer in zip(updates, answers or (), strict=False):
            send.result = dict(answer)


def _find_lost_creates(
    env: SyncEnv, api: SalesforceApi, account_id: int, writes: list[Send]
) -> None:
    """Creates sent before whose answer never came back (no external-id field): a Task the
    integration user created since one of those attempts, for its person under its subject,
    and linked to nothing else, is the one; it is updated instead of made twice. The window
    opens ``SKEW`` before the attempt: the org's clock is not ours."""
    lost = [s for s in writes if s.attempts and s.salesforce_id is None]
    if not lost:
        return
    with env.database.transaction() as session:
        org = orgs.org_of(session, account_id)
        assert org is not None
        user_id = org.integration_user_id
    attempts = [a for s in lost for a in s.attempts]
    since = min(datetime.fromisoformat(a["at"]) for a in attempts) - SKEW
    who = sorted({str(a["who"]) for a in attempts})
    query = soql.select(
        ("Id", "WhoId", "Subject"),
        "Task",
        [
            f"CreatedById = {soql.record_id(user_id)}",
            f"CreatedDate >= {soql.instant(since)}",
            soql.in_list("WhoId", (soql.record_id(w) for w in who)),
        ],
        order=("CreatedDate", "Id"),
    )
    found = [r for page in api.query_pages(query, include_deleted=False) for r in page]
    with env.database.transaction() as session:
        ids = [str(r["Id"]) for r in found]
        taken = set(links.by_record(session, account_id, "activity", ids))
        taken |= set(links.by_record(session, account_id, "meeting", ids))
        taken |= set(links.by_record(session, account_id, "note", ids))
    for send in lost:
        sent_as = {(str(a["who"]), str(a["subject"])) for a in send.attempts}
        for record in found:
            key = (str(record.get("WhoId") or ""), str(record.get("Subject") or ""))
            if key in sent_as and str(record["Id"]) not in taken:
                send.salesforce_id = str(record["Id"])
                taken.add(send.salesforce_id)
                break


def code_of(send: Send) -> str:
    errors = (send.result or {}).get("errors") or ()
    return str(errors[0].get("statusCode") or "") if errors else ""


def written(send: Send) -> bool:
    return not send.delete and bool(send.result and send.result.get("success"))


def stamps_of(api: SalesforceApi, ids: list[str]) -> dict[str, datetime]:
    """The ``SystemModstamp`` of our own writes, read back (one call per 200), so the pull
    knows them for ours (H6)."""
    out: dict[str, datetime] = {}
    for start in range(0, len(ids), BATCH):
        chunk = ids[start : start + BATCH]
        answer = api.restful(
            "composite/sobjects/Task",
            params={"ids": ",".join(chunk), "fields": "SystemModstamp"},
        )
        for record in answer or ():
            if record and record.get("SystemModstamp"):
                out[str(record["Id"])] = parse_stamp(record["SystemModstamp"])
    return out
