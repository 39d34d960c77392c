"""The Salesforce Task a CRM engagement is pushed as (H1-H5, P6 mirrored).

- Subject: the contract's pattern per kind (H3), at most 255 characters.
- ``TaskSubtype`` (create-only): ``Call`` for calls, ``Email`` for sales and marketing emails,
  ``Task`` for the rest; ``Type`` the kind's ``task_type`` (H2); ``Status`` a closed status
  of the org; ``ActivityDate`` the date the activity happened where it happened (a meeting's
  own zone, else the integration user's).
- ``WhoId``: one Salesforce person (H5), the one linked to the most recently created of the
  engagement's contacts (equal creation times: the highest id).
- ``WhatId``: the deal's Opportunity, else the company's Account, where linked (not on a
  Lead, which Salesforce refuses); ``OwnerId`` the owner's active Salesforce user, where
  linked (else the integration user owns the Task).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from sqlalchemy import select
from sqlalchemy.orm import Session, selectinload, with_polymorphic

from server.crm.models import Activity, Contact, Engagement, Meeting, Note
from server.salesforce import links
from server.salesforce.models import SalesforceLink

SUBJECT_PREFIX = {
    "meeting": "Meeting",
    "call": "Call",
    "note": "Note",
    "task": "Task",
    "sales_email_sent": "Sent",
    "marketing_email_sent": "Sent",
    "sales_email_opened": "Opened",
    "marketing_email_opened": "Opened",
    "sales_email_clicked": "Clicked",
    "marketing_email_clicked": "Clicked",
    "sales_email_replied": "Replied",
    "form_submission": "Submitted",
    "sales_content_view": "Viewed",
    "integration_event": "Event",
}
SUBJECT_MAX = 255
NOTE_PREVIEW = 80
DESCRIPTION_MAX = 32_000


def subject(kind: str, title: str, body: str) -> str:
    """H3: ``Note: <first 80 characters>``, ``Opened: <email name>``, ``Call: <title>``, ..."""
    text = " ".join(body.split())[:NOTE_PREVIEW] if kind == "note" else title
    return f"{SUBJECT_PREFIX[kind]}: {text}"[:SUBJECT_MAX]


def without_prefix(kind: str, text: str) -> str:
    """A pushed Task's subject read back: the title without the pattern's prefix."""
    prefix = f"{SUBJECT_PREFIX.get(kind, '')}: "
    return text[len(prefix) :] if kind in SUBJECT_PREFIX and text.startswith(prefix) else text


def subtype(kind: str) -> str:
    if kind == "call":
        return "Call"
    return "Email" if "_email_" in kind else "Task"


def digest(fields: dict[str, Any]) -> str:
    return hashlib.sha256(json.dumps(fields, sort_keys=True, default=str).encode()).hexdigest()


def _zone(name: str | None, fallback: str) -> ZoneInfo:
    for candidate in (name, fallback, "UTC"):
        if candidate:
            try:
                return ZoneInfo(candidate)
            except (ZoneInfoNotFoundError, ValueError):
                continue
    return ZoneInfo("UTC")


@dataclass(frozen=True)
class Setup:
    """What the push must know of the org, asked once a day: whether Tasks have the
    external-id field, the closed status to use, and the integration user's time zone."""

    external_id: bool
    closed_status: str
    time_zone: str
    asked_at: str

    def as_json(self) -> dict[str, Any]:
        return dict(self.__dict__)


@dataclass(frozen=True)
class Target:
    """H5: the Salesforce person an engagement goes to."""

    contact_id: int
    salesforce_type: str  # Contact | Lead
    salesforce_id: str
    linked_at: datetime


