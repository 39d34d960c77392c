"""``events.list``: full and incremental listing, instance expansion, paging, sync tokens.

Page tokens carry the sort key of the last item served (keyset paging, so changes between
pages never skip an item) and the change sequence seen on the first page; that sequence
becomes ``nextSyncToken`` on the last page, so a change made while paging is served again
by the next incremental list rather than lost.
"""

from __future__ import annotations

import base64
import hashlib
import json
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Any

from .common import ApiError, JsonDict, parse_rfc3339, rfc3339
from .events import (
    CalendarData,
    StoredEvent,
    bounds,
    render_full,
    render_instance,
    render_tombstone,
)
from .recurrence import expand

DEFAULT_MAX_RESULTS = 250
MAX_RESULTS = 2500
HORIZON = timedelta(days=366)
SYNC_FORBIDDEN = (
    "iCalUID",
    "orderBy",
    "privateExtendedProperty",
    "q",
    "sharedExtendedProperty",
    "timeMin",
    "timeMax",
    "updatedMin",
)
SortKey = tuple[Any, ...]
# A listed item: its sort key, its id, and how to render it (rendering is the costly part, so
# only the page's items are rendered; everything else is only sorted).
Row = tuple[SortKey, str, Callable[[], JsonDict]]


@dataclass(frozen=True)
class ListQuery:
    sync_token: str | None
    page_token: str | None
    time_min: datetime | None
    time_max: datetime | None
    single_events: bool
    order_by: str | None
    show_deleted: bool
    max_results: int
    time_zone: str
    updated_min: datetime | None
    ical_uid: str | None
    text: str | None


def _flag(args: Mapping[str, str], name: str) -> bool | None:
    value = args.get(name)
    if value is None:
        return None
    if value.lower() not in {"true", "false"}:
        raise ApiError(400, "invalid", f"Invalid value for: {name}")
    return value.lower() == "true"


def parse_query(args: Mapping[str, str], default_tz: str) -> ListQuery:
    sync_token = args.get("syncToken") or None
    if sync_token:
        for name in SYNC_FORBIDDEN:
            if name in args:
                raise ApiError(400, "invalid", f"Sync token cannot be used with {name}.")
        if _flag(args, "showDeleted") is False:
            raise ApiError(400, "invalid", "Sync token cannot be used with showDeleted=false.")
    single = bool(_flag(args, "singleEvents"))
    order_by = args.get("orderBy") or None
    if order_by not in {None, "startTime", "updated"}:
        raise ApiError(400, "invalid", "Invalid value for: orderBy")
    if order_by == "startTime" and not single:
        raise ApiError(
            400, "invalid", "The requested ordering is not available for the particular query."
        )
    try:
        max_results = int(args.get("maxResults", DEFAULT_MAX_RESULTS))
    except ValueError:
        raise ApiError(400, "invalid", "Invalid value for: maxResults") from None
    if max_results < 1:
        raise ApiError(400, "invalid", "Invalid value for: maxResults")
    time_min = parse_rfc3339(args["timeMin"], "timeMin") if "timeMin" in args else None
    time_max = parse_rfc3339(args["timeMax"], "timeMax") if "timeMax" in args else None
    if time_min and time_max and time_max <= time_min:
        raise ApiError(400, "timeRangeEmpty", "The specified time range is empty.")
    updated_min = parse_rfc3339(args["updatedMin"], "updatedMin") if "updatedMin" in args else None
    return ListQuery(
        sync_token=sync_token,
        page_token=args.get("pageToken") or None,
        time_min=time_min,
        time_max=time_max,
        single_events=single,
        order_by=order_by,
        show_deleted=bool(_flag(args, "showDeleted")),
        max_results=min(max_results, MAX_RESULTS),
        time_zone=args.get("timeZone") or default_tz,
        updated_min=updated_min,
        ical_uid=args.get("iCalUID") or None,
        text=(args.get("q") or "").lower() or None,
    )


def _encode(payload: dict[str, Any]) -> str:
    raw = json.dumps(payload, separators=(",", ":")).encode("utf-8")
    return base64.urlsafe_b64encode(raw).decode("ascii").rstrip("=")


