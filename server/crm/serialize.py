"""Rows to the plain dicts the REST schemas dump (and the add-on's views read)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from server.crm.models import Activity, Contact, Engagement, Meeting, Note


def _utc(value: datetime | None) -> datetime | None:
    """A stored instant in UTC, so a create answers exactly what a later read does."""
    return value.astimezone(UTC) if value is not None else None


def contact(row: Contact) -> dict[str, Any]:
    return {
        "id": row.id,
        "email": row.email,
        "first_name": row.first_name,
        "last_name": row.last_name,
        "company_id": row.company_id,
        "created_at": row.created_at,
        "updated_at": row.updated_at,
    }


def record(row: Any) -> dict[str, Any]:
    return {"id": row.id, "name": row.name, "created_at": row.created_at}


def note(row: Note) -> dict[str, Any]:
    return {
        "id": row.id,
        "body": row.body,
        "created_at": row.occurred_at,
        "author_email": row.owner.email if row.owner else None,
    }


def meeting(row: Meeting) -> dict[str, Any]:
    return {
        "id": row.id,
        "title": row.title,
        "description": row.body,
        "start": _utc(row.start_at),
        "end": _utc(row.end_at),
        "time_zone": row.time_zone,
        "source": row.source,
        "outcome": row.outcome,
        "external_event_id": row.external_event_id,
        "started_at": _utc(row.started_at),
        "owner_email": row.owner.email if row.owner else None,
        "video_url": row.video_url,
        "attendees": [
            {
                "email": a.email,
                "name": a.name,
                "response_status": a.response_status,
                "contact_id": a.contact_id,
                "internal": a.internal,
            }
            for a in row.attendees
        ],
        "notes": [note(n) for n in row.notes],
        "associations": [{"type": a.object_type, "id": a.object_id} for a in row.associations],
    }


def timeline_item(row: Engagement) -> dict[str, Any]:
    item: dict[str, Any] = {
        "type": row.kind,
        "id": row.id,
        "occurred_at": row.occurred_at,
        "title": row.title,
        "source": row.source,
        "author_email": row.owner.email if row.owner else None,
    }
    if isinstance(row, Meeting):
        item["meeting"] = meeting(row)
    elif isinstance(row, Note):
        item["body"] = row.body
        item["meeting_id"] = row.parent_id
    elif isinstance(row, Activity):
        item["body"] = row.body
        item["associations"] = [
            {"type": a.object_type, "id": a.object_id} for a in row.associations
        ]
        item["properties"] = row.properties or {}
    return item