class Batch:
    """A batch's engagements, their contacts and their links, loaded in a few queries."""

    def __init__(self, session: Session, account_id: int, ids: Sequence[int]) -> None:
        self.session = session
        self.account_id = account_id
        poly = with_polymorphic(Engagement, [Meeting, Note, Activity])
        query = (
            select(poly)
            .where(poly.account_id == account_id, poly.id.in_(list(ids)))
            .options(
                selectinload(poly.associations),
                selectinload(poly.Meeting.attendees),
                selectinload(poly.owner),
            )
        )
        self.engagements: dict[int, Engagement] = {e.id: e for e in session.scalars(query)}
        parents = {e.parent_id for e in self.engagements.values() if e.parent_id}
        self.parents: dict[int, Engagement] = {}
        if parents:
            parent_query = (
                select(poly)
                .where(poly.account_id == account_id, poly.id.in_(parents))
                .options(selectinload(poly.associations), selectinload(poly.Meeting.attendees))
            )
            self.parents = {e.id: e for e in session.scalars(parent_query)}
        contact_ids = {c for e in self.engagements.values() for c in self.contacts_of(e)}
        self.contacts = {
            c.id: c
            for c in session.scalars(
                select(Contact).where(
                    Contact.account_id == account_id, Contact.id.in_(list(contact_ids))
                )
            )
        }
        self._links: dict[tuple[str, int], SalesforceLink | None] = {}
        wanted: dict[str, set[int]] = {"contact": set(contact_ids), "user": set()}
        wanted |= {"company": set(), "deal": set(), "activity": set(), "meeting": set()}
        wanted["note"] = set()
        for engagement in self.engagements.values():
            wanted["user"].add(engagement.owner_id or 0)
            for kind, object_id in self.associations_of(engagement):
                if kind in ("company", "deal"):
                    wanted[kind].add(object_id)
        for object_type in ("activity", "meeting", "note"):
            wanted[object_type] = set(ids)
        for object_type, crm_ids in wanted.items():
            self._load_links(object_type, crm_ids)

    def _load_links(self, object_type: str, crm_ids: Iterable[int]) -> None:
        ids = [i for i in set(crm_ids) if i]
        for start in range(0, len(ids), 500):
            for link in self.session.scalars(
                select(SalesforceLink).where(
                    SalesforceLink.account_id == self.account_id,
                    SalesforceLink.object_type == object_type,
                    SalesforceLink.crm_id.in_(ids[start : start + 500]),
                )
            ):
                self._links[(object_type, link.crm_id)] = link
        for crm_id in ids:
            self._links.setdefault((object_type, crm_id), None)

    def link(self, object_type: str, crm_id: int | None) -> SalesforceLink | None:
        if not crm_id:
            return None
        key = (object_type, crm_id)
        if key not in self._links:
            self._links[key] = links.of_crm(self.session, self.account_id, object_type, crm_id)
        return self._links[key]

    # -- what an engagement concerns ----------------------------------------------------------

    def _own_and_parent(self, engagement: Engagement) -> list[Engagement]:
        parent = self.parents.get(engagement.parent_id or 0)
        return [engagement, parent] if parent is not None else [engagement]

    def contacts_of(self, engagement: Engagement) -> set[int]:
        """A note's are its meeting's; a meeting's are its attendees' and associations'."""
        found: set[int] = set()
        for item in self._own_and_parent(engagement):
            found |= {a.object_id for a in item.associations if a.object_type == "contact"}
            if isinstance(item, Meeting):
                found |= {a.contact_id for a in item.attendees if a.contact_id}
        return found

    def associations_of(self, engagement: Engagement) -> list[tuple[str, int]]:
        return [
            (a.object_type, a.object_id)
            for item in self._own_and_parent(engagement)
            for a in item.associations
            if a.object_type != "contact"
        ]

    def target(self, engagement: Engagement) -> Target | None:
        """H5: of the linked contacts, the most recently created; ties go to the highest id."""
        best: tuple[datetime, int] | None = None
        chosen: Target | None = None
        for contact_id in self.contacts_of(engagement):
            contact = self.contacts.get(contact_id)
            link = self.link("contact", contact_id)
            if contact is None or link is None:
                continue
            key = (contact.created_at, contact.id)
            if best is None or key > best:
                best = key
                chosen = Target(
                    contact.id, link.salesforce_type, link.salesforce_id, link.created_at
                )
        return chosen

    def what_id(self, engagement: Engagement, target: Target) -> str | None:
        if target.salesforce_type != "Contact":
            return None  # Salesforce takes no WhatId on a Lead's Task
        pairs = self.associations_of(engagement)
        for wanted in ("deal", "company"):
            for object_type, object_id in sorted(pairs):
                link = self.link(object_type, object_id) if object_type == wanted else None
                if link is not None:
                    return link.salesforce_id
        return None

    def owner_id(self, engagement: Engagement) -> str | None:
        link = self.link("user", engagement.owner_id)
        return link.salesforce_id if link is not None else None

    def fields(
        self, engagement: Engagement, target: Target, setup: Setup, doc: dict[str, Any]
    ) -> dict[str, Any]:
        """The Task's fields but ``TaskSubtype`` (sent on create only)."""
        kind = engagement.kind
        parent = self.parents.get(engagement.parent_id or 0)
        meeting_zone = next(
            (m.time_zone for m in (engagement, parent) if isinstance(m, Meeting) and m.time_zone),
            None,
        )
        zone = _zone(meeting_zone, setup.time_zone)
        fields: dict[str, Any] = {
            "Subject": subject(kind, engagement.title, engagement.body),
            "Description": engagement.body[:DESCRIPTION_MAX] or None,
            "ActivityDate": engagement.occurred_at.astimezone(zone).date().isoformat(),
            "Status": setup.closed_status,
            "WhoId": target.salesforce_id,
            "WhatId": self.what_id(engagement, target),
        }
        task_type = doc["outbound"][kind]["task_type"]
        if task_type:
            fields["Type"] = task_type
        owner = self.owner_id(engagement)
        if owner:
            fields["OwnerId"] = owner
        return fields
