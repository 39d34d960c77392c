"""Google Calendar stand-in state: one primary calendar per user, events, channels, push.

The public helpers (``add_event``, ``patch_event``, ...) act as the user would in the
Google Calendar UI; the HTTP routes in ``calendar_routes`` call the same operations.
Every change bumps the calendar's change sequence (the basis of sync tokens) and
notifies the calendar's live watch channels.
"""

from __future__ import annotations

import copy
import threading
from collections.abc import Mapping
from datetime import datetime
from typing import Any

from .common import ApiError, ApiRecorder, Clock, JsonDict, RecordedRequest, rfc3339
from .events import (
    CalendarData,
    StoredEvent,
    check_client_id,
    conference,
    find_occurrence,
    html_link,
    materialise_instance,
    merge,
    new_event_id,
    ordered,
    person,
    render_full,
    render_instance,
    stamp,
    validate,
)
from .listing import list_events, parse_query
from .oauth import norm_email
from .push import Channel, Delivery, Notification, PushDispatcher, PushMode, new_channel
from .recurrence import instance_suffix, split_instance_id

LOOPBACK_HOSTS = {"127.0.0.1", "localhost", "::1"}


class CalendarState:
    """In-memory Google Calendar for any number of users. Thread-safe."""

    def __init__(self, now: Clock) -> None:
        self._now = now
        self._lock = threading.RLock()
        self._calendars: dict[str, CalendarData] = {}
        self.base_url = "http://127.0.0.1"
        self.recorder = ApiRecorder()
        self.push = PushDispatcher()
        self.channels: dict[str, Channel] = {}
        self.allowed_push_hosts: set[str] = set(LOOPBACK_HOSTS)

    # -- inspection and control ---------------------------------------------------------
    @property
    def requests(self) -> list[RecordedRequest]:
        """Every Calendar API request received (method, path, query, body, user, status)."""
        return self.recorder.requests

    def fail_next(
        self,
        n: int,
        status: int,
        *,
        reason: str | None = None,
        retry_after: int | None = None,
        path_contains: str = "",
    ) -> None:
        """Answer the next ``n`` Calendar API calls with ``status`` (429 rateLimitExceeded,
        403 userRateLimitExceeded, 500/503 backendError unless ``reason`` says otherwise)."""
        self.recorder.fail_next(
            n, status, reason=reason, retry_after=retry_after, path_contains=path_contains
        )

    @property
    def push_mode(self) -> PushMode:
        return self.push.mode

    @push_mode.setter
    def push_mode(self, mode: PushMode) -> None:
        self.push.mode = mode

    @property
    def pending_notifications(self) -> list[Notification]:
        return list(self.push.pending)

    @property
    def deliveries(self) -> list[Delivery]:
        return list(self.push.deliveries)

    def deliver_pending(self) -> list[Delivery]:
        return self.push.deliver_pending()

    def set_time_zone(self, owner_email: str, time_zone: str) -> None:
        with self._lock:
            self.calendar(owner_email).time_zone = time_zone

    def calendar(self, owner_email: str) -> CalendarData:
        """The user's primary calendar, created on first use."""
        owner = norm_email(owner_email)
        with self._lock:
            if owner not in self._calendars:
                self._calendars[owner] = CalendarData(owner, self._now())
            return self._calendars[owner]

    def invalidate_sync_tokens(self, owner_email: str) -> None:
        """The next list with an older ``syncToken`` answers 410 fullSyncRequired."""
        with self._lock:
            self.calendar(owner_email).generation += 1

    # -- the user's own actions ---------------------------------------------------------
    def add_event(
        self, owner_email: str, body: Mapping[str, Any], *, event_id: str | None = None
    ) -> JsonDict:
        """An event made in Google Calendar; ``organizer``/``creator`` in ``body`` are
        honoured (e.g. an invitation from someone else), otherwise the owner."""
        return self.insert(owner_email, dict(body), event_id=event_id, as_api=False)

    def patch_event(self, owner_email: str, event_id: str, changes: Mapping[str, Any]) -> JsonDict:
        return self.update(owner_email, event_id, dict(changes), replace=False, as_api=False)

    def delete_event(self, owner_email: str, event_id: str) -> None:
        self.delete(owner_email, event_id)

    def cancel_instance(
        self, owner_email: str, recurring_event_id: str, original_start: str
    ) -> JsonDict:
        """Cancel one occurrence (``original_start`` is RFC 3339, or YYYY-MM-DD if all-day)."""
        instance_id = f"{recurring_event_id}_{instance_suffix(original_start)}"
        self.delete(owner_email, instance_id)
        return self.get(owner_email, instance_id)

    def modify_instance(
        self,
        owner_email: str,
        recurring_event_id: str,
        original_start: str,
        changes: Mapping[str, Any],
    ) -> JsonDict:
        instance_id = f"{recurring_event_id}_{instance_suffix(original_start)}"
        return self.patch_event(owner_email, instance_id, changes)

    def get_event(self, owner_email: str, event_id: str) -> JsonDict | None:
        try:
            return self.get(owner_email, event_id)
        except ApiError:
            return None

    def events(self, owner_email: str) -> list[JsonDict]:
        """Every stored event (masters, exceptions, tombstones), in creation order."""
        with self._lock:
            cal = self.calendar(owner_email)
            rows = sorted(cal.events.values(), key=lambda e: e.order)
            return [render_full(e) for e in rows]

    # -- operations behind the HTTP API -------------------------------------------------
    def insert(
        self,
        owner_email: str,
        body: JsonDict,
        *,
        event_id: str | None = None,
        as_api: bool = True,
        conference_version: int = 0,
    ) -> JsonDict:
        owner = norm_email(owner_email)
        with self._lock:
            cal = self.calendar(owner)
            event_id = str(event_id or body.get("id") or new_event_id())
            check_client_id(event_id)
            if event_id in cal.events:
                raise ApiError(409, "duplicate", "The requested identifier already exists.")
            now = self._now()
            resource = merge({}, body, allow={"organizer"} if not as_api else set())
            resource.update(kind="calendar#event", id=event_id)
            resource.setdefault("status", "confirmed")
            resource["htmlLink"] = html_link(self.base_url, event_id, owner)
            resource["created"] = rfc3339(now)
            organizer = body.get("organizer") if not as_api else None
            creator = body.get("creator") if not as_api else None
            resource["organizer"] = _party(organizer, owner)
            resource["creator"] = _party(creator or organizer, owner)
            resource.setdefault("iCalUID", f"{event_id}@google.com")
            resource.setdefault("sequence", 0)
            resource.setdefault("reminders", {"useDefault": True})
            resource.setdefault("eventType", "default")
            self._conference(resource, conference_version if as_api else 1)
            validate(resource, owner, cal.time_zone)
            stored = StoredEvent(ordered(resource), cal.next_order)
            cal.next_order += 1
            cal.events[event_id] = stored
            notes = self._changed(cal, stored, now)
            result = render_full(stored)
        self.push.dispatch(notes)
        return result

    def update(
        self,
        owner_email: str,
        event_id: str,
        body: JsonDict,
        *,
        replace: bool,
        as_api: bool = True,
        conference_version: int = 0,
    ) -> JsonDict:
        """PATCH (merge) or PUT (replace) an event or one instance of a series."""
        owner = norm_email(owner_email)
        with self._lock:
            cal = self.calendar(owner)
            stored = self._stored_or_instance(cal, event_id)
            old = stored.resource
            allow = set() if as_api else {"organizer", "creator"}
            if replace:
                kept = {k: v for k, v in old.items() if k in _KEPT_ON_PUT}
                resource = merge(kept, body, allow=allow)
            else:
                resource = merge(old, body, allow=allow)
            resource.setdefault("status", "confirmed")
            if "sequence" not in body and any(
                resource.get(k) != old.get(k) for k in ("start", "end", "recurrence")
            ):
                resource["sequence"] = int(old.get("sequence", 0)) + 1
            self._conference(resource, conference_version if as_api else 1)
            validate(resource, owner, cal.time_zone)
            stored.resource = ordered(resource)
            cal.events[stored.id] = stored
            notes = self._changed(cal, stored)
            result = render_full(stored)
        self.push.dispatch(notes)
        return result

    def delete(self, owner_email: str, event_id: str) -> None:
        """Deleting keeps a tombstone (``status: cancelled``); a series takes its
        exceptions with it; an instance becomes a cancelled exception."""
        with self._lock:
            cal = self.calendar(owner_email)
            stored = self._stored_or_instance(cal, event_id)
            if stored.cancelled and stored.id in cal.events:
                raise ApiError(410, "deleted", "Resource has been deleted")
            stored.resource["status"] = "cancelled"
            cal.events[stored.id] = stored
            notes = self._changed(cal, stored)
            if stored.is_master:
                for exc in cal.exceptions_of(stored.id):
                    if not exc.cancelled:
                        exc.resource["status"] = "cancelled"
                        self._changed(cal, exc, notify=False)
        self.push.dispatch(notes)

    def get(self, owner_email: str, event_id: str) -> JsonDict:
        with self._lock:
            cal = self.calendar(owner_email)
            if event_id in cal.events:
                return render_full(cal.events[event_id])
            parts = split_instance_id(event_id)
            master = cal.events.get(parts[0]) if parts else None
            if master is not None and master.is_master:
                occ = find_occurrence(master, event_id, cal.time_zone)
                if occ is not None:
                    item = render_instance(master, occ, self.base_url, cal.owner)
                    return item | {"status": "cancelled"} if master.cancelled else item
            raise ApiError(404, "notFound", "Not Found")

    def list_events(self, owner_email: str, args: Mapping[str, str]) -> JsonDict:
        with self._lock:
            cal = self.calendar(owner_email)
            query = parse_query(args, cal.time_zone)
            return list_events(cal, query, self._now(), self.base_url)

    def calendar_resource(self, owner_email: str, *, list_entry: bool) -> JsonDict:
        with self._lock:
            cal = self.calendar(owner_email)
            body: JsonDict = {
                "kind": "calendar#calendarListEntry" if list_entry else "calendar#calendar",
                "etag": f'"{int(cal.updated.timestamp() * 1000)}"',
                "id": cal.owner,
                "summary": cal.owner,
                "timeZone": cal.time_zone,
            }
            if list_entry:
                body.update(
                    colorId="14",
                    backgroundColor="#9fe1e7",
                    foregroundColor="#000000",
                    selected=True,
                    accessRole="owner",
                    defaultReminders=[{"method": "popup", "minutes": 10}],
                    primary=True,
                )
            return body

    # -- watch channels -----------------------------------------------------------------
    def watch(self, owner_email: str, calendar_id: str, body: JsonDict) -> JsonDict:
        """``events.watch``: register a channel and send its ``sync`` message."""
        owner = norm_email(owner_email)
        with self._lock:
            self.calendar(owner)
            channel = new_channel(
                body, owner, calendar_id, self.base_url, self._now(), self.allowed_push_hosts
            )
            if channel.id in self.channels:
                raise ApiError(400, "channelIdNotUnique", f"Channel id {channel.id} not unique")
            self.channels[channel.id] = channel
            note = channel.notification("sync")
        self.push.dispatch([note])
        return channel.resource()

    def stop_channel(self, body: JsonDict) -> None:
        with self._lock:
            channel = self.channels.get(str(body.get("id", "")))
            if channel is None or channel.resource_id != body.get("resourceId"):
                raise ApiError(404, "notFound", f"Channel '{body.get('id')}' not found for project")
            del self.channels[channel.id]

    # -- internals ------------------------------------------------------------------------
    def _stored_or_instance(self, cal: CalendarData, event_id: str) -> StoredEvent:
        stored = cal.events.get(event_id)
        if stored is not None:
            return stored
        parts = split_instance_id(event_id)
        master = cal.events.get(parts[0]) if parts else None
        if master is None or not master.is_master:
            raise ApiError(404, "notFound", "Not Found")
        occ = find_occurrence(master, event_id, cal.time_zone)
        if occ is None:
            raise ApiError(404, "notFound", "Not Found")
        if master.cancelled:
            raise ApiError(410, "deleted", "Resource has been deleted")
        exception = materialise_instance(master, occ, self.base_url, cal.owner, cal.next_order)
        cal.next_order += 1
        return exception

    def _conference(self, resource: JsonDict, version: int) -> None:
        data = resource.get("conferenceData")
        if version < 1 or not isinstance(data, dict) or "createRequest" not in data:
            return
        if data.get("entryPoints"):
            return
        request_id = str(data["createRequest"].get("requestId", new_event_id()))
        uri, created = conference(self.base_url, request_id)
        resource["hangoutLink"] = uri
        resource["conferenceData"] = created

    def _changed(
        self,
        cal: CalendarData,
        stored: StoredEvent,
        now: datetime | None = None,
        *,
        notify: bool = True,
    ) -> list[Notification]:
        now = now or self._now()
        cal.seq += 1
        cal.updated = now
        stored.seq = cal.seq
        stamp(stored.resource, now, cal.seq)
        if not notify:
            return []
        live = [c for c in self.channels.values() if c.owner == cal.owner and not c.expired(now)]
        return [c.notification("exists") for c in live]


_KEPT_ON_PUT = {
    "kind",
    "id",
    "htmlLink",
    "created",
    "creator",
    "organizer",
    "iCalUID",
    "recurringEventId",
    "originalStartTime",
    "sequence",
    "eventType",
}


def _party(value: Any, owner: str) -> JsonDict:
    if isinstance(value, dict) and value.get("email"):
        item = copy.deepcopy(value)
        email = str(item["email"]).lower()
        item.update(person(email, owner, item.get("displayName")))
        return item
    return {"email": owner, "self": True}
