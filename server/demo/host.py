"""The preview's Google: users, tokens and mail, all from the local Google stand-in."""

from __future__ import annotations

import secrets
import threading
import time
from collections.abc import Sequence
from datetime import datetime, timedelta

from server.preview import PreviewMessage, PreviewUser
from server.stand_ins.google import GoogleStandIn

from .people import BOB, DANA, FRANK, MANAGER, OUTSIDER, REP, Person

# Stand-in access tokens live an hour; reuse one for most of that.
_TOKEN_REUSE_SECONDS = 45 * 60


class StandInHost:
    """A :class:`server.preview.PreviewHost` backed by :class:`GoogleStandIn`."""

    def __init__(
        self,
        stand_in: GoogleStandIn,
        *,
        time_zone: str,
        locale: str,
        api_token: str | None,
        messages: dict[str, list[PreviewMessage]] | None = None,
    ) -> None:
        self._stand_in = stand_in
        self._time_zone = time_zone
        self._locale = locale
        self._api_token = api_token
        self._messages = messages or {}
        self._lock = threading.Lock()
        self._tokens: dict[tuple[str, tuple[str, ...] | None], tuple[str, float]] = {}
        self._gmail_tokens: dict[tuple[str, str], str] = {}

    @property
    def users(self) -> Sequence[PreviewUser]:
        return (
            PreviewUser(REP.email, REP.name, "sales rep"),
            PreviewUser(MANAGER.email, MANAGER.name, "sales manager"),
            PreviewUser(OUTSIDER.email, OUTSIDER.name, "no account"),
        )

    @property
    def time_zone(self) -> str:
        return self._time_zone

    @property
    def locale(self) -> str:
        return self._locale

    @property
    def api_token(self) -> str | None:
        return self._api_token

    def _access_token(self, email: str, scopes: tuple[str, ...] | None) -> str:
        key = (email.lower(), scopes)
        now = time.monotonic()
        with self._lock:
            cached = self._tokens.get(key)
            if cached is not None and now - cached[1] < _TOKEN_REUSE_SECONDS:
                return cached[0]
        token = self._stand_in.user_access_token(email, list(scopes) if scopes else None)
        with self._lock:
            self._tokens[key] = (token, now)
        return token

    def host_access_token(self, email: str) -> str:
        return self._access_token(email, None)

    def user_oauth_token(self, email: str, scopes: Sequence[str]) -> str:
        # No granted scope at all must not turn into "every scope" (the stand-in's None).
        wanted = tuple(sorted(scopes)) or ("openid",)
        return self._access_token(email, wanted)

    def id_token(self, *, audience: str, email: str) -> str:
        return self._stand_in.id_token_for(audience=audience, email=email)

    def messages(self, email: str) -> Sequence[PreviewMessage]:
        return tuple(self._messages.get(email.lower(), ()))

    def gmail_access_token(self, email: str, message_id: str) -> str:
        key = (email.lower(), message_id)
        with self._lock:
            if key not in self._gmail_tokens:
                self._gmail_tokens[key] = "gmail-" + secrets.token_urlsafe(24)
            return self._gmail_tokens[key]


_INBOX: tuple[tuple[Person, str, str, int], ...] = (
    (BOB, "Re: Globex renewal terms", "Can we go over the 2027 pricing in our call today?", 95),
    (FRANK, "Onboarding questions", "Before the kick-off: do we need SSO set up first?", 40),
    (DANA, "Intro: Globex data team", "Bob suggested we talk. Looking forward to it!", 180),
    (MANAGER, "Pipeline numbers", "Please update the Northwind deal before the review.", 260),
)


def fill_inbox(stand_in: GoogleStandIn, now: datetime) -> dict[str, list[PreviewMessage]]:
    """Put the demo messages in the rep's Gmail stand-in; returns what the preview lists."""
    listed: list[PreviewMessage] = []
    for index, (sender, subject, body, minutes_ago) in enumerate(_INBOX):
        message_id = f"18c{index:02d}{secrets.token_hex(6)}"
        sent = now - timedelta(minutes=minutes_ago)
        stand_in.gmail.add_message(
            REP.email,
            message_id,
            f"{sender.name} <{sender.email}>",
            subject,
            REP.email,
            # A customer email with mixed people: a contact, one who is not, a colleague (A7).
            cc=[DANA.email, MANAGER.email] if sender is BOB else None,
            body=body,
            date=sent,
            rfc822_id=f"<{message_id}@{sender.email.partition('@')[2]}>",
        )
        listed.append(
            PreviewMessage(message_id, message_id, sender.email, sender.name, subject, body, sent)
        )
    listed.sort(key=lambda m: m.received_at, reverse=True)
    return {REP.email: listed}
