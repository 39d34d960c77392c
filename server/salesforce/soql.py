"""SOQL built from checked parts only: field and object names must be identifiers (a mapping's
field is admin input), values go in as quoted literals. The one place queries are assembled.

https://developer.salesforce.com/docs/atlas.en-us.soql_sosl.meta/soql_sosl/sforce_api_calls_soql_select_quotedstringescapes.htm
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from datetime import UTC, datetime

_IDENT = re.compile(r"^[A-Za-z][A-Za-z0-9_]{0,79}(\.[A-Za-z][A-Za-z0-9_]{0,79})?$")
_ID = re.compile(r"^[A-Za-z0-9]{15}(?:[A-Za-z0-9]{3})?$")


def ident(name: str) -> str:
    if not _IDENT.match(name):
        raise ValueError(f"not a Salesforce field or object name: {name!r}")
    return name


def is_ident(name: str) -> bool:
    return bool(_IDENT.match(name))


def string(value: str) -> str:
    escaped = value.replace("\\", "\\\\").replace("'", "\\'").replace("\n", "\\n")
    return f"'{escaped}'"


def record_id(value: str) -> str:
    if not _ID.match(value):
        raise ValueError(f"not a Salesforce id: {value!r}")
    return f"'{value}'"


def instant(moment: datetime) -> str:
    moment = moment.astimezone(UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


def in_list(field: str, literals: Iterable[str]) -> str:
    return f"{ident(field)} IN ({', '.join(literals)})"


def select(
    fields: Iterable[str], sobject: str, where: Iterable[str], order: Iterable[str] = ()
) -> str:
    """``SELECT fields FROM sobject WHERE a AND b ORDER BY ...``; every condition was made by
    the functions above."""
    # Names pass ident(); conditions are built from ident() and the literal functions above.
    parts = [f"SELECT {', '.join(ident(f) for f in fields)} FROM {ident(sobject)}"]  # noqa: S608
    conditions = [c for c in where if c]
    if conditions:
        parts.append("WHERE " + " AND ".join(conditions))
    order = [ident(o) for o in order]
    if order:
        parts.append("ORDER BY " + ", ".join(order))
    return " ".join(parts)
