"""What the preview needs from whoever plays Google: users, tokens, and the Gmail inbox.

The ``demo`` command provides one backed by the local Google stand-in (``server.demo.host``);
the preview reads calendars through the Calendar API at ``GOOGLE_CALENDAR_API_URL`` like any
client, so it works against whatever those settings point at.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol, cast

from flask import Flask, current_app

EXTENSION = "preview.host"


@dataclass(frozen=True)
class PreviewUser:
    """A Google user the preview can act as (a rep, a colleague, a stranger)."""

    email: str
    name: str
    note: str = ""


@dataclass(frozen=True)
class PreviewMessage:
    """A message in a user's Gmail inbox, as the preview lists it."""

    message_id: str
    thread_id: str
    sender_email: str
    sender_name: str
    subject: str
    snippet: str
    received_at: datetime


class PreviewHost(Protocol):
    """The Google side of the preview: identities, tokens and mail."""

    @property
    def users(self) -> Sequence[PreviewUser]: ...

    @property
    def time_zone(self) -> str:
        """The users' time zone (their Calendar setting), sent as ``commonEventObject.timeZone``."""
        ...

    @property
    def locale(self) -> str: ...

    @property
    def api_token(self) -> str | None:
        """A REST API token of the demo account, for the timeline panel (None: no panel)."""
        ...

    def host_access_token(self, email: str) -> str:
        """An access token the host itself uses to read ``email``'s calendar (every scope)."""
        ...

    def user_oauth_token(self, email: str, scopes: Sequence[str]) -> str:
        """``userOAuthToken``: ``email``'s access token carrying only ``scopes``."""
        ...

    def id_token(self, *, audience: str, email: str) -> str:
        """A Google-signed ID token for ``email`` with audience ``audience``."""
        ...

    def messages(self, email: str) -> Sequence[PreviewMessage]: ...

    def gmail_access_token(self, email: str, message_id: str) -> str:
        """The per-message token Gmail puts in ``gmail.accessToken``."""
        ...


def install(app: Flask, host: PreviewHost) -> None:
    """Attach ``host`` to ``app``; the preview routes answer 503 until this is done."""
    app.extensions[EXTENSION] = host


def current_host() -> PreviewHost | None:
    return cast("PreviewHost | None", current_app.extensions.get(EXTENSION))
