"""Activities (tasks, calls, emails, marketing and sales touches, form submissions, ...) on
contacts' timelines: the REST ``/activities`` resource and what the Salesforce sync exchanges.

An activity belongs to its contacts through contact associations; other associations (company,
deal, ticket) ride along. Creating, changing and deleting one emits the CRM's engagement events
in the same transaction, so a sync that subscribes never misses one.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import datetime
from typing import Any

from sqlalchemy.orm import Session

from server.crm import events, services
from server.crm.meetings import delete_engagement
from server.crm.models import Activity, Contact, User
from server.rows import get_owned

ACTIVITY_TYPES = (
    "task",
    "call",
    "email",
    "sales_email_sent",
    "sales_email_opened",
    "sales_email_clicked",
    "sales_email_replied",
    "marketing_email_sent",
    "marketing_email_opened",
    "marketing_email_clicked",
    "form_submission",
    "sales_content_view",
    "integration_event",
)
FIELDS = ("type", "title", "body", "occurred_at", "contacts", "associations", "owner", "properties")


def get(session: Session, account_id: int, activity_id: int) -> Activity:
    return get_owned(session, Activity, account_id, activity_id, "activity")


def _links(
    session: Session, account_id: int, contact_ids: Iterable[int], others: Iterable[tuple[str, int]]
) -> list[tuple[str, int]]:
    """The associations: each contact (which must be the account's) first, then the rest."""
    ids = list(dict.fromkeys(contact_ids))
    for contact_id in ids:
        get_owned(session, Contact, account_id, contact_id, "contact")
    rest = [(t, i) for t, i in others if t != "contact" or i not in ids]
    return [("contact", i) for i in ids] + rest


def create(
    session: Session,
    account_id: int,
    *,
    kind: str,
    title: str,
    occurred_at: datetime,
    contact_ids: Iterable[int],
    body: str = "",
    associations: Iterable[tuple[str, int]] = (),
    owner: User | None = None,
    properties: Mapping[str, Any] | None = None,
    source: str = "crm",
) -> Activity:
    links = _links(session, account_id, contact_ids, associations)
    activity = services.create_activity(
        session,
        account_id,
        kind,
        title,
        occurred_at,
        body=body,
        source=source,
        owner=owner,
        associations=links,
    )
    activity.properties = dict(properties) if properties else None
    session.flush()
    events.emit_for(session, "created", activity)
    return activity


def update(session: Session, activity: Activity, changes: Mapping[str, Any]) -> frozenset[str]:
    """Apply ``changes`` (any of FIELDS); returns the fields that changed and emits them."""
    before = _state(activity)
    for name, attr in (("type", "kind"), ("title", "title"), ("body", "body")):
        if name in changes:
            setattr(activity, attr, changes[name])
    if "occurred_at" in changes:
        activity.occurred_at = changes["occurred_at"]
    if "owner" in changes:
        activity.owner_id = changes["owner"].id if changes["owner"] else None
    if "properties" in changes:
        activity.properties = dict(changes["properties"]) or None
    if "contacts" in changes or "associations" in changes:
        current = [(a.object_type, a.object_id) for a in activity.associations]
        contacts = changes.get("contacts", [i for t, i in current if t == "contact"])
        others = changes.get("associations", [(t, i) for t, i in current if t != "contact"])
        links = _links(session, activity.account_id, contacts, others)
        services.set_associations(session, activity, links)
    session.flush()
    after = _state(activity)
    changed = frozenset(f for f in FIELDS if before[f] != after[f])
    if changed:
        events.emit_for(session, "changed", activity, changed=changed)
    return changed


def delete(session: Session, activity: Activity) -> None:
    delete_engagement(session, activity)


def _state(activity: Activity) -> dict[str, Any]:
    pairs = sorted((a.object_type, a.object_id) for a in activity.associations)
    return {
        "type": activity.kind,
        "title": activity.title,
        "body": activity.body,
        "occurred_at": activity.occurred_at,
        "contacts": [i for t, i in pairs if t == "contact"],
        "associations": [p for p in pairs if p[0] != "contact"],
        "owner": activity.owner_id,
        "properties": activity.properties or {},
    }


def contact_ids(activity: Activity) -> list[int]:
    return [a.object_id for a in activity.associations if a.object_type == "contact"]
