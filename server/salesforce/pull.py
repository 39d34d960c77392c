"""The pull: Salesforce Tasks (by ``TaskSubtype``), Events and the people they name, into the
CRM (P1-P7).

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
from collections import Counter
from collections.abc import Callable
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from huey import Huey
from sqlalchemy import update

from server import locks, rows
from server.config import Settings
from server.crypto import TokenCipher
from server.db import Database, utcnow
from server.salesforce import document, links, references, soql
from server.salesforce import org as orgs
from server.salesforce.apply import Applier, parse_stamp
from server.salesforce.client import Paused, RecordError, SalesforceApi
from server.salesforce.models import SalesforceLogEntry, SalesforceOrg
from server.salesforce.oauth import GrantRefused, OAuthError

log = logging.getLogger(__name__)

LAG = timedelta(seconds=5)
STALE_AFTER = timedelta(minutes=10)
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


def _no_fault(point: str) -> None:
    return None


@dataclass
class PullEnv:
    settings: Settings
    database: Database
    cipher: TokenCipher
    huey: Huey | None
    now: Callable[[], datetime] = utcnow
    fault: Callable[[str], None] = _no_fault


@dataclass
class PullResult:
    account_id: int
    status: str = "ok"  # ok | locked | inactive | paused | needs_reconnect | failed
    pages: int = 0
    records: int = 0
    actions: Counter[str] = field(default_factory=Counter)
    error: str = ""

    def as_dict(self) -> dict[str, Any]:
        return {**self.__dict__, "actions": dict(self.actions)}


def _lock(env: PullEnv, account_id: int) -> AbstractContextManager[bool]:
    """The org's one sync lock (``server/locks.py``), its heartbeat on the org's row."""
    heartbeat = locks.Heartbeat(
        beat=lambda at: _beat(env.database, account_id, at),
        take_over_if_quiet=lambda at: _take_over(env.database, account_id, at),
    )
    return locks.held(env.database, env.huey, f"salesforce-{account_id}", env.now(), heartbeat)


def pull(env: PullEnv, account_id: int) -> PullResult:
    """Pull the account's org once, unless another worker is at it."""
    with _lock(env, account_id) as got:
        if not got:
            return PullResult(account_id, status="locked")
        return _run(env, account_id)


def _usable(env: PullEnv, account_id: int, result: PullResult) -> SalesforceOrg | None:
    """The org, detached, when it can be asked anything now; else None, with why."""
    now = env.now()
    with env.database.transaction() as session:
        org = orgs.org_of(session, account_id)
        if org is None or not org.active or not org.refresh_token_encrypted:
            result.status = "inactive"
            return None
        if org.paused_until is not None and org.paused_until > now:
            result.status, result.error = "paused", f"paused until {org.paused_until.isoformat()}"
            return None
        session.expunge(org)
        return org


def link_contacts(env: PullEnv, account_id: int) -> str:
    """Link the account's unlinked contacts now (a contact was created or re-addressed),
    under the pull's lock; a pull that holds it links them itself."""
    with _lock(env, account_id) as got:
        if not got:
            return "locked"
        result = PullResult(account_id)
        org = _usable(env, account_id, result)
        if org is None:
            return result.status
        api = orgs.open_api(env.settings, env.database, env.cipher, org, env.now())
        try:
            _link_new_contacts(env, api, account_id)
        except (GrantRefused, Paused, OAuthError, RecordError) as exc:
            _stop(env, account_id, api, lambda o, s: None)  # the calls made still count
            return f"not now: {exc}"
        finally:
            api.close()
        return "ok"


