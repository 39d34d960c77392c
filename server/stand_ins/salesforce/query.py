"""Runs a parsed SOQL query against the org: field resolution through relationships, type
checks, filtering, ordering and rendering, as Salesforce does them
(https://developer.salesforce.com/docs/atlas.en-us.soql_sosl.meta/soql_sosl/
sforce_api_calls_soql_select.htm): text comparisons ignore case (ids do not: an
18-character id is compared as stored), a long text area can be neither filtered nor sorted,
``ORDER BY`` puts nulls first ascending and last descending, a literal of the wrong type is
an ``INVALID_FIELD`` error, and relationship fields nest under the relationship name.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from .schema import TEXT_TYPES, Field, JsonDict, Record, SObject, sobject, type_of
from .soql import (
    Compare,
    Condition,
    InList,
    Junction,
    Like,
    Not,
    Order,
    Path,
    Query,
    error,
    parse,
)
from .wire import ApiError, attributes, normalize_id, render_value

if TYPE_CHECKING:
    from .org import OrgState

# Fields of the polymorphic "Name" entity behind Who, What and Owner.
NAME_FIELDS = ("Id", "Name", "Type", "Email", "FirstName", "LastName", "Username", "IsActive")
POLYMORPHIC = frozenset({"who", "what", "owner"})
TYPE_WORDS = {
    "datetime": "dateTime",
    "date": "date",
    "boolean": "boolean",
    "int": "double",
    "double": "double",
}


# -- resolution ------------------------------------------------------------------------------
def _no_column(query: Query, path: Path, name: str, entity: str) -> ApiError:
    return error(
        query.text,
        path.pos,
        "INVALID_FIELD",
        f"No such column '{name}' on entity '{entity}'. If you are attempting to use a custom "
        "field, be sure to append the '__c' after the custom field name. Please reference your "
        "WSDL or the describe call for the appropriate names.",
    )


def _resolve(org: OrgState, query: Query, spec: SObject, path: Path) -> None:
    *rels, leaf = path.text.split(".")
    current: SObject | None = spec
    for name in rels:
        ref = current.relationship(name) if current is not None else None
        if ref is None:
            raise error(
                query.text,
                path.pos,
                "INVALID_FIELD",
                f"Didn't understand relationship '{name}' in field path. If you are attempting "
                "to use a custom relationship, be sure to append the '__r' after the custom "
                "relationship name. Please reference your WSDL or the describe call for the "
                "appropriate names.",
            )
        path.rels.append(ref)
        polymorphic = name.lower() in POLYMORPHIC or len(ref.reference_to) > 1
        current = None if polymorphic else sobject(ref.reference_to[0])
    if current is not None:
        path.leaf = org.field_of(current, leaf)
        if path.leaf is None:
            raise _no_column(query, path, leaf, current.name)
        return
    canonical = next((n for n in NAME_FIELDS if n.lower() == leaf.lower()), None)
    if canonical is None:
        raise _no_column(query, path, leaf, "Name")
    path.type_of_target = canonical == "Type"
    targets = [sobject(t) for t in path.rels[-1].reference_to]
    found = [s.field(canonical) for s in targets if s is not None and s.field(canonical)]
    path.leaf = found[0] if found else Field(canonical, "string", 255)


def _check(query: Query, cond: Condition) -> None:
    """Literal types against field types, as Salesforce checks them before running."""
    if isinstance(cond, Junction):
        for part in cond.parts:
            _check(query, part)
        return
    if isinstance(cond, Not):
        _check(query, cond.part)
        return
    item = cond.path.item
    if item.type == "textarea":
        message = f"field '{item.name}' can not be filtered in a query call"
        raise error(query.text, cond.path.pos, "INVALID_FIELD", message)
    literals = [cond.value] if isinstance(cond, Compare) else []
    literals += cond.values if isinstance(cond, InList) else []
    wanted = "string" if item.type in TEXT_TYPES else item.type
    wanted = "number" if wanted in ("int", "double") else wanted
    for literal in literals:
        if literal.kind not in (wanted, "null"):
            kind = TYPE_WORDS.get(item.type, "string")
            quoted = "be" if kind == "string" else "not be"
            message = (
                f"value of filter criterion for field '{item.name}' must be of type {kind} "
                f"and should {quoted} enclosed in quotes"
            )
            raise error(query.text, cond.path.pos, "INVALID_FIELD", message)
        if item.type in ("id", "reference") and literal.kind == "string":
            literal.value = normalize_id(literal.value) or literal.value


def _paths(cond: Condition | None) -> list[Path]:
    if cond is None:
        return []
    if isinstance(cond, Junction):
        return [p for part in cond.parts for p in _paths(part)]
    if isinstance(cond, Not):
        return _paths(cond.part)
    return [cond.path]


# -- evaluation ------------------------------------------------------------------------------
def _target(org: OrgState, record: Record, path: Path, deleted: bool) -> tuple[str, Record] | None:
    current: tuple[str, Record] | None = (str(type_of(str(record["Id"]))), record)
    for ref in path.rels:
        assert current is not None
        current = org.locate(str(current[1].get(ref.name) or ""))
        if current is None or (current[1].get("IsDeleted") and not deleted):
            return None
    return current


def _value(org: OrgState, record: Record, path: Path, deleted: bool) -> Any:
    found = _target(org, record, path, deleted)
    if found is None:
        return None
    if path.type_of_target:
        return found[0]
    return found[1].get(path.item.name)


def _key(item: Field, value: Any) -> Any:
    if isinstance(value, str) and item.type not in ("id", "reference"):
        return value.casefold()
    return value


def _compare(item: Field, left: Any, op: str, right: Any) -> bool:
    a, b = _key(item, left), _key(item, right)
    if op in ("=", "!="):
        return bool(a == b) == (op == "=")
    if a is None or b is None:
        return False
    return bool({"<": a < b, "<=": a <= b, ">": a > b, ">=": a >= b}[op])


def _matches(org: OrgState, record: Record, cond: Condition, deleted: bool) -> bool:
    if isinstance(cond, Junction):
        parts = (_matches(org, record, p, deleted) for p in cond.parts)
        return all(parts) if cond.op == "and" else any(parts)
    if isinstance(cond, Not):
        return not _matches(org, record, cond.part, deleted)
    value = _value(org, record, cond.path, deleted)
    if isinstance(cond, Like):
        return value is not None and cond.pattern.fullmatch(str(value)) is not None
    if isinstance(cond, InList):
        hit = any(_compare(cond.path.item, value, "=", v.value) for v in cond.values)
        return hit != cond.negated
    return _compare(cond.path.item, value, cond.op, cond.value.value)


def _render(
    org: OrgState, spec: SObject, record: Record, query: Query, version: str, deleted: bool
) -> JsonDict:
    out: JsonDict = {"attributes": attributes(spec.name, str(record["Id"]), version)}
    for path in query.fields:
        holder, current = out, record
        for ref in path.rels:
            key = str(ref.relationship)
            if key in holder and holder[key] is None:
                break
            found = org.locate(str(current.get(ref.name) or ""))
            if found is None or (found[1].get("IsDeleted") and not deleted):
                holder[key] = None
                break
            current = found[1]
            if key not in holder:
                holder[key] = {"attributes": attributes(found[0], str(current["Id"]), version)}
            holder = holder[key]
        else:
            value = _value(org, record, path, deleted)
            holder[path.item.name] = render_value(path.item, value)
    return out


def run(org: OrgState, text: str, *, include_deleted: bool, version: str) -> list[JsonDict]:
    """The rows of a query (``queryAll`` when ``include_deleted``), rendered as the REST API
    renders them, relationship fields nested under the relationship name."""
    query = parse(text)
    spec = sobject(query.sobject)
    if spec is None:
        raise error(
            text,
            query.sobject_pos,
            "INVALID_TYPE",
            f"sObject type '{query.sobject}' is not supported. If you are attempting to use a "
            "custom object, be sure to append the '__c' after the entity name. Please reference "
            "your WSDL or the describe call for the appropriate names.",
        )
    seen: set[str] = set()
    for path in query.fields:
        if path.text.lower() in seen:
            raise error(text, path.pos, "MALFORMED_QUERY", f"duplicate field selected: {path.text}")
        seen.add(path.text.lower())
    for path in query.fields + _paths(query.where) + [o.path for o in query.order]:
        _resolve(org, query, spec, path)
    for order in query.order:
        if order.path.item.type == "textarea":
            message = f"field '{order.path.item.name}' can not be sorted in a query call"
            raise error(text, order.path.pos, "INVALID_FIELD", message)
    if query.where is not None:
        _check(query, query.where)
    deleted = include_deleted
    with org.lock:
        rows = [
            r
            for r in sorted(org.data[spec.name].values(), key=lambda r: str(r["Id"]))
            if (deleted or not r.get("IsDeleted"))
            and (query.where is None or _matches(org, r, query.where, deleted))
        ]
        for order in reversed(query.order):

            def sort_key(row: Record, order: Order = order) -> tuple[bool, Any]:
                value = _key(order.path.item, _value(org, row, order.path, deleted))
                none_high = order.nulls_last != order.desc
                return ((value is None) == none_high, value)

            rows.sort(key=sort_key, reverse=order.desc)
        end = None if query.limit is None else query.offset + query.limit
        rows = rows[query.offset : end]
        return [_render(org, spec, r, query, version, deleted) for r in rows]
