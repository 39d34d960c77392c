"""Salesforce fixtures: the Salesforce stand-in on 127.0.0.1 over TLS (its test CA trusted
through ``REQUESTS_CA_BUNDLE``), an app pointed at it, and an account whose org is connected
through the real OAuth web-server flow with PKCE."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import pytest
import requests
from flask import Flask
from sqlalchemy import select

from server.config import Settings
from server.crm import services
from server.db import Database, utcnow
from server.salesforce import oauth
from server.salesforce import org as orgs
from server.salesforce.env import SyncEnv, SyncResult
from server.salesforce.models import SalesforceLink, SalesforceLogEntry, SalesforceOrg
from server.salesforce.pull import LAG
from server.salesforce.sync import sync
from server.stand_ins.salesforce import SalesforceStandIn
from tests.conftest import Tenant

CLIENT_ID = "3MVG9-meeting-assistant-test"
SECRET = "salesforce-test-secret"
ADMIN = "admin@acme.example"


@pytest.fixture
def sfdc(monkeypatch: pytest.MonkeyPatch) -> Iterator[SalesforceStandIn]:
    stand_in = SalesforceStandIn()
    stand_in.start()
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", stand_in.ca_bundle_path)
    yield stand_in
    stand_in.stop()


def pointed_at_salesforce(settings: Settings, sfdc: SalesforceStandIn) -> Settings:
    sfdc.org.register_app(CLIENT_ID, SECRET, [oauth.redirect_uri(settings)])
    return settings.with_overrides(
        salesforce_client_id=CLIENT_ID,
        salesforce_client_secret=SECRET,
        salesforce_login_url=sfdc.settings()["SALESFORCE_LOGIN_URL"],
    )


@pytest.fixture
def settings(settings: Settings, sfdc: SalesforceStandIn) -> Settings:
    return pointed_at_salesforce(settings, sfdc)


def connect_org(
    settings: Settings, database: Database, app: Flask, sfdc: SalesforceStandIn, account_id: int
) -> None:
    with requests.Session() as http:
        url, verifier = oauth.begin(settings, "state-1", http)
        answer = dict(parse_qsl(urlsplit(sfdc.org.approve(url)).query))
        assert answer["state"] == "state-1"
        tokens = oauth.finish(settings, answer["code"], verifier, http)
    with database.transaction() as session:
        orgs.connect(session, app.extensions["cipher"], account_id, tokens, utcnow())


@dataclass
class Org:
    app: Flask
    settings: Settings
    database: Database
    sfdc: SalesforceStandIn
    tenant: Tenant
    # The org's clock runs ahead of the real one by ``skew``, which grows by two seconds with
    # every pull: time passes between pulls, so a write after a pull never shares the second
    # (Salesforce stamps to the second) of the last record that pull saw.
    skew: timedelta = timedelta(0)
    fault: Callable[[str], None] = lambda point: None
    results: list[SyncResult] = field(default_factory=list)

    def env(self, fault: Callable[[str], None] | None = None) -> SyncEnv:
        return SyncEnv(
            self.settings,
            self.database,
            self.app.extensions["cipher"],
            self.app.extensions["jobs"].huey,
            now=lambda: utcnow() + self.skew + LAG + timedelta(seconds=1),
            fault=fault or self.fault,
        )

    def org_now(self) -> datetime:
        return utcnow() + self.skew

    def pull(self, fault: Callable[[str], None] | None = None) -> SyncResult:
        env = self.env(fault)
        self.skew += timedelta(seconds=2)
        try:
            result = sync(env, self.tenant.account_id)
        finally:
            self.sfdc.org.now = self.org_now
        self.results.append(result)
        return result

    def call(self, method: str, path: str, **kwargs: Any) -> Any:
        return self.tenant.call(method, path, **kwargs)

    def switch(self, **inbound: bool | str) -> None:
        """Turn inbound kinds on (``call=True``) or set their delete behaviour."""
        doc = self.call("GET", "/salesforce/settings").get_json()
        for key, value in inbound.items():
            kind, _, attr = key.partition("__")
            doc["inbound"][kind]["on_delete" if attr == "on_delete" else "enabled"] = value
        response = self.call("PUT", "/salesforce/settings", json=doc)
        assert response.status_code == 200, response.get_json()

    def push_on(self, *kinds: str, **task_types: str | None) -> None:
        """Turn pushing of ``kinds`` on (``note``, ``call``, ...), with Task types if given."""
        doc = self.call("GET", "/salesforce/settings").get_json()
        for kind in kinds:
            doc["outbound"][kind]["enabled"] = True
        for kind, task_type in task_types.items():
            doc["outbound"][kind]["task_type"] = task_type
        response = self.call("PUT", "/salesforce/settings", json=doc)
        assert response.status_code == 200, response.get_json()

    def activity(self, kind: str, contact_ids: list[int], **fields: Any) -> int:
        body = {
            "type": kind,
            "title": "Discovery call",
            "occurred_at": utcnow().isoformat(),
            "contact_ids": contact_ids,
            **fields,
        }
        response = self.call("POST", "/activities", json=body)
        assert response.status_code == 201, response.get_json()
        return int(response.get_json()["id"])

    def tasks(self, **where: Any) -> list[dict[str, Any]]:
        """The org's Tasks (not deleted), oldest first, matching ``where``."""
        found = self.sfdc.org.records("Task")
        return [t for t in found if all(t.get(k) == v for k, v in where.items())]

    def pushed(self) -> list[SalesforceLink]:
        with self.database.transaction() as session:
            return list(
                session.scalars(
                    select(SalesforceLink)
                    .where(SalesforceLink.origin == "push")
                    .order_by(SalesforceLink.id)
                )
            )

    def contact(self, email: str) -> int:
        with self.database.transaction() as session:
            return services.create_contact(session, self.tenant.account_id, email, "Ann", "Lee").id

    def sf_contact(self, email: str, **fields: Any) -> str:
        return str(self.sfdc.org.insert("Contact", {"LastName": "Lee", "Email": email, **fields}))

    def task(self, who: str, subtype: str = "Call", **fields: Any) -> str:
        body = {"Subject": "Discovery call", "TaskSubtype": subtype, "WhoId": who, **fields}
        return str(self.sfdc.org.insert("Task", body))

    def timeline(self, contact_id: int) -> list[dict[str, Any]]:
        response = self.call("GET", f"/contacts/{contact_id}/timeline")
        assert response.status_code == 200, response.get_json()
        return list(response.get_json()["results"])

    def log(self) -> list[SalesforceLogEntry]:
        with self.database.transaction() as session:
            return list(
                session.scalars(
                    select(SalesforceLogEntry)
                    .where(SalesforceLogEntry.account_id == self.tenant.account_id)
                    .order_by(SalesforceLogEntry.id)
                )
            )

    def reasons(self, salesforce_id: str) -> list[tuple[str, str]]:
        return [(e.action, e.rule) for e in self.log() if e.salesforce_id == salesforce_id]

    def links(self, object_type: str = "contact") -> list[SalesforceLink]:
        with self.database.transaction() as session:
            return list(
                session.scalars(
                    select(SalesforceLink)
                    .where(SalesforceLink.object_type == object_type)
                    .order_by(SalesforceLink.id)
                )
            )

    def row(self) -> SalesforceOrg:
        with self.database.transaction() as session:
            found = orgs.org_of(session, self.tenant.account_id)
            assert found is not None
            session.expunge(found)
            return found

    def later(self, seconds: float) -> datetime:
        return self.org_now() + timedelta(seconds=seconds)

    @contextmanager
    def clock_at(self, seconds: float) -> Iterator[None]:
        """The org's clock moved by ``seconds`` meanwhile (its stamps have whole seconds)."""
        self.sfdc.org.now = lambda: self.org_now() + timedelta(seconds=seconds)
        try:
            yield
        finally:
            self.sfdc.org.now = self.org_now


@pytest.fixture
def sf(
    app: Flask,
    settings: Settings,
    database: Database,
    sfdc: SalesforceStandIn,
    make_tenant: Any,
) -> Org:
    tenant: Tenant = make_tenant("Acme", "acme.example", ADMIN)
    connect_org(settings, database, app, sfdc, tenant.account_id)
    harness = Org(app, settings, database, sfdc, tenant)
    sfdc.org.now = harness.org_now
    return harness
