"""The pull: Salesforce Tasks (by ``TaskSubtype``), Events and the people they name, into the
CRM (P1-P7); one step of a sync run (``sync.py``).

Per sObject a ``(SystemModstamp, Id)`` cursor (P7): each run reads, through ``queryAll`` so
deletions come too, everything after the cursor and up to ``LAG`` before now (a record's
stamp can commit a little late), page by page; a page's CRM changes, log lines, API count and
the cursor moved to its last record commit together. A crash re-reads the page whose cursor
did not commit, and the links from Salesforce ids to CRM objects make re-applying it a no-op.
A record that cannot be applied (a value that does not convert, a CRM refusal) is rolled back
on its own, logged as failed with the error, and retried on request (H9); the others go on.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta
from typing import Any

from server.db import utcnow
from server.salesforce import document, links, references, soql
from server.salesforce import org as orgs
from server.salesforce.apply import Applier
from server.salesforce.client import Paused, SalesforceApi
from server.salesforce.convert import parse_stamp
from server.salesforce.env import SyncEnv, SyncResult
from server.salesforce.models import SalesforceOrg

log = logging.getLogger(__name__)

LAG = timedelta(seconds=5)
TASK_SUBTYPES = {"task": ("Task",), "email": ("Email", "ListEmail"), "call": ("Call",)}
PEOPLE = {
    "Contact": ("Id", "Email", "IsDeleted", "MasterRecordId", "SystemModstamp"),
    "Lead": ("Id", "Email", "IsDeleted", "MasterRecordId", "IsConverted", "SystemModstamp"),
}
BASE = ("Id", "WhoId", "WhatId", "OwnerId", "IsDeleted", "SystemModstamp", "LastModifiedById")
ACTIVITY_FIELDS = {
    "Task": (*BASE, "Subject", "TaskSubtype", "IsRecurrence"),
    "Event": (*BASE, "Subject", "IsChild", "IsRecurrence", "StartDateTime", "EndDateTime"),
}


def pull_changes(env: SyncEnv, api: SalesforceApi, account_id: int, result: SyncResult) -> None:
    """People first (links follow merges and new addresses), then the activity kinds switched
    on, each with its ``getDeleted`` backstop."""
    for sobject, fields in PEOPLE.items():
        _pages(env, api, account_id, sobject, fields, "", result)
    with env.database.transaction() as session:
        org = orgs.org_of(session, account_id)
        assert org is not None
        session.expunge(org)
    doc = orgs.settings_of(org)
    for sobject, where in _activity_queries(doc).items():
        _pages(env, api, account_id, sobject, fields_of(org, sobject), where, result)
        _deleted_backstop(env, api, account_id, sobject, result)


def _activity_queries(doc: dict[str, Any]) -> dict[str, str]:
    """Which sObjects to read, and the filter of the kinds switched on (P1)."""
    inbound = doc["inbound"]
    subtypes = [
        n for kind, names in TASK_SUBTYPES.items() if inbound[kind]["enabled"] for n in names
    ]
    out: dict[str, str] = {}
    if subtypes:
        out["Task"] = soql.in_list("TaskSubtype", (soql.string(n) for n in subtypes))
    if inbound["meeting"]["enabled"]:
        out["Event"] = ""
    return out


def fields_of(org: SalesforceOrg, sobject: str) -> tuple[str, ...]:
    """The base fields and every mapped field of the kinds read from ``sobject`` (P5)."""
    names = list(ACTIVITY_FIELDS[sobject])
    for kind, target in document.SOBJECT.items():
        if target == sobject:
            names += [m["salesforce_field"] for m in document.mappings_of(org.mappings, kind)]
    return tuple(dict.fromkeys(n for n in names if soql.is_ident(n)))


def _start(org: SalesforceOrg, sobject: str) -> tuple[datetime, str]:
    cursor = (org.cursors or {}).get(sobject)
    if cursor:
        return datetime.fromisoformat(cursor[0]), str(cursor[1])
    enabled = org.enabled_at or {}
    kinds = [k for k, target in document.SOBJECT.items() if target == sobject]
    stamps = [
        datetime.fromisoformat(enabled[f"inbound.{k}"]) for k in kinds if f"inbound.{k}" in enabled
    ]
    base = min(stamps) if stamps else org.connected_at or utcnow()
    # Salesforce stamps to the second: start before the second the switch (or connection)
    # fell in; P2 still judges each record by its own stamp.
    return base.replace(microsecond=0) - timedelta(seconds=1), ""


def _pages(
    env: SyncEnv,
    api: SalesforceApi,
    account_id: int,
    sobject: str,
    fields: tuple[str, ...],
    where: str,
    result: SyncResult,
) -> None:
    with env.database.transaction() as session:
        org = orgs.org_of(session, account_id)
        assert org is not None
        stamp, last_id = _start(org, sobject)
    upper = env.now() - LAG
    if upper <= stamp:
        return
    after = f"SystemModstamp > {soql.instant(stamp)}"
    if last_id:
        same = f"SystemModstamp = {soql.instant(stamp)} AND Id > {soql.record_id(last_id)}"
        after = f"({after} OR ({same}))"
    query = soql.select(
        fields,
        sobject,
        [after, f"SystemModstamp <= {soql.instant(upper)}", where],
        order=("SystemModstamp", "Id"),
    )
    for page in api.query_pages(query, include_deleted=True):
        env.fault("fetched")
        if sobject not in PEOPLE:
            _link_references(env, api, account_id, page)
        _apply_page(env, api, account_id, sobject, page, result)
        env.fault("committed")


def _apply_page(
    env: SyncEnv,
    api: SalesforceApi,
    account_id: int,
    sobject: str,
    page: list[dict[str, Any]],
    result: SyncResult,
) -> None:
    now = env.now()
    with env.database.transaction() as session:
        org = orgs.org_of(session, account_id)
        if org is None or not org.active:
            raise Paused("the org was disconnected meanwhile", 0)
        if sobject in PEOPLE:
            gone, emails = links.people_changes(page)
            links.unlink_records(session, account_id, gone)
            if emails:
                _relink(session, api, account_id, emails, now)
            result.actions["people"] += len(page)
        else:
            applier = Applier(session, org, now)
            applier.prepare(page)
            for record in page:
                result.actions[applier.apply(sobject, record)] += 1
            applier.flush_log()
        if page:
            last = page[-1]
            cursors = dict(org.cursors or {})
            cursors[sobject] = [parse_stamp(last["SystemModstamp"]).isoformat(), str(last["Id"])]
            org.cursors = cursors
        orgs.record_usage(org, api, now)
        org.heartbeat_at = now
        env.fault("applied")
    result.pages += 1
    result.records += len(page)


def _link_references(
    env: SyncEnv, api: SalesforceApi, account_id: int, page: list[dict[str, Any]]
) -> None:
    """P6: the page's WhatIds and OwnerIds linked to companies, deals and users first."""
    with env.database.transaction() as session:
        missing = references.unlinked(session, account_id, references.wanted(page))
    if not any(missing.values()):
        return
    found = references.fetch(api, missing)
    with env.database.transaction() as session:
        references.link(session, account_id, found, env.now())