def _decode(token: str) -> dict[str, Any] | None:
    try:
        raw = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4))
        value = json.loads(raw)
    except (ValueError, UnicodeDecodeError):
        return None
    return value if isinstance(value, dict) else None


def _owner_tag(owner: str) -> str:
    return hashlib.sha256(owner.encode("utf-8")).hexdigest()[:10]


def sync_token_for(cal: CalendarData, position: int) -> str:
    return _encode({"v": 1, "c": _owner_tag(cal.owner), "g": cal.generation, "p": position})


def sync_position(cal: CalendarData, token: str) -> int:
    """The change sequence a sync token stands for; 410 when it is no longer valid."""
    payload = _decode(token)
    if payload is None or payload.get("v") != 1 or not isinstance(payload.get("p"), int):
        raise ApiError(400, "invalid", "Invalid sync token value.")
    position: int = payload["p"]
    stale = payload.get("c") != _owner_tag(cal.owner) or payload.get("g") != cal.generation
    if stale or position > cal.seq:
        raise ApiError(410, "fullSyncRequired")
    return position


class _Lister:
    def __init__(self, cal: CalendarData, query: ListQuery, now: datetime, base_url: str) -> None:
        self.cal = cal
        self.query = query
        self.base_url = base_url
        self.tz = cal.time_zone
        anchor = max(now, query.time_min) if query.time_min else now
        self.horizon = query.time_max or anchor + HORIZON

    def _wanted(self, resource: JsonDict, *, deleted_ok: bool) -> bool:
        return self._matches(resource, deleted_ok=deleted_ok) and self._in_window(resource)

    def _matches(self, resource: JsonDict, *, deleted_ok: bool) -> bool:
        """Every filter but the time window."""
        q = self.query
        if q.updated_min is not None:
            if str(resource.get("updated", "")) < rfc3339(q.updated_min):
                return False
            deleted_ok = True
        if resource.get("status") == "cancelled" and not deleted_ok:
            return False
        if q.ical_uid is not None and resource.get("iCalUID") != q.ical_uid:
            return False
        if q.text is not None:
            fields = ("summary", "description", "location", "attendees", "organizer")
            if q.text not in json.dumps([resource.get(k) for k in fields]).lower():
                return False
        return True

    def _in_window(self, resource: JsonDict) -> bool:
        q = self.query
        if q.time_min is None and q.time_max is None:
            return True
        begins, ends = bounds(resource, self.tz)
        return (q.time_min is None or ends > q.time_min) and (
            q.time_max is None or begins < q.time_max
        )

    def _key(self, order: int, resource: JsonDict, begins: datetime) -> SortKey:
        if self.query.order_by == "startTime":
            return (begins.timestamp(), str(resource["id"]))
        if self.query.order_by == "updated":
            return (str(resource.get("updated", "")), str(resource["id"]))
        return (order, begins.timestamp(), str(resource["id"]))

    def _render(self, stored: StoredEvent, order: int) -> Row:
        begins = bounds(stored.resource, self.tz)[0]

        def make() -> JsonDict:
            return render_tombstone(stored.resource) if stored.cancelled else render_full(stored)

        return self._key(order, stored.resource, begins), str(stored.resource["id"]), make

    def _series(self, master: StoredEvent, *, everything: bool, deleted_ok: bool) -> Iterator[Row]:
        """Instances of ``master``: generated ones plus its exceptions."""
        exceptions = {e.id: e for e in self.cal.exceptions_of(master.id)}
        window_start = None if everything else self.query.time_min
        for occ in expand(master.resource, self.tz, window_start, self.horizon):
            if occ.instance_id in exceptions:
                continue
            item = render_instance(master, occ, self.base_url, self.cal.owner)
            if master.cancelled:
                item = render_tombstone(item)
            elif not (everything or self._wanted(item, deleted_ok=deleted_ok)):
                continue
            yield self._key(master.order, item, occ.begins), str(item["id"]), _ready(item)
        for exc in exceptions.values():
            if everything or self._wanted(exc.resource, deleted_ok=deleted_ok):
                yield self._render(exc, master.order)

    def full(self) -> Iterator[Row]:
        q = self.query
        events = self.cal.events
        for stored in events.values():
            master = events.get(stored.master_id) if stored.master_id else None
            if stored.is_master:
                if q.single_events:
                    if not stored.cancelled:
                        yield from self._series(stored, everything=False, deleted_ok=q.show_deleted)
                elif self._wanted_master(stored):
                    yield self._render(stored, stored.order)
            elif master is not None:
                if q.single_events or (master.cancelled and not q.show_deleted):
                    continue  # expanded with the master, or hidden with it
                deleted_ok = True  # cancelled instances show when singleEvents=false
                if self._wanted(stored.resource, deleted_ok=deleted_ok):
                    yield self._render(stored, master.order)
            elif self._wanted(stored.resource, deleted_ok=q.show_deleted):
                yield self._render(stored, stored.order)

    def _wanted_master(self, master: StoredEvent) -> bool:
        deleted_ok = self.query.show_deleted
        if not self._matches(master.resource, deleted_ok=deleted_ok):
            return False
        if master.cancelled:
            return True
        occurrences = expand(master.resource, self.tz, self.query.time_min, self.horizon, limit=1)
        return bool(occurrences)

    def changes(self, position: int) -> Iterator[Row]:
        events = self.cal.events
        changed = [e for e in events.values() if e.seq > position]
        expanded_masters: set[str] = set()
        if self.query.single_events:
            for stored in changed:
                if stored.is_master:
                    expanded_masters.add(stored.id)
                    yield from self._series(stored, everything=True, deleted_ok=True)
        for stored in changed:
            if self.query.single_events and (
                stored.is_master or stored.master_id in expanded_masters
            ):
                continue
            master = events.get(stored.master_id) if stored.master_id else None
            yield self._render(stored, master.order if master else stored.order)


