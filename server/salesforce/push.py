"""The push: CRM engagements out of the outbox into Salesforce Tasks (H1-H8); one step of a
sync run (``sync.py``).

A batch is the outbox rows of up to 200 engagements. It is planned in one transaction (what
to send, what to skip and why: the skips are logged and their rows go), sent as sObject
Collections with ``allOrNone=false`` (one bad record never fails its batch), and its outcome
stored in another: the links with the ``SystemModstamp`` of our write (H6), the log, and the
rows deleted. A crash in between leaves the rows, and sending again is safe (H7): where the
org's Tasks have the external-id field the batch is an upsert on it; where they have not, a
create is marked before it is sent and looked up, not made again, after a crash.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import delete, select, update
from sqlalchemy.orm import Session

from server.salesforce import document, outbox
from server.salesforce import org as orgs
from server.salesforce.client import SalesforceApi
from server.salesforce.env import SyncEnv, SyncResult
from server.salesforce.models import (
    SalesforceLink,
    SalesforceLogEntry,
    SalesforceOrg,
    SalesforceOutbox,
)
from server.salesforce.outgoing import Batch, Setup, digest
from server.salesforce.push_refs import Lookups
from server.salesforce.push_send import (
    BATCH,
    Send,
    code_of,
    send_batch,
    setup_of,
    stamps_of,
    written,
)

log = logging.getLogger(__name__)

ROWS_PER_READ = 2000
GONE = ("ENTITY_IS_DELETED", "INVALID_CROSS_REFERENCE_KEY")


def push_changes(env: SyncEnv, api: SalesforceApi, account_id: int, result: SyncResult) -> None:
    """Push batch after batch until the outbox is empty (or the org asks us to stop)."""
    setup: Setup | None = None
    lookups = Lookups()
    while True:
        with env.database.transaction() as session:
            pending = _pending(session, account_id)
        if not pending:
            return
        if setup is None:
            setup = setup_of(env, api, account_id)
        plan: list[Send] | None = None
        while plan is None:  # twice when the batch names owners, companies or deals unlinked
            with env.database.transaction() as session:
                org = orgs.org_of(session, account_id)
                assert org is not None
                batch = Batch(session, account_id, list(pending))
                missing = lookups.missing(session, batch)
                if not missing:
                    plan = _plan(session, org, setup, pending, batch, lookups, env.now(), result)
            if missing:
                lookups.fetch(env, api, account_id, missing)
        env.fault("planned")
        if plan:
            send_batch(env, api, account_id, setup, plan)
            env.fault("sent")
            stamps = stamps_of(api, [str((s.result or {})["id"]) for s in plan if written(s)])
        else:
            stamps = {}
        with env.database.transaction() as session:
            org = orgs.org_of(session, account_id)
            assert org is not None
            _store(session, org, plan, stamps, env.now(), result)
            orgs.record_usage(org, api, env.now())
            org.heartbeat_at = env.now()
        env.fault("stored")


# -- reading the outbox ----------------------------------------------------------------------


@dataclass
class Pending:
    kind: str
    rows: list[int] = field(default_factory=list)
    attempts: list[dict[str, Any]] = field(default_factory=list)


def _pending(session: Session, account_id: int) -> dict[int, Pending]:
    """The oldest rows, by engagement: at most ``BATCH`` engagements."""
    found: dict[int, Pending] = {}
    for row in session.execute(
        select(
            SalesforceOutbox.id,
            SalesforceOutbox.engagement_id,
            SalesforceOutbox.kind,
            SalesforceOutbox.attempt,
        )
        .where(SalesforceOutbox.account_id == account_id)
        .order_by(SalesforceOutbox.id)
        .limit(ROWS_PER_READ)
    ):
        item = found.get(row.engagement_id)
        if item is None:
            if len(found) >= BATCH:
                continue
            item = found[row.engagement_id] = Pending(row.kind)
        item.rows.append(row.id)
        if row.attempt and row.attempt not in item.attempts:
            item.attempts.append(row.attempt)
    return found


# -- planning ------------------------------------------------------------------------------------


def _plan(
    session: Session,
    org: SalesforceOrg,
    setup: Setup,
    pending: dict[int, Pending],
    batch: Batch,
    lookups: Lookups,
    now: datetime,
    result: SyncResult,
) -> list[Send]:
    doc = document.current(org.settings)
    sends: list[Send] = []
    done: list[int] = []  # rows needing nothing more
    entries: list[SalesforceLogEntry] = []

    def note(engagement_id: int, action: str, rule: str, reason: str, **kw: Any) -> None:
        entries.append(_entry(org.account_id, now, engagement_id, action, rule, reason, **kw))
        result.pushed[action] += 1

    for engagement_id, item in pending.items():
        kind, object_type = item.kind, outbox.object_type(item.kind)
        link = batch.link(object_type, engagement_id)
        engagement = batch.engagements.get(engagement_id)
        if engagement is None:
            if link is None or link.origin != "push":
                done += item.rows
            elif doc["outbound"].get(kind, {}).get("on_delete", "delete") == "keep":
                note(
                    engagement_id,
                    "skip",
                    "H1",
                    "deleted in the CRM; its Task is kept",
                    salesforce_id=link.salesforce_id,
                )
                done += item.rows
            else:
                sends.append(
                    Send(
                        engagement_id,
                        kind,
                        item.rows,
                        link=link,
                        delete=True,
                        salesforce_id=link.salesforce_id,
                    )
                )
            continue
        kind = engagement.kind
        if link is not None and link.origin != "push":
            note(engagement_id, "skip", "H6", "it came from Salesforce")
            done += item.rows
            continue
        target = batch.target(engagement)
        switched = outbox.switched_at(org, kind)
        if switched is None:
            note(engagement_id, "skip", "H1", f"pushing {kind} is off")
            done += item.rows
            continue
        if target is None and not batch.contacts_of(engagement):
            done += item.rows  # no contact at all (an internal meeting): nothing to push to
            continue
        if target is None:
            note(
                engagement_id,
                "skip",
                "H4",
                "none of its contacts is linked yet; pushed when one is",
            )
            done += item.rows
            continue
        if not outbox.eligible(
            kind, engagement.created_at, engagement.occurred_at, switched, target.linked_at
        ):
            note(engagement_id, "skip", "H4", "from before pushing was turned on")
            done += item.rows
            continue
        fields = batch.fields(engagement, target, setup, doc)
        if link is not None and link.written_hash == digest(fields):
            done += item.rows  # unchanged since the last push
            continue
        if engagement.owner_id and lookups.inactive.get(engagement.owner_id):
            note(
                engagement_id,
                "warning",
                "P6",
                "its owner's Salesforce user is inactive; the integration user owns the Task",
            )
        known = link.salesforce_id if link else None
        sends.append(
            Send(engagement_id, kind, item.rows, fields, link, known, attempts=item.attempts)
        )
    session.add_all(entries)
    _drop_rows(session, done)
    if not setup.external_id:
        for send in sends:
            if send.salesforce_id is None and not send.delete:
                _mark_attempt(session, send, now)
    for send in sends:
        if send.link is not None:
            session.expunge(send.link)
    return sends


def _mark_attempt(session: Session, send: Send, now: datetime) -> None:
    """Before a create without the external-id field: who and what it is sent as, on the rows
    no earlier attempt marked (those keep theirs: any may be the Task a lost answer made)."""
    attempt = {
        "at": now.isoformat(),
        "who": send.fields["WhoId"],
        "subject": send.fields["Subject"],
    }
    session.execute(
        update(SalesforceOutbox)
        .where(SalesforceOutbox.id.in_(send.rows), SalesforceOutbox.attempt.is_(None))
        .values(attempt=attempt)
        .execution_options(synchronize_session=False)
    )


def _drop_rows(session: Session, ids: Iterable[int]) -> None:
    ids = list(ids)
    for start in range(0, len(ids), 500):
        session.execute(
            delete(SalesforceOutbox)
            .where(SalesforceOutbox.id.in_(ids[start : start + 500]))
            .execution_options(synchronize_session=False)
        )


def _entry(
    account_id: int,
    now: datetime,
    crm_id: int,
    action: str,
    rule: str,
    reason: str,
    **kw: Any,
) -> SalesforceLogEntry:
    return SalesforceLogEntry(
        account_id=account_id,
        created_at=now,
        direction="outbound",
        salesforce_type="Task",
        crm_id=crm_id,
        action=action,
        rule=rule,
        reason=reason[:500],
        **kw,
    )


# -- storing the outcome -------------------------------------------------------------------------


def _store(
    session: Session,
    org: SalesforceOrg,
    plan: list[Send],
    stamps: dict[str, datetime],
    now: datetime,
    result: SyncResult,
) -> None:
    entries: list[SalesforceLogEntry] = []
    rows: list[int] = []
    known = {
        (link.object_type, link.crm_id): link
        for link in session.scalars(
            select(SalesforceLink).where(
                SalesforceLink.account_id == org.account_id,
                SalesforceLink.object_type.in_(("activity", "meeting", "note")),
                SalesforceLink.crm_id.in_([s.engagement_id for s in plan]),
            )
        )
    }
    for send in plan:
        rows += send.rows
        object_type = outbox.object_type(send.kind)
        answer = send.result or {}
        code = code_of(send)
        if send.delete:
            link = known.get((object_type, send.engagement_id))
            if answer.get("success") or code in GONE:
                if link is not None:
                    session.delete(link)
                action, rule, why = "delete", "H1", "deleted in the CRM"
            else:
                action, rule, why = "error", "H7", "Salesforce refused to delete its Task"
        elif answer.get("success"):
            sf_id = str(answer["id"])
            link = known.get((object_type, send.engagement_id))
            if link is None:
                link = SalesforceLink(
                    account_id=org.account_id,
                    object_type=object_type,
                    crm_id=send.engagement_id,
                    salesforce_type="Task",
                    origin="push",
                    created_at=now,
                )
                session.add(link)
            link.salesforce_id = sf_id
            link.written_stamp = stamps.get(sf_id, link.written_stamp)
            link.written_hash = digest(send.fields)
            link.updated_at = now
            created = answer.get("created", send.salesforce_id is None)
            action = "create" if created else "update"
            rule = "H1" if action == "create" else "H7"
            why = f"{send.fields['Subject']} on {send.fields['WhoId']}" + (
                "" if action == "create" else " (changed in the CRM)"
            )
        elif code in GONE and (gone := known.get((object_type, send.engagement_id))):
            # A person deleted the Task in Salesforce: made again, as an upsert on the
            # external id would (the CRM's activity is the source of its Task).
            session.delete(gone)
            session.add(
                SalesforceOutbox(
                    account_id=org.account_id,
                    engagement_id=send.engagement_id,
                    kind=send.kind,
                    reason="recreate",
                )
            )
            action, rule, why = "skip", "H6", "its Task was deleted in Salesforce; made again"
        else:
            action, rule, why = "error", "H7", "Salesforce refused the Task"
        result.pushed[action] += 1
        failed = action == "error"
        message = "; ".join(
            f"{e.get('statusCode')}: {e.get('message')}" for e in answer.get("errors") or ()
        )
        entries.append(
            _entry(
                org.account_id,
                now,
                send.engagement_id,
                action,
                rule,
                why,
                salesforce_id=str(answer.get("id") or send.salesforce_id or "") or None,
                error=(message or ("no answer" if failed else ""))[:1000],
                status="failed" if failed else "",
            )
        )
    session.add_all(entries)
    _drop_rows(session, rows)
    session.flush()
