"""The Salesforce jobs: a periodic sync (pull, then push) of every connected org (every few
minutes on the worker; ``sync run`` syncs every org now) and the retry of failed records
(H9). The push's outbox is filled by the CRM's engagement events (``outbox.py``)."""

from __future__ import annotations

import logging
from datetime import timedelta
from typing import Any

from sqlalchemy import delete, select, update
from sqlalchemy.orm import Session

from server import rows
from server.crm import events
from server.crm.models import Engagement
from server.crypto import TokenCipher
from server.jobs import JobContext, JobResult, Jobs, Periodic
from server.salesforce import links, outbox, soql
from server.salesforce import org as orgs
from server.salesforce.apply import Applier
from server.salesforce.client import Paused, RecordError
from server.salesforce.env import SyncEnv
from server.salesforce.models import ACTIVE, SalesforceLogEntry, SalesforceOrg, SalesforceOutbox
from server.salesforce.oauth import OAuthError
from server.salesforce.pull import fields_of
from server.salesforce.sync import link_contacts, push_now, sync

log = logging.getLogger(__name__)

PULL = "salesforce_pull"
RETRY_TASK = "salesforce.retry"
LINK_TASK = "salesforce.link_contacts"
PUSH_TASK = "salesforce.push"
PUSH_DELAY_SECONDS = 20  # a burst of changes goes in one batch
PULL_EVERY_MINUTES = 5
LOG_RETENTION = timedelta(days=30)


def env_for(context: JobContext) -> SyncEnv:
    return SyncEnv(
        context.settings,
        context.database,
        TokenCipher(context.settings.token_encryption_keys),
        context.jobs.huey,
    )


def pull_all(env: SyncEnv) -> list[dict[str, Any]]:
    with env.database.transaction() as session:
        accounts = list(
            session.scalars(
                select(SalesforceOrg.account_id)
                .where(SalesforceOrg.status == ACTIVE)
                .order_by(SalesforceOrg.account_id)
            )
        )
    return [sync(env, account_id).as_dict() for account_id in accounts]


def prune_log(env: SyncEnv) -> int:
    """Log lines older than ``LOG_RETENTION`` go, but for records still waiting for a retry."""
    with env.database.transaction() as session:
        result = session.execute(
            delete(SalesforceLogEntry).where(
                SalesforceLogEntry.created_at < env.now() - LOG_RETENTION,
                SalesforceLogEntry.status.not_in(("failed", "queued")),
            )
        )
        return int(getattr(result, "rowcount", 0) or 0)


def periodic(context: JobContext) -> JobResult:
    env = env_for(context)
    reports = pull_all(env)
    return {"orgs": len(reports), "pulls": reports, "log_pruned": prune_log(env)}


def _contact_changed(jobs: Jobs, session: Session, event: events.ContactEvent) -> None:
    """A new contact, or a new address: link it (Contact, else Lead) once this commits,
    rather than at the next pull."""
    org = orgs.org_of(session, event.account_id)
    if org is None or not org.active:
        return
    if event.kind == "email_changed":
        links.drop_stale(session, event.account_id)
    account_id = event.account_id
    rows.after_commit(session, lambda: jobs.tasks[LINK_TASK](account_id))


def _engagement_changed(jobs: Jobs, session: Session, event: events.EngagementEvent) -> None:
    """Queue the change for the push, and a push of the account's org shortly after this
    commits (once per transaction), rather than at the next periodic sync."""
    if not outbox.engagement_changed(session, event):
        return
    scheduled: set[int] = session.info.setdefault("salesforce_push_scheduled", set())
    if event.account_id in scheduled:
        return
    scheduled.add(event.account_id)
    account_id = event.account_id
    task = jobs.tasks[PUSH_TASK]
    rows.after_commit(session, lambda: task.schedule(args=(account_id,), delay=PUSH_DELAY_SECONDS))


