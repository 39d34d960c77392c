"""REST: the account's calendar connections, each one's sync log, and asking for a sync.

``GET /api/v1/calendar-connections``, ``GET /api/v1/calendar-connections/{id}/sync-log``
(newest first: what the sync did with each event and which rule said so),
``POST /api/v1/calendar-connections/{id}/sync`` (202; coalesces like a push notification).
"""

from __future__ import annotations

from typing import cast

from flask import Blueprint, Flask, Response, current_app, jsonify
from marshmallow import Schema, fields
from sqlalchemy import select

from server.calendars import status
from server.calendars.models import CalendarConnection
from server.crm import services
from server.crm.api import account, authenticate
from server.crm.schemas import ListQuery
from server.errors import Invalid
from server.jobs import Jobs
from server.openapi import API_PREFIX
from server.rows import get_owned
from server.web import database, db_session, doc, encode_cursor, id_cursor, query_args

bp = Blueprint("calendar_api", __name__, url_prefix=API_PREFIX)


class ConnectionOut(Schema):
    id = fields.Integer()
    user_email = fields.String()
    provider = fields.String()
    account_email = fields.String()
    status = fields.String()
    status_reason = fields.String()
    connected_at = fields.AwareDateTime()
    last_synced_at = fields.AwareDateTime(allow_none=True)
    next_sync_at = fields.AwareDateTime(allow_none=True)
    last_error = fields.String()
    push_expires_at = fields.AwareDateTime(allow_none=True)


class ConnectionList(Schema):
    results = fields.List(fields.Nested(ConnectionOut))
    next_cursor = fields.String(allow_none=True)


class SyncLogEntryOut(Schema):
    id = fields.Integer()
    at = fields.AwareDateTime()
    event_id = fields.String(allow_none=True)
    action = fields.String()
    rule = fields.String()
    reason = fields.String()
    meeting_id = fields.Integer(allow_none=True)


class SyncLogList(Schema):
    results = fields.List(fields.Nested(SyncLogEntryOut))
    next_cursor = fields.String(allow_none=True)


class SyncRequested(Schema):
    requested = fields.Boolean()


bp.before_request(authenticate)


def _connection(connection_id: int) -> CalendarConnection:
    return get_owned(
        db_session(), CalendarConnection, account().id, connection_id, "calendar connection"
    )


@bp.get("/calendar-connections")
@doc(summary="The account's calendar connections", query=ListQuery, response=ConnectionList)
def list_connections() -> tuple[Response, int]:
    args = query_args(ListQuery())
    after = id_cursor(args["cursor"])
    query = select(CalendarConnection).where(CalendarConnection.account_id == account().id)
    found, nxt = services.page(db_session(), query, CalendarConnection.id, after, args["limit"])
    body = {
        "results": status.describe(db_session(), [row.id for row in found]),
        "next_cursor": encode_cursor(str(nxt)) if nxt else None,
    }
    return jsonify(ConnectionList().dump(body)), 200


@bp.get("/calendar-connections/<int:connection_id>/sync-log")
@doc(
    summary="What the calendar sync did with each event, and why (newest first)",
    query=ListQuery,
    response=SyncLogList,
)
def sync_log(connection_id: int) -> tuple[Response, int]:
    connection = _connection(connection_id)
    args = query_args(ListQuery())
    rows, more = status.sync_log(
        db_session(), connection.id, id_cursor(args["cursor"]), args["limit"]
    )
    body = {
        "results": rows,
        "next_cursor": encode_cursor(str(rows[-1]["id"])) if more and rows else None,
    }
    return jsonify(SyncLogList().dump(body)), 200


@bp.post("/calendar-connections/<int:connection_id>/sync")
@doc(summary="Ask for a sync of this calendar now", response=SyncRequested, status=202)
def request_sync(connection_id: int) -> tuple[Response, int]:
    connection = _connection(connection_id)
    if not connection.active:
        raise Invalid("this calendar is not connected", {"status": connection.status})
    jobs = cast(Jobs, current_app.extensions["jobs"])
    status.request_sync(db_session(), database(), jobs, connection)
    return jsonify({"requested": True}), 202


def register(app: Flask) -> None:
    app.register_blueprint(bp)
