"""One record write as Salesforce validates and completes it: field access, types, lengths,
restricted picklists, references, required fields, the fields Salesforce derives, and the
audit fields (https://developer.salesforce.com/docs/atlas.en-us.api.meta/api/
system_fields.htm). Errors carry the status codes of the REST API
(https://developer.salesforce.com/docs/atlas.en-us.api.meta/api/sforce_api_calls_concepts_core_data_objects.htm#statuscodes).
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, time, timedelta
from typing import TYPE_CHECKING, Any

from .schema import Field, JsonDict, Record, SObject, type_of
from .wire import ApiError, normalize_id, parse_value

if TYPE_CHECKING:
    from .org import OrgState

SYSTEM_ONLY = frozenset({"id", "isdeleted", "systemmodstamp", "masterrecordid"})
AUDIT = ("CreatedDate", "CreatedById", "LastModifiedDate", "LastModifiedById")
_EMAIL = re.compile(r"[^@\s]+@[^@\s]+\.[^@\s]+")
ACCESS_MESSAGE = (
    "Unable to create/update fields: {names}. Please check the security settings of this field "
    "and verify that it is read/write for your profile or permission set."
)


def write(
    org: OrgState,
    spec: SObject,
    current: Record | None,
    body: JsonDict,
    *,
    user_id: str,
    api: bool,
) -> Record:
    """The record after a create (``current`` None) or an update of ``current`` with
    ``body``: validated, defaulted, derived and stamped, not yet stored. ``api`` applies the
    field-level access of the integration user; hooks (a person, or the system) may also
    set read-only fields such as ``IsChild`` or the audit fields on create."""
    creating = current is None
    changes = _parse(org, spec, body, creating=creating, api=api)
    record = dict(current) if current is not None else blank(org, spec, user_id)
    before = dict(record)
    record.update(changes)
    _check_references(org, spec, changes)
    _derive(org, spec, record, before, changes)
    _required(spec, record)
    now = org.stamp()
    for name, value in (
        ("CreatedDate", now),
        ("CreatedById", user_id),
        ("LastModifiedDate", now),
        ("LastModifiedById", user_id),
    ):
        if name not in changes and (creating or name.startswith("LastModified")):
            record[name] = value
    record["SystemModstamp"] = now
    return record


def blank(org: OrgState, spec: SObject, user_id: str) -> Record:
    record: Record = {}
    for item in spec.fields:
        value = item.default
        if item.name == "OwnerId":
            value = user_id
        elif item.picklist == "TaskStatus":
            value = org.default_status()
        record[item.name] = value
    return record


def _parse(
    org: OrgState, spec: SObject, body: JsonDict, *, creating: bool, api: bool
) -> dict[str, Any]:
    fields: list[tuple[Field, Any]] = []
    for name, value in body.items():
        if name == "attributes":
            continue
        item = org.field_of(spec, name)
        if item is None:
            raise ApiError(
                400, "INVALID_FIELD", f"No such column '{name}' on sobject of type {spec.name}", []
            )
        fields.append((item, value))
    denied = [
        item.name
        for item, _ in fields
        if item.name.lower() in SYSTEM_ONLY
        or (api and not (item.createable if creating else item.updateable))
        or (not api and not creating and item.name in AUDIT[:2])
    ]
    if denied:
        names = ", ".join(denied)
        raise ApiError(
            400, "INVALID_FIELD_FOR_INSERT_UPDATE", ACCESS_MESSAGE.format(names=names), denied
        )
    changes: dict[str, Any] = {}
    for item, raw in fields:
        value = parse_value(spec, item, raw)
        _check_value(org, spec, item, value)
        changes[item.name] = value
    return changes


def _check_value(org: OrgState, spec: SObject, item: Field, value: Any) -> None:
    if isinstance(value, str) and item.length and len(value) > item.length:
        raise ApiError(
            400,
            "STRING_TOO_LONG",
            f"{item.title}: data value too large: {value[:200]} (max length={item.length})",
            [item.name],
        )
    if item.type == "email" and value is not None and not _EMAIL.fullmatch(value):
        raise ApiError(
            400,
            "INVALID_EMAIL_ADDRESS",
            f"{item.title}: invalid email address: {value}",
            [item.name],
        )
    if item.type == "picklist" and item.restricted and value not in org.picklist(spec, item):
        raise ApiError(
            400,
            "INVALID_OR_NULL_FOR_RESTRICTED_PICKLIST",
            f"{item.title}: bad value for restricted picklist field: {value}",
            [item.name],
        )


def _check_references(org: OrgState, spec: SObject, changes: dict[str, Any]) -> None:
    for name, value in list(changes.items()):
        item = spec.field(name)
        if item is None or item.type != "reference" or value is None:
            continue
        found_id = normalize_id(value)
        if found_id is None:
            raise ApiError(
                400, "MALFORMED_ID", f"{item.title}: id value of incorrect type: {value}", [name]
            )
        if type_of(found_id) not in item.reference_to:
            raise ApiError(
                400,
                "FIELD_INTEGRITY_EXCEPTION",
                f"{item.title}: id value of incorrect type: {value}",
                [name],
            )
        found = org.locate(found_id)
        if found is None:
            raise ApiError(400, "INVALID_CROSS_REFERENCE_KEY", "invalid cross reference id", [name])
        if found[1].get("IsDeleted"):
            raise ApiError(400, "ENTITY_IS_DELETED", "entity is deleted", [name])
        if name == "OwnerId" and not found[1].get("IsActive"):
            raise ApiError(
                400,
                "INACTIVE_OWNER_OR_USER",
                f"operation performed with inactive user [{found_id}] as owner of "
                f"{spec.name.lower()}",
                [],
            )
        changes[name] = found_id


def _required(spec: SObject, record: Record) -> None:
    missing = [
        item.name
        for item in spec.fields
        if not item.nillable
        and (item.createable or item.updateable)
        and item.type != "boolean"
        and record.get(item.name) in (None, "")
    ]
    if missing:
        names = ", ".join(missing)
        raise ApiError(
            400, "REQUIRED_FIELD_MISSING", f"Required fields are missing: [{names}]", missing
        )


def _derive(
    org: OrgState, spec: SObject, record: Record, before: Record, changes: dict[str, Any]
) -> None:
    if spec.name in ("Contact", "Lead", "User"):
        parts = [record.get("FirstName"), record.get("LastName")]
        record["Name"] = " ".join(str(p) for p in parts if p) or None
    if spec.name == "Task":
        record["IsClosed"] = record.get("Status") in org.closed_statuses()
        record["IsHighPriority"] = record.get("Priority") == "High"
        if not record["IsClosed"]:
            record["CompletedDateTime"] = None
        elif not before.get("IsClosed"):
            record["CompletedDateTime"] = org.stamp()
    if spec.name == "Event":
        _event_times(record, changes)
    if spec.name in ("Task", "Event"):
        record["AccountId"] = _account_of(org, record)


def _account_of(org: OrgState, record: Record) -> str | None:
    """Task/Event.AccountId: the WhatId's account, else the Contact WhoId's account."""
    for name in ("WhatId", "WhoId"):
        found = org.locate(record.get(name) or "")
        if found is None:
            continue
        sobject, target = found
        if sobject == "Account":
            return str(target["Id"])
        if sobject in ("Opportunity", "Contact") and target.get("AccountId"):
            return str(target["AccountId"])
    return None


def _event_times(record: Record, changes: dict[str, Any]) -> None:
    """An event needs a start, and an end or a duration that agree (Event object reference:
    "DurationInMinutes ... is required if EndDateTime is not specified")."""
    if "ActivityDateTime" in changes and "StartDateTime" not in changes:
        record["StartDateTime"] = changes["ActivityDateTime"]
    if record.get("IsAllDayEvent"):
        day = record.get("ActivityDate") or (
            record["StartDateTime"].date() if record.get("StartDateTime") else None
        )
        if day is None:
            raise ApiError(
                400,
                "REQUIRED_FIELD_MISSING",
                "Required fields are missing: [ActivityDate]",
                ["ActivityDate"],
            )
        days = max(1, int(record.get("DurationInMinutes") or 1440) // 1440)
        midnight = datetime.combine(day, time(0), tzinfo=UTC)
        record.update(
            StartDateTime=midnight,
            EndDateTime=midnight + timedelta(days=days - 1),
            DurationInMinutes=days * 1440,
            ActivityDateTime=None,
            ActivityDate=day,
        )
        return
    start = record.get("StartDateTime")
    if start is None:
        raise ApiError(
            400,
            "REQUIRED_FIELD_MISSING",
            "Required fields are missing: [ActivityDateTime]",
            ["ActivityDateTime"],
        )
    end, minutes = record.get("EndDateTime"), record.get("DurationInMinutes")
    both = "EndDateTime" in changes and "DurationInMinutes" in changes
    if both and end and minutes is not None and end - start != timedelta(minutes=minutes):
        raise ApiError(
            400,
            "FIELD_INTEGRITY_EXCEPTION",
            "Event duration doesn't match the start and end date/time",
            ["DurationInMinutes"],
        )
    if end is not None and ("EndDateTime" in changes or minutes is None):
        minutes = int((end - start).total_seconds() // 60)
    elif minutes is not None:
        end = start + timedelta(minutes=minutes)
    else:
        raise ApiError(
            400,
            "REQUIRED_FIELD_MISSING",
            "Required fields are missing: [DurationInMinutes]",
            ["DurationInMinutes"],
        )
    if end < start:
        raise ApiError(
            400,
            "FIELD_INTEGRITY_EXCEPTION",
            "End Date Time: End time cannot be before start time",
            ["EndDateTime"],
        )
    record.update(
        EndDateTime=end,
        DurationInMinutes=minutes,
        ActivityDateTime=start,
        ActivityDate=start.date(),
    )
