"""REST API routes under ``/services/data/vXX.X`` in Salesforce's wire format
(https://developer.salesforce.com/docs/atlas.en-us.api_rest.meta/api_rest/resources_list.htm).

Every API request is recorded, may meet an injected fault, needs a live bearer token (else
401 ``INVALID_SESSION_ID``), counts one call against the daily limit (403
``REQUEST_LIMIT_EXCEEDED`` once spent), and is answered with ``Sforce-Limit-Info:
api-usage=used/max`` (https://developer.salesforce.com/docs/atlas.en-us.api_rest.meta/api_rest/
headers_api_usage.htm). Errors are ``[{"message","errorCode","fields"}]``.
"""

from __future__ import annotations

import functools
import json
import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, timedelta
from typing import Any

from flask import Blueprint, Response, request

from . import composite
from .org import OrgRequest, OrgState
from .query import run
from .schema import SOBJECTS, JsonDict, SObject, sobject
from .wire import (
    ApiError,
    attributes,
    describe_field,
    describe_object,
    format_datetime,
    parse_datetime,
    render_record,
)

PREFIX = "/services/data"
JSON_TYPE = "application/json;charset=UTF-8"
VERSION = re.compile(r"\d{2}\.0")
UPSERT_BODY_SINCE = 46.0  # upsert answers 200 + body on update from API 46.0 (204 before)
Handler = Callable[..., Response]


@dataclass
class Call:
    user_id: str
    version: str
    entry: OrgRequest

    @property
    def base(self) -> str:
        return f"{PREFIX}/v{self.version}"


def respond(body: Any, status: int = 200) -> Response:
    return Response(json.dumps(body), status=status, content_type=JSON_TYPE)


def error_response(error: ApiError) -> Response:
    response = respond(error.body(), error.status)
    response.headers.update(error.headers)
    return response


def not_found() -> ApiError:
    return ApiError(404, "NOT_FOUND", "The requested resource does not exist")


def json_body() -> Any:
    try:
        return json.loads(request.get_data() or b"{}")
    except ValueError as exc:
        raise ApiError(400, "JSON_PARSER_ERROR", f"Unexpected character: {exc}") from exc


def record_body() -> JsonDict:
    body = json_body()
    if not isinstance(body, dict):
        raise ApiError(
            400, "JSON_PARSER_ERROR", "Cannot deserialize instance of SObject from START_ARRAY"
        )
    return body


def _bearer(org: OrgState) -> str:
    scheme, _, token = request.headers.get("Authorization", "").partition(" ")
    user_id = org.resolve(token.strip()) if scheme.lower() in ("bearer", "oauth") else None
    if user_id is None:
        raise ApiError(401, "INVALID_SESSION_ID", "Session expired or invalid")
    return user_id


