"""The REST API's wire format: errors, 18-character ids, dateTimes, field values and the
``describe`` answers (https://developer.salesforce.com/docs/atlas.en-us.api_rest.meta/api_rest/
resources_sobject_describe.htm)."""

from __future__ import annotations

import re
import string
from datetime import UTC, date, datetime
from typing import Any

from .schema import SOAP_TYPES, TEXT_TYPES, Field, JsonDict, Record, SObject

BASE62 = string.digits + string.ascii_uppercase + string.ascii_lowercase  # ASCII order
_SUFFIX = string.ascii_uppercase + "012345"
_ID = re.compile(r"[A-Za-z0-9]{15}(?:[A-Za-z0-5]{3})?")
POD = "5g00"  # instance (pod) id and the reserved character, as in 00T5g00000AbCdE


class ApiError(Exception):
    """A refusal in Salesforce's words: ``[{"message","errorCode","fields"}]`` for REST
    (https://developer.salesforce.com/docs/atlas.en-us.api_rest.meta/api_rest/errorcodes.htm),
    ``{"statusCode","message","fields"}`` inside sObject Collections results."""

    def __init__(
        self,
        status: int,
        code: str,
        message: str,
        fields: list[str] | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(f"{code}: {message}")
        self.status, self.code, self.message = status, code, message
        self.fields = fields
        self.headers = headers or {}

    def body(self) -> list[JsonDict]:
        entry: JsonDict = {"message": self.message, "errorCode": self.code}
        if self.fields is not None:
            entry["fields"] = self.fields
        return [entry]

    def item(self) -> JsonDict:
        return {"statusCode": self.code, "message": self.message, "fields": self.fields or []}


# -- ids --------------------------------------------------------------------------------------
def with_checksum(id15: str) -> str:
    """The 18-character, case-insensitive form of a 15-character id: for each 5-character
    chunk, a bit per upper-case letter (first character = lowest bit) picks a character of
    ``A-Z0-5`` (https://developer.salesforce.com/docs/atlas.en-us.api.meta/api/
    field_types.htm#i1435616, "ID Field Type", and the knowledge article "What are Salesforce
    IDs composed of?")."""
    suffix = ""
    for start in (0, 5, 10):
        bits = sum(1 << i for i, ch in enumerate(id15[start : start + 5]) if ch.isupper())
        suffix += _SUFFIX[bits]
    return id15 + suffix


def normalize_id(value: str) -> str | None:
    """An id in its canonical 18-character form, or None when it is not an id. An 18-character
    id in any letter case is restored from its suffix, as Salesforce accepts it."""
    if not isinstance(value, str) or not _ID.fullmatch(value):
        return None
    if len(value) == 15:
        return with_checksum(value)
    chars = list(value[:15])
    for chunk, flag in enumerate(value[15:].upper()):
        bits = _SUFFIX.index(flag)
        for i in range(5):
            at = chunk * 5 + i
            chars[at] = chars[at].upper() if bits & (1 << i) else chars[at].lower()
    canonical = with_checksum("".join(chars))
    return canonical if canonical.upper() == value.upper() else None


def base62(number: int, width: int) -> str:
    out = ""
    while number:
        number, digit = divmod(number, 62)
        out = BASE62[digit] + out
    return out.rjust(width, "0")


def make_id(prefix: str, number: int) -> str:
    """Prefix (3) + pod (4) + a base-62 counter (8): later ids sort after earlier ones."""
    return with_checksum(prefix + POD + base62(number, 8))


# -- datetimes --------------------------------------------------------------------------------
def format_datetime(value: datetime) -> str:
    """``2026-12-04T10:20:30.000+0000``, as the REST API renders every dateTime."""
    return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.000+0000")


def parse_datetime(text: str) -> datetime:
    """ISO 8601 with ``Z``, ``+0000`` or ``+00:00`` (a naive one is taken as UTC)."""
    text = text.strip().replace(" ", "+")
    if re.search(r"[+-]\d{4}$", text):
        text = text[:-2] + ":" + text[-2:]
    found = datetime.fromisoformat(text.replace("Z", "+00:00"))
    if found.tzinfo is None:
        found = found.replace(tzinfo=UTC)
    return found.astimezone(UTC).replace(microsecond=0)


# -- values -----------------------------------------------------------------------------------
def parse_value(spec: SObject, item: Field, value: Any) -> Any:
    """A JSON (or Python) value as stored for ``item``; ApiError for a value of the wrong type
    (Salesforce answers ``JSON_PARSER_ERROR``)."""
    if value is None or (value == "" and item.type not in ("string", "textarea")):
        return None
    try:
        if item.type == "datetime":
            return value if isinstance(value, datetime) else parse_datetime(str(value))
        if item.type == "date":
            if isinstance(value, datetime):
                return value.date()
            return value if isinstance(value, date) else date.fromisoformat(str(value))
        if item.type == "boolean":
            if isinstance(value, bool):
                return value
            if str(value).lower() in ("true", "false"):
                return str(value).lower() == "true"
            raise ValueError(value)
        if item.type == "int":
            if isinstance(value, bool) or (isinstance(value, float) and not value.is_integer()):
                raise ValueError(value)
            return int(value)
        if item.type == "double":
            if isinstance(value, bool):
                raise ValueError(value)
            return float(value)
    except (TypeError, ValueError) as exc:
        kind = SOAP_TYPES.get(item.type, "xsd:string").split(":")[1]
        raise ApiError(
            400,
            "JSON_PARSER_ERROR",
            f"Cannot deserialize instance of {kind} from VALUE_STRING value {value} or "
            f"request may be missing a required field at [line:1, column:1]",
        ) from exc
    if isinstance(value, (dict, list)):
        raise ApiError(
            400, "JSON_PARSER_ERROR", f"Cannot deserialize instance of string from {value}"
        )
    if isinstance(value, bool):
        return "true" if value else "false"
    return value if isinstance(value, str) else str(value)


def render_value(item: Field, value: Any) -> Any:
    if value is None:
        return None
    if item.type == "datetime":
        return format_datetime(value)
    if item.type == "date":
        return value.isoformat()
    return value


def render_record(
    spec: SObject, record: Record, version: str, fields: list[str] | None = None
) -> JsonDict:
    out: JsonDict = {"attributes": attributes(spec.name, record["Id"], version)}
    for item in spec.fields:
        if fields is None or item.name.lower() in fields:
            out[item.name] = render_value(item, record.get(item.name))
    return out


def attributes(name: str, record_id: str, version: str) -> JsonDict:
    return {"type": name, "url": f"/services/data/v{version}/sobjects/{name}/{record_id}"}


# -- describe ---------------------------------------------------------------------------------
def describe_field(item: Field, values: list[str], default: str | None) -> JsonDict:
    defaulted = item.default is not None or item.name == "OwnerId" or default is not None
    text = item.type in TEXT_TYPES
    return {
        "name": item.name,
        "label": item.title,
        "type": item.type,
        "soapType": SOAP_TYPES.get(item.type, "xsd:string"),
        "length": item.length if text else 0,
        "byteLength": item.length * 3 if text else 0,
        "digits": 9 if item.type == "int" else 0,
        "precision": 18 if item.type == "double" else 0,
        "scale": 2 if item.type == "double" else 0,
        "createable": item.createable,
        "updateable": item.updateable,
        "nillable": item.nillable and item.type != "boolean",
        "defaultedOnCreate": defaulted or item.read_only,
        "defaultValue": item.default if item.type != "boolean" else bool(item.default),
        "externalId": item.external_id,
        "idLookup": item.name == "Id" or item.external_id,
        "unique": False,
        "custom": item.custom,
        "calculated": False,
        "filterable": item.type != "textarea",
        "sortable": item.type != "textarea",
        "groupable": item.type not in ("textarea", "double", "datetime"),
        "restrictedPicklist": item.restricted,
        "picklistValues": [
            {"active": True, "defaultValue": v == default, "label": v, "validFor": None, "value": v}
            for v in values
        ],
        "referenceTo": list(item.reference_to),
        "relationshipName": item.relationship,
        "polymorphicForeignKey": len(item.reference_to) > 1,
    }


def describe_object(spec: SObject, version: str) -> JsonDict:
    base = f"/services/data/v{version}/sobjects/{spec.name}"
    writable = spec.createable
    return {
        "name": spec.name,
        "label": spec.label,
        "labelPlural": spec.label + "s",
        "keyPrefix": spec.prefix,
        "custom": False,
        "createable": writable,
        "updateable": writable,
        "deletable": writable,
        "undeletable": writable,
        "mergeable": spec.name in ("Contact", "Lead", "Account"),
        "queryable": True,
        "retrieveable": True,
        "replicateable": True,
        "searchable": spec.name not in ("TaskStatus",),
        "triggerable": writable,
        "urls": {
            "sobject": base,
            "describe": f"{base}/describe",
            "rowTemplate": f"{base}/{{ID}}",
        },
    }
