"""marshmallow schemas at the REST edge; the OpenAPI document is built from these same classes."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from marshmallow import (
    RAISE,
    Schema,
    ValidationError,
    fields,
    post_load,
    validate,
    validates_schema,
)

from server.crm.models import (
    EMAIL_MAX,
    MEETING_OUTCOMES,
    NAME_MAX,
    NOTE_MAX,
    OBJECT_TYPES,
    TITLE_MAX,
)

MAX_ATTENDEES = 200


class StrictSchema(Schema):
    class Meta:
        unknown = RAISE


class UTCDateTime(fields.AwareDateTime):
    """An RFC 3339 time with offset, loaded as UTC; one UTC cannot hold is invalid."""

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> datetime:
        loaded = super()._deserialize(value, attr, data, **kwargs)
        try:
            return loaded.astimezone(UTC)
        except OverflowError as exc:
            raise self.make_error("invalid", input=value, obj_type=self.OBJ_TYPE) from exc


def _email(**kwargs: Any) -> fields.Email:
    return fields.Email(validate=validate.Length(max=EMAIL_MAX), **kwargs)


def _name(**kwargs: Any) -> fields.String:
    return fields.String(validate=validate.Length(max=NAME_MAX), **kwargs)


class ErrorBody(Schema):
    code = fields.String(required=True)
    message = fields.String(required=True)
    details = fields.Dict()


class Error(Schema):
    error = fields.Nested(ErrorBody, required=True)


class ListQuery(StrictSchema):
    cursor = fields.String(load_default=None, validate=validate.Length(max=200))
    limit = fields.Integer(load_default=50, validate=validate.Range(min=1, max=200))


class ContactQuery(ListQuery):
    email = fields.String(load_default=None, validate=validate.Length(max=EMAIL_MAX))


class ContactIn(StrictSchema):
    email = _email(required=True)
    first_name = _name(load_default="")
    last_name = _name(load_default="")
    company_id = fields.Integer(load_default=None, allow_none=True, strict=True)


class ContactPatch(StrictSchema):
    email = _email()
    first_name = _name()
    last_name = _name()
    company_id = fields.Integer(allow_none=True, strict=True)


class ContactOut(Schema):
    id = fields.Integer()
    email = fields.String()
    first_name = fields.String()
    last_name = fields.String()
    company_id = fields.Integer(allow_none=True)
    created_at = fields.AwareDateTime()
    updated_at = fields.AwareDateTime()


class ContactList(Schema):
    results = fields.List(fields.Nested(ContactOut))
    next_cursor = fields.String(allow_none=True)


class RecordIn(StrictSchema):
    name = fields.String(required=True, validate=validate.Length(min=1, max=NAME_MAX))


class RecordOut(Schema):
    id = fields.Integer()
    name = fields.String()
    created_at = fields.AwareDateTime()


class AssociationSchema(StrictSchema):
    type = fields.String(required=True, validate=validate.OneOf(OBJECT_TYPES))
    id = fields.Integer(required=True, strict=True)


class MeetingIn(StrictSchema):
    title = fields.String(required=True, validate=validate.Length(min=1, max=TITLE_MAX))
    start = UTCDateTime(required=True)
    end = UTCDateTime(required=True)
    description = fields.String(load_default="", validate=validate.Length(max=NOTE_MAX))
    attendee_emails = fields.List(
        _email(), load_default=list, validate=validate.Length(max=MAX_ATTENDEES)
    )
    associations = fields.List(
        fields.Nested(AssociationSchema), load_default=list, validate=validate.Length(max=100)
    )
    owner_email = _email(load_default=None, allow_none=True)
    # A JSON boolean only: 0, "yes" or 0.0 are refused, not read as one.
    send_invites = fields.Boolean(load_default=True, truthy={True}, falsy={False})
    outcome = fields.String(validate=validate.OneOf(MEETING_OUTCOMES))

    @validates_schema
    def _order(self, data: dict[str, Any], **_: Any) -> None:
        if data.get("start") and data.get("end") and data["end"] < data["start"]:
            raise ValidationError("end must not be before start", "end")

    @post_load
    def _pairs(self, data: dict[str, Any], **_: Any) -> dict[str, Any]:
        if "associations" in data:
            data["associations"] = [(a["type"], a["id"]) for a in data["associations"]]
        return data


class MeetingPatch(MeetingIn):
    """Any of the POST fields; ``attendee_emails`` replaces the list."""

    def __init__(self, **kwargs: Any) -> None:
        # Every top-level field may be left out; a nested association still needs type and id.
        super().__init__(partial=tuple(MeetingIn._declared_fields), **kwargs)


class AttendeeOut(Schema):
    email = fields.String()
    name = fields.String()
    response_status = fields.String()
    contact_id = fields.Integer(allow_none=True)
    internal = fields.Boolean()


class NoteIn(StrictSchema):
    body = fields.String(required=True, validate=validate.Length(min=1, max=NOTE_MAX))


class NoteOut(Schema):
    id = fields.Integer()
    body = fields.String()
    created_at = fields.AwareDateTime()
    author_email = fields.String(allow_none=True)


class NoteList(Schema):
    results = fields.List(fields.Nested(NoteOut))
    next_cursor = fields.String(allow_none=True)


class MeetingOut(Schema):
    id = fields.Integer()
    title = fields.String()
    description = fields.String()
    start = fields.AwareDateTime()
    end = fields.AwareDateTime()
    time_zone = fields.String(allow_none=True)
    source = fields.String()
    outcome = fields.String(allow_none=True)
    external_event_id = fields.String(allow_none=True)
    started_at = fields.AwareDateTime(allow_none=True)
    owner_email = fields.String(allow_none=True)
    video_url = fields.String(allow_none=True)
    attendees = fields.List(fields.Nested(AttendeeOut))
    notes = fields.List(fields.Nested(NoteOut))
    associations = fields.List(fields.Nested(AssociationSchema))


class TimelineItem(Schema):
    type = fields.String(required=True)
    id = fields.Integer(required=True)
    occurred_at = fields.AwareDateTime(required=True)
    title = fields.String()
    body = fields.String()
    source = fields.String()
    meeting_id = fields.Integer(allow_none=True)
    author_email = fields.String(allow_none=True)
    meeting = fields.Nested(MeetingOut, allow_none=True)
    associations = fields.List(fields.Nested(AssociationSchema))
    properties = fields.Dict(allow_none=True)
    salesforce_id = fields.String(allow_none=True)  # where the Salesforce sync has a link


class Timeline(Schema):
    results = fields.List(fields.Nested(TimelineItem))
    next_cursor = fields.String(allow_none=True)
