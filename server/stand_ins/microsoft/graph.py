"""Microsoft Graph v1.0 calendar stand-in state: one calendar per mailbox, events and
recurring series, calendarView delta, change-notification subscriptions, faults. Thread-safe.

The hooks (``add_event``, ``patch_event``, ``cancel_occurrence``, ...) act as the user would in
Outlook; the HTTP routes in ``graph_routes`` call the same operations. Every change counts for
delta and notifies the mailbox's live subscriptions. Reference:
https://learn.microsoft.com/en-us/graph/api/resources/event and
https://learn.microsoft.com/en-us/graph/outlook-calendar-concept-overview.
"""

from __future__ import annotations

import copy
import threading
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from .graph_delta import (
    DeltaBook,
    Round,
    first_occurrence,
    is_occurrence,
    normalize_recurrence,
    occurrence,
    window_items,
)
from .graph_events import (
    Clock,
    GraphError,
    JsonDict,
    StoredEvent,
    check_all_day,
    default_fields,
    invalid,
    merge_fields,
    new_change_key,
    new_event_id,
    new_ical_uid,
    not_found,
    parse_time,
    render,
    split_occurrence_id,
    zone,
)
from .graph_events import occurrence_id as _occurrence_id
from .graph_push import (
    Deliver,
    Delivery,
    Notification,
    PushDispatcher,
    PushMode,
    Subscription,
    SubscriptionHooks,
)


@dataclass(frozen=True)
class Invitation:
    """A meeting request (``new``) or update (``update``) Outlook sent for an event."""

    mailbox: str
    event_id: str
    kind: str
    addresses: tuple[str, ...]


@dataclass
class GraphRequest:
    """One request as the stand-in saw it, for tests to assert on."""

    method: str
    path: str
    query: dict[str, str]
    headers: dict[str, str]
    mailbox: str | None = None
    status: int | None = None
    body: Any = None  # the JSON body, when there is one


@dataclass
class Fault:
    """An injected failure (see :meth:`GraphState.fail_next`)."""

    remaining: int
    status: int
    retry_after: int | None
    path_contains: str


def norm(mailbox: str) -> str:
    return mailbox.strip().lower()


