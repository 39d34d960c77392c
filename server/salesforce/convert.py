"""Salesforce values into CRM values: the types a field mapping names (P5), and the
stamps of Salesforce's audit fields."""

from __future__ import annotations

from datetime import UTC, date, datetime, time
from decimal import Decimal, InvalidOperation
from typing import Any


class Unconvertible(ValueError):
    """A record's value does not convert to its mapping's type (P5)."""


def parse_stamp(value: Any) -> datetime:
    """Salesforce's ``2026-12-04T10:20:30.000+0000``."""
    moment = datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def convert(value: Any, kind: str, field: str) -> Any:
    """A Salesforce value as the mapping's type; :class:`Unconvertible` names the field."""
    if value is None:
        return None
    try:
        if kind == "text" or kind == "picklist":
            return str(value)
        if kind == "number":
            if isinstance(value, bool):
                raise ValueError
            number = Decimal(str(value))
            return int(number) if number == number.to_integral_value() else float(number)
        if kind == "boolean":
            if isinstance(value, bool):
                return value
            raise ValueError
        if kind == "date":
            return date.fromisoformat(str(value)[:10])
        if kind == "datetime":
            return parse_stamp(value)
    except (ValueError, InvalidOperation) as exc:
        raise Unconvertible(f"{field}: {value!r} is not a {kind}") from exc
    raise Unconvertible(f"{field}: unknown type {kind}")


def instant(value: Any) -> datetime:
    if isinstance(value, datetime):
        return value
    if isinstance(value, date):
        return datetime.combine(value, time(12), UTC)  # a due date, not an instant: midday UTC
    raise Unconvertible("occurred_at: no date")


def plain(value: Any) -> Any:
    return value.isoformat() if isinstance(value, date | datetime) else value
