"""The calendar providers, by name: what the generic engine knows of each.

The sync engine, the outbox, the push sweep, the webhook and the connect pages look a
provider up here by ``connection.provider`` and never name one. A provider package
(``calendars/google/``, later ``calendars/microsoft/``) builds one
:class:`CalendarIntegration` and the calendars feature registers it in ``create_app``.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Protocol

import requests

from server.calendars.provider import CalendarProvider, ProviderError
from server.config import Settings


@dataclass(frozen=True)
class Grant:
    """What a completed OAuth round trip yields: whose calendar it is and the offline grant."""

    email: str
    refresh_token: str
    scopes: tuple[str, ...]


Pending = dict[str, Any]  # what a flow keeps between its consent page and its callback


class ConnectError(Exception):
    """The OAuth round trip failed; the message is safe to show the rep."""


class OAuthFlow(Protocol):
    """The authorization-code flow with offline access to the calendar (C1)."""

    def begin(self, settings: Settings, state: str, login_hint: str) -> tuple[str, Pending]:
        """The provider's consent page (it comes back to ``/oauth/<name>/callback``) and what
        the callback needs back (PKCE verifier, nonce: kept encrypted in the browser until
        then; empty when nothing is). Raises :class:`ConnectError` when the provider is not
        configured."""
        ...

    def finish(
        self,
        settings: Settings,
        answer: Mapping[str, str],
        pending: Pending,
        http: requests.Session,
    ) -> Grant:
        """Trade the callback's ``answer`` (its query: code, state, ...) for tokens; the
        identity is verified. Raises :class:`ConnectError` with a message for the rep."""
        ...

    def revoke(self, settings: Settings, http: requests.Session, refresh_token: str) -> None:
        """Best effort: ask the provider to forget the grant (C5)."""
        ...


@dataclass(frozen=True)
class PushRequest:
    """An incoming push request, as the webhook received it."""

    headers: Mapping[str, str]
    args: Mapping[str, str]
    body: bytes


@dataclass(frozen=True)
class Notification:
    """One notification of a push request: which subscription, and the secret it carries."""

    subscription_id: str
    secret: str
    resource_id: str = ""
    handshake: bool = False  # the provider checking the address: acknowledge, sync nothing
    # A subscription's own news (Graph's lifecycle notifications): "reauthorizationRequired",
    # "subscriptionRemoved" or "missed"; empty for a change to the calendar.
    lifecycle: str = ""


@dataclass(frozen=True)
class Inbound:
    """What a push request holds: notifications, or a reply the provider expects verbatim
    (Graph's validation handshake)."""

    notifications: tuple[Notification, ...] = ()
    reply: str | None = None
    accepted: int = 200  # the status that acknowledges notifications (Graph expects 202)


class BadPush(Exception):
    """The request is not a notification of this provider's (answered 400)."""


@dataclass(frozen=True)
class CalendarIntegration:
    name: str  # the value of ``connection.provider``
    label: str  # what the rep reads: "Google", "Outlook"
    open: Callable[[Settings, str], CalendarProvider]  # a client for one refresh token
    oauth: OAuthFlow
    read_push: Callable[[PushRequest], Inbound]


_REGISTRY: dict[str, CalendarIntegration] = {}


def register(integration: CalendarIntegration) -> None:
    _REGISTRY[integration.name] = integration


def get(name: str) -> CalendarIntegration:
    try:
        return _REGISTRY[name]
    except KeyError:
        raise ProviderError(f"no calendar provider named {name!r} is installed") from None
