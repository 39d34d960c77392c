"""Links beyond contacts (P6 beyond, contract "Salesforce (REST)"): a company is linked to
the Account with the same name (case-insensitive) or website domain, a deal to the Opportunity
with the same name under its company's Account, a user to the active Salesforce User with the
same email. Made for the ``WhatId``s and ``OwnerId``s a page names, before it is applied: a few
queries per page, only for ids not linked yet."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import Any
from urllib.parse import urlsplit

from sqlalchemy import false, func, select
from sqlalchemy.orm import Session

from server.crm.models import Company, Deal, User
from server.salesforce import links, soql
from server.salesforce.client import SalesforceApi
from server.salesforce.models import SalesforceLink

PREFIX = {"001": "Account", "006": "Opportunity", "005": "User"}
OBJECT_TYPE = {"Account": "company", "Opportunity": "deal", "User": "user"}


def wanted(records: Iterable[dict[str, Any]]) -> dict[str, set[str]]:
    """Salesforce ids by object, from the page's ``WhatId`` and ``OwnerId``."""
    out: dict[str, set[str]] = {name: set() for name in PREFIX.values()}
    for record in records:
        for key in ("WhatId", "OwnerId"):
            value = str(record.get(key) or "")
            name = PREFIX.get(value[:3])
            if name:
                out[name].add(value)
    return out


def unlinked(session: Session, account_id: int, ids: dict[str, set[str]]) -> dict[str, set[str]]:
    out: dict[str, set[str]] = {}
    for name, found in ids.items():
        known = links.by_record(session, account_id, OBJECT_TYPE[name], found)
        out[name] = {i for i in found if i not in known}
    return out


def fetch(api: SalesforceApi, ids: dict[str, set[str]]) -> dict[str, list[dict[str, Any]]]:
    """The records to match, an Opportunity's Account included."""
    fields = {
        "Account": ("Id", "Name", "Website"),
        "Opportunity": ("Id", "Name", "AccountId"),
        "User": ("Id", "Email", "IsActive"),
    }
    out: dict[str, list[dict[str, Any]]] = {}
    for name in ("Opportunity", "User", "Account"):
        wanted_ids = set(ids.get(name, ()))
        if name == "Account":
            wanted_ids |= {
                str(o["AccountId"]) for o in out.get("Opportunity", []) if o.get("AccountId")
            }
        if not wanted_ids:
            continue
        literals = [soql.record_id(i) for i in sorted(wanted_ids)]
        query = soql.select(fields[name], name, [soql.in_list("Id", literals)])
        out[name] = [r for page in api.query_pages(query, include_deleted=False) for r in page]
    return out


def _host(url: Any) -> str:
    text = str(url or "").strip().lower()
    if not text:
        return ""
    host = urlsplit(text if "//" in text else f"//{text}").hostname or ""
    return host.removeprefix("www.")


def link(
    session: Session, account_id: int, found: dict[str, list[dict[str, Any]]], now: datetime
) -> int:
    made = 0
    company_of: dict[str, int] = {}
    for record in found.get("Account", []):
        name, host = str(record.get("Name") or "").strip().lower(), _host(record.get("Website"))
        company = session.scalar(
            select(Company)
            .where(
                Company.account_id == account_id,
                (func.lower(Company.name) == name)
                | ((Company.domain == host) if host else false()),
            )
            .order_by(Company.id)
        )
        if company is not None:
            company_of[str(record["Id"])] = company.id
            made += _add(session, account_id, "company", company.id, "Account", record, now)
    for record in found.get("Opportunity", []):
        company_id = company_of.get(str(record.get("AccountId") or "")) or _linked_company(
            session, account_id, str(record.get("AccountId") or "")
        )
        if company_id is None:
            continue
        deal = session.scalar(
            select(Deal)
            .where(
                Deal.account_id == account_id,
                Deal.company_id == company_id,
                func.lower(Deal.name) == str(record.get("Name") or "").strip().lower(),
            )
            .order_by(Deal.id)
        )
        if deal is not None:
            made += _add(session, account_id, "deal", deal.id, "Opportunity", record, now)
    for record in found.get("User", []):
        email = str(record.get("Email") or "").strip().lower()
        user = session.scalar(
            select(User).where(User.account_id == account_id, User.email_normalized == email)
        )
        if user is not None and record.get("IsActive", True):
            made += _add(session, account_id, "user", user.id, "User", record, now)
    session.flush()
    return made


def _linked_company(session: Session, account_id: int, salesforce_id: str) -> int | None:
    found = links.by_record(session, account_id, "company", [salesforce_id]).get(salesforce_id)
    return found.crm_id if found else None


def _add(
    session: Session,
    account_id: int,
    object_type: str,
    crm_id: int,
    salesforce_type: str,
    record: dict[str, Any],
    now: datetime,
) -> int:
    if links.of_crm(session, account_id, object_type, crm_id) is not None:
        return 0  # the CRM object is linked to another record already: the first link stays
    session.add(
        SalesforceLink(
            account_id=account_id,
            object_type=object_type,
            crm_id=crm_id,
            salesforce_type=salesforce_type,
            salesforce_id=str(record["Id"]),
            origin="match",
            created_at=now,
            updated_at=now,
        )
    )
    session.flush()
    return 1
