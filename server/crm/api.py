"""REST API ``/api/v1``: contacts, companies, deals, tickets, meetings, notes, timelines.

Handlers are thin: load the body through its schema, call a service with the caller's account,
dump the result. Account isolation comes from ``get_owned``: another account's id is a 404.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any, cast

from flask import Blueprint, Flask, Response, g, jsonify, request
from marshmallow import Schema
from sqlalchemy import select

from server.crm import accounts, meetings, schemas, serialize, services, timeline
from server.crm.models import Account, Contact, Meeting, User
from server.db import MAX_ID
from server.errors import Invalid, NotFound, Unauthorized
from server.openapi import API_PREFIX, build
from server.rows import get_owned
from server.web import (
    database,
    db_session,
    decode_cursor,
    doc,
    encode_cursor,
    id_cursor,
    json_body,
    query_args,
)

bp = Blueprint("api", __name__, url_prefix=API_PREFIX)
RECORD_TYPES = {"companies": "company", "deals": "deal", "tickets": "ticket"}


@bp.before_request
def _authenticate() -> None:
    if request.endpoint != "api.openapi":
        authenticate()


def authenticate() -> None:
    """Every ``/api/v1`` route but the OpenAPI document: the bearer API token names the
    account the request acts for (``account()``)."""
    header = request.headers.get("Authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise Unauthorized("an API token is required: Authorization: Bearer <token>")
    found = accounts.account_for_token(db_session(), token.strip())
    if found is None:
        raise Unauthorized("the API token is not valid")
    g.account, row = found
    accounts.note_token_use(database(), row)


def account() -> Account:
    return cast(Account, g.account)


def _json(schema: Schema, data: Any, status: int = 200) -> tuple[Response, int]:
    return jsonify(schema.dump(data)), status


@bp.get("/openapi.json")
def openapi() -> Response:
    from flask import current_app

    return jsonify(build(current_app))


# --- contacts ------------------------------------------------------------------------------


@bp.post("/contacts")
@doc(summary="Create a contact", body=schemas.ContactIn, response=schemas.ContactOut, status=201)
def create_contact() -> tuple[Response, int]:
    data = json_body(schemas.ContactIn())
    row = services.create_contact(db_session(), account().id, **data)
    return _json(schemas.ContactOut(), serialize.contact(row), 201)


@bp.get("/contacts")
@doc(summary="List contacts", query=schemas.ContactQuery, response=schemas.ContactList)
def list_contacts() -> tuple[Response, int]:
    args = query_args(schemas.ContactQuery())
    query = select(Contact).where(Contact.account_id == account().id)
    if args["email"] is not None:
        query = query.where(Contact.email_normalized == args["email"].strip().lower())
    rows, nxt = services.page(
        db_session(), query, Contact.id, id_cursor(args["cursor"]), args["limit"]
    )
    body = {
        "results": [serialize.contact(r) for r in rows],
        "next_cursor": encode_cursor(str(nxt)) if nxt else None,
    }
    return _json(schemas.ContactList(), body)


@bp.get("/contacts/<int:contact_id>")
@doc(summary="Get a contact", response=schemas.ContactOut)
def get_contact(contact_id: int) -> tuple[Response, int]:
    row = get_owned(db_session(), Contact, account().id, contact_id)
    return _json(schemas.ContactOut(), serialize.contact(row))


@bp.patch("/contacts/<int:contact_id>")
@doc(summary="Update a contact", body=schemas.ContactPatch, response=schemas.ContactOut)
def patch_contact(contact_id: int) -> tuple[Response, int]:
    session = db_session()
    row = get_owned(session, Contact, account().id, contact_id)
    services.update_contact(session, row, json_body(schemas.ContactPatch()))
    return _json(schemas.ContactOut(), serialize.contact(row))


@bp.delete("/contacts/<int:contact_id>")
@doc(summary="Delete a contact", status=204)
def delete_contact(contact_id: int) -> tuple[str, int]:
    session = db_session()
    services.delete_contact(session, get_owned(session, Contact, account().id, contact_id))
    return "", 204


@bp.get("/contacts/<int:contact_id>/timeline")
@doc(
    summary="A contact's timeline, newest first", query=schemas.ListQuery, response=schemas.Timeline
)
def contact_timeline(contact_id: int) -> tuple[Response, int]:
    session = db_session()
    contact = get_owned(session, Contact, account().id, contact_id)
    args = query_args(schemas.ListQuery())
    cursor = _timeline_cursor(decode_cursor(args["cursor"]))
    rows, nxt = timeline.timeline(session, contact, cursor, args["limit"])
    extra = timeline.extra_fields(session, contact.account_id, [r.id for r in rows])
    body = {
        "results": [serialize.timeline_item(r) | extra.get(r.id, {}) for r in rows],
        "next_cursor": _encode_time_cursor(nxt),
    }
    return _json(schemas.Timeline(), body)


def _encode_time_cursor(nxt: timeline.TimelineCursor | None) -> str | None:
    return encode_cursor(f"{nxt[0].isoformat()}|{nxt[1]}") if nxt else None


def _timeline_cursor(raw: str | None) -> timeline.TimelineCursor | None:
    if raw is None:
        return None
    at, _, last = raw.partition("|")
    try:
        when = datetime.fromisoformat(at)
        if when.tzinfo is None:
            raise ValueError("naive")
        when = when.astimezone(UTC)
    except (ValueError, OverflowError) as exc:
        raise Invalid("malformed cursor") from exc
    if not (last.isascii() and last.isdigit() and 0 < int(last) <= MAX_ID):
        raise Invalid("malformed cursor")
    return when, int(last)


# --- companies, deals, tickets -------------------------------------------------------------


def _record_views(app_bp: Blueprint, plural: str, object_type: str) -> None:
    model = services.OBJECT_MODELS[object_type]

    @doc(summary=f"Create a {object_type}", body=schemas.RecordIn, response=schemas.RecordOut)
    def create() -> tuple[Response, int]:
        row = services.create_record(
            db_session(), account().id, object_type, json_body(schemas.RecordIn())["name"]
        )
        return _json(schemas.RecordOut(), serialize.record(row), 201)

    @doc(summary=f"Get a {object_type}", response=schemas.RecordOut)
    def get(object_id: int) -> tuple[Response, int]:
        row = get_owned(db_session(), model, account().id, object_id)
        return _json(schemas.RecordOut(), serialize.record(row))

    create.openapi["status"] = 201  # type: ignore[attr-defined]
    app_bp.add_url_rule(f"/{plural}", f"create_{object_type}", create, methods=["POST"])
    app_bp.add_url_rule(f"/{plural}/<int:object_id>", f"get_{object_type}", get, methods=["GET"])


for _plural, _type in RECORD_TYPES.items():
    _record_views(bp, _plural, _type)


# --- meetings and notes --------------------------------------------------------------------


def owner_user(email: str | None) -> User | None:
    """The account's user with this email (an engagement's owner), or 400."""
    if email is None:
        return None
    user = accounts.user_by_email(db_session(), email)
    if user is None or user.account_id != account().id:
        raise Invalid("owner_email is not a user of this account", {"owner_email": email})
    return user


def _attendees(emails: list[str]) -> list[services.AttendeeInput]:
    return [services.AttendeeInput(email=e) for e in emails]


@bp.post("/meetings")
@doc(summary="Schedule a meeting (S1)", body=schemas.MeetingIn, response=schemas.MeetingOut)
def create_meeting() -> tuple[Response, int]:
    data = json_body(schemas.MeetingIn())
    session = db_session()
    people = accounts.directory(session, account().id)
    meeting = services.create_meeting(
        session,
        account().id,
        title=data["title"],
        start=data["start"],
        end=data["end"],
        description=data["description"],
        people=people,
        attendees=_attendees(data["attendee_emails"]),
        associations=data["associations"],
        owner=owner_user(data["owner_email"]),
        outcome=data.get("outcome", "scheduled"),
        notify=data["send_invites"],
    )
    return _json(schemas.MeetingOut(), serialize.meeting(meeting), 201)


create_meeting.openapi["status"] = 201  # type: ignore[attr-defined]


@bp.get("/meetings/<int:meeting_id>")
@doc(summary="Get a meeting", response=schemas.MeetingOut)
def get_meeting(meeting_id: int) -> tuple[Response, int]:
    row = get_owned(db_session(), Meeting, account().id, meeting_id)
    return _json(schemas.MeetingOut(), serialize.meeting(row))


@bp.patch("/meetings/<int:meeting_id>")
@doc(summary="Update a meeting", body=schemas.MeetingPatch, response=schemas.MeetingOut)
def patch_meeting(meeting_id: int) -> tuple[Response, int]:
    session = db_session()
    meeting = get_owned(session, Meeting, account().id, meeting_id)
    data = json_body(schemas.MeetingPatch())
    changes: dict[str, Any] = {
        k: data[k] for k in ("title", "description", "start", "end", "outcome") if k in data
    }
    if "owner_email" in data:
        changes["owner"] = owner_user(data["owner_email"])
    if "attendee_emails" in data:
        changes["attendees"] = _attendees(data["attendee_emails"])
    if "associations" in data:
        changes["associations"] = data["associations"]
    people = accounts.directory(session, account().id)
    notify = data.get("send_invites", True)
    meetings.update_meeting(session, meeting, changes, people, notify=notify)
    session.flush()
    session.refresh(meeting)
    return _json(schemas.MeetingOut(), serialize.meeting(meeting))


@bp.delete("/meetings/<int:meeting_id>")
@doc(summary="Delete a meeting (its calendar event is left alone, S2)", status=204)
def delete_meeting(meeting_id: int) -> tuple[str, int]:
    session = db_session()
    meetings.delete_engagement(session, get_owned(session, Meeting, account().id, meeting_id))
    return "", 204


@bp.get("/meetings/<int:meeting_id>/notes")
@doc(summary="A meeting's notes, newest first", query=schemas.ListQuery, response=schemas.NoteList)
def list_notes(meeting_id: int) -> tuple[Response, int]:
    session = db_session()
    meeting = get_owned(session, Meeting, account().id, meeting_id)
    args = query_args(schemas.ListQuery())
    cursor = _timeline_cursor(decode_cursor(args["cursor"]))
    rows, nxt = timeline.notes(session, meeting, cursor, args["limit"])
    body = {"results": [serialize.note(n) for n in rows], "next_cursor": _encode_time_cursor(nxt)}
    return _json(schemas.NoteList(), body)


@bp.post("/meetings/<int:meeting_id>/notes")
@doc(summary="Add a note to a meeting", body=schemas.NoteIn, response=schemas.NoteOut, status=201)
def create_note(meeting_id: int) -> tuple[Response, int]:
    session = db_session()
    meeting = get_owned(session, Meeting, account().id, meeting_id)
    data = json_body(schemas.NoteIn())
    key = request.headers.get("Idempotency-Key")
    if key is not None and not (0 < len(key) <= 200 and key.isprintable()):
        raise Invalid("Idempotency-Key must be 1 to 200 printable characters")
    note = services.add_note(session, meeting, data["body"], None, f"api:{key}" if key else None)
    return _json(schemas.NoteOut(), serialize.note(note), 201)


def register(app: Flask) -> None:
    app.register_blueprint(bp)


__all__ = ["NotFound", "bp", "register"]
