"""Google Calendar v3 through google-api-python-client: the :class:`CalendarProvider` for
Google, on the rep's primary calendar only (C2).

API pages relied on:
- events.list, sync tokens and 410: https://developers.google.com/calendar/api/guides/sync
  and https://developers.google.com/calendar/api/v3/reference/events/list
- events.insert with a client id: https://developers.google.com/calendar/api/v3/reference/events/insert
- events.patch: https://developers.google.com/calendar/api/v3/reference/events/patch
- events.watch / channels.stop: https://developers.google.com/calendar/api/guides/push
- errors and backoff: https://developers.google.com/calendar/api/guides/errors
- refresh-token errors: https://developers.google.com/identity/protocols/oauth2/web-server#offline
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import google_auth_httplib2
import httplib2
from google.auth.exceptions import RefreshError, TransportError
from google.oauth2.credentials import Credentials
from googleapiclient.discovery import build
from googleapiclient.errors import HttpError

from server.calendars import logfmt
from server.calendars.google.parse import insert_body, parse_event, patch_body
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
from server.calendars.retry import Backoff, retry_after_seconds
from server.config import Settings

log = logging.getLogger(__name__)

PRIMARY = "primary"  # C2: never any other calendar
RATE_LIMIT_REASONS = frozenset({"rateLimitExceeded", "userRateLimitExceeded"})
# Refresh-token errors that no retry fixes: the rep has to grant access again.
PERMANENT_GRANT_ERRORS = frozenset(
    {"invalid_grant", "unauthorized_client", "invalid_scope", "admin_policy_enforced"}
)
PERMISSION_REASONS = frozenset({"insufficientPermissions"})  # the calendar scope is gone


def error_reason(exc: HttpError) -> str:
    """The ``reason`` of Google's error body (``rateLimitExceeded``, ``insufficientPermissions``
    ...), or its ``status`` when it lists no errors; empty when the body is not Google's."""
    try:
        data = json.loads(exc.content.decode("utf-8"))
        errors = data["error"].get("errors") or []
        return str(errors[0].get("reason", "")) if errors else str(data["error"].get("status", ""))
    except (ValueError, KeyError, AttributeError, IndexError, TypeError):
        return ""


def _retryable(status: int, reason: str) -> bool:
    return status == 429 or status >= 500 or (status == 403 and reason in RATE_LIMIT_REASONS)


