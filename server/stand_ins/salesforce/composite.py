"""sObject Collections: create, update, upsert by external id, delete and retrieve up to 200
records in one API call, each record answered on its own (SaveResult / UpsertResult with
``statusCode`` errors), one bad record never failing the others unless ``allOrNone`` asks to
roll everything back (https://developer.salesforce.com/docs/atlas.en-us.api_rest.meta/api_rest/
resources_composite_sobjects_collections.htm and ..._create.htm, ..._update.htm,
..._upsert.htm, ..._delete.htm, ..._retrieve.htm).
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from .schema import JsonDict, sobject, type_of
from .wire import ApiError, normalize_id, render_record

if TYPE_CHECKING:
    from .org import OrgState

LIMIT = 200
ROLLED_BACK = ApiError(
    400,
    "ALL_OR_NONE_OPERATION_ROLLED_BACK",
    "Record rolled back because not all records were valid and the request was using "
    "AllOrNone header",
    [],
)
Step = Callable[[], JsonDict]


def unpack(body: Any) -> tuple[list[Any], bool]:
    """``{"allOrNone": bool, "records": [...]}``, or the 400 of a malformed request."""
    if not isinstance(body, dict) or not isinstance(body.get("records"), list):
        raise ApiError(400, "JSON_PARSER_ERROR", "The request body must hold a records array.")
    _limit(len(body["records"]))
    return list(body["records"]), bool(body.get("allOrNone", False))


def _limit(count: int) -> None:
    if count > LIMIT:
        raise ApiError(
            400,
            "EXCEEDED_ID_LIMIT",
            f"record limit reached. cannot submit more than {LIMIT} records into this call",
        )


def _run(org: OrgState, steps: list[tuple[str | None, Step]], all_or_none: bool) -> list[JsonDict]:
    """Each step is a record's operation; ``allOrNone`` undoes them all when one fails."""
    with org.lock:
        before = org.snapshot() if all_or_none else None
        results: list[JsonDict] = []
        for known_id, step in steps:
            try:
                results.append(step())
            except ApiError as error:
                failed: JsonDict = {"id": known_id} if known_id else {}
                results.append({**failed, "success": False, "errors": [error.item()]})
        if before is not None and not all(r["success"] for r in results):
            org.restore(before)
            results = [
                _rolled_back(r, known_id) if r["success"] else r
                for r, (known_id, _) in zip(results, steps, strict=True)
            ]
        return results


def _rolled_back(result: JsonDict, known_id: str | None) -> JsonDict:
    out: JsonDict = {"id": known_id} if known_id else {}
    out.update(success=False, errors=[ROLLED_BACK.item()])
    if "created" in result:
        out["created"] = False
    return out


def _typed(record: Any) -> tuple[str, JsonDict]:
    if not isinstance(record, dict):
        raise ApiError(400, "INVALID_TYPE", "Must send a concrete entity type.")
    kind = (record.get("attributes") or {}).get("type") if isinstance(record, dict) else None
    spec = sobject(str(kind or ""))
    if spec is None:
        raise ApiError(400, "INVALID_TYPE", "Must send a concrete entity type.")
    fields = {k: v for k, v in record.items() if k != "attributes"}
    return spec.name, fields


def _fault(org: OrgState, fields: JsonDict) -> None:
    error = org.record_fault(fields)
    if error is not None:
        raise error


def create(org: OrgState, user_id: str, records: list[Any], all_or_none: bool) -> list[JsonDict]:
    def step(record: Any) -> JsonDict:
        name, fields = _typed(record)
        if "Id" in fields or "id" in fields:
            raise ApiError(400, "INVALID_FIELD", "cannot specify Id in an insert call", [])
        _fault(org, fields)
        return {"id": org.create(name, fields, user_id=user_id), "success": True, "errors": []}

    steps: list[tuple[str | None, Step]] = [(None, functools.partial(step, r)) for r in records]
    return _run(org, steps, all_or_none)


