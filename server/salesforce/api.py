"""REST for the Salesforce sync (contract "Salesforce (REST)"): status, the settings document,
field mappings, the sync log, and retrying failed records (H9)."""

from __future__ import annotations

from typing import Any, cast

from flask import Blueprint, Flask, Response, current_app, jsonify, request
from marshmallow import Schema, fields, validate
from sqlalchemy import select, update

from server import rows
from server.crm.api import account, authenticate
from server.db import utcnow
from server.errors import Invalid, NotFound
from server.jobs import Jobs
from server.openapi import API_PREFIX
from server.salesforce import document
from server.salesforce import org as orgs
from server.salesforce.describe import fields_for, picklist
from server.salesforce.models import SalesforceLogEntry
from server.salesforce.tasks import RETRY_TASK
from server.web import db_session, doc, query_args

bp = Blueprint("salesforce_api", __name__, url_prefix=API_PREFIX)
bp.before_request(authenticate)
LOG_LIMIT = 200
ERRORS_SHOWN = 50


class ErrorItem(Schema):
    salesforce_type = fields.String()
    salesforce_id = fields.String(allow_none=True)
    error = fields.String()
    created_at = fields.AwareDateTime()


class StatusOut(Schema):
    connected = fields.Boolean()
    status = fields.String()
    instance_url = fields.String(allow_none=True)
    integration_user_id = fields.String(allow_none=True)
    api_calls_today = fields.Integer()
    daily_api_budget = fields.Integer()
    org_api_usage = fields.Dict(allow_none=True)
    last_pull_at = fields.AwareDateTime(allow_none=True)
    last_push_at = fields.AwareDateTime(allow_none=True)
    paused_until = fields.AwareDateTime(allow_none=True)
    errors = fields.List(fields.Nested(ErrorItem))  # records that failed, newest first


class SettingsDoc(Schema):
    inbound = fields.Dict()
    outbound = fields.Dict()
    daily_api_budget = fields.Integer()


class MappingSchema(Schema):
    salesforce_field = fields.String(required=True)
    crm_property = fields.String(required=True)
    type = fields.String(required=True, validate=validate.OneOf(document.TYPES))


class MappingList(Schema):
    results = fields.List(fields.Nested(MappingSchema))


class LogQuery(Schema):
    limit = fields.Integer(load_default=50, validate=validate.Range(min=1, max=LOG_LIMIT))
    failed = fields.Boolean(load_default=False)


class LogItem(Schema):
    id = fields.Integer()
    direction = fields.String()
    salesforce_type = fields.String()
    salesforce_id = fields.String(allow_none=True)
    crm_id = fields.Integer(allow_none=True)
    action = fields.String()
    rule = fields.String()
    reason = fields.String()
    error = fields.String()
    status = fields.String()
    created_at = fields.AwareDateTime()


class LogList(Schema):
    results = fields.List(fields.Nested(LogItem))


class RetryOut(Schema):
    queued = fields.Integer()


def status_of(account_id: int) -> dict[str, Any]:
    """What the status endpoint and the settings page show."""
    session = db_session()
    org = orgs.org_of(session, account_id)
    now = utcnow()
    failed = session.scalars(
        select(SalesforceLogEntry)
        .where(SalesforceLogEntry.account_id == account_id, SalesforceLogEntry.status == "failed")
        .order_by(SalesforceLogEntry.id.desc())
        .limit(ERRORS_SHOWN)
    ).all()
    usage = None
    if org is not None and org.org_api_max:
        usage = {"used": org.org_api_used, "max": org.org_api_max}
    return {
        "connected": bool(org and org.active),
        "status": org.status if org else "disconnected",
        "instance_url": org.instance_url if org else None,
        "integration_user_id": org.integration_user_id if org else None,
        "api_calls_today": orgs.calls_today(org, now) if org else 0,
        "daily_api_budget": orgs.settings_of(org)["daily_api_budget"],
        "org_api_usage": usage,
        "last_pull_at": org.last_pull_at if org else None,
        "last_push_at": org.last_push_at if org else None,
        "paused_until": org.paused_until if org else None,
        "errors": [
            {
                "salesforce_type": e.salesforce_type,
                "salesforce_id": e.salesforce_id,
                "error": e.error,
                "created_at": e.created_at,
            }
            for e in failed
        ],
    }


