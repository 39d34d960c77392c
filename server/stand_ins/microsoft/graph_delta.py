"""What a calendar window holds: recurring series expanded, and ``calendarView/delta`` rounds.

Recurrence follows patternedRecurrence
(https://learn.microsoft.com/en-us/graph/api/resources/patternedrecurrence): occurrences repeat
at the same wall-clock time in ``range.recurrenceTimeZone``, so a 09:00 meeting in "Pacific
Standard Time" stays 09:00 local across a DST change while its UTC time moves; the series'
first occurrence is the first day on or after ``range.startDate`` the pattern matches.

Delta (https://learn.microsoft.com/en-us/graph/api/event-delta and
https://learn.microsoft.com/en-us/graph/delta-query-events): a round's content is computed when
it starts — the first round lists every instance in the window, a later round what changed
against the snapshot its deltatoken carries (``@removed`` for ids that left the window) — and
is paged with skiptokens kept server-side, each usable again. Series masters are never listed.
"""

from __future__ import annotations

import copy
import dataclasses
import secrets
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from dateutil.rrule import DAILY, MONTHLY, WEEKLY, YEARLY, rrule, weekday
from dateutil.rrule import weekdays as WEEKDAYS

from .graph_events import GraphError, JsonDict, StoredEvent, invalid, occurrence_id, zone

DAYS = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")
PATTERNS = ("daily", "weekly", "absoluteMonthly", "relativeMonthly", "absoluteYearly")
RANGES = ("endDate", "noEnd", "numbered")
INDEXES = {"first": 1, "second": 2, "third": 3, "fourth": 4, "last": -1}
MAX_OCCURRENCES = 1000
HORIZON = timedelta(days=730)
NO_DATE = "0001-01-01"


# -- recurrence ------------------------------------------------------------------------------
def _int(value: object, name: str, low: int, high: int) -> int:
    try:
        number = int(str(value))
    except ValueError:
        raise invalid(f"Invalid value for recurrence '{name}'.") from None
    if not low <= number <= high:
        raise invalid(f"Invalid value for recurrence '{name}'.")
    return number


def _date(value: object, name: str) -> date:
    try:
        return date.fromisoformat(str(value))
    except ValueError:
        raise invalid(f"Invalid value for recurrence '{name}'.") from None


def normalize_recurrence(raw: object, start: datetime, start_zone: str) -> JsonDict:
    """A patternedRecurrence validated and completed the way Graph answers it."""
    if not isinstance(raw, dict):
        raise GraphError(400, "RequestBodyRead", "'recurrence' must be a patternedRecurrence.")
    pattern, rng = raw.get("pattern") or {}, raw.get("range") or {}
    kind = pattern.get("type")
    if kind not in PATTERNS:
        raise invalid(f"Recurrence pattern type '{kind}' is not supported.")
    tz, tz_label = zone(str(rng.get("recurrenceTimeZone") or start_zone))
    local = start.astimezone(tz)
    days = [str(d).lower() for d in pattern.get("daysOfWeek") or []]
    if any(d not in DAYS for d in days):
        raise invalid("Invalid value for recurrence 'daysOfWeek'.")
    if kind == "weekly" and not days:
        days = [DAYS[local.weekday()]]
    if kind == "relativeMonthly" and not days:
        raise invalid("A relativeMonthly recurrence needs 'daysOfWeek'.")
    absolute = kind in ("absoluteMonthly", "absoluteYearly")
    day_of_month = _int(pattern.get("dayOfMonth") or local.day, "dayOfMonth", 1, 31)
    month = _int(pattern.get("month") or local.month, "month", 1, 12)
    index = str(pattern.get("index") or "first")
    first_day = str(pattern.get("firstDayOfWeek") or "sunday").lower()
    if index not in INDEXES or first_day not in DAYS:
        raise invalid("Invalid value for recurrence 'index' or 'firstDayOfWeek'.")
    range_type = rng.get("type") or "noEnd"
    if range_type not in RANGES:
        raise invalid(f"Recurrence range type '{range_type}' is not supported.")
    start_date = _date(rng["startDate"], "startDate") if rng.get("startDate") else local.date()
    end_date, count = NO_DATE, 0
    if range_type == "endDate":
        end = _date(rng.get("endDate"), "endDate")
        if end < start_date:
            raise invalid("The recurrence range endDate is before its startDate.")
        end_date = end.isoformat()
    elif range_type == "numbered":
        count = _int(rng.get("numberOfOccurrences"), "numberOfOccurrences", 1, 999)
    return {
        "pattern": {
            "type": kind,
            "interval": _int(pattern.get("interval", 1), "interval", 1, 99),
            "month": month if kind == "absoluteYearly" else 0,
            "dayOfMonth": day_of_month if absolute else 0,
            "daysOfWeek": days,
            "firstDayOfWeek": first_day,
            "index": index,
        },
        "range": {
            "type": range_type,
            "startDate": start_date.isoformat(),
            "endDate": end_date,
            "recurrenceTimeZone": tz_label,
            "numberOfOccurrences": count,
        },
    }


