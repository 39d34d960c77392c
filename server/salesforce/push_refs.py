"""P6 mirrored for the push: before a batch is planned, the owners, companies and deals its
engagements name that have no link yet are looked up in Salesforce (a User by email, an
Account by name, an Opportunity by name under its Account) and linked with the pull's rules
(``references.link``). Each is asked once per run; a user whose Salesforce namesake is
inactive is remembered, so its Tasks go to the integration user with a warning."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from server.crm.models import Company, Deal
from server.salesforce import references, soql
from server.salesforce.client import SalesforceApi
from server.salesforce.env import SyncEnv
from server.salesforce.outgoing import Batch

CHUNK = 100


@dataclass
class Missing:
    users: dict[int, str] = field(default_factory=dict)  # CRM user id -> email
    companies: dict[int, str] = field(default_factory=dict)  # id -> name
    deals: dict[int, str] = field(default_factory=dict)  # id -> name

    def __bool__(self) -> bool:
        return bool(self.users or self.companies or self.deals)


class Lookups:
    def __init__(self) -> None:
        self.asked: set[tuple[str, int]] = set()
        self.inactive: dict[int, bool] = {}  # CRM user id -> only an inactive namesake

    def missing(self, session: Session, batch: Batch) -> Missing:
        """What the batch names that has no link and was not asked for in this run; marked
        asked."""
        wanted = Missing()
        for engagement in batch.engagements.values():
            owner = engagement.owner
            if owner is not None and self._unknown(batch, "user", owner.id):
                wanted.users[owner.id] = owner.email_normalized
            for object_type, object_id in batch.associations_of(engagement):
                if object_type == "company" and self._unknown(batch, "company", object_id):
                    wanted.companies[object_id] = ""
                if object_type == "deal" and self._unknown(batch, "deal", object_id):
                    wanted.deals[object_id] = ""
        if wanted.deals:
            for deal in session.scalars(select(Deal).where(Deal.id.in_(list(wanted.deals)))):
                wanted.deals[deal.id] = deal.name
                if deal.company_id and self._unknown(batch, "company", deal.company_id):
                    wanted.companies[deal.company_id] = ""
        if wanted.companies:
            chosen = select(Company).where(Company.id.in_(list(wanted.companies)))
            for company in session.scalars(chosen):
                wanted.companies[company.id] = company.name
        self.asked |= {("user", i) for i in wanted.users}
        self.asked |= {("company", i) for i in wanted.companies}
        self.asked |= {("deal", i) for i in wanted.deals}
        return wanted

    def fetch(self, env: SyncEnv, api: SalesforceApi, account_id: int, wanted: Missing) -> None:
        """Ask Salesforce for them (a query per kind and 100 names) and link what matches."""
        found: dict[str, list[dict[str, Any]]] = {
            "User": _by(api, "User", ("Id", "Email", "IsActive"), "Email", wanted.users.values()),
            "Account": _by(
                api, "Account", ("Id", "Name", "Website"), "Name", wanted.companies.values()
            ),
            "Opportunity": _by(
                api, "Opportunity", ("Id", "Name", "AccountId"), "Name", wanted.deals.values()
            ),
        }
        have = {str(a["Id"]) for a in found["Account"]}
        more = {str(o["AccountId"]) for o in found["Opportunity"] if o.get("AccountId")} - have
        found["Account"] += _by(api, "Account", ("Id", "Name", "Website"), "Id", more)
        active = {str(u.get("Email") or "").lower() for u in found["User"] if u.get("IsActive")}
        named = {str(u.get("Email") or "").lower() for u in found["User"]}
        for user_id, email in wanted.users.items():
            self.inactive[user_id] = email in named and email not in active
        if any(found.values()):
            with env.database.transaction() as session:
                references.link(session, account_id, found, env.now())

    def _unknown(self, batch: Batch, object_type: str, crm_id: int) -> bool:
        return (object_type, crm_id) not in self.asked and batch.link(object_type, crm_id) is None


def _by(
    api: SalesforceApi, sobject: str, fields: tuple[str, ...], key: str, values: Any
) -> list[dict[str, Any]]:
    wanted = sorted({str(v) for v in values if v})
    out: list[dict[str, Any]] = []
    for start in range(0, len(wanted), CHUNK):
        chunk = wanted[start : start + CHUNK]
        literal = soql.record_id if key == "Id" else soql.string
        query = soql.select(fields, sobject, [soql.in_list(key, (literal(v) for v in chunk))])
        out += [r for page in api.query_pages(query, include_deleted=False) for r in page]
    return out