def update(org: OrgState, user_id: str, records: list[Any], all_or_none: bool) -> list[JsonDict]:
    def step(record: Any) -> JsonDict:
        name, fields = _typed(record)
        raw = fields.pop("Id", None) or fields.pop("id", None)
        if not raw:
            raise ApiError(400, "MISSING_ARGUMENT", "Id not specified in an update call", [])
        record_id = normalize_id(str(raw))
        if record_id is None or type_of(record_id) != name:
            raise ApiError(400, "MALFORMED_ID", f"malformed id {raw}", ["Id"])
        org.find(name, record_id)
        _fault(org, {"Id": record_id, **fields})
        org.modify(name, record_id, fields, user_id=user_id)
        return {"id": record_id, "success": True, "errors": []}

    steps: list[tuple[str | None, Step]] = [
        (_given_id(r), functools.partial(step, r)) for r in records
    ]
    return _run(org, steps, all_or_none)


def upsert(
    org: OrgState, user_id: str, name: str, field: str, records: list[Any], all_or_none: bool
) -> list[JsonDict]:
    spec = org.spec(name)
    item = org.field_of(spec, field)
    if item is None or not item.external_id:
        raise ApiError(404, "NOT_FOUND", "The requested resource does not exist")

    def step(record: Any) -> JsonDict:
        kind, fields = _typed(record)
        if kind != spec.name:
            raise ApiError(400, "INVALID_TYPE", f"This API only supports {spec.name} records")
        value = fields.get(item.name)
        if value in (None, ""):
            raise ApiError(400, "MISSING_ARGUMENT", f"{item.name} not specified", [])
        found = org.by_external_id(spec.name, item.name, str(value))
        if len(found) > 1:
            message = f"Duplicate external id specified: {value}"
            raise ApiError(400, "DUPLICATE_EXTERNAL_ID", message, [item.name])
        _fault(org, {"Id": found[0]["Id"], **fields} if found else fields)
        if found:
            record_id = org.modify(spec.name, str(found[0]["Id"]), fields, user_id=user_id)
        else:
            record_id = org.create(spec.name, fields, user_id=user_id)
        return {"id": record_id, "success": True, "errors": [], "created": not found}

    def failed_upsert(record: Any) -> JsonDict:
        try:
            return step(record)
        except ApiError as error:
            return {"success": False, "errors": [error.item()], "created": False}

    steps: list[tuple[str | None, Step]] = [
        (None, functools.partial(failed_upsert, r)) for r in records
    ]
    return _run(org, steps, all_or_none)


def delete(org: OrgState, user_id: str, ids: list[str], all_or_none: bool) -> list[JsonDict]:
    _limit(len(ids))

    def step(raw: str) -> JsonDict:
        record_id = normalize_id(raw)
        name = type_of(record_id or "")
        if record_id is None or name is None:
            raise ApiError(400, "MALFORMED_ID", f"malformed id {raw}", [])
        found = org.locate(record_id)
        if found is None:
            raise ApiError(400, "INVALID_CROSS_REFERENCE_KEY", "invalid cross reference id", [])
        if found[1].get("IsDeleted"):
            raise ApiError(400, "ENTITY_IS_DELETED", "entity is deleted", [])
        _fault(org, dict(found[1]))
        org.remove(name, record_id, user_id=user_id)
        return {"id": record_id, "success": True, "errors": []}

    steps: list[tuple[str | None, Step]] = [(raw, functools.partial(step, raw)) for raw in ids]
    return _run(org, steps, all_or_none)


def retrieve(
    org: OrgState, name: str, ids: list[str], fields: list[str], version: str
) -> list[JsonDict | None]:
    """``GET /composite/sobjects/{type}?ids=...&fields=...``: null for an id not found."""
    spec = org.spec(name)
    _limit(len(ids))
    if not fields:
        raise ApiError(400, "MALFORMED_QUERY", "The 'fields' parameter is required")
    for item in fields:
        if org.field_of(spec, item) is None:
            raise ApiError(400, "INVALID_FIELD", f"No such column '{item}' on entity '{name}'")
    wanted = [f.lower() for f in fields] + ["id"]
    out: list[JsonDict | None] = []
    with org.lock:
        for raw in ids:
            record_id = normalize_id(raw)
            record = org.data[spec.name].get(record_id) if record_id else None
            if record is None or record.get("IsDeleted"):
                out.append(None)
            else:
                out.append(render_record(spec, record, version, wanted))
    return out


def _given_id(record: Any) -> str | None:
    if isinstance(record, dict):
        raw = record.get("Id") or record.get("id")
        return normalize_id(str(raw)) if raw else None
    return None
