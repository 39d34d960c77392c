"""Links between CRM objects and Salesforce records, and the contact links of the contract: a
CRM contact is linked to the Salesforce Contact with the same email (case-insensitive), else to
the Lead with it; among several, the oldest ``CreatedDate``. Merged or deleted records unlink;
the next pass links the contact again to what is left."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from server.crm.models import Contact
from server.salesforce import outbox, soql
from server.salesforce.client import SalesforceApi
from server.salesforce.models import SalesforceLink

CHUNK = 100


def by_record(
    session: Session, account_id: int, object_type: str, salesforce_ids: Iterable[str]
) -> dict[str, SalesforceLink]:
    ids = [i for i in set(salesforce_ids) if i]
    found: dict[str, SalesforceLink] = {}
    for start in range(0, len(ids), 500):
        for link in session.scalars(
            select(SalesforceLink).where(
                SalesforceLink.account_id == account_id,
                SalesforceLink.object_type == object_type,
                SalesforceLink.salesforce_id.in_(ids[start : start + 500]),
            )
        ):
            found[link.salesforce_id] = link
    return found


def of_crm(
    session: Session, account_id: int, object_type: str, crm_id: int
) -> SalesforceLink | None:
    return session.scalar(
        select(SalesforceLink).where(
            SalesforceLink.account_id == account_id,
            SalesforceLink.object_type == object_type,
            SalesforceLink.crm_id == crm_id,
        )
    )


def unlink_records(session: Session, account_id: int, salesforce_ids: Sequence[str]) -> int:
    if not salesforce_ids:
        return 0
    result = session.execute(
        delete(SalesforceLink).where(
            SalesforceLink.account_id == account_id,
            SalesforceLink.object_type == "contact",
            SalesforceLink.salesforce_id.in_(list(salesforce_ids)),
        )
    )
    return int(getattr(result, "rowcount", 0) or 0)


def find_people(api: SalesforceApi, emails: Sequence[str]) -> dict[str, tuple[str, str]]:
    """Lower-cased email -> (sObject, Id) of the record each should link to: Contacts before
    Leads, the oldest first."""
    chosen: dict[str, tuple[str, str]] = {}
    for sobject in ("Contact", "Lead"):
        wanted = [e for e in emails if e not in chosen]
        for start in range(0, len(wanted), CHUNK):
            chunk = wanted[start : start + CHUNK]
            where = [soql.in_list("Email", (soql.string(e) for e in chunk))]
            if sobject == "Lead":
                where.append("IsConverted = false")
            query = soql.select(
                ("Id", "Email", "CreatedDate"), sobject, where, order=("CreatedDate", "Id")
            )
            for page in api.query_pages(query, include_deleted=False):
                for record in page:
                    email = str(record.get("Email") or "").strip().lower()
                    if email and email not in chosen:
                        chosen[email] = (sobject, str(record["Id"]))
    return chosen


def drop_stale(session: Session, account_id: int) -> int:
    """Contact links whose contact is gone or has another email now: the next pass links
    the contact by its current email."""
    current = (
        select(Contact.id)
        .where(
            Contact.account_id == account_id,
            Contact.id == SalesforceLink.crm_id,
            Contact.email_normalized == SalesforceLink.match_key,
        )
        .exists()
    )
    result = session.execute(
        delete(SalesforceLink)
        .where(
            SalesforceLink.account_id == account_id,
            SalesforceLink.object_type == "contact",
            ~current,
        )
        .execution_options(synchronize_session=False)
    )
    return int(getattr(result, "rowcount", 0) or 0)


def unlinked_contacts(session: Session, account_id: int, limit: int = 2000) -> list[Contact]:
    linked = select(SalesforceLink.crm_id).where(
        SalesforceLink.account_id == account_id, SalesforceLink.object_type == "contact"
    )
    return list(
        session.scalars(
            select(Contact)
            .where(Contact.account_id == account_id, Contact.id.not_in(linked))
            .order_by(Contact.id)
            .limit(limit)
        )
    )


def link_contacts(
    session: Session,
    account_id: int,
    contacts: Sequence[Contact],
    found: dict[str, tuple[str, str]],
    now: datetime,
) -> int:
    """Link each contact whose email ``found`` names; the engagements the new links bring
    are queued for the push (H4)."""
    made: list[int] = []
    for contact in contacts:
        target = found.get(contact.email_normalized)
        if target is None:
            continue
        session.add(
            SalesforceLink(
                account_id=account_id,
                object_type="contact",
                crm_id=contact.id,
                salesforce_type=target[0],
                salesforce_id=target[1],
                origin="match",
                match_key=contact.email_normalized,
                created_at=now,
                updated_at=now,
            )
        )
        made.append(contact.id)
    session.flush()
    outbox.contacts_linked(session, account_id, made, now)
    return len(made)


def people_changes(records: Sequence[dict[str, Any]]) -> tuple[list[str], list[str]]:
    """From a Contact/Lead page: the ids to unlink (deleted, merged away, converted) and the
    emails to link again."""
    gone = [
        str(r["Id"])
        for r in records
        if r.get("IsDeleted") or r.get("MasterRecordId") or r.get("IsConverted")
    ]
    emails = [
        str(r.get("Email") or "").strip().lower()
        for r in records
        if r.get("Email") and str(r["Id"]) not in gone
    ]
    return gone, emails


def timeline_ids(
    session: Session, account_id: int, ids: Sequence[int]
) -> dict[int, dict[str, Any]]:
    """``salesforce_id`` of the timeline's activities and meetings that have a link."""
    if not ids:
        return {}
    rows = session.execute(
        select(SalesforceLink.crm_id, SalesforceLink.salesforce_id).where(
            SalesforceLink.account_id == account_id,
            SalesforceLink.object_type.in_(("activity", "meeting")),
            SalesforceLink.crm_id.in_(list(ids)),
        )
    )
    return {crm_id: {"salesforce_id": sf_id} for crm_id, sf_id in rows}
