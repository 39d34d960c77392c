"""Gmail v1 stand-in: just enough to read the message an add-on has open."""

from __future__ import annotations

import base64
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from email.message import EmailMessage
from email.utils import format_datetime, make_msgid

from flask import Blueprint, Response, request

from .api import guarded
from .common import ApiError, ApiRecorder, Clock, JsonDict, RecordedRequest, json_response
from .oauth import AccessToken, OAuthState, norm_email

PREFIX = "/gmail/v1"
GMAIL_TOKEN_HEADER = "X-Goog-Gmail-Access-Token"  # noqa: S105 - a header name
FULL_SCOPES = {
    "https://mail.google.com/",
    "gmail.modify",
    "gmail.readonly",
    "gmail.addons.current.message.readonly",
    "gmail.addons.current.message.action",
}
METADATA_SCOPES = {"gmail.metadata", "gmail.addons.current.message.metadata"}
ADDON_SCOPES = {
    "gmail.addons.current.message.metadata",
    "gmail.addons.current.message.readonly",
    "gmail.addons.current.message.action",
}
FORMATS = {"minimal", "metadata", "full", "raw"}


@dataclass
class StoredMessage:
    id: str
    thread_id: str
    message: EmailMessage
    internal_date: datetime
    label_ids: list[str] = field(default_factory=lambda: ["INBOX"])
    history_id: int = 1

    def render(self, fmt: str, metadata_headers: list[str]) -> JsonDict:
        raw = self.message.as_bytes()
        text = self.message.get_content() if not self.message.is_multipart() else ""
        body: JsonDict = {
            "id": self.id,
            "threadId": self.thread_id,
            "labelIds": list(self.label_ids),
            "snippet": " ".join(str(text).split())[:200],
            "sizeEstimate": len(raw),
            "historyId": str(self.history_id),
            "internalDate": str(int(self.internal_date.timestamp() * 1000)),
        }
        if fmt == "raw":
            body["raw"] = base64.urlsafe_b64encode(raw).decode("ascii")
            return body
        if fmt == "minimal":
            return body
        wanted = {h.lower() for h in metadata_headers}
        headers = [
            {"name": name, "value": str(value)}
            for name, value in self.message.items()
            if fmt != "metadata" or not wanted or name.lower() in wanted
        ]
        payload: JsonDict = {"partId": "", "mimeType": self.message.get_content_type()}
        payload["filename"] = ""
        payload["headers"] = headers
        if fmt == "full":
            data = self.message.get_payload(decode=True)
            content = data if isinstance(data, bytes) else b""
            payload["body"] = {
                "size": len(content),
                "data": base64.urlsafe_b64encode(content).decode("ascii"),
            }
        body["payload"] = payload
        return body


class GmailState:
    """Mailboxes keyed by owner email. Thread-safe."""

    def __init__(self, now: Clock) -> None:
        self._now = now
        self._lock = threading.Lock()
        self._messages: dict[str, dict[str, StoredMessage]] = {}
        self.recorder = ApiRecorder()

    @property
    def requests(self) -> list[RecordedRequest]:
        """Every Gmail API request (with any ``X-Goog-Gmail-Access-Token`` header)."""
        return self.recorder.requests

    def fail_next(
        self,
        n: int,
        status: int,
        *,
        reason: str | None = None,
        retry_after: int | None = None,
        path_contains: str = "",
    ) -> None:
        self.recorder.fail_next(
            n, status, reason=reason, retry_after=retry_after, path_contains=path_contains
        )

    def add_message(
        self,
        owner_email: str,
        message_id: str,
        sender: str,
        subject: str,
        to: str | list[str] | None = None,
        *,
        cc: list[str] | None = None,
        body: str = "",
        date: datetime | None = None,
        thread_id: str | None = None,
        rfc822_id: str | None = None,
    ) -> JsonDict:
        """Put a message in ``owner_email``'s mailbox; returns it in ``format=full``.

        ``rfc822_id`` sets the ``Message-ID`` header (the same message in two mailboxes)."""
        owner = norm_email(owner_email)
        sent = date or self._now()
        recipients = [to] if isinstance(to, str) else list(to or [owner])
        message = EmailMessage()
        message["From"] = sender
        message["To"] = ", ".join(recipients)
        if cc:
            message["Cc"] = ", ".join(cc)
        message["Subject"] = subject
        message["Date"] = format_datetime(sent)
        message["Message-ID"] = rfc822_id or make_msgid(domain="mail.gmail.com")
        message.set_content(body or "")
        with self._lock:
            box = self._messages.setdefault(owner, {})
            stored = StoredMessage(message_id, thread_id or message_id, message, sent)
            stored.history_id = len(box) + 1
            box[message_id] = stored
            return stored.render("full", [])

    def get(self, owner_email: str, message_id: str, fmt: str, headers: list[str]) -> JsonDict:
        with self._lock:
            stored = self._messages.get(norm_email(owner_email), {}).get(message_id)
            if stored is None:
                raise _gmail_error(404, "notFound", "Requested entity was not found.")
            return stored.render(fmt, headers)

    def count(self, owner_email: str) -> int:
        with self._lock:
            return len(self._messages.get(norm_email(owner_email), {}))


def _gmail_error(code: int, reason: str, message: str) -> ApiError:
    return ApiError(code, reason, message, with_status=True)


def gmail_blueprint(state: GmailState, oauth: OAuthState) -> Blueprint:
    bp = Blueprint("google_gmail", __name__)

    def api(
        scopes: set[str],
    ) -> Callable[[Callable[..., Response]], Callable[..., Response]]:
        return guarded(
            state.recorder, oauth, scopes, header_names=(GMAIL_TOKEN_HEADER,), with_status=True
        )

    def mailbox(access: AccessToken, user_id: str) -> str:
        if user_id != "me" and norm_email(user_id) != access.user:
            raise _gmail_error(403, "forbidden", f"Delegation denied for {access.user}")
        return access.user

    @bp.get(f"{PREFIX}/users/<user_id>/messages/<message_id>")
    @api(FULL_SCOPES | METADATA_SCOPES)
    def get_message(access: AccessToken, user_id: str, message_id: str) -> Response:
        owner = mailbox(access, user_id)
        fmt = request.args.get("format", "full")
        if fmt not in FORMATS:
            raise _gmail_error(400, "invalidArgument", f"Invalid value for: format {fmt}")
        if fmt in {"full", "raw"} and not access.allows(FULL_SCOPES):
            message = f"Metadata scope doesn't allow format {fmt.upper()}"
            raise _gmail_error(403, "forbidden", message)
        general = (FULL_SCOPES | METADATA_SCOPES) - ADDON_SCOPES
        if not access.allows(general) and not request.headers.get(GMAIL_TOKEN_HEADER):
            message = f"Add-on scopes need the {GMAIL_TOKEN_HEADER} header"
            raise _gmail_error(403, "insufficientPermissions", message)
        headers = request.args.getlist("metadataHeaders")
        return json_response(state.get(owner, message_id, fmt, headers))

    @bp.get(f"{PREFIX}/users/<user_id>/profile")
    @api(FULL_SCOPES | METADATA_SCOPES)
    def profile(access: AccessToken, user_id: str) -> Response:
        owner = mailbox(access, user_id)
        total = state.count(owner)
        body = {
            "emailAddress": owner,
            "messagesTotal": total,
            "threadsTotal": total,
            "historyId": str(total + 1),
        }
        return json_response(body)

    return bp