class GoogleCalendar:
    """One rep's primary Google calendar, authorised by the stored refresh token.

    The access token is refreshed from the grant on first use (and again on a 401) by
    google-auth; a grant Google refuses raises :class:`ReconnectNeeded`.
    """

    def __init__(
        self,
        settings: Settings,
        refresh_token: str,
        *,
        backoff: Backoff | None = None,
        page_size: int = 250,
        timeout: float = 30.0,
    ) -> None:
        credentials = Credentials(  # type: ignore[no-untyped-call]
            token=None,
            refresh_token=refresh_token,
            token_uri=settings.google_token_uri,
            client_id=settings.google_client_id,
            client_secret=settings.google_client_secret,
        )
        self._credentials = credentials
        # Our own Http so every call has a timeout; the client is otherwise built as documented.
        http = google_auth_httplib2.AuthorizedHttp(credentials, http=httplib2.Http(timeout=timeout))
        self._service: Any = build(
            "calendar",
            "v3",
            http=http,
            static_discovery=True,
            cache_discovery=False,
            client_options={"api_endpoint": settings.google_calendar_api_url},
        )
        self.backoff = backoff or Backoff()
        self.page_size = page_size

    # -- the provider interface -------------------------------------------------------------

    def list_events(self, *, sync_token: str | None, page_token: str | None) -> EventPage:
        """One page of the primary calendar: everything (no sync token) or the changes since
        ``sync_token``. ``singleEvents=false`` so masters, exceptions and cancelled instances
        come as Google keeps them; ``showDeleted`` so tombstones come in full syncs too."""
        params: dict[str, Any] = {
            "calendarId": PRIMARY,
            "maxResults": self.page_size,
            "showDeleted": True,
            "singleEvents": False,
        }
        if sync_token:
            params["syncToken"] = sync_token
        if page_token:
            params["pageToken"] = page_token
        body = self._execute(lambda: self._service.events().list(**params), "events.list")
        tz = body.get("timeZone")
        return EventPage(
            events=tuple(parse_event(item, tz) for item in body.get("items") or ()),
            next_page_token=body.get("nextPageToken"),
            next_sync_token=body.get("nextSyncToken"),
            time_zone=tz,
        )

    def get_event(self, event_id: str) -> CalendarEvent:
        body = self._execute(
            lambda: self._service.events().get(calendarId=PRIMARY, eventId=event_id), "events.get"
        )
        return parse_event(body)

    def create_event(self, key: str, event: NewEvent, *, notify: bool) -> CalendarEvent:
        """Create the event under ``key`` as its client-chosen id (Google lets the caller pick
        it). A 409 means an earlier attempt already created it (its answer was lost): that is
        success, and no second invitation goes out."""
        request = lambda: self._service.events().insert(  # noqa: E731
            calendarId=PRIMARY, body=insert_body(key, event), sendUpdates=_send_updates(notify)
        )
        try:
            return parse_event(self._execute(request, "events.insert"))
        except ProviderError as exc:
            if exc.status != 409:
                raise
        logfmt.info(log, "calendar event already exists", event_id=key)
        return self.get_event(key)

    def update_event(self, event_id: str, changes: EventChanges, *, notify: bool) -> CalendarEvent:
        request = lambda: self._service.events().patch(  # noqa: E731
            calendarId=PRIMARY,
            eventId=event_id,
            body=patch_body(changes),
            sendUpdates=_send_updates(notify),
        )
        return parse_event(self._execute(request, "events.patch"))

    # -- push: watch channels (https://developers.google.com/calendar/api/guides/push) -------

    def subscribe(
        self, subscription_id: str, secret: str, address: str, ttl_seconds: int
    ) -> Subscription:
        body = {
            "id": subscription_id,
            "type": "web_hook",
            "address": address,
            "token": secret,
            "params": {"ttl": str(ttl_seconds)},
        }
        answer = self._execute(
            lambda: self._service.events().watch(calendarId=PRIMARY, body=body), "events.watch"
        )
        expires = datetime.fromtimestamp(int(answer["expiration"]) / 1000, UTC)
        return Subscription(str(answer["id"]), str(answer["resourceId"]), expires)

    def renew(self, subscription: Subscription, ttl_seconds: int) -> Subscription | None:
        return None  # a channel cannot be extended: a new one replaces it

    def unsubscribe(self, subscription_id: str, resource_id: str) -> None:
        body = {"id": subscription_id, "resourceId": resource_id}
        self._execute(lambda: self._service.channels().stop(body=body), "channels.stop")

    def current_grant(self) -> str:
        # google-auth keeps a refresh token Google sends back in place of the old one.
        return str(self._credentials.refresh_token or "")

    def close(self) -> None:
        self._service.close()

    # -- calls with retries -------------------------------------------------------------------

    def _execute(self, make_request: Callable[[], Any], what: str) -> Any:
        attempt = 0
        while True:
            attempt += 1
            try:
                return make_request().execute(num_retries=0)
            except HttpError as exc:
                status, reason = exc.resp.status, error_reason(exc)
                if not _retryable(status, reason):
                    raise _translate(status, reason, what) from exc
                wait = retry_after_seconds(exc.resp.get("retry-after"))
                failure = f"{what} answered {status} {reason}".strip()
            except RefreshError as exc:
                code = _grant_error(exc)
                if code in PERMANENT_GRANT_ERRORS:
                    raise ReconnectNeeded(f"Google refused the stored grant ({code})") from exc
                wait, failure = None, f"token refresh failed ({code or 'unknown'})"
            except (TransportError, httplib2.HttpLib2Error, OSError) as exc:
                wait, failure = None, f"{what} failed: {type(exc).__name__}"
            delay = self.backoff.delay(attempt, wait)
            if attempt >= self.backoff.attempts or delay > self.backoff.max_wait:
                raise TemporaryError(f"{failure}; giving up for now", retry_after=max(delay, 30))
            logfmt.info(
                log,
                "google call retried",
                call=what,
                attempt=attempt,
                delay=round(delay, 3),
                why=failure,
            )
            self.backoff.sleep(delay)


def _send_updates(notify: bool) -> str:
    return "all" if notify else "none"


def _grant_error(exc: RefreshError) -> str:
    details = exc.args[1] if len(exc.args) > 1 else None
    if isinstance(details, dict) and isinstance(details.get("error"), str):
        return str(details["error"])
    text = str(exc.args[0]) if exc.args else ""
    return text.split(":", 1)[0].strip()


def _translate(status: int, reason: str, what: str) -> ProviderError:
    message = f"{what} answered {status} {reason}".strip()
    if status == 410 and what == "events.list":
        return FullSyncRequired(f"the sync cursor expired (410 {reason})", status, reason)
    if status in (404, 410):
        return NotFound(message, status, reason)
    if status == 401 or (status == 403 and reason in PERMISSION_REASONS):
        return ReconnectNeeded(message, status, reason)
    return ProviderError(message, status, reason)
