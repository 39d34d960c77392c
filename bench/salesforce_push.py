"""The Salesforce push (CRM activities into the org as Tasks) against a reference measured in
the same run.

    python -m bench.salesforce_push [--activities 1000] [--contacts 200] [--changes 100]

Set-up (not timed): a fresh SQLite database in a temporary folder, migrated; the Salesforce
stand-in on 127.0.0.1 over TLS in this process (its CA trusted through
``REQUESTS_CA_BUNDLE``); an account with ``--contacts`` CRM contacts, each with a Salesforce
Contact of the same email; the org connected through the real OAuth flow (PKCE); pushing of
calls, tasks, opened sales emails and form submissions turned on through
``PUT /api/v1/salesforce/settings`` (with the largest ``daily_api_budget``, and the stand-in's
``daily_limit`` raised, so no limit interferes); a first sync run that links the contacts.
Then ``--activities`` activities (calls, tasks, opened sales emails and form submissions, each
on 1-3 contacts) are made through ``server.crm.activities.create`` in one transaction, so their
outbox rows are written as in production.

Timed: one ``sync(env, account_id)`` run (link contacts, pull, push) that pushes them all
through simple-salesforce; then, after ``--changes`` of the activities got a new title
(``server.crm.activities.update``), a second run that pushes the changes.

Figures:

- ``tasks_per_second``: Tasks created in the stand-in by the first run / its seconds.
- ``tasks_created``: Tasks created in the stand-in by that run (equals ``--activities``).
- ``api_calls``: the API calls that run made, as the product counts them against the day's
  budget (the org row's ``api_calls_today`` delta); ``stand_in_api_calls`` the same as the
  stand-in counted them; ``stand_in_requests`` every request it saw, OAuth token refreshes
  included.
- ``api_calls_per_1000_activities``: ``api_calls`` * 1000 / ``--activities``.
- ``incremental``: the second run: ``tasks_updated`` (Tasks whose Subject now carries the new
  title), ``tasks_per_second`` (those / its seconds), ``api_calls`` and the rest as above.
- ``reference_tasks_per_second``: the rate at which the benchmark itself sends as many
  already-built Task records, 200 a call, straight through simple-salesforce's
  ``restful("composite/sobjects", method="POST", json={"allOrNone": False, ...})`` to the same
  stand-in (no database, no planning): what the stand-in and the client cost alone.
  ``ratio`` = ``tasks_per_second`` / ``reference_tasks_per_second`` (1.0: the push costs
  nothing beyond the wire); ``incremental_ratio`` the same for the second run.

The product's push writes with an upsert on ``CRM_Activity_Id__c`` (the stand-in looks each
record up by that field); the reference creates. The stand-in shares this process (and its
GIL) with the product and with the reference alike. Prints one JSON object.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import tempfile
import time
import uuid
from datetime import timedelta
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import requests
from cryptography.fernet import Fernet
from flask import Flask
from simple_salesforce.api import Salesforce

from bench.common import REP
from server import migrate
from server.app import create_app
from server.config import Settings
from server.crm import accounts, activities, services
from server.db import Database, utcnow
from server.salesforce import document, oauth
from server.salesforce import org as orgs
from server.salesforce.client import API_VERSION
from server.salesforce.env import SyncEnv, SyncResult
from server.salesforce.links import unlinked_contacts
from server.salesforce.pull import LAG
from server.salesforce.push_send import BATCH
from server.salesforce.sync import sync
from server.stand_ins.salesforce import SalesforceStandIn

KINDS = ("call", "task", "sales_email_opened", "form_submission")
SUBTYPE = {"call": "Call", "task": "Task", "sales_email_opened": "Email", "form_submission": "Task"}
CLIENT_ID = "3MVG9-meeting-assistant-bench"
SECRET = "salesforce-bench-secret"


class Bench:
    """The app, its database, the stand-in and the account, set up for the runs."""

    def __init__(self, args: argparse.Namespace) -> None:
        folder = Path(tempfile.mkdtemp(prefix="ma-bench-"))
        self.sfdc = SalesforceStandIn(folder=folder / "salesforce")
        self.sfdc.start()
        os.environ["REQUESTS_CA_BUNDLE"] = self.sfdc.ca_bundle_path
        self.sfdc.org.daily_limit = 10**9
        settings = Settings(
            instance_path=folder,
            database_url=f"sqlite:///{folder / 'bench.db'}",
            queue_url=f"sqlite:///{folder / 'queue.db'}",
            secret_key=uuid.uuid4().hex,
            token_encryption_keys=(Fernet.generate_key().decode(),),
            public_base_url="http://127.0.0.1:9",
        )
        self.sfdc.org.register_app(CLIENT_ID, SECRET, [oauth.redirect_uri(settings)])
        self.settings = settings.with_overrides(
            salesforce_client_id=CLIENT_ID,
            salesforce_client_secret=SECRET,
            salesforce_login_url=self.sfdc.settings()["SALESFORCE_LOGIN_URL"],
        )
        migrating = Database(self.settings.database_url)
        migrate.upgrade(migrating)
        migrating.dispose()
        self.app: Flask = create_app(self.settings)
        # The app's own database: the CRM's event subscribers (the push's outbox) live on it.
        self.database: Database = self.app.extensions["database"]
        with self.database.transaction() as session:
            account, _, self.token = accounts.create_account(session, "Acme", ["acme.example"], REP)
            self.account_id = account.id
            self.contact_ids = [
                services.create_contact(
                    session, account.id, f"contact{i}@client.example", "Ann", f"Lee{i}"
                ).id
                for i in range(args.contacts)
            ]
        self.who = [
            str(
                self.sfdc.org.insert(
                    "Contact",
                    {
                        "FirstName": "Ann",
                        "LastName": f"Lee{i}",
                        "Email": f"contact{i}@client.example",
                    },
                )
            )
            for i in range(args.contacts)
        ]
        self.access_token, self.instance_url = self.connect()
        self.env = SyncEnv(
            self.settings,
            self.database,
            self.app.extensions["cipher"],
            self.app.extensions["jobs"].huey,
            # The pull reads up to LAG before now: this clock lets it read up to now.
            now=lambda: utcnow() + LAG + timedelta(seconds=1),
        )

    def connect(self) -> tuple[str, str]:
        """The org connected through the OAuth web-server flow; its first access token."""
        with requests.Session() as http:
            url, verifier = oauth.begin(self.settings, "bench-state", http)
            answer = dict(parse_qsl(urlsplit(self.sfdc.org.approve(url)).query))
            tokens = oauth.finish(self.settings, answer["code"], verifier, http)
        with self.database.transaction() as session:
            orgs.connect(session, self.app.extensions["cipher"], self.account_id, tokens, utcnow())
        return tokens.access_token, tokens.instance_url

    def push_on(self, *kinds: str) -> None:
        """Turn pushing of ``kinds`` on through the settings API, with the largest budget."""
        client = self.app.test_client()
        headers = {"Authorization": f"Bearer {self.token}"}
        path = "/api/v1/salesforce/settings"
        doc = client.get(path, headers=headers).get_json()
        for kind in kinds:
            doc["outbound"][kind]["enabled"] = True
        doc["daily_api_budget"] = document.MAX_BUDGET
        response = client.put(path, json=doc, headers=headers)
        if response.status_code != 200:
            raise RuntimeError(f"settings refused: {response.get_json()}")

    def org_calls(self) -> tuple[str | None, int]:
        with self.database.transaction() as session:
            org = orgs.org_of(session, self.account_id)
            assert org is not None
            return org.api_day, org.api_calls_today

    def tasks(self) -> list[dict[str, Any]]:
        return self.sfdc.org.records("Task")

    def timed_sync(self) -> tuple[SyncResult, float, dict[str, int]]:
        """One sync run, its seconds and the calls it made."""
        day, calls = self.org_calls()
        usage, seen = self.sfdc.org.api_usage, len(self.sfdc.org.requests)
        began = time.perf_counter()
        result = sync(self.env, self.account_id)
        seconds = time.perf_counter() - began
        if result.status != "ok":
            raise RuntimeError(f"sync run: {result.status}: {result.error}")
        day_after, calls_after = self.org_calls()
        return (
            result,
            seconds,
            {
                "api_calls": calls_after - calls if day_after == day else calls_after,
                "stand_in_api_calls": self.sfdc.org.api_usage - usage,
                "stand_in_requests": len(self.sfdc.org.requests) - seen,
            },
        )


def make_activities(bench: Bench, count: int, seed: int) -> list[int]:
    rng = random.Random(seed)
    now = utcnow()
    ids: list[int] = []
    with bench.database.transaction() as session:
        for i in range(count):
            kind = KINDS[i % len(KINDS)]
            made = activities.create(
                session,
                bench.account_id,
                kind=kind,
                title=f"Activity {i}",
                body=f"Notes of activity {i}: they asked for a quote.",
                occurred_at=now - timedelta(minutes=rng.randrange(60 * 24 * 7)),
                contact_ids=rng.sample(
                    bench.contact_ids, min(len(bench.contact_ids), rng.randint(1, 3))
                ),
            )
            ids.append(made.id)
    return ids


def retitle(bench: Bench, ids: list[int]) -> None:
    with bench.database.transaction() as session:
        for activity_id in ids:
            activity = activities.get(session, bench.account_id, activity_id)
            activities.update(session, activity, {"title": f"{activity.title} (changed)"})


def reference_rate(bench: Bench, count: int) -> tuple[float, int]:
    """Tasks per second that simple-salesforce's sObject Collections create reaches when the
    benchmark sends ``count`` ready Task records, 200 a call; and the calls it took."""
    today = utcnow().date().isoformat()
    records = [
        {
            "attributes": {"type": "Task"},
            "Subject": f"Call: Reference {i}",
            "Description": f"Notes of reference {i}: they asked for a quote.",
            "WhoId": bench.who[i % len(bench.who)],
            "Status": "Completed",
            "ActivityDate": today,
            "TaskSubtype": SUBTYPE[KINDS[i % len(KINDS)]],
        }
        for i in range(count)
    ]
    with requests.Session() as http:
        sf = Salesforce(
            instance_url=bench.instance_url,
            session_id=bench.access_token,
            version=API_VERSION,
            session=http,
        )
        calls = 0
        began = time.perf_counter()
        for start in range(0, count, BATCH):
            answers = sf.restful(
                "composite/sobjects",
                method="POST",
                json={"allOrNone": False, "records": records[start : start + BATCH]},
            )
            calls += 1
            if not all(a.get("success") for a in answers or ()):
                raise RuntimeError(f"reference create refused: {answers}")
        seconds = time.perf_counter() - began
    return count / seconds, calls


def measure(bench: Bench, args: argparse.Namespace) -> dict[str, Any]:
    bench.push_on(*KINDS)
    first = sync(bench.env, bench.account_id)
    if first.status != "ok":
        raise RuntimeError(f"first sync run: {first.status}: {first.error}")
    with bench.database.transaction() as session:
        left = len(unlinked_contacts(session, bench.account_id))
    if left:
        raise RuntimeError(f"{left} contacts not linked after the first run")

    ids = make_activities(bench, args.activities, seed=11)
    before = len(bench.tasks())
    full, full_seconds, full_calls = bench.timed_sync()
    created = len(bench.tasks()) - before
    if created != args.activities:
        raise RuntimeError(
            f"{created} Tasks created for {args.activities} activities: {full.as_dict()}"
        )

    changed = random.Random(13).sample(ids, min(args.changes, len(ids)))
    retitle(bench, changed)
    again, again_seconds, again_calls = bench.timed_sync()
    updated = sum(1 for t in bench.tasks() if str(t.get("Subject") or "").endswith("(changed)"))
    if updated != len(changed):
        raise RuntimeError(f"{updated} Tasks updated for {len(changed)} changes: {again.as_dict()}")

    reference, reference_calls = reference_rate(bench, args.activities)
    rate = created / full_seconds
    again_rate = updated / again_seconds
    return {
        "tasks_per_second": round(rate, 1),
        "tasks_created": created,
        "seconds": round(full_seconds, 3),
        **full_calls,
        "api_calls_per_1000_activities": round(full_calls["api_calls"] * 1000 / args.activities, 1),
        "pushed": dict(full.pushed),
        "incremental": {
            "changes": len(changed),
            "tasks_updated": updated,
            "tasks_per_second": round(again_rate, 1),
            "seconds": round(again_seconds, 3),
            **again_calls,
            "api_calls_per_1000_changes": round(
                again_calls["api_calls"] * 1000 / max(1, len(changed)), 1
            ),
            "pushed": dict(again.pushed),
        },
        "reference_tasks_per_second": round(reference, 1),
        "reference_api_calls": reference_calls,
        "ratio": round(rate / reference, 3),
        "incremental_ratio": round(again_rate / reference, 3),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--activities", type=int, default=1000)
    parser.add_argument("--contacts", type=int, default=200)
    parser.add_argument("--changes", type=int, default=0, help="default: 10%% of the activities")
    args = parser.parse_args()
    args.changes = args.changes or max(1, args.activities // 10)
    bench = Bench(args)
    try:
        report: dict[str, Any] = {
            "benchmark": "salesforce_push",
            "machine": f"{os.cpu_count()} cores",
            "database": bench.database.dialect,
            "activities": args.activities,
            "contacts": args.contacts,
            **measure(bench, args),
        }
    finally:
        bench.sfdc.stop()
        bench.database.dispose()
    print(json.dumps(report))


if __name__ == "__main__":
    main()