def list_events(cal: CalendarData, query: ListQuery, now: datetime, base_url: str) -> JsonDict:
    lister = _Lister(cal, query, now, base_url)
    snapshot = cal.seq
    after: SortKey | None = None
    if query.page_token:
        payload = _decode(query.page_token)
        if payload is None or not isinstance(payload.get("k"), list):
            raise ApiError(400, "invalid", "Invalid page token value.")
        after, snapshot = tuple(payload["k"]), int(payload.get("s", cal.seq))
    try:
        ordered_rows = _ordered(cal, lister, query, now)
        if after is not None:
            ordered_rows = [row for row in ordered_rows if row[0] > after]
    except TypeError:
        raise ApiError(400, "invalid", "Invalid page token value.") from None
    page = ordered_rows[: query.max_results]
    body: JsonDict = {
        "kind": "calendar#events",
        "etag": f'"p3{cal.seq:014d}"',
        "summary": cal.owner,
        "description": "",
        "updated": rfc3339(cal.updated),
        "timeZone": query.time_zone,
        "accessRole": "owner",
        "defaultReminders": [],
    }
    if len(ordered_rows) > len(page):
        body["nextPageToken"] = _encode({"k": list(page[-1][0]), "s": snapshot})
    else:
        body["nextSyncToken"] = sync_token_for(cal, snapshot)
    body["items"] = [make() for _, make in page]
    return body


def _ordered(
    cal: CalendarData, lister: _Lister, query: ListQuery, now: datetime
) -> list[tuple[SortKey, Callable[[], JsonDict]]]:
    """Every row of the listing, sorted; the rows are kept while the calendar does not change,
    so serving a listing's pages costs one sort, not one per page."""
    position = sync_position(cal, query.sync_token) if query.sync_token else None
    minute = now.replace(second=0, microsecond=0)
    key = (cal.seq, cal.generation, replace(query, page_token=None), position, minute)
    if key not in cal.listings:
        rows = list(lister.full() if position is None else lister.changes(position))
        unique = {i: (k, m) for k, i, m in rows}
        cal.listings.clear()
        cal.listings[key] = sorted(unique.values(), key=lambda row: row[0])
    found: list[tuple[SortKey, Callable[[], JsonDict]]] = cal.listings[key]
    return found


def _ready(item: JsonDict) -> Callable[[], JsonDict]:
    return lambda: item
