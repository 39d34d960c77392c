"""Event times and RRULE expansion the way Google Calendar exposes them.

Instances of a recurring event get ids ``<base>_<YYYYMMDDTHHMMSSZ>`` (UTC start) or
``<base>_<YYYYMMDD>`` (all-day), plus ``recurringEventId`` and ``originalStartTime``.
Timed series repeat in wall-clock time of ``start.timeZone``, so DST shifts are honoured.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta, tzinfo
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from dateutil.parser import isoparse
from dateutil.rrule import rrule, rruleset, rrulestr

from .common import ApiError, JsonDict

MAX_INSTANCES = 2500
_INSTANCE_ID = re.compile(r"^(?P<base>.+)_(?P<suffix>\d{8}(?:T\d{6}Z)?)$")
_UNTIL = re.compile(r"UNTIL=(\d{8})(T\d{6})?(Z?)", re.IGNORECASE)


@dataclass(frozen=True)
class Occurrence:
    instance_id: str
    start: JsonDict
    end: JsonDict
    original_start: JsonDict
    begins: datetime
    ends: datetime


def zone(name: str) -> ZoneInfo:
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise ApiError(400, "invalid", f"Invalid time zone definition: {name}") from None


def is_all_day(field: JsonDict) -> bool:
    return "date" in field and "dateTime" not in field


def parse_event_time(field: JsonDict, default_tz: str, name: str = "start") -> datetime:
    """The instant an event ``start``/``end`` denotes (all-day: midnight in ``default_tz``)."""
    try:
        if "dateTime" in field:
            moment = isoparse(str(field["dateTime"]))
            if moment.tzinfo is None:
                tz_name = field.get("timeZone")
                if not tz_name:
                    message = f"Missing time zone definition for {name} time."
                    raise ApiError(400, "invalid", message)
                moment = moment.replace(tzinfo=zone(str(tz_name)))
            return moment
        if "date" in field:
            day = date.fromisoformat(str(field["date"]))
            return datetime.combine(day, time(), zone(default_tz))
    except ValueError:
        raise ApiError(400, "invalid", f"Invalid {name} time.") from None
    raise ApiError(400, "required", f"Missing {name} time.")


def split_instance_id(event_id: str) -> tuple[str, str] | None:
    match = _INSTANCE_ID.match(event_id)
    return (match["base"], match["suffix"]) if match else None


def instance_suffix(original_start: str) -> str:
    """The id suffix for an original start given as ``YYYY-MM-DD`` or RFC 3339."""
    if len(original_start) == 10:
        return date.fromisoformat(original_start).strftime("%Y%m%d")
    moment = isoparse(original_start)
    if moment.tzinfo is None:
        raise ApiError(400, "invalid", "originalStartTime needs an offset")
    return moment.astimezone(UTC).strftime("%Y%m%dT%H%M%SZ")


def event_bounds(event: JsonDict, default_tz: str) -> tuple[datetime, datetime]:
    """Start and end instants; a cancelled instance without times uses its original start."""
    start = event.get("start") or event.get("originalStartTime") or {}
    end = event.get("end") or start
    return parse_event_time(start, default_tz), parse_event_time(end, default_tz, "end")


def expand(
    master: JsonDict,
    default_tz: str,
    window_start: datetime | None,
    window_end: datetime,
    limit: int = MAX_INSTANCES,
) -> list[Occurrence]:
    """Occurrences of ``master`` that end after ``window_start`` and start before
    ``window_end`` (EXDATEs removed; exceptions are the caller's business)."""
    start, end = master["start"], master["end"]
    base = str(master["id"])
    if is_all_day(start):
        return _expand_all_day(master, base, default_tz, window_start, window_end, limit)
    tz_name = str(start.get("timeZone") or default_tz)
    tz = zone(tz_name)
    end_tz_name = str(end.get("timeZone") or tz_name)
    end_tz = zone(end_tz_name)
    dtstart = parse_event_time(start, tz_name).astimezone(tz)
    duration = parse_event_time(end, end_tz_name, "end") - dtstart
    rules = _ruleset(master.get("recurrence") or [], dtstart, tz)
    lo = dtstart if window_start is None else (window_start - duration).astimezone(tz)
    out: list[Occurrence] = []
    for moment in rules.xafter(max(lo, dtstart), inc=True):
        if moment >= window_end or len(out) >= limit:
            break
        ends = moment + duration
        if window_start is not None and ends <= window_start:
            continue
        start_field = {"dateTime": moment.isoformat(), "timeZone": tz_name}
        end_field = {"dateTime": ends.astimezone(end_tz).isoformat(), "timeZone": end_tz_name}
        suffix = moment.astimezone(UTC).strftime("%Y%m%dT%H%M%SZ")
        out.append(
            Occurrence(f"{base}_{suffix}", start_field, end_field, dict(start_field), moment, ends)
        )
    return out


def _expand_all_day(
    master: JsonDict,
    base: str,
    default_tz: str,
    window_start: datetime | None,
    window_end: datetime,
    limit: int,
) -> list[Occurrence]:
    tz = zone(default_tz)
    first = date.fromisoformat(str(master["start"]["date"]))
    days = (date.fromisoformat(str(master["end"]["date"])) - first).days
    dtstart = datetime.combine(first, time())
    rules = _ruleset(master.get("recurrence") or [], dtstart, None)
    lo = dtstart
    if window_start is not None:
        lo = max(dtstart, window_start.astimezone(tz).replace(tzinfo=None) - timedelta(days=days))
    hi = window_end.astimezone(tz).replace(tzinfo=None)
    out: list[Occurrence] = []
    for moment in rules.xafter(lo, inc=True):
        if moment >= hi or len(out) >= limit:
            break
        begins = moment.replace(tzinfo=tz)
        ends = (moment + timedelta(days=days)).replace(tzinfo=tz)
        if window_start is not None and ends <= window_start:
            continue
        start_field = {"date": moment.date().isoformat()}
        end_field = {"date": (moment.date() + timedelta(days=days)).isoformat()}
        instance_id = f"{base}_{moment.strftime('%Y%m%d')}"
        out.append(Occurrence(instance_id, start_field, end_field, dict(start_field), begins, ends))
    return out


def _ruleset(lines: list[str], dtstart: datetime, tz: tzinfo | None) -> rruleset:
    """RRULE/EXRULE via dateutil; RDATE/EXDATE parsed here so TZID and VALUE=DATE work."""
    rules = rruleset()
    has_rule = False
    for raw in lines:
        name, _, rest = str(raw).partition(":")
        kind = name.split(";")[0].upper()
        if kind in {"RRULE", "EXRULE"}:
            text = "RRULE:" + _fix_until(rest, tz)
            try:
                parsed = rrulestr(text, dtstart=dtstart)
            except (ValueError, TypeError):
                raise ApiError(400, "invalid", f"Invalid recurrence rule: {raw}") from None
            if not isinstance(parsed, rrule):
                raise ApiError(400, "invalid", f"Invalid recurrence rule: {raw}")
            if kind == "RRULE":
                rules.rrule(parsed)
                has_rule = True
            else:
                rules.exrule(parsed)
        elif kind in {"RDATE", "EXDATE"}:
            params = dict(p.split("=", 1) for p in name.split(";")[1:] if "=" in p)
            for value in rest.split(","):
                moment = _parse_date_value(value.strip(), params, dtstart, tz)
                if kind == "RDATE":
                    rules.rdate(moment)
                else:
                    rules.exdate(moment)
        else:
            raise ApiError(400, "invalid", f"Invalid recurrence rule: {raw}")
    rules.rdate(dtstart)  # DTSTART is always the first instance
    if not has_rule:
        raise ApiError(400, "invalid", "Invalid recurrence rule: no RRULE")
    return rules


def _fix_until(rule: str, tz: tzinfo | None) -> str:
    """dateutil wants UNTIL in UTC for zoned DTSTART and floating for all-day DTSTART."""

    def repl(match: re.Match[str]) -> str:
        day, clock, utc = match.group(1), match.group(2) or "", match.group(3)
        if tz is None:
            return f"UNTIL={day}{clock}"
        if utc:
            return match.group(0)
        local = _wall_clock(day + (clock or "T235959"), tz)
        return "UNTIL=" + local.astimezone(UTC).strftime("%Y%m%dT%H%M%SZ")

    return _UNTIL.sub(repl, rule)


def _parse_date_value(
    value: str, params: dict[str, str], dtstart: datetime, tz: tzinfo | None
) -> datetime:
    try:
        if len(value) == 8:
            day = _wall_clock(value + "T000000", None)
            return day if tz is None else datetime.combine(day.date(), dtstart.timetz())
        utc = value.endswith("Z")
        moment = _wall_clock(value.rstrip("Z"), None)
    except ValueError:
        raise ApiError(400, "invalid", f"Invalid recurrence date: {value}") from None
    if tz is None:
        return datetime.combine(moment.date(), time())
    if utc:
        return moment.replace(tzinfo=UTC).astimezone(tz)
    local_tz = zone(params["TZID"]) if "TZID" in params else tz
    return moment.replace(tzinfo=local_tz).astimezone(tz)


def _wall_clock(value: str, tz: tzinfo | None) -> datetime:
    """``YYYYMMDDTHHMMSS`` as a wall-clock time in ``tz`` (floating when ``tz`` is None)."""
    parsed = datetime.strptime(value + "+0000", "%Y%m%dT%H%M%S%z")
    return parsed.replace(tzinfo=tz)
