"""Reading the rep's calendar and the open Gmail message with the request's own tokens.

The sidebar never uses the stored calendar grant: every read goes through the
``authorizationEventObject.userOAuthToken`` of the request (not refreshable, never stored) with
google-api-python-client, static discovery and the base URLs from the settings.

- Calendar v3 ``events.list`` / ``events.get`` on ``primary`` only (C2):
  https://developers.google.com/calendar/api/v3/reference/events/list and
  https://developers.google.com/calendar/api/v3/reference/events/get
- Gmail v1 ``users.messages.get`` with ``format=metadata`` and the per-message
  ``X-Goog-Gmail-Access-Token``:
  https://developers.google.com/gmail/api/reference/rest/v1/users.messages/get and
  https://developers.google.com/workspace/add-ons/guides/alternate-runtimes
- Reading the user's token: https://developers.google.com/workspace/add-ons/guides/alternate-runtimes

Event resources are parsed with :func:`server.calendars.google.parse.parse_event`, the same
parser the sync uses.
"""

from __future__ import annotations

import logging
import threading
from datetime import UTC, date, datetime, time, timedelta, tzinfo
from typing import Any

import google_auth_httplib2
import httplib2
from google.auth.exceptions import RefreshError, TransportError
from google.oauth2.credentials import Credentials
from googleapiclient.discovery import build
from googleapiclient.errors import HttpError

from server.calendars.google.client import error_reason
from server.calendars.google.parse import parse_event
from server.calendars.provider import CalendarEvent
from server.config import Settings

log = logging.getLogger(__name__)

PRIMARY = "primary"
GMAIL_TOKEN_HEADER = "X-Goog-Gmail-Access-Token"  # noqa: S105 (a header name)
#: The sidebar gives up on Google after this long (Google itself waits about 30 s for us).
TIMEOUT_SECONDS = 8.0
PAGE_SIZE = 250
MAX_PAGES = 4
_MAX_EVENT_ID = 1024


class GoogleApiError(Exception):
    """A Google API call failed. ``status`` is the HTTP status (None: not reached); the message
    is safe to log (never a token)."""

    def __init__(self, message: str, status: int | None = None, reason: str = "") -> None:
        super().__init__(message)
        self.status = status
        self.reason = reason

    @property
    def needs_scope(self) -> bool:
        """Google refused for a missing scope: ask the rep to grant it again."""
        return self.status == 403 and self.reason in {"insufficientPermissions", "forbidden"}


# --------------------------------------------------------------------------- the rep's day


def local_day(now: datetime, tz: tzinfo) -> date:
    """The rep's calendar date at ``now`` (aware)."""
    return now.astimezone(tz).date()


def day_window(day: date, tz: tzinfo) -> tuple[datetime, datetime]:
    """``day`` in ``tz`` as UTC instants: local midnight to the next local midnight.

    Done with real zone rules, so a day with a daylight-saving change lasts 23 or 25 hours,
    and a midnight that does not exist (the clocks jump at 00:00) starts the day at the jump.
    """
    start = datetime.combine(day, time(), tzinfo=tz)
    end = datetime.combine(day + timedelta(days=1), time(), tzinfo=tz)
    return start.astimezone(UTC), end.astimezone(UTC)


def rfc3339(moment: datetime) -> str:
    """``2025-06-04T22:00:00Z``: the form ``timeMin``/``timeMax`` take."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


# --------------------------------------------------------------------------- clients


def _http(user_oauth_token: str, timeout: float) -> google_auth_httplib2.AuthorizedHttp:
    # A bare access token: google-auth cannot refresh it, so a 401 surfaces as RefreshError.
    credentials = Credentials(token=user_oauth_token)  # type: ignore[no-untyped-call]
    return google_auth_httplib2.AuthorizedHttp(credentials, http=httplib2.Http(timeout=timeout))


# Building a client from the discovery document, and each ``service.events()`` from it, costs
# milliseconds (every method is generated, its docstring rendered); a sidebar request needs
# one call. So each resource is built once per process, without credentials, and every
# request is executed with the rep's own authorized ``http``.
_RESOURCES: dict[tuple[str, str, str, str], Any] = {}
_RESOURCES_LOCK = threading.Lock()


def _resource(name: str, version: str, api_url: str, path: str) -> Any:
    """The resource at ``path`` (``"events"``, ``"users.messages"``) of the API, built once."""
    key = (name, version, api_url, path)
    found = _RESOURCES.get(key)
    if found is None:
        with _RESOURCES_LOCK:
            found = _RESOURCES.get(key)
            if found is None:
                found = build(
                    name,
                    version,
                    http=httplib2.Http(),  # never used: each request brings its own
                    static_discovery=True,
                    cache_discovery=False,
                    client_options={"api_endpoint": api_url},
                )
                for part in path.split("."):
                    found = getattr(found, part)()
                _RESOURCES[key] = found
    return found


def _execute(request: Any, what: str, http: Any) -> Any:
    try:
        return request.execute(http=http, num_retries=1)
    except HttpError as exc:
        status, reason = exc.resp.status, error_reason(exc)
        raise GoogleApiError(f"{what} answered {status} {reason}".strip(), status, reason) from None
    except RefreshError:
        raise GoogleApiError(f"{what}: Google refused the user token", 401, "authError") from None
    except (TransportError, httplib2.HttpLib2Error, OSError) as exc:
        raise GoogleApiError(f"{what} failed: {type(exc).__name__}") from None


class CalendarReader:
    """The rep's primary calendar, read with the request's ``userOAuthToken``."""

    def __init__(
        self, settings: Settings, user_oauth_token: str | None, *, timeout: float = TIMEOUT_SECONDS
    ) -> None:
        if not user_oauth_token:
            raise GoogleApiError("the event carries no userOAuthToken", 401, "missingToken")
        self._events = _resource("calendar", "v3", settings.google_calendar_api_url, "events")
        self._http = _http(user_oauth_token, timeout)

    def list_window(self, start: datetime, end: datetime) -> list[CalendarEvent]:
        """Events overlapping ``[start, end)``, recurring ones expanded, by start time."""
        params: dict[str, Any] = {
            "calendarId": PRIMARY,
            "timeMin": rfc3339(start),
            "timeMax": rfc3339(end),
            "singleEvents": True,
            "orderBy": "startTime",
            "maxResults": PAGE_SIZE,
        }
        events: list[CalendarEvent] = []
        for _ in range(MAX_PAGES):
            body = _execute(self._events.list(**params), "events.list", self._http)
            zone = body.get("timeZone")
            events += [parse_event(item, zone) for item in body.get("items") or ()]
            token = body.get("nextPageToken")
            if not token:
                break
            params["pageToken"] = token
        return [e for e in events if not e.cancelled]

    def get_event(self, event_id: str) -> CalendarEvent | None:
        """The event ``event_id`` of the rep's primary calendar; None when it is not there.

        Ids arrive from the client, so this call is also what proves the rep may see it.
        """
        if not event_id or len(event_id) > _MAX_EVENT_ID:
            return None
        request = self._events.get(calendarId=PRIMARY, eventId=event_id)
        try:
            body = _execute(request, "events.get", self._http)
        except GoogleApiError as exc:
            if exc.status in (400, 404, 410):
                return None
            raise
        event = parse_event(body)
        return None if event.cancelled else event