def _deleted_backstop(
    env: SyncEnv, api: SalesforceApi, account_id: int, sobject: str, result: SyncResult
) -> None:
    """``getDeleted`` since the last run: records purged from the recycle bin (or deleted
    beyond what ``queryAll`` keeps) still reach their ``on_delete`` (P4)."""
    key = f"{sobject}.deleted"
    with env.database.transaction() as session:
        org = orgs.org_of(session, account_id)
        assert org is not None
        since = (org.cursors or {}).get(key)
        start = datetime.fromisoformat(since) if since else _start(org, sobject)[0]
    end = env.now() - LAG
    if end - start < timedelta(minutes=1):
        return  # Salesforce answers whole minutes; ask again next run
    answer = api.restful(
        f"sobjects/{sobject}/deleted/",
        params={"start": soql.instant(start), "end": soql.instant(end)},
    )
    gone = [str(d["id"]) for d in (answer or {}).get("deletedRecords") or () if d.get("id")]
    covered = str((answer or {}).get("latestDateCovered") or "") or soql.instant(end)
    with env.database.transaction() as session:
        org = orgs.org_of(session, account_id)
        assert org is not None
        if gone:
            applier = Applier(session, org, env.now())
            for action in applier.purged(sobject, gone):
                result.actions[action] += 1
            applier.flush_log()
        cursors = dict(org.cursors or {})
        cursors[key] = parse_stamp(covered).isoformat()
        org.cursors = cursors
        orgs.record_usage(org, api, env.now())


def _relink(
    session: Any, api: SalesforceApi, account_id: int, emails: list[str], now: datetime
) -> None:
    """Contacts with these emails that have no link get one (new or changed people)."""
    wanted = set(emails)
    unlinked = [
        c for c in links.unlinked_contacts(session, account_id) if c.email_normalized in wanted
    ]
    if unlinked:
        found = links.find_people(api, [c.email_normalized for c in unlinked])
        links.link_contacts(session, account_id, unlinked, found, now)


def link_new_contacts(env: SyncEnv, api: SalesforceApi, account_id: int) -> None:
    """Every CRM contact without a link (new, or its email changed) is looked up once per
    run (Contact, else Lead)."""
    with env.database.transaction() as session:
        links.drop_stale(session, account_id)
        pending = [(c.id, c.email_normalized) for c in links.unlinked_contacts(session, account_id)]
    if not pending:
        return
    found = links.find_people(api, [email for _, email in pending])
    with env.database.transaction() as session:
        contacts = links.unlinked_contacts(session, account_id)
        links.link_contacts(session, account_id, contacts, found, env.now())
        org = orgs.org_of(session, account_id)
        assert org is not None
        orgs.record_usage(org, api, env.now())
