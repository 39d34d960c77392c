"""REST: ``POST /activities``, ``GET|PATCH|DELETE /activities/{id}``. An activity needs at
least one of the account's contacts; another account's contact or object is a 404, an
unknown type or a malformed field a 400 with details, and nothing is written either way."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, Flask, Response, jsonify
from marshmallow import Schema, ValidationError, fields, post_load, validate

from server.crm import activities
from server.crm.api import account, authenticate, owner_user
from server.crm.models import NOTE_MAX, TITLE_MAX, Activity
from server.crm.schemas import AssociationSchema, StrictSchema, UTCDateTime, _email
from server.db import MAX_ID
from server.openapi import API_PREFIX
from server.web import db_session, doc, json_body

bp = Blueprint("activities_api", __name__, url_prefix=API_PREFIX)
bp.before_request(authenticate)
MAX_PROPERTIES = 50
MAX_PROPERTY_TEXT = 2000


def _properties(value: dict[str, Any]) -> None:
    """Flat and small: at most 50 keys of up to 100 characters; values text (up to 2,000
    characters), numbers, booleans or null."""
    if len(value) > MAX_PROPERTIES:
        raise ValidationError(f"at most {MAX_PROPERTIES} properties")
    for key, item in value.items():
        if not 0 < len(key) <= 100:
            raise ValidationError("a property name has 1 to 100 characters")
        if isinstance(item, str):
            if len(item) > MAX_PROPERTY_TEXT:
                raise ValidationError(f"{key}: at most {MAX_PROPERTY_TEXT} characters")
        elif item is not None and not isinstance(item, bool | int | float):
            raise ValidationError(f"{key}: text, a number, true/false or null")


class ActivityIn(StrictSchema):
    type = fields.String(required=True, validate=validate.OneOf(activities.ACTIVITY_TYPES))
    title = fields.String(required=True, validate=validate.Length(min=1, max=TITLE_MAX))
    body = fields.String(load_default="", validate=validate.Length(max=NOTE_MAX))
    occurred_at = UTCDateTime(required=True)
    contact_ids = fields.List(
        fields.Integer(strict=True, validate=validate.Range(min=1, max=MAX_ID)),
        required=True,
        validate=validate.Length(min=1, max=100),
    )
    associations = fields.List(
        fields.Nested(AssociationSchema), load_default=list, validate=validate.Length(max=100)
    )
    owner_email = _email(load_default=None, allow_none=True)
    properties = fields.Dict(
        keys=fields.String(), values=fields.Raw(allow_none=True), load_default=dict,
        validate=_properties,
    )  # fmt: skip

    @post_load
    def _pairs(self, data: dict[str, Any], **_: Any) -> dict[str, Any]:
        if "associations" in data:
            data["associations"] = [(a["type"], a["id"]) for a in data["associations"]]
        return data


class ActivityPatch(ActivityIn):
    """Any of the POST fields; ``contact_ids`` and ``associations`` replace their lists."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(partial=tuple(ActivityIn._declared_fields), **kwargs)


class ActivityOut(Schema):
    id = fields.Integer()
    type = fields.String()
    title = fields.String()
    body = fields.String()
    occurred_at = fields.AwareDateTime()
    source = fields.String()
    contact_ids = fields.List(fields.Integer())
    associations = fields.List(fields.Nested(AssociationSchema))
    owner_email = fields.String(allow_none=True)
    properties = fields.Dict()
    created_at = fields.AwareDateTime()
    updated_at = fields.AwareDateTime()


def _out(row: Activity, status: int = 200) -> tuple[Response, int]:
    body = {
        "id": row.id,
        "type": row.kind,
        "title": row.title,
        "body": row.body,
        "occurred_at": row.occurred_at,
        "source": row.source,
        "contact_ids": activities.contact_ids(row),
        "associations": [
            {"type": a.object_type, "id": a.object_id}
            for a in row.associations
            if a.object_type != "contact"
        ],
        "owner_email": row.owner.email if row.owner else None,
        "properties": row.properties or {},
        "created_at": row.created_at,
        "updated_at": row.updated_at,
    }
    return jsonify(ActivityOut().dump(body)), status


@bp.post("/activities")
@doc(summary="Record an activity on contacts' timelines", body=ActivityIn, response=ActivityOut,
     status=201)  # fmt: skip
def create_activity() -> tuple[Response, int]:
    data = json_body(ActivityIn())
    row = activities.create(
        db_session(),
        account().id,
        kind=data["type"],
        title=data["title"],
        body=data["body"],
        occurred_at=data["occurred_at"],
        contact_ids=data["contact_ids"],
        associations=data["associations"],
        owner=owner_user(data["owner_email"]),
        properties=data["properties"],
    )
    return _out(row, 201)


@bp.get("/activities/<int:activity_id>")
@doc(summary="An activity", response=ActivityOut)
def get_activity(activity_id: int) -> tuple[Response, int]:
    return _out(activities.get(db_session(), account().id, activity_id))


@bp.patch("/activities/<int:activity_id>")
@doc(summary="Change an activity", body=ActivityPatch, response=ActivityOut)
def patch_activity(activity_id: int) -> tuple[Response, int]:
    session = db_session()
    row = activities.get(session, account().id, activity_id)
    data = json_body(ActivityPatch())
    changes: dict[str, Any] = {k: v for k, v in data.items() if k in ("type", "title", "body")}
    for key in ("occurred_at", "associations", "properties"):
        if key in data:
            changes[key] = data[key]
    if "contact_ids" in data:
        changes["contacts"] = data["contact_ids"]
    if "owner_email" in data:
        changes["owner"] = owner_user(data["owner_email"])
    activities.update(session, row, changes)
    return _out(row)


@bp.delete("/activities/<int:activity_id>")
@doc(summary="Delete an activity", status=204)
def delete_activity(activity_id: int) -> tuple[Response, int]:
    session = db_session()
    activities.delete(session, activities.get(session, account().id, activity_id))
    return Response(status=204), 204


def register(app: Flask) -> None:
    app.register_blueprint(bp)