class GraphState(SubscriptionHooks):
    """In-memory Outlook calendars for any number of mailboxes, behind Graph v1.0."""

    def __init__(self, now: Clock) -> None:
        self.now = now
        self.origin = "https://127.0.0.1"  # the https origin; set when serving
        self.lock = threading.RLock()
        self.calendars: dict[str, dict[str, StoredEvent]] = {}
        self.invitations: list[Invitation] = []
        self.requests: list[GraphRequest] = []
        self.subscriptions: dict[str, Subscription] = {}
        self.allowed_push_hosts: set[str] = set()
        self.delta = DeltaBook()
        self.push = PushDispatcher()
        self._faults: list[Fault] = []

    # -- push settings ----------------------------------------------------------------------
    @property
    def deliver(self) -> Deliver:
        return self.push.deliver

    @deliver.setter
    def deliver(self, deliver: Deliver) -> None:
        self.push.deliver = deliver

    @property
    def push_mode(self) -> PushMode:
        return self.push.mode

    @push_mode.setter
    def push_mode(self, mode: PushMode) -> None:
        self.push.mode = mode

    @property
    def pending(self) -> list[Notification]:
        return self.push.pending

    @property
    def deliveries(self) -> list[Delivery]:
        return self.push.deliveries

    def deliver_pending(self) -> list[Delivery]:
        return self.push.deliver_pending()

    def drain(self, timeout: float = 10.0) -> bool:
        return self.push.drain(timeout)

    # -- faults and the request log ---------------------------------------------------------
    def fail_next(
        self,
        status: int,
        count: int = 1,
        retry_after: int | None = None,
        path_contains: str = "",
    ) -> None:
        """The next ``count`` authenticated requests whose path contains ``path_contains``
        answer ``status`` (429 TooManyRequests, 503 ServiceNotAvailable, 504 GatewayTimeout,
        others generalException), with ``Retry-After`` when given, and change nothing."""
        with self.lock:
            self._faults.append(Fault(count, status, retry_after, path_contains))

    def take_fault(self, path: str) -> Fault | None:
        with self.lock:
            for fault in self._faults:
                if fault.remaining > 0 and fault.path_contains in path:
                    fault.remaining -= 1
                    return fault
            self._faults = [f for f in self._faults if f.remaining > 0]
        return None

    def record(self, entry: GraphRequest) -> None:
        with self.lock:
            self.requests.append(entry)

    # -- the user's own actions (hooks) ------------------------------------------------------
    def add_event(self, mailbox: str, **fields: Any) -> JsonDict:
        """An event made in Outlook (fields in Graph's JSON names; ``organizer``,
        ``iCalUId``, ``responseStatus`` and ``createdDateTime`` (a datetime) are honoured)."""
        created = fields.pop("createdDateTime", None)
        event = self.create(mailbox, fields, hook=True, created=created)
        return self.rendered(mailbox, event)

    def patch_event(self, mailbox: str, event_id: str, **fields: Any) -> JsonDict:
        return self.rendered(mailbox, self.update(mailbox, event_id, fields, hook=True))

    def delete_event(self, mailbox: str, event_id: str) -> None:
        self.remove(mailbox, event_id)

    def cancel_occurrence(self, mailbox: str, master_id: str, original_start: datetime) -> None:
        self.remove(mailbox, self.occurrence_id(master_id, original_start))

    def modify_occurrence(
        self, mailbox: str, master_id: str, original_start: datetime, **fields: Any
    ) -> JsonDict:
        return self.patch_event(mailbox, self.occurrence_id(master_id, original_start), **fields)

    @staticmethod
    def occurrence_id(master_id: str, original_start: datetime) -> str:
        return _occurrence_id(master_id, original_start.astimezone(UTC).replace(microsecond=0))

    def events(self, mailbox: str) -> list[JsonDict]:
        """Stored singles, series masters and exceptions, in creation order, in UTC."""
        with self.lock:
            stored = [copy.copy(e) for e in self._calendar(mailbox).values()]
        return [self.rendered(mailbox, e) for e in stored]

    def get(self, mailbox: str, event_id: str) -> JsonDict | None:
        try:
            return self.rendered(mailbox, self.find(mailbox, event_id))
        except GraphError:
            return None

    def rendered(self, mailbox: str, event: StoredEvent, tz: str = "UTC") -> JsonDict:
        info, label = zone(tz)
        return render(event, norm(mailbox), info, label)

    def expire_delta_tokens(self, mailbox: str, code: str = "SyncStateNotFound") -> None:
        """Every skip/delta token of the mailbox issued so far answers 410 ``code``."""
        with self.lock:
            self.delta.expire(norm(mailbox), code)

    # -- operations behind the HTTP API ------------------------------------------------------
    def find(self, mailbox: str, event_id: str) -> StoredEvent:
        with self.lock:
            return copy.copy(self._lookup(self._calendar(mailbox), event_id))

    def create(
        self, mailbox: str, body: JsonDict, *, hook: bool = False, created: datetime | None = None
    ) -> StoredEvent:
        """POST /me/events; a repeated ``transactionId`` answers the event it created."""
        mailbox = norm(mailbox)
        with self.lock:
            calendar = self._calendar(mailbox)
            tx = body.get("transactionId")
            for existing in calendar.values():
                same = existing.fields.get("transactionId") == str(tx)
                if tx is not None and same and existing.kind != "exception":
                    return copy.copy(existing)
            if "start" not in body or "end" not in body:
                raise invalid("Your request can't be completed. An event needs start and end.")
            start, start_zone = parse_time(body["start"], "start")
            end, end_zone = parse_time(body["end"], "end")
            fields = merge_fields(default_fields(mailbox), body, hook=hook)
            fields["transactionId"] = None if tx is None else str(tx)
            fields["iCalUId"] = fields.get("iCalUId") or new_ical_uid()
            when = self.now() if created is None else created.astimezone(UTC)
            event = StoredEvent(new_event_id(), "singleInstance", start, end, start_zone, end_zone)
            event.fields, event.created, event.modified = fields, when, when
            if body.get("recurrence"):
                event.kind = "seriesMaster"
                self._set_recurrence(event, body["recurrence"], None)
            _check(event)
            calendar[event.id] = event
            self._invite(mailbox, event, "new", [])
            notes = self.notifications(mailbox, "created", event.id, event.change_key)
            result = copy.copy(event)
        self.push.dispatch(notes)
        return result

    def update(
        self, mailbox: str, event_id: str, body: JsonDict, *, hook: bool = False
    ) -> StoredEvent:
        """PATCH an event, a series (its occurrences follow) or an occurrence (it becomes an
        exception). Changing a series' times or pattern drops its exceptions, as Outlook does."""
        mailbox = norm(mailbox)
        with self.lock:
            calendar = self._calendar(mailbox)
            old = self._lookup(calendar, event_id)
            event = copy.copy(old)
            event.fields = merge_fields(old.fields, body, hook=hook)
            if "start" in body:
                event.start, event.start_zone = parse_time(body["start"], "start")
            if "end" in body:
                event.end, event.end_zone = parse_time(body["end"], "end")
            timing = any(k in body for k in ("start", "end", "recurrence"))
            if body.get("recurrence") and old.kind in ("occurrence", "exception"):
                raise invalid("An occurrence of a series cannot have its own recurrence.")
            if old.kind == "singleInstance" and body.get("recurrence"):
                event.kind = "seriesMaster"
            if event.kind == "seriesMaster" and timing:
                self._set_recurrence(event, body.get("recurrence"), old)
                for key in [k for k, e in calendar.items() if e.master_id == event.id]:
                    del calendar[key]
                event.cancelled = set()
            if old.kind == "occurrence":
                event.kind = "exception"
            _check(event)
            event.modified = self.now()
            event.change_key = new_change_key()
            calendar[event.id] = event
            self._invite(mailbox, event, "update", old.fields["attendees"])
            notes = self.notifications(mailbox, "updated", event.id, event.change_key)
            result = copy.copy(event)
        self.push.dispatch(notes)
        return result

    def remove(self, mailbox: str, event_id: str) -> None:
        """DELETE: a series goes with its exceptions; an occurrence or exception is cancelled."""
        mailbox = norm(mailbox)
        with self.lock:
            calendar = self._calendar(mailbox)
            event = self._lookup(calendar, event_id)
            calendar.pop(event.id, None)
            if event.kind == "seriesMaster":
                for key in [k for k, e in calendar.items() if e.master_id == event.id]:
                    del calendar[key]
            elif event.master_id and event.original_start is not None:
                master = calendar[event.master_id]
                master.cancelled = master.cancelled | {event.original_start}
            notes = self.notifications(mailbox, "deleted", event.id, event.change_key)
        self.push.dispatch(notes)

    def delta_round(
        self,
        mailbox: str,
        window: tuple[datetime, datetime] | None,
        skip_token: str | None,
        delta_token: str | None,
    ) -> tuple[Round, int]:
        """The round and offset a calendarView/delta request reads (410 when state is gone)."""
        mailbox = norm(mailbox)
        with self.lock:
            if skip_token:
                return self.delta.page(mailbox, skip_token)
            previous: dict[str, str] | None = None
            if delta_token:
                sync = self.delta.sync_state(mailbox, delta_token)
                window, previous = sync.window, sync.snapshot
            if window is None:
                raise GraphError(
                    400,
                    "ErrorInvalidParameter",
                    "This request requires a time window specified by the query string "
                    "parameters StartDateTime and EndDateTime.",
                )
            events = list(self._calendar(mailbox).values())
            current = window_items(events, window[0], window[1], self.now())
            return self.delta.begin(mailbox, window, current, previous), 0

    def next_link(self, found: Round, offset: int) -> str:
        with self.lock:
            return self.delta.skip_token(found, offset)

    # -- internals -------------------------------------------------------------------------------
    def _calendar(self, mailbox: str) -> dict[str, StoredEvent]:
        return self.calendars.setdefault(norm(mailbox), {})

    def _lookup(self, calendar: dict[str, StoredEvent], event_id: str) -> StoredEvent:
        """A stored event, or the live occurrence an occurrence id names."""
        if event_id in calendar:
            return calendar[event_id]
        parts = split_occurrence_id(event_id)
        master = calendar.get(parts[0]) if parts else None
        if parts is None or master is None or master.kind != "seriesMaster":
            raise not_found()
        if parts[1] in master.cancelled or not is_occurrence(master, parts[1]):
            raise not_found()
        return occurrence(master, parts[1])

    def _set_recurrence(self, event: StoredEvent, raw: Any, old: StoredEvent | None) -> None:
        """Normalise the pattern and move start/end to the series' first occurrence."""
        if raw is None and old is not None and old.recurrence is not None:
            raw = copy.deepcopy(old.recurrence)
            if event.start != old.start:  # moved: the series now starts on the new day
                tz = zone(raw["range"]["recurrenceTimeZone"])[0]
                raw["range"]["startDate"] = event.start.astimezone(tz).date().isoformat()
        recurrence = normalize_recurrence(raw, event.start, event.start_zone)
        if event.end < event.start:
            raise invalid("The end time of an event can't be before its start time.")
        event.start, event.end = first_occurrence(recurrence, event.start, event.end)
        event.recurrence = recurrence

    def _invite(self, mailbox: str, event: StoredEvent, kind: str, before: list[JsonDict]) -> None:
        """Outlook sends meeting requests when the organizer adds or changes attendees."""
        if event.fields["organizer"]["emailAddress"]["address"].lower() != mailbox:
            return
        after = event.fields["attendees"]
        if not after or (kind == "update" and _people(after) == _people(before)):
            return
        addresses = tuple(a["emailAddress"]["address"] for a in after)
        self.invitations.append(Invitation(mailbox, event.id, kind, addresses))


def _people(attendees: list[JsonDict]) -> list[tuple[str, str]]:
    return sorted((a["emailAddress"]["address"].lower(), a["type"]) for a in attendees)


def _check(event: StoredEvent) -> None:
    if event.end < event.start:
        raise invalid("The end time of an event can't be before its start time.")
    check_all_day(event)