def _rule(recurrence: JsonDict, wall: time) -> rrule:
    """The series as a dateutil rule over naive wall-clock times of its time zone."""
    pattern, rng = recurrence["pattern"], recurrence["range"]
    dtstart = datetime.combine(date.fromisoformat(rng["startDate"]), wall)
    until = count = None
    if rng["type"] == "endDate":
        until = datetime.combine(date.fromisoformat(rng["endDate"]), time.max)
    elif rng["type"] == "numbered":
        count = int(rng["numberOfOccurrences"])
    days: list[weekday] = [WEEKDAYS[DAYS.index(d)] for d in pattern["daysOfWeek"]]
    common = {"dtstart": dtstart, "interval": pattern["interval"], "until": until, "count": count}
    kind = pattern["type"]
    if kind == "daily":
        return rrule(DAILY, **common)
    if kind == "weekly":
        return rrule(WEEKLY, byweekday=days, wkst=DAYS.index(pattern["firstDayOfWeek"]), **common)
    if kind == "absoluteMonthly":
        return rrule(MONTHLY, bymonthday=pattern["dayOfMonth"], **common)
    if kind == "relativeMonthly":
        return rrule(MONTHLY, byweekday=days, bysetpos=INDEXES[pattern["index"]], **common)
    return rrule(YEARLY, bymonth=pattern["month"], bymonthday=pattern["dayOfMonth"], **common)


@dataclass(frozen=True)
class Series:
    tz: ZoneInfo
    rule: rrule
    duration: timedelta  # wall-clock length of each occurrence

    def localize(self, wall: datetime) -> datetime:
        return wall.replace(tzinfo=self.tz).astimezone(UTC)

    def wall(self, moment: datetime) -> datetime:
        return moment.astimezone(self.tz).replace(tzinfo=None)


def series(recurrence: JsonDict, start: datetime, end: datetime) -> Series:
    tz = zone(recurrence["range"]["recurrenceTimeZone"])[0]
    local_start = start.astimezone(tz).replace(tzinfo=None)
    duration = end.astimezone(tz).replace(tzinfo=None) - local_start
    return Series(tz, _rule(recurrence, local_start.time()), duration)


def first_occurrence(
    recurrence: JsonDict, start: datetime, end: datetime
) -> tuple[datetime, datetime]:
    """Where a series with this pattern, time of day and length really starts and ends."""
    found = series(recurrence, start, end)
    first = next(iter(found.rule), None)
    if first is None:
        raise invalid("The recurrence pattern has no occurrence.")
    return found.localize(first), found.localize(first + found.duration)


def is_occurrence(master: StoredEvent, original_start: datetime) -> bool:
    assert master.recurrence is not None
    found = series(master.recurrence, master.start, master.end)
    wall = found.wall(original_start)
    hit = found.rule.after(wall - timedelta(seconds=1))
    return hit == wall and found.localize(hit) == original_start.astimezone(UTC)


def occurrence(master: StoredEvent, original_start: datetime) -> StoredEvent:
    """The (unmodified) occurrence of ``master`` that starts at ``original_start``."""
    assert master.recurrence is not None
    found = series(master.recurrence, master.start, master.end)
    begins = original_start.astimezone(UTC)
    return dataclasses.replace(
        master,
        id=occurrence_id(master.id, begins),
        kind="occurrence",
        start=begins,
        end=found.localize(found.wall(begins) + found.duration),
        recurrence=None,
        master_id=master.id,
        original_start=begins,
        cancelled=set(),
    )


def expand(master: StoredEvent, lo: datetime, hi: datetime, horizon: datetime) -> list[datetime]:
    """Original starts (UTC) of the occurrences overlapping [lo, hi), at most
    :data:`MAX_OCCURRENCES`, none starting after ``horizon``."""
    assert master.recurrence is not None
    found = series(master.recurrence, master.start, master.end)
    hi = min(hi, horizon)
    out: list[datetime] = []
    lo_wall = found.wall(lo) - found.duration - timedelta(days=1)
    hi_wall = found.wall(hi) + timedelta(days=1)
    for wall in found.rule.xafter(lo_wall, inc=True):
        if wall > hi_wall or len(out) >= MAX_OCCURRENCES:
            break
        begins, ends = found.localize(wall), found.localize(wall + found.duration)
        if begins < hi and (ends > lo or (begins == ends and begins >= lo)):
            out.append(begins)
    return out