def api_blueprint(org: OrgState) -> Blueprint:
    bp = Blueprint("salesforce_api", __name__, url_prefix=PREFIX)

    def api(handler: Handler) -> Handler:
        """Record, inject faults, authenticate, count, answer errors and the usage header."""

        @functools.wraps(handler)
        def wrapper(version: str, **kwargs: Any) -> Response:
            body = request.get_json(silent=True) if request.data else None
            entry = OrgRequest(request.method, request.path, dict(request.args.items()), body)
            org.record_request(entry)
            try:
                if not VERSION.fullmatch(version):
                    raise not_found()
                fault = org.take_fault(request.path)
                if fault is not None:
                    raise fault
                entry.user_id = _bearer(org)
                org.count_call()
                response = handler(Call(entry.user_id, version, entry), **kwargs)
            except ApiError as error:
                response = error_response(error)
            response.headers["Sforce-Limit-Info"] = org.limit_info()
            entry.status = response.status_code
            return response

        return wrapper

    def route(rule: str, methods: tuple[str, ...] = ("GET",)) -> Callable[[Handler], Handler]:
        def decorate(handler: Handler) -> Handler:
            wrapped = api(handler)
            bp.add_url_rule(
                "/v<version>" + rule, view_func=wrapped, methods=list(methods), strict_slashes=False
            )
            return wrapped

        return decorate

    @bp.get("/", strict_slashes=False)
    def versions() -> Response:
        """The API versions (no session needed); v59.0 was Winter '24, three releases a year."""
        found = []
        for number in range(31, 63):
            season = ("Winter", "Spring", "Summer")[(number - 59) % 3]
            label = f"{season} '{24 + (number - 59) // 3}"
            found.append({"label": label, "url": f"{PREFIX}/v{number}.0", "version": f"{number}.0"})
        return respond(found)

    @route("/")
    def resources(call: Call) -> Response:
        names = ("sobjects", "query", "queryAll", "limits", "composite", "search", "recent")
        return respond({name: f"{call.base}/{name}" for name in names})

    @route("/limits/")
    def limits(call: Call) -> Response:
        with org.lock:
            used, limit = org.api_usage, org.daily_limit
        return respond(
            {
                "DailyApiRequests": {"Max": limit, "Remaining": max(0, limit - used)},
                "DailyBulkApiBatches": {"Max": 15000, "Remaining": 15000},
                "DailyBulkV2QueryJobs": {"Max": 10000, "Remaining": 10000},
                "DataStorageMB": {"Max": 5, "Remaining": 5},
            }
        )

    @route("/sobjects/")
    def global_describe(call: Call) -> Response:
        found = [describe_object(spec, call.version) for spec in SOBJECTS.values()]
        return respond({"encoding": "UTF-8", "maxBatchSize": 200, "sobjects": found})

    def spec_of(name: str) -> SObject:
        found = sobject(name)
        if found is None:
            raise not_found()
        return found

    @route("/sobjects/<name>/", ("GET", "POST"))
    def sobject_root(call: Call, name: str) -> Response:
        spec = spec_of(name)
        if request.method == "GET":
            return respond(
                {"objectDescribe": describe_object(spec, call.version), "recentItems": []}
            )
        new_id = org.create(spec.name, record_body(), user_id=call.user_id)
        return respond({"id": new_id, "success": True, "errors": []}, 201)

    @route("/sobjects/<name>/<path:rest>", ("GET", "PATCH", "DELETE", "POST"))
    def sobject_path(call: Call, name: str, rest: str) -> Response:
        spec = spec_of(name)
        parts = [p for p in rest.split("/") if p]
        if len(parts) == 1 and request.method == "GET":
            word = parts[0].lower()
            if word == "describe":
                return describe(call, spec)
            if word in ("deleted", "updated"):
                return replication(spec, word)
        if len(parts) == 1 and request.method != "POST":
            return row(call, spec, parts[0])
        if len(parts) == 2 and request.method != "POST":
            return by_external_id(call, spec, parts[0], parts[1])
        if request.method == "POST":
            raise ApiError(
                405,
                "METHOD_NOT_ALLOWED",
                "HTTP Method 'POST' not allowed. Allowed are GET,PATCH,DELETE",
            )
        raise not_found()

    def describe(call: Call, spec: SObject) -> Response:
        fields = []
        for item in org.fields_of(spec):
            values = org.picklist(spec, item) if item.type == "picklist" else []
            default = org.default_status() if item.picklist == "TaskStatus" else item.default
            fields.append(describe_field(item, values, default if values else None))
        body = describe_object(spec, call.version)
        body.update(fields=fields, childRelationships=[], recordTypeInfos=[])
        return respond(body)

    def row(call: Call, spec: SObject, record_id: str) -> Response:
        if request.method == "GET":
            wanted = request.args.get("fields")
            names = [f.strip().lower() for f in wanted.split(",")] + ["id"] if wanted else None
            visible = [f.name.lower() for f in org.fields_of(spec)]
            names = [n for n in (names or visible) if n in visible]
            with org.lock:
                record = org.find(spec.name, record_id)
                return respond(render_record(spec, record, call.version, names))
        if request.method == "DELETE":
            org.remove(spec.name, record_id, user_id=call.user_id)
            return Response(status=204)
        body = record_body()
        if str(body.get("Id", "")).lower() == record_id.lower():
            body.pop("Id")
        org.modify(spec.name, record_id, body, user_id=call.user_id)
        return Response(status=204)

    def by_external_id(call: Call, spec: SObject, field: str, value: str) -> Response:
        """GET, upsert (PATCH) or DELETE by an external id field
        (https://developer.salesforce.com/docs/atlas.en-us.api_rest.meta/api_rest/dome_upsert.htm)."""
        with org.lock:
            found = org.by_external_id(spec.name, field, value)
            if len(found) > 1:
                urls = [attributes(spec.name, str(r["Id"]), call.version)["url"] for r in found]
                return respond(urls, 300)
            if request.method == "GET":
                if not found:
                    raise not_found()
                return respond(render_record(spec, found[0], call.version))
            if request.method == "DELETE":
                if not found:
                    raise not_found()
                org.remove(spec.name, str(found[0]["Id"]), user_id=call.user_id)
                return Response(status=204)
            body = record_body()
            modern = float(call.version) >= UPSERT_BODY_SINCE
            if not found:
                item = org.field_of(spec, field)
                assert item is not None
                new_id = org.create(spec.name, {**body, item.name: value}, user_id=call.user_id)
                answer: JsonDict = {"id": new_id, "success": True, "errors": []}
                return respond({**answer, "created": True} if modern else answer, 201)
            record_id = org.modify(spec.name, str(found[0]["Id"]), body, user_id=call.user_id)
            if not modern:
                return Response(status=204)
            return respond({"id": record_id, "success": True, "errors": [], "created": False})

    def replication(spec: SObject, kind: str) -> Response:
        """getDeleted / getUpdated: seconds are ignored, the window must be within the
        retention (15 days for deletes, 30 for updates)
        (https://developer.salesforce.com/docs/atlas.en-us.api_rest.meta/api_rest/resources_getdeleted.htm)."""
        try:
            start = parse_datetime(request.args["start"]).replace(second=0)
            end = parse_datetime(request.args["end"]).replace(second=0)
        except (KeyError, ValueError) as exc:
            message = "start and end must be ISO 8601 dateTimes, e.g. 2026-12-04T10:00:00+00:00"
            raise ApiError(400, "INVALID_REPLICATION_DATE", message) from exc
        now = org.stamp().replace(second=0)
        if end <= start:
            raise ApiError(400, "INVALID_REPLICATION_DATE", "EndDate before StartDate")
        latest = min(end, now)
        if kind == "updated":
            if start < now - timedelta(days=30):
                raise ApiError(400, "INVALID_REPLICATION_DATE", "startDate is too far in the past")
            ids = org.updated_ids(spec.name, start, latest)
            return respond({"ids": ids, "latestDateCovered": format_datetime(latest)})
        earliest = org.earliest_deleted()
        if start < earliest:
            message = f"startDate before earliest date available: {format_datetime(earliest)}"
            raise ApiError(400, "INVALID_REPLICATION_DATE", message)
        found = org.deleted_between(spec.name, start, latest)
        for item in found:
            item["deletedDate"] = format_datetime(item["deletedDate"].astimezone(UTC))
        return respond(
            {
                "deletedRecords": found,
                "earliestDateAvailable": format_datetime(earliest),
                "latestDateCovered": format_datetime(latest),
            }
        )

    def page(call: Call, rows: list[JsonDict], offset: int, locator: str | None = None) -> Response:
        size = max(1, int(org.query_page_size))
        done = offset + size >= len(rows)
        body: JsonDict = {"totalSize": len(rows), "done": done}
        if not done:
            locator = locator or org.keep_rows(rows)
            body["nextRecordsUrl"] = f"{call.base}/query/{locator}-{offset + size}"
        body["records"] = rows[offset : offset + size]
        return respond(body)

    def run_query(call: Call, include_deleted: bool) -> Response:
        text = request.args.get("q", "").strip()
        if not text:
            raise ApiError(400, "MALFORMED_QUERY", "A query string has to be specified")
        rows = run(org, text, include_deleted=include_deleted, version=call.version)
        return page(call, rows, 0)

    @route("/query/")
    def query(call: Call) -> Response:
        return run_query(call, include_deleted=False)

    @route("/queryAll/")
    def query_all(call: Call) -> Response:
        return run_query(call, include_deleted=True)

    def more(call: Call, cursor: str) -> Response:
        """The next page; a queryAll's ``nextRecordsUrl`` also says ``query``."""
        locator, _, offset = cursor.rpartition("-")
        if not locator or not offset.isdigit():
            raise ApiError(400, "INVALID_QUERY_LOCATOR", "invalid query locator")
        return page(call, org.rows_of(locator), int(offset), locator)

    @route("/query/<cursor>")
    def query_more(call: Call, cursor: str) -> Response:
        return more(call, cursor)

    @route("/queryAll/<cursor>")
    def query_all_more(call: Call, cursor: str) -> Response:
        return more(call, cursor)

    @route("/composite/sobjects", ("POST", "PATCH", "DELETE"))
    def collections(call: Call) -> Response:
        if request.method == "DELETE":
            ids = [i for i in request.args.get("ids", "").split(",") if i]
            all_or_none = request.args.get("allOrNone", "false").lower() == "true"
            return respond(composite.delete(org, call.user_id, ids, all_or_none))
        records, all_or_none = composite.unpack(json_body())
        save = composite.create if request.method == "POST" else composite.update
        return respond(save(org, call.user_id, records, all_or_none))

    @route("/composite/sobjects/<name>/<field>", ("PATCH",))
    def collections_upsert(call: Call, name: str, field: str) -> Response:
        records, all_or_none = composite.unpack(json_body())
        spec = spec_of(name)
        return respond(composite.upsert(org, call.user_id, spec.name, field, records, all_or_none))

    @route("/composite/sobjects/<name>")
    def collections_retrieve(call: Call, name: str) -> Response:
        ids = [i for i in request.args.get("ids", "").split(",") if i]
        fields = [f for f in request.args.get("fields", "").split(",") if f]
        return respond(composite.retrieve(org, spec_of(name).name, ids, fields, call.version))

    return bp
