"""Reading the open Gmail message (metadata format only) with the request's own tokens.

Gmail v1 ``users.messages.get`` with ``format=metadata`` and the per-message
``X-Goog-Gmail-Access-Token`` (the ``gmail.accessToken`` of the event object):
https://developers.google.com/gmail/api/reference/rest/v1/users.messages/get and
https://developers.google.com/workspace/add-ons/guides/alternate-runtimes

The message id comes from the event object, and the read goes through the rep's own tokens, so a
message that is not in the rep's mailbox is simply not found. Neither token nor content is logged.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from email.header import decode_header, make_header
from email.utils import getaddresses, parsedate_to_datetime

from server.config import Settings

from .calendar_api import (
    GMAIL_TOKEN_HEADER,
    TIMEOUT_SECONDS,
    GoogleApiError,
    _execute,
    _http,
    _resource,
)

HEADERS = ("From", "To", "Cc", "Subject", "Date", "Message-ID")
_MAX_MESSAGE_ID = 256


@dataclass(frozen=True)
class Person:
    email: str  # lower-cased
    name: str = ""


@dataclass(frozen=True)
class OpenMessage:
    """The open message as the sidebar uses it."""

    gmail_id: str
    rfc822_id: str
    subject: str
    sender: Person | None
    to: list[Person]
    cc: list[Person]
    sent_at: datetime
    snippet: str

    @property
    def recipients(self) -> list[Person]:
        seen: set[str] = set()
        out = []
        for person in (*self.to, *self.cc):
            if person.email not in seen and (not self.sender or person.email != self.sender.email):
                seen.add(person.email)
                out.append(person)
        return out


def _decoded(value: str) -> str:
    try:
        return str(make_header(decode_header(value)))
    except (ValueError, LookupError, UnicodeError):
        return value


def _people(values: list[str]) -> list[Person]:
    out = []
    for name, address in getaddresses(values):
        address = address.strip().lower()
        if "@" in address and len(address) <= 254:
            out.append(Person(address, " ".join(_decoded(name).split())[:200]))
    return out


def _sent_at(body: dict[str, object], date_header: str) -> datetime:
    internal = str(body.get("internalDate") or "")
    if internal.isdigit():
        return datetime.fromtimestamp(int(internal) / 1000, UTC)
    try:
        parsed = parsedate_to_datetime(date_header)
    except (TypeError, ValueError, IndexError):
        return datetime.now(UTC)
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def read_message(
    settings: Settings,
    user_oauth_token: str | None,
    gmail_access_token: str | None,
    message_id: str | None,
    *,
    timeout: float = TIMEOUT_SECONDS,
) -> OpenMessage:
    """The open message's people, subject, time, Message-ID and Gmail's snippet."""
    if not message_id or len(message_id) > _MAX_MESSAGE_ID:
        raise GoogleApiError("the event names no open message", 400, "missingMessage")
    if not gmail_access_token:
        raise GoogleApiError("the event carries no Gmail access token", 401, "missingToken")
    if not user_oauth_token:
        raise GoogleApiError("the event carries no userOAuthToken", 401, "missingToken")
    messages = _resource("gmail", "v1", settings.google_gmail_api_url, "users.messages")
    request = messages.get(
        userId="me", id=message_id, format="metadata", metadataHeaders=list(HEADERS)
    )
    request.headers[GMAIL_TOKEN_HEADER] = gmail_access_token
    body = _execute(request, "messages.get", _http(user_oauth_token, timeout))
    headers: dict[str, list[str]] = {}
    for header in (body.get("payload") or {}).get("headers") or []:
        name = str(header.get("name", "")).lower()
        headers.setdefault(name, []).append(str(header.get("value", "")))

    def first(name: str) -> str:
        return (headers.get(name.lower()) or [""])[0]

    senders = _people(headers.get("from", []))
    return OpenMessage(
        gmail_id=message_id,
        rfc822_id=" ".join(first("Message-ID").split()),
        subject=" ".join(_decoded(first("Subject")).split()),
        sender=senders[0] if senders else None,
        to=_people(headers.get("to", [])),
        cc=_people(headers.get("cc", [])),
        sent_at=_sent_at(body, first("Date")),
        snippet=str(body.get("snippet") or ""),
    )
