"""Microsoft Graph v1.0 over ``requests`` with tokens from msal: the :class:`CalendarProvider`
for Outlook / Microsoft 365, on the rep's default calendar only (C2).

API pages relied on:
- calendarView delta: https://learn.microsoft.com/en-us/graph/api/event-delta and
  https://learn.microsoft.com/en-us/graph/delta-query-events
- events: https://learn.microsoft.com/en-us/graph/api/user-post-events (``transactionId``),
  .../event-get, .../event-update
- subscriptions: https://learn.microsoft.com/en-us/graph/api/subscription-post-subscriptions,
  .../subscription-update, .../subscription-delete
- throttling: https://learn.microsoft.com/en-us/graph/throttling (429/503/504, Retry-After)

The window. Graph's v1.0 delta is defined on a calendarView: a time range fixed when a full
listing starts and carried by every next/delta link. The window opens ``LOOKBACK`` before the
listing and closes ``HORIZON`` after it; once ``SLIDE_EVERY`` has passed, the provider asks
for a full listing of a new window (:class:`FullSyncRequired`), which the engine reconciles
only inside that window: events that merely fell out of it are not deletions, and events
that come into it are logged once (links make the relisting a no-op for the rest). R5 still
decides by each event's ``createdDateTime``, whatever the window.

Masters. A calendarView lists occurrences and exceptions but never a series' master; the
provider fetches each master once per run and lists it before its occurrences, and a master
that is gone is listed as a deleted series (R6).
"""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import urlencode

import msal
import requests

from server.calendars import logfmt
from server.calendars.microsoft import oauth
from server.calendars.microsoft.parse import insert_body, parse_event, patch_body
from server.calendars.provider import (
    CalendarEvent,
    EventChanges,
    EventPage,
    FullSyncRequired,
    NewEvent,
    NotFound,
    ProviderError,
    ReconnectNeeded,
    Subscription,
    TemporaryError,
)
from server.calendars.providers import ConnectError
from server.calendars.retry import Backoff, retry_after_seconds
from server.config import Settings

log = logging.getLogger(__name__)

LOOKBACK = timedelta(days=7)
HORIZON = timedelta(days=400)
SLIDE_EVERY = timedelta(days=30)
MAX_SUBSCRIPTION = timedelta(minutes=10070)  # Graph allows 10080 minutes for Outlook events
TOKEN_SCOPES = [oauth.CALENDAR_SCOPE, "User.Read"]
# Refresh answers no retry fixes: the rep has to consent again.
PERMANENT_GRANT_ERRORS = frozenset(
    {"invalid_grant", "interaction_required", "consent_required", "unauthorized_client"}
)
RETRYABLE = frozenset({429, 500, 502, 503, 504})
SYNC_STATE_GONE = frozenset({"SyncStateNotFound", "resyncRequired", "SyncStateInvalid"})


