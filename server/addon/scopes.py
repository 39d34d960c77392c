"""OAuth scopes of the add-on: what the descriptor declares and what each route needs.

The smallest set that works (https://developers.google.com/workspace/add-ons/concepts/workspace-scopes):

- ``*.addons.execute``: run as a Gmail / Calendar add-on at all.
- ``gmail.addons.current.message.metadata``: read the open message's headers (its sender) with
  ``users.messages.get(format="metadata")`` and the per-message access token.
- ``calendar.addons.current.event.read``: attendees and conference data in the event object.
- ``calendar.events.owned.readonly``: ``events.list`` / ``events.get`` on the rep's own (primary)
  calendar; the add-on scopes are not accepted by the Calendar REST API, and this is narrower
  than ``calendar.events.readonly`` (only calendars the rep owns, which is all rule C2 allows).
- ``userinfo.email``: Google sends ``authorizationEventObject.userIdToken`` only with it.
- ``script.locale``: the rep's locale and time zone in ``commonEventObject``.
"""

from __future__ import annotations

from . import paths

_AUTH = "https://www.googleapis.com/auth/"

GMAIL_EXECUTE = _AUTH + "gmail.addons.execute"
GMAIL_CURRENT_MESSAGE_METADATA = _AUTH + "gmail.addons.current.message.metadata"
CALENDAR_EXECUTE = _AUTH + "calendar.addons.execute"
CALENDAR_CURRENT_EVENT_READ = _AUTH + "calendar.addons.current.event.read"
CALENDAR_EVENTS_OWNED_READONLY = _AUTH + "calendar.events.owned.readonly"
USERINFO_EMAIL = _AUTH + "userinfo.email"
SCRIPT_LOCALE = _AUTH + "script.locale"

#: The ``oauthScopes`` of the deployment descriptor, in a stable order.
DESCRIPTOR_SCOPES: tuple[str, ...] = (
    GMAIL_EXECUTE,
    GMAIL_CURRENT_MESSAGE_METADATA,
    CALENDAR_EXECUTE,
    CALENDAR_CURRENT_EVENT_READ,
    CALENDAR_EVENTS_OWNED_READONLY,
    USERINFO_EMAIL,
    SCRIPT_LOCALE,
)

#: Extra scopes only the Apps Script forwarder needs: UrlFetchApp, and ScriptApp.getIdentityToken().
APPS_SCRIPT_EXTRA_SCOPES: tuple[str, ...] = (
    _AUTH + "script.external_request",
    "openid",
)

# Who the rep is (userIdToken) and their calendar: every route needs both.
_BASE: tuple[str, ...] = (USERINFO_EMAIL, CALENDAR_EVENTS_OWNED_READONLY)

#: Scopes each add-on route needs granted before it runs (granular consent).
#: The execute / current-event scopes are not listed: Google enforces those itself.
NEEDED_SCOPES: dict[str, tuple[str, ...]] = {path: _BASE for path in sorted(paths.ADDON_PATHS)} | {
    paths.GMAIL_MESSAGE: (*_BASE, GMAIL_CURRENT_MESSAGE_METADATA),
    paths.LOG_EMAIL: (*_BASE, GMAIL_CURRENT_MESSAGE_METADATA),
    paths.ADD_EMAIL_CONTACT: (*_BASE, GMAIL_CURRENT_MESSAGE_METADATA),
    paths.DISCONNECT: (USERINFO_EMAIL,),
}
