"""The Salesforce settings document of the contract and the field mappings (P1, P4, P5, H1,
H2, H8): defaults, validation that names what is wrong, and the switch times (P2, H4).

Pure functions: no database, no Salesforce. The org's own field list (``describe``) is passed
in where a mapping must be checked against it.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping
from datetime import datetime
from typing import Any

from server.crm.activities import ACTIVITY_TYPES
from server.errors import Invalid
from server.salesforce import soql

INBOUND = ("task", "email", "call", "meeting")
# Pushed kinds (H1): meetings, notes and every activity type but a plain email.
OUTBOUND = ("meeting", "note", *(t for t in ACTIVITY_TYPES if t != "email"))
ON_DELETE = ("delete", "keep")
DEFAULT_BUDGET = 5000
MAX_BUDGET = 10_000_000
# Where a kind's records live in Salesforce: Tasks by TaskSubtype, meetings as Events.
SOBJECT = {"task": "Task", "email": "Task", "call": "Task", "meeting": "Event"}
TYPES = ("text", "number", "date", "datetime", "picklist", "boolean")
# The CRM side of a mapping: an activity's own fields, or a flat property by name.
CRM_FIELDS = ("title", "body", "occurred_at")
MAX_MAPPINGS = 50


def defaults() -> dict[str, Any]:
    return {
        "inbound": {k: {"enabled": False, "on_delete": "delete"} for k in INBOUND},
        "outbound": {
            k: {"enabled": False, "task_type": None, "on_delete": "delete"} for k in OUTBOUND
        },
        "daily_api_budget": DEFAULT_BUDGET,
    }


def current(stored: Mapping[str, Any] | None) -> dict[str, Any]:
    """The stored document over the defaults (a kind added later starts switched off)."""
    doc = defaults()
    for side in ("inbound", "outbound"):
        for kind, values in ((stored or {}).get(side) or {}).items():
            if kind in doc[side]:
                doc[side][kind].update(values)
    if stored and "daily_api_budget" in stored:
        doc["daily_api_budget"] = stored["daily_api_budget"]
    return doc


def _fail(message: str, where: str, value: Any) -> Invalid:
    return Invalid(message, {"field": where, "value": value})


def validate(body: Any, task_types: list[str] | None = None) -> dict[str, Any]:
    """The whole document, checked: every key known, every value of its type. ``task_types``
    is the org's Task ``Type`` picklist when connected (H2)."""
    if not isinstance(body, Mapping):
        raise _fail("the settings are a JSON object", "", None)
    unknown = set(body) - {"inbound", "outbound", "daily_api_budget"}
    if unknown:
        raise _fail(f"unknown key {sorted(unknown)[0]!r}", sorted(unknown)[0], None)
    doc = defaults()
    for side, kinds in (("inbound", INBOUND), ("outbound", OUTBOUND)):
        given = body.get(side, {})
        if not isinstance(given, Mapping):
            raise _fail(f"{side} is an object of kinds", side, given)
        for kind, values in given.items():
            where = f"{side}.{kind}"
            if kind not in kinds:
                raise _fail(f"unknown {side} kind {kind!r}", where, kind)
            if not isinstance(values, Mapping):
                raise _fail(f"{where} is an object", where, values)
            doc[side][kind].update(_kind(side, where, values, task_types))
    budget = body.get("daily_api_budget", DEFAULT_BUDGET)
    if isinstance(budget, bool) or not isinstance(budget, int) or not 0 < budget <= MAX_BUDGET:
        raise _fail(
            f"daily_api_budget is a whole number from 1 to {MAX_BUDGET}", "daily_api_budget", budget
        )
    doc["daily_api_budget"] = budget
    return doc


def _kind(
    side: str, where: str, values: Mapping[str, Any], task_types: list[str] | None
) -> dict[str, Any]:
    # Outbound ``on_delete`` (beyond the contract's document): a CRM delete deletes the Task,
    # or keeps it.
    allowed = {"enabled", "on_delete"} | ({"task_type"} if side == "outbound" else set())
    unknown = set(values) - allowed
    if unknown:
        key = sorted(unknown)[0]
        raise _fail(f"unknown key {key!r} in {where}", f"{where}.{key}", None)
    out: dict[str, Any] = {}
    if "enabled" in values:
        if not isinstance(values["enabled"], bool):
            raise _fail(f"{where}.enabled is true or false", f"{where}.enabled", values["enabled"])
        out["enabled"] = values["enabled"]
    if "on_delete" in values:
        if values["on_delete"] not in ON_DELETE:
            raise _fail(
                f"{where}.on_delete is 'delete' or 'keep'",
                f"{where}.on_delete",
                values["on_delete"],
            )
        out["on_delete"] = values["on_delete"]
    if "task_type" in values:
        task_type = values["task_type"]
        if task_type is not None and not isinstance(task_type, str):
            raise _fail(f"{where}.task_type is a string or null", f"{where}.task_type", task_type)
        if task_type is not None and task_types is not None and task_type not in task_types:
            raise _fail(
                f"{task_type!r} is not a value of the org's Task Type picklist",
                f"{where}.task_type",
                task_type,
            )
        out["task_type"] = task_type
    return out