@bp.get("/salesforce/status")
@doc(summary="The Salesforce sync's state", response=StatusOut)
def status() -> Response:
    return jsonify(StatusOut().dump(status_of(account().id)))


@bp.get("/salesforce/settings")
@doc(summary="The Salesforce sync's settings document", response=SettingsDoc)
def get_settings() -> Response:
    return jsonify(orgs.settings_of(orgs.org_of(db_session(), account().id)))


def save_settings(account_id: int, body: Any) -> dict[str, Any]:
    """Validate the whole document and store it; switches turned on get their time."""
    session = db_session()
    org = orgs.org_of(session, account_id, create=True)
    assert org is not None
    new = document.validate(body)  # the shape first: a bad document costs no API call
    if any(v["task_type"] for v in new["outbound"].values()):
        new = document.validate(body, picklist(account_id, "Task", "Type"))
    before = orgs.settings_of(org)
    org.enabled_at = document.switched_on(before, new, org.enabled_at, utcnow())
    org.settings = new
    session.flush()
    return new


@bp.put("/salesforce/settings")
@doc(summary="Replace the Salesforce sync's settings document", body=SettingsDoc,
     response=SettingsDoc)  # fmt: skip
def put_settings() -> Response:
    return jsonify(save_settings(account().id, _json()))


def _kind(kind: str) -> str:
    if kind not in document.INBOUND:
        raise NotFound("no mappings of that kind (task, email, call, meeting)", {"kind": kind})
    return kind


@bp.get("/salesforce/mappings/<kind>")
@doc(summary="A kind's field mappings (P5)", response=MappingList)
def get_mappings(kind: str) -> Response:
    org = orgs.org_of(db_session(), account().id)
    return jsonify({"results": document.mappings_of(org.mappings if org else None, _kind(kind))})


def save_mappings(
    account_id: int, kind: str, body: Any, fields_of: Any = None
) -> list[dict[str, str]]:
    session = db_session()
    org = orgs.org_of(session, account_id, create=True)
    assert org is not None
    checked = document.validate_mappings(_kind(kind), body, fields_of)
    stored = dict(org.mappings or {})
    stored[kind] = checked
    org.mappings = stored
    session.flush()
    return checked


@bp.put("/salesforce/mappings/<kind>")
@doc(summary="Replace a kind's field mappings (P5)", body=MappingSchema(many=True),
     response=MappingList)  # fmt: skip
def put_mappings(kind: str) -> Response:
    account_id = account().id
    known = fields_for(account_id, document.SOBJECT[_kind(kind)])
    return jsonify({"results": save_mappings(account_id, kind, _json(), known)})


@bp.get("/salesforce/sync-log")
@doc(summary="What the Salesforce sync did with each record, newest first", query=LogQuery,
     response=LogList)  # fmt: skip
def sync_log() -> Response:
    args = query_args(LogQuery())
    query = select(SalesforceLogEntry).where(SalesforceLogEntry.account_id == account().id)
    if args["failed"]:
        query = query.where(SalesforceLogEntry.status == "failed")
    rows = db_session().scalars(query.order_by(SalesforceLogEntry.id.desc()).limit(args["limit"]))
    return jsonify(LogList().dump({"results": list(rows)}))


def queue_retry(account_id: int) -> int:
    """Mark the failed records for a retry and hand it to the worker once committed."""
    session = db_session()
    queued = session.execute(
        update(SalesforceLogEntry)
        .where(SalesforceLogEntry.account_id == account_id, SalesforceLogEntry.status == "failed")
        .values(status="queued")
        .execution_options(synchronize_session=False)
    )
    count = int(getattr(queued, "rowcount", 0) or 0)
    if count:
        jobs = cast(Jobs, current_app.extensions["jobs"])
        rows.after_commit(session, lambda: jobs.tasks[RETRY_TASK](account_id))
    return count


@bp.post("/salesforce/retry")
@doc(summary="Retry the records that failed (H9)", response=RetryOut, status=202)
def retry() -> tuple[Response, int]:
    return jsonify({"queued": queue_retry(account().id)}), 202


def _json() -> Any:
    data = request.get_json(silent=True)
    if data is None:
        raise Invalid("the body must be JSON (Content-Type: application/json)")
    return data


def register(app: Flask) -> None:
    app.register_blueprint(bp)
