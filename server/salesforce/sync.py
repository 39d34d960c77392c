"""One sync run of an org, under the org's lock: link new contacts, pull what changed in
Salesforce (``pull.py``), push what changed in the CRM (``push.py``). The calls made count
against the day's budget whatever happens; a refused grant marks the org for reconnecting,
a limit or an outage pauses it, and the next run goes on where this one stopped."""

from __future__ import annotations

import logging
from collections.abc import Callable
from contextlib import AbstractContextManager
from datetime import datetime, timedelta
from typing import Any

from server import locks
from server.salesforce import org as orgs
from server.salesforce import pull, push
from server.salesforce.client import Paused, RecordError, SalesforceApi
from server.salesforce.env import SyncEnv, SyncResult
from server.salesforce.models import SalesforceLogEntry, SalesforceOrg
from server.salesforce.oauth import GrantRefused, OAuthError

log = logging.getLogger(__name__)

STALE_AFTER = timedelta(minutes=10)


def _lock(env: SyncEnv, account_id: int) -> AbstractContextManager[bool]:
    """The org's one sync lock (``server/locks.py``), its heartbeat on the org's row."""
    where = SalesforceOrg.account_id == account_id
    heartbeat = locks.on_row(env.database, SalesforceOrg, where, STALE_AFTER)
    return locks.held(env.database, env.huey, f"salesforce-{account_id}", env.now(), heartbeat)


def sync(env: SyncEnv, account_id: int) -> SyncResult:
    """Sync the account's org once, unless another worker is at it."""
    with _lock(env, account_id) as got:
        if not got:
            return SyncResult(account_id, status="locked")
        return _run(env, account_id)


def _usable(env: SyncEnv, account_id: int, result: SyncResult) -> SalesforceOrg | None:
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


def link_contacts(env: SyncEnv, account_id: int) -> str:
    """Link the account's unlinked contacts now (a contact was created or re-addressed),
    under the sync's lock; a run that holds it links them itself."""
    with _lock(env, account_id) as got:
        if not got:
            return "locked"
        result = SyncResult(account_id)
        org = _usable(env, account_id, result)
        if org is None:
            return result.status
        api = orgs.open_api(env.settings, env.database, env.cipher, org, env.now())
        try:
            pull.link_new_contacts(env, api, account_id)
        except (GrantRefused, Paused, OAuthError, RecordError) as exc:
            _stop(env, account_id, api, lambda o, s: None)  # the calls made still count
            return f"not now: {exc}"
        finally:
            api.close()
        return "ok"


def push_now(env: SyncEnv, account_id: int) -> SyncResult:
    """Push what the outbox holds (a change was just made), unless a run is at it."""
    with _lock(env, account_id) as got:
        if not got:
            return SyncResult(account_id, status="locked")
        return _run(env, account_id, pulling=False)


def _run(env: SyncEnv, account_id: int, *, pulling: bool = True) -> SyncResult:
    result = SyncResult(account_id)
    org = _usable(env, account_id, result)
    if org is None:
        return result
    api = orgs.open_api(env.settings, env.database, env.cipher, org, env.now())
    try:
        if pulling:
            pull.link_new_contacts(env, api, account_id)
            pull.pull_changes(env, api, account_id, result)
            _finish(env, account_id, api, "last_pull_at")
        push.push_changes(env, api, account_id, result)
        _finish(env, account_id, api, "last_push_at")
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
    except RecordError as exc:  # a request the org refused (a mapped field it no longer has)
        message = str(exc)
        _stop(env, account_id, api, lambda o, s: _query_failed(o, s, message, env.now()))
        result.status, result.error = "failed", message
    finally:
        api.close()
    log.info(
        "salesforce sync done account=%s status=%s pages=%s pushed=%s",
        account_id,
        result.status,
        result.pages,
        sum(result.pushed.values()),
    )
    return result


def _finish(env: SyncEnv, account_id: int, api: SalesforceApi, stamp: str) -> None:
    with env.database.transaction() as session:
        org = orgs.org_of(session, account_id)
        if org is None:
            return
        orgs.record_usage(org, api, env.now())
        setattr(org, stamp, env.now())
        org.paused_until = None


def _stop(
    env: SyncEnv,
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
            reason="Salesforce refused the sync's request; check the field mappings",
            error=message[:1000],
        )
    )