def switched_on(
    before: Mapping[str, Any],
    after: Mapping[str, Any],
    enabled_at: Mapping[str, Any] | None,
    now: datetime,
) -> dict[str, Any]:
    """``enabled_at`` with the time of every switch turned on by this change (P2, H4)."""
    out = dict(enabled_at or {})
    for side in ("inbound", "outbound"):
        for kind, values in after[side].items():
            if values["enabled"] and not before[side][kind]["enabled"]:
                out[f"{side}.{kind}"] = now.isoformat()
            if not values["enabled"]:
                out.pop(f"{side}.{kind}", None)
    return out


# -- mappings (P5) ------------------------------------------------------------------------------

_DEFAULT_MAPPINGS: dict[str, list[tuple[str, str, str]]] = {
    "task": [
        ("Subject", "title", "text"),
        ("Description", "body", "text"),
        ("ActivityDate", "occurred_at", "date"),
        ("Status", "status", "picklist"),
        ("Priority", "priority", "picklist"),
    ],
    "email": [
        ("Subject", "title", "text"),
        ("Description", "body", "text"),
        ("ActivityDate", "occurred_at", "date"),
    ],
    "call": [
        ("Subject", "title", "text"),
        ("Description", "body", "text"),
        ("ActivityDate", "occurred_at", "date"),
        ("CallDurationInSeconds", "duration_seconds", "number"),
        ("CallType", "direction", "picklist"),
        ("CallDisposition", "outcome", "text"),
    ],
    "meeting": [
        ("Subject", "title", "text"),
        ("Description", "body", "text"),
        ("StartDateTime", "occurred_at", "datetime"),
        ("EndDateTime", "end", "datetime"),
        ("Location", "location", "text"),
    ],
}


def default_mappings(kind: str) -> list[dict[str, str]]:
    return [
        {"salesforce_field": f, "crm_property": p, "type": t} for f, p, t in _DEFAULT_MAPPINGS[kind]
    ]


def mappings_of(stored: Mapping[str, Any] | None, kind: str) -> list[dict[str, str]]:
    found = (stored or {}).get(kind)
    return [dict(m) for m in found] if isinstance(found, list) else default_mappings(kind)


# What each Salesforce field type converts to; a mapping of another pair cannot convert.
_CONVERTS = {
    "text": {
        "string",
        "textarea",
        "picklist",
        "email",
        "url",
        "phone",
        "combobox",
        "id",
        "reference",
        "int",
        "double",
        "currency",
        "percent",
        "date",
        "datetime",
        "boolean",
    },
    # A text field may hold digits or dates: converted value by value, a bad one an error.
    "number": {"int", "double", "currency", "percent", "string", "textarea", "picklist"},
    "date": {"date", "datetime", "string"},
    "datetime": {"datetime", "date", "string"},
    "picklist": {"picklist", "combobox", "string", "multipicklist"},
    "boolean": {"boolean"},
}


def validate_mappings(
    kind: str, body: Any, fields: Mapping[str, str] | None
) -> list[dict[str, str]]:
    """A mapping list, each entry naming a field of the org's object (``fields``: name ->
    Salesforce type, from describe; None when no org is connected) and a type it converts to."""
    if not isinstance(body, list):
        raise _fail("the mappings are a JSON array", "", None)
    if len(body) > MAX_MAPPINGS:
        raise _fail(f"at most {MAX_MAPPINGS} mappings", "", len(body))
    out: list[dict[str, str]] = []
    targets: set[str] = set()
    for index, entry in enumerate(body):
        where = f"[{index}]"
        if not isinstance(entry, Mapping) or set(entry) != {
            "salesforce_field",
            "crm_property",
            "type",
        }:
            raise _fail("each mapping is {salesforce_field, crm_property, type}", where, None)
        field, prop, kind_ = entry["salesforce_field"], entry["crm_property"], entry["type"]
        if not all(isinstance(v, str) and v.strip() and len(v) <= 80 for v in (field, prop, kind_)):
            raise _fail(
                "mapping values are non-empty strings of at most 80 characters", where, None
            )
        if not soql.is_ident(field) or not soql.is_ident(prop):
            raise _fail("field and property names are letters, digits and _", where, None)
        if kind_ not in TYPES:
            raise _fail(
                f"unknown type {kind_!r} (one of {', '.join(TYPES)})", f"{where}.type", kind_
            )
        if fields is not None:
            if field not in fields:
                raise _fail(
                    f"the org's {SOBJECT[kind]} has no field {field!r}",
                    f"{where}.salesforce_field",
                    field,
                )
            if fields[field] not in _CONVERTS[kind_]:
                raise _fail(
                    f"{SOBJECT[kind]}.{field} ({fields[field]}) cannot convert to {kind_}",
                    f"{where}.type",
                    kind_,
                )
        if prop in targets:
            raise _fail(f"{prop!r} is mapped twice", f"{where}.crm_property", prop)
        if prop == "occurred_at" and kind_ not in ("date", "datetime"):
            raise _fail("occurred_at takes a date or datetime", f"{where}.type", kind_)
        targets.add(prop)
        out.append({"salesforce_field": field, "crm_property": prop, "type": kind_})
    return copy.deepcopy(out)