def _iso(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _error_code(response: requests.Response) -> str:
    try:
        return str(response.json()["error"]["code"])
    except (ValueError, KeyError, TypeError):
        return ""


class GraphCalendar:
    """One rep's default Outlook calendar, authorised by the stored refresh token."""

    def __init__(
        self,
        settings: Settings,
        refresh_token: str,
        *,
        backoff: Backoff | None = None,
        page_size: int = 100,
        timeout: float = 30.0,
        now: Any = None,
    ) -> None:
        self.settings = settings
        self.base = settings.microsoft_graph_url.rstrip("/")
        self.backoff = backoff or Backoff()
        self.page_size = page_size
        self.timeout = timeout
        self._now = now or (lambda: datetime.now(UTC))
        self._http = requests.Session()
        self._refresh_token = refresh_token
        self._access_token: str | None = None
        self._masters: dict[str, CalendarEvent] = {}

    # -- the provider interface -------------------------------------------------------------

    def list_events(self, *, sync_token: str | None, page_token: str | None) -> EventPage:
        """One page of the calendarView delta. Our cursors are JSON: the link Graph gave
        (next or delta) and the window it lists."""
        if page_token:
            cursor = json.loads(page_token)
        elif sync_token:
            cursor = json.loads(sync_token)
            if datetime.fromisoformat(cursor["end"]) - self._now() < HORIZON - SLIDE_EVERY:
                raise FullSyncRequired("the listed window moves forward: listing it again")
        else:
            now = self._now()
            start, end = now - LOOKBACK, now + HORIZON
            query = urlencode({"startDateTime": _iso(start), "endDateTime": _iso(end)})
            url = f"{self.base}/me/calendarView/delta?{query}"
            cursor = {"link": url, "start": start.isoformat(), "end": end.isoformat()}
        body = self._call("GET", cursor["link"], what="calendarView.delta", delta=True)
        items = [i for i in body.get("value") or () if isinstance(i, Mapping) and i.get("id")]
        events = [parse_event(item) for item in items]
        window = (datetime.fromisoformat(cursor["start"]), datetime.fromisoformat(cursor["end"]))
        masters = self._masters_of(events)
        next_link, delta_link = body.get("@odata.nextLink"), body.get("@odata.deltaLink")
        if not next_link and not delta_link:
            raise ProviderError("calendarView.delta answered without a next or delta link")
        carry = {"start": cursor["start"], "end": cursor["end"]}
        return EventPage(
            events=tuple(masters + events),
            next_page_token=json.dumps({"link": next_link, **carry}) if next_link else None,
            next_sync_token=None if next_link else json.dumps({"link": delta_link, **carry}),
            time_zone="UTC",
            window=None if next_link else window,
        )

    def get_event(self, event_id: str) -> CalendarEvent:
        return parse_event(self._call("GET", f"{self.base}/me/events/{event_id}", what="get"))

    def create_event(self, key: str, event: NewEvent, *, notify: bool) -> CalendarEvent:
        """Create under ``key`` as the ``transactionId``: Graph answers a retry with the event
        the first call made, and sends no second invitation. Graph invites the attendees of
        every event it creates; ``notify`` cannot turn that off."""
        body = insert_body(key, event)
        return parse_event(self._call("POST", f"{self.base}/me/events", json=body, what="create"))

    def update_event(self, event_id: str, changes: EventChanges, *, notify: bool) -> CalendarEvent:
        url = f"{self.base}/me/events/{event_id}"
        return parse_event(self._call("PATCH", url, json=patch_body(changes), what="update"))

    def subscribe(
        self, subscription_id: str, secret: str, address: str, ttl_seconds: int
    ) -> Subscription:
        """A subscription on the rep's events; Graph checks ``address`` with its validation
        handshake before answering. Lifecycle notifications come to the same address."""
        body = {
            "changeType": "created,updated,deleted",
            "notificationUrl": address,
            "lifecycleNotificationUrl": address,
            "resource": "me/events",
            "expirationDateTime": self._expiry(ttl_seconds),
            "clientState": secret,
        }
        answer = self._call("POST", f"{self.base}/subscriptions", json=body, what="subscribe")
        return self._subscription(answer)

    def renew(self, subscription: Subscription, ttl_seconds: int) -> Subscription | None:
        body = {"expirationDateTime": self._expiry(ttl_seconds)}
        url = f"{self.base}/subscriptions/{subscription.id}"
        return self._subscription(self._call("PATCH", url, json=body, what="renew"))

    def unsubscribe(self, subscription_id: str, resource_id: str) -> None:
        self._call("DELETE", f"{self.base}/subscriptions/{subscription_id}", what="unsubscribe")

    def current_grant(self) -> str:
        return self._refresh_token

    def close(self) -> None:
        self._http.close()

    # -- helpers ------------------------------------------------------------------------------

    def _expiry(self, ttl_seconds: int) -> str:
        ttl = min(timedelta(seconds=ttl_seconds), MAX_SUBSCRIPTION)
        return (self._now() + ttl).astimezone(UTC).isoformat().replace("+00:00", "Z")

    @staticmethod
    def _subscription(answer: Mapping[str, Any]) -> Subscription:
        expires = datetime.fromisoformat(str(answer["expirationDateTime"]).replace("Z", "+00:00"))
        # Notifications name the changed event, not the subscription's resource: nothing to
        # compare them with, so no resource id is kept.
        return Subscription(str(answer["id"]), "", expires.astimezone(UTC))

    def _masters_of(self, events: list[CalendarEvent]) -> list[CalendarEvent]:
        """The masters of the page's occurrences, fetched once per run; a master Graph no
        longer has is a deleted series."""
        wanted = {e.recurring_event_id for e in events if e.recurring_event_id}
        listed = {e.id for e in events}
        out: list[CalendarEvent] = []
        for master_id in sorted(m for m in wanted if m and m not in listed):
            if master_id in self._masters:
                continue
            try:
                master = self.get_event(master_id)
            except NotFound:
                master = CalendarEvent(id=master_id, status="cancelled", is_series=True)
            self._masters[master_id] = master
            out.append(master)
        return out

    def _token(self, *, refresh: bool = False) -> str:
        if self._access_token and not refresh:
            return self._access_token
        try:
            app = oauth.application(self.settings, self._http)
            result = app.acquire_token_by_refresh_token(self._refresh_token, TOKEN_SCOPES)
        except ConnectError as exc:
            raise TemporaryError(str(exc), retry_after=60) from exc
        except (msal.exceptions.MsalServiceError, requests.RequestException) as exc:
            raise TemporaryError(f"token refresh failed ({type(exc).__name__})", 503) from exc
        error = str(result.get("error") or "")
        if error in PERMANENT_GRANT_ERRORS:
            raise ReconnectNeeded(f"Microsoft refused the stored grant ({error})", 400, error)
        if error or not result.get("access_token"):
            raise TemporaryError(f"token refresh failed ({error or 'no token'})", 503)
        if result.get("refresh_token"):
            self._refresh_token = str(result["refresh_token"])  # Microsoft rotates it
        self._access_token = str(result["access_token"])
        return self._access_token

    def _call(
        self,
        method: str,
        url: str,
        *,
        what: str,
        json: Any = None,
        delta: bool = False,
    ) -> Any:
        attempt, refreshed = 0, False
        while True:
            attempt += 1
            headers = {
                "Authorization": f"Bearer {self._token()}",
                "Prefer": f'outlook.timezone="UTC", odata.maxpagesize={self.page_size}',
            }
            wait: float | None = None
            try:
                response = self._http.request(
                    method, url, headers=headers, json=json, timeout=self.timeout
                )
            except requests.RequestException as exc:
                failure = f"{what} failed: {type(exc).__name__}"
            else:
                status = response.status_code
                if status < 300:
                    return response.json() if response.content else {}
                code = _error_code(response)
                if status == 401 and not refreshed:
                    refreshed = True
                    self._token(refresh=True)
                    continue
                if status not in RETRYABLE:
                    raise _translate(status, code, what, delta)
                wait = retry_after_seconds(response.headers.get("Retry-After"))
                failure = f"{what} answered {status} {code}".strip()
            delay = self.backoff.delay(attempt, wait)
            if attempt >= self.backoff.attempts or delay > self.backoff.max_wait:
                raise TemporaryError(f"{failure}; giving up for now", retry_after=max(delay, 30))
            logfmt.info(
                log, "graph call retried", call=what, attempt=attempt, delay=round(delay, 3)
            )
            self.backoff.sleep(delay)


def _translate(status: int, code: str, what: str, delta: bool) -> ProviderError:
    message = f"{what} answered {status} {code}".strip()
    if delta and (status == 410 or code in SYNC_STATE_GONE):
        return FullSyncRequired(f"the sync cursor expired ({status} {code})", status, code)
    if status in (404, 410):
        return NotFound(message, status, code)
    if status in (401, 403):
        return ReconnectNeeded(message, status, code)
    return ProviderError(message, status, code)
