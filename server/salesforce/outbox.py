"""What the push has to do, written where the CRM changes (H4, H6, H7).

An engagement event (created, changed, deleted) of a kind switched on for pushing adds an
outbox row in the same transaction as the change, so a crash loses nothing and a rollback
leaves nothing. Linking a contact adds rows for its engagements: those that waited for a
linked contact, and those of the look-back windows (H4). What the pull itself writes is never
queued (H6): the pull marks its session, and what it made has the source ``salesforce``.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import insert, or_, select
from sqlalchemy.orm import Session

from server.crm.events import EngagementEvent
from server.crm.models import Association, Attendee, Engagement
from server.salesforce import document
from server.salesforce.models import DISCONNECTED, SalesforceLink, SalesforceOrg, SalesforceOutbox

PULLING = "salesforce_pulling"  # session.info flag: the pull is applying Salesforce's changes
# H4: what a newly linked contact brings from before the switch.
LOOK_BACK = {
    "marketing_email_sent": timedelta(days=30),
    "marketing_email_opened": timedelta(days=30),
    "marketing_email_clicked": timedelta(days=30),
    "form_submission": timedelta(days=365),
}


def object_type(kind: str) -> str:
    """The link's object type of an engagement kind."""
    return kind if kind in ("meeting", "note") else "activity"


_ORGS = "salesforce_orgs_seen"


def _org(session: Session, account_id: int) -> SalesforceOrg | None:
    """The account's org unless disconnected; looked up once per transaction (a calendar
    sync emits an event per meeting)."""
    seen: dict[int, SalesforceOrg | None] = session.info.setdefault(_ORGS, {})
    if account_id not in seen:
        org = session.scalar(select(SalesforceOrg).where(SalesforceOrg.account_id == account_id))
        seen[account_id] = org if org is not None and org.status != DISCONNECTED else None
    return seen[account_id]


def switched_at(org: SalesforceOrg, kind: str) -> datetime | None:
    """When pushing ``kind`` was turned on; None while it is off (H1)."""
    if kind not in document.OUTBOUND:
        return None
    if not document.current(org.settings)["outbound"][kind]["enabled"]:
        return None
    stamp = (org.enabled_at or {}).get(f"outbound.{kind}")
    return datetime.fromisoformat(stamp) if stamp else None


def engagement_changed(session: Session, event: EngagementEvent) -> bool:
    """The subscriber of the CRM's engagement events; whether a row was queued."""
    if session.info.get(PULLING) or event.engagement_type not in document.OUTBOUND:
        return False
    if event.source == "salesforce" and event.engagement_type != "note":
        return False  # made by the pull; its later edits stay in the CRM (H6)
    org = _org(session, event.account_id)
    if org is None:
        return False
    if event.kind == "deleted":
        pushed = session.scalar(
            select(SalesforceLink.id).where(
                SalesforceLink.account_id == event.account_id,
                SalesforceLink.object_type == object_type(event.engagement_type),
                SalesforceLink.crm_id == event.engagement_id,
                SalesforceLink.origin == "push",
            )
        )
        if pushed is None:
            return False
    elif switched_at(org, event.engagement_type) is None:
        return False
    session.add(
        SalesforceOutbox(
            account_id=event.account_id,
            engagement_id=event.engagement_id,
            kind=event.engagement_type,
            reason=event.kind,
        )
    )
    return True


def related(session: Session, account_id: int, contact_ids: Sequence[int]) -> list[Engagement]:
    """The engagements on these contacts' timelines: their activities and meetings (by
    association or attendance) and those meetings' notes."""
    if not contact_ids:
        return []
    by_association = select(Association.engagement_id).where(
        Association.object_type == "contact", Association.object_id.in_(list(contact_ids))
    )
    attended = select(Attendee.meeting_id).where(Attendee.contact_id.in_(list(contact_ids)))
    return list(
        session.scalars(
            select(Engagement).where(
                Engagement.account_id == account_id,
                or_(
                    Engagement.id.in_(by_association),
                    Engagement.id.in_(attended),
                    Engagement.parent_id.in_(by_association),
                    Engagement.parent_id.in_(attended),
                ),
            )
        )
    )


def eligible(
    kind: str,
    created_at: datetime,
    occurred_at: datetime,
    switched: datetime | None,
    linked_at: datetime | None,
) -> bool:
    """H4: pushed if made once the switch was on; or, for the look-back kinds, if it happened
    in the window before its contact was linked while the switch was on."""
    if switched is None:
        return False
    if created_at >= switched:
        return True
    window = LOOK_BACK.get(kind)
    return (
        window is not None
        and linked_at is not None
        and switched <= linked_at
        and linked_at - window <= occurred_at <= linked_at
    )


def contacts_linked(
    session: Session, account_id: int, contact_ids: Iterable[int], now: datetime
) -> int:
    """Queue the engagements newly linked contacts bring (H4); the push decides again with
    the data of its own time."""
    org = _org(session, account_id)
    ids = list(contact_ids)
    if org is None or not ids:
        return 0
    rows: list[dict[str, Any]] = []
    for engagement in related(session, account_id, ids):
        switched = switched_at(org, engagement.kind)
        if not eligible(
            engagement.kind, engagement.created_at, engagement.occurred_at, switched, now
        ):
            continue
        if engagement.source == "salesforce" and engagement.kind != "note":
            continue
        rows.append(
            {
                "account_id": account_id,
                "engagement_id": engagement.id,
                "kind": engagement.kind,
                "reason": "linked",
                "created_at": now,
            }
        )
    if rows:
        session.execute(insert(SalesforceOutbox), rows)
    return len(rows)