# -- what a window holds ---------------------------------------------------------------------
Listed = dict[str, tuple[str, StoredEvent]]  # id -> (version, snapshot)


def window_items(events: list[StoredEvent], lo: datetime, hi: datetime, now: datetime) -> Listed:
    """Every single instance, occurrence and exception overlapping [lo, hi) (no masters).
    An occurrence's version follows its master's, so editing a series lists it again."""
    out: Listed = {}
    masters = {e.id: e for e in events if e.kind == "seriesMaster"}
    exceptions = {e.id for e in events if e.kind == "exception"}
    for event in events:
        if event.kind == "singleInstance" and event.overlaps(lo, hi):
            out[event.id] = (event.version, copy.copy(event))
        elif event.kind == "exception" and event.overlaps(lo, hi):
            master = masters.get(event.master_id or "")
            version = f"{master.version if master else ''}/{event.version}"
            out[event.id] = (version, copy.copy(event))
    for master in masters.values():
        horizon = max(now, master.start) + HORIZON
        for begins in expand(master, lo, hi, horizon):
            if begins in master.cancelled or occurrence_id(master.id, begins) in exceptions:
                continue
            item = occurrence(master, begins)
            out[item.id] = (master.version, item)
    return out


# -- delta rounds and their tokens ----------------------------------------------------------
Entry = StoredEvent | str  # a full item, or the id of a removed one


@dataclass
class SyncState:
    """What a deltatoken stands for: the window and the versions of what it held."""

    mailbox: str
    window: tuple[datetime, datetime]
    snapshot: dict[str, str]
    gone: str | None = None


@dataclass
class Round:
    id: str
    mailbox: str
    entries: list[Entry]
    delta_token: str
    sync: SyncState
    skip_tokens: dict[int, str] = field(default_factory=dict)


@dataclass
class DeltaBook:
    """Rounds, skiptokens and deltatokens of every mailbox (callers hold the state lock)."""

    rounds: dict[str, Round] = field(default_factory=dict)
    skips: dict[str, tuple[str, int]] = field(default_factory=dict)
    deltas: dict[str, SyncState] = field(default_factory=dict)

    def begin(
        self,
        mailbox: str,
        window: tuple[datetime, datetime],
        current: Listed,
        previous: dict[str, str] | None,
    ) -> Round:
        """A new round: everything in ``current``, or only what differs from ``previous``."""
        changed = [
            event
            for key, (version, event) in current.items()
            if previous is None or previous.get(key) != version
        ]
        changed.sort(key=lambda e: (e.start, e.id))
        removed = sorted(k for k in previous or {} if k not in current)
        snapshot = {key: version for key, (version, _) in current.items()}
        sync = SyncState(mailbox, window, snapshot)
        token = secrets.token_urlsafe(48)
        self.deltas[token] = sync
        entries: list[Entry] = [*changed, *removed]
        found = Round(secrets.token_hex(8), mailbox, entries, token, sync)
        self.rounds[found.id] = found
        return found

    def skip_token(self, found: Round, offset: int) -> str:
        """The same token for the same page, so a re-read page links on identically."""
        if offset not in found.skip_tokens:
            token = secrets.token_urlsafe(48)
            found.skip_tokens[offset] = token
            self.skips[token] = (found.id, offset)
        return found.skip_tokens[offset]

    def page(self, mailbox: str, skip_token: str) -> tuple[Round, int]:
        where = self.skips.get(skip_token)
        found = self.rounds.get(where[0]) if where else None
        if where is None or found is None or found.mailbox != mailbox:
            raise gone_error("SyncStateNotFound")
        if found.sync.gone:
            raise gone_error(found.sync.gone)
        return found, where[1]

    def sync_state(self, mailbox: str, delta_token: str) -> SyncState:
        sync = self.deltas.get(delta_token)
        if sync is None or sync.mailbox != mailbox:
            raise gone_error("SyncStateNotFound")
        if sync.gone:
            raise gone_error(sync.gone)
        return sync

    def expire(self, mailbox: str, code: str) -> None:
        for sync in self.deltas.values():
            if sync.mailbox == mailbox:
                sync.gone = code


def gone_error(code: str) -> GraphError:
    if code == "resyncRequired":
        message = "Resync required. Replace any local cached copies of the resource."
    else:
        message = "The sync state generation is not found."
    return GraphError(410, code, message)