def retry(env: SyncEnv, account_id: int) -> int:
    """Try the queued failed records again, each entry marked retried (a record that fails
    again gets a new failed entry): pulled records are fetched and applied again, pushed
    engagements go back into the outbox and a sync pushes them."""
    with env.database.transaction() as session:
        org = orgs.org_of(session, account_id)
        queued = list(
            session.execute(
                select(
                    SalesforceLogEntry.id,
                    SalesforceLogEntry.direction,
                    SalesforceLogEntry.salesforce_type,
                    SalesforceLogEntry.salesforce_id,
                    SalesforceLogEntry.crm_id,
                ).where(
                    SalesforceLogEntry.account_id == account_id,
                    SalesforceLogEntry.status == "queued",
                )
            )
        )
        if org is None or not org.active or not queued:
            return 0
        session.expunge(org)
        outbound = [q for q in queued if q.direction == "outbound"]
        again = _requeue(session, account_id, [q.crm_id for q in outbound if q.crm_id])
        _mark_retried(session, [q.id for q in outbound])
    inbound = [(q.id, q.salesforce_type, q.salesforce_id) for q in queued if q not in outbound]
    done = _retry_inbound(env, org, account_id, inbound) if inbound else 0
    if again:
        sync(env, account_id)
    return done + again


def _requeue(session: Session, account_id: int, crm_ids: list[int]) -> int:
    found = session.execute(
        select(Engagement.id, Engagement.kind).where(
            Engagement.account_id == account_id, Engagement.id.in_(crm_ids)
        )
    )
    made = [
        SalesforceOutbox(account_id=account_id, engagement_id=i, kind=k, reason="retry")
        for i, k in found
    ]
    session.add_all(made)
    return len(made)


def _mark_retried(session: Session, ids: list[int]) -> None:
    session.execute(
        update(SalesforceLogEntry)
        .where(SalesforceLogEntry.id.in_(ids))
        .values(status="retried")
        .execution_options(synchronize_session=False)
    )


def _retry_inbound(
    env: SyncEnv, org: SalesforceOrg, account_id: int, queued: list[tuple[int, str, str | None]]
) -> int:
    api = orgs.open_api(env.settings, env.database, env.cipher, org, env.now())
    done = 0
    try:
        for sobject in sorted({t for _, t, _ in queued if t in ("Task", "Event")}):
            ids = sorted({str(i) for _, t, i in queued if t == sobject and i})
            literals = [soql.record_id(i) for i in ids]
            query = soql.select(fields_of(org, sobject), sobject, [soql.in_list("Id", literals)])
            for page in api.query_pages(query, include_deleted=True):
                with env.database.transaction() as session:
                    row = orgs.org_of(session, account_id)
                    assert row is not None
                    applier = Applier(session, row, env.now())
                    for record in page:
                        applier.apply(sobject, record)
                        done += 1
                    applier.flush_log()
                    orgs.record_usage(row, api, env.now())
    except (Paused, RecordError, OAuthError) as exc:
        log.warning("salesforce retry stopped: %s", exc)
    finally:
        with env.database.transaction() as session:
            _mark_retried(session, [q[0] for q in queued])
            row = orgs.org_of(session, account_id)
            if row is not None:
                orgs.record_usage(row, api, env.now())
        api.close()
    return done


def register(jobs: Jobs) -> None:
    def retry_task(context: JobContext, account_id: int) -> int:
        return retry(env_for(context), account_id)

    def link_task(context: JobContext, account_id: int) -> str:
        return link_contacts(env_for(context), account_id)

    def push_task(context: JobContext, account_id: int) -> dict[str, Any]:
        return push_now(env_for(context), account_id).as_dict()

    jobs.task(RETRY_TASK)(retry_task)
    jobs.task(PUSH_TASK)(push_task)
    jobs.task(LINK_TASK)(link_task)
    events.subscribe_contacts(jobs.database, lambda s, e: _contact_changed(jobs, s, e))
    events.subscribe(jobs.database, lambda s, e: _engagement_changed(jobs, s, e))
    jobs.register_periodic(
        Periodic(PULL, periodic, every_minutes=PULL_EVERY_MINUTES, run_now=periodic)
    )