def _run(env: PullEnv, account_id: int) -> PullResult:
    result = PullResult(account_id)
    org = _usable(env, account_id, result)
    if org is None:
        return result
    api = orgs.open_api(env.settings, env.database, env.cipher, org, env.now())
    try:
        _link_new_contacts(env, api, account_id)
        for sobject, fields in PEOPLE.items():
            _pages(env, api, account_id, sobject, fields, "", result)
        doc = orgs.settings_of(org)
        for sobject, where in _activity_queries(doc).items():
            _pages(env, api, account_id, sobject, fields_of(org, sobject), where, result)
            _deleted_backstop(env, api, account_id, sobject, result)
        _finish(env, account_id, api, last_pull=True)
    except GrantRefused as exc:
        why = f"Salesforce no longer accepts the connection: {exc}"
        _stop(env, account_id, api, lambda o, s: orgs.needs_reconnect(s, o, why))
        result.status, result.error = "needs_reconnect", str(exc)
    except Paused as exc:
        seconds = exc.seconds
        _stop(env, account_id, api, lambda o, s: orgs.pause(o, seconds, env.now()))
        result.status, result.error = "paused", str(exc)
    except OAuthError as exc:
        _stop(env, account_id, api, lambda o, s: orgs.pause(o, 300, env.now()))
        result.status, result.error = "failed", str(exc)
    except RecordError as exc:  # a query the org refused (a mapped field it no longer has)
        message = str(exc)
        _stop(env, account_id, api, lambda o, s: _query_failed(o, s, message, env.now()))
        result.status, result.error = "failed", message
    finally:
        api.close()
    log.info(
        "salesforce pull done account=%s status=%s pages=%s",
        account_id,
        result.status,
        result.pages,
    )
    return result


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
    env: PullEnv,
    api: SalesforceApi,
    account_id: int,
    sobject: str,
    fields: tuple[str, ...],
    where: str,
    result: PullResult,
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
    env: PullEnv,
    api: SalesforceApi,
    account_id: int,
    sobject: str,
    page: list[dict[str, Any]],
    result: PullResult,
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
    env: PullEnv, api: SalesforceApi, account_id: int, page: list[dict[str, Any]]
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
    env: PullEnv, api: SalesforceApi, account_id: int, sobject: str, result: PullResult
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


def _link_new_contacts(env: PullEnv, api: SalesforceApi, account_id: int) -> None:
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


def _finish(env: PullEnv, account_id: int, api: SalesforceApi, *, last_pull: bool) -> None:
    with env.database.transaction() as session:
        org = orgs.org_of(session, account_id)
        if org is None:
            return
        orgs.record_usage(org, api, env.now())
        if last_pull:
            org.last_pull_at = env.now()
            org.paused_until = None


def _stop(
    env: PullEnv,
    account_id: int,
    api: SalesforceApi,
    change: Callable[[SalesforceOrg, Any], None],
) -> None:
    with env.database.transaction() as session:
        org = orgs.org_of(session, account_id)
        if org is not None:
            orgs.record_usage(org, api, env.now())
            change(org, session)


def _query_failed(org: SalesforceOrg, session: Any, message: str, now: datetime) -> None:
    orgs.pause(org, 300, now)
    session.add(
        SalesforceLogEntry(
            account_id=org.account_id,
            created_at=now,
            direction="inbound",
            action="error",
            rule="H9",
            reason="Salesforce refused the pull's query; check the field mappings",
            error=message[:1000],
        )
    )


def _beat(database: Database, account_id: int, now: datetime) -> None:
    with database.transaction() as session:
        session.execute(
            update(SalesforceOrg)
            .where(SalesforceOrg.account_id == account_id)
            .values(heartbeat_at=now)
            .execution_options(synchronize_session=False)
        )


def _take_over(database: Database, account_id: int, now: datetime) -> bool:
    with database.transaction() as session:
        return rows.claim(
            session,
            SalesforceOrg,
            (SalesforceOrg.account_id == account_id)
            & (
                (SalesforceOrg.heartbeat_at.is_(None))
                | (SalesforceOrg.heartbeat_at < now - STALE_AFTER)
            ),
            {"heartbeat_at": now},
        )
