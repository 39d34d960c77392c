"""The fixed URL paths of the add-on: triggers, card actions and the OAuth connect flow.

Every ``action.function`` in a card and every trigger in the deployment descriptor is
``PUBLIC_BASE_URL`` + one of these paths. The app registers exactly these routes, and the
verifier of the Google-signed request token uses ``PUBLIC_BASE_URL`` + the route's path as the
audience, so a path must never carry a query string.
See https://developers.google.com/workspace/add-ons/guides/alternate-runtimes
"""

from __future__ import annotations

from urllib.parse import urlencode

# Triggers named in the deployment descriptor.
HOME = "/addon/home"
GMAIL_MESSAGE = "/addon/gmail/message"
CALENDAR_EVENT = "/addon/calendar/event"

# Card action callbacks.
OPEN_MEETING = "/addon/actions/open-meeting"
OPEN_CONTACT = "/addon/actions/open-contact"
ADD_CONTACT = "/addon/actions/add-contact"
START_MEETING = "/addon/actions/start-meeting"
ADD_NOTE = "/addon/actions/add-note"
DISCONNECT = "/addon/actions/disconnect"
REFRESH = "/addon/actions/refresh"
LOG_EMAIL = "/addon/actions/log-email"
ADD_EMAIL_CONTACT = "/addon/actions/add-email-contact"

# The calendar connect flow (GET, opened in an overlay; not an add-on request).
OAUTH_START = "/oauth/google/start"
OAUTH_CALLBACK = "/oauth/google/callback"

TRIGGER_PATHS: frozenset[str] = frozenset({HOME, GMAIL_MESSAGE, CALENDAR_EVENT})
ACTION_PATHS: frozenset[str] = frozenset(
    {
        OPEN_MEETING,
        OPEN_CONTACT,
        ADD_CONTACT,
        START_MEETING,
        ADD_NOTE,
        DISCONNECT,
        REFRESH,
        LOG_EMAIL,
        ADD_EMAIL_CONTACT,
    }
)
#: Every path Google POSTs an event object to, each with a Google-signed bearer token.
ADDON_PATHS: frozenset[str] = TRIGGER_PATHS | ACTION_PATHS


def absolute(public_base_url: str, path: str) -> str:
    """``public_base_url`` + ``path``: the form Google needs for ``action.function``.

    HTTP add-ons name callbacks by full HTTPS URL, not by function name
    (https://developers.google.com/workspace/add-ons/guides/alternate-runtimes).
    """
    if not path.startswith("/") or "?" in path or "#" in path:
        raise ValueError(f"not a plain absolute path: {path!r}")
    return public_base_url.rstrip("/") + path


def connect_url(public_base_url: str, state: str) -> str:
    """The URL the connect card opens in an overlay: the OAuth start route with a signed state."""
    return absolute(public_base_url, OAUTH_START) + "?" + urlencode({"state": state})
