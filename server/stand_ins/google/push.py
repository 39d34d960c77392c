"""Watch channels and push notification delivery (Google's ``web_hook`` channels)."""

from __future__ import annotations

import hashlib
import queue
import threading
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.utils import format_datetime
from typing import Any, Literal
from urllib.parse import quote, urlsplit

import requests

from .common import ApiError

PushMode = Literal["off", "sync", "thread"]
PUSH_MODES: tuple[PushMode, ...] = ("off", "sync", "thread")
USER_AGENT = "APIs-Google; (+https://developers.google.com/webmasters/APIs-Google.html)"
DELIVERY_TIMEOUT = 10.0
DEFAULT_CHANNEL_TTL = 604800
MAX_CHANNEL_TTL = 30 * 86400


@dataclass
class Channel:
    """A live ``events.watch`` channel."""

    id: str
    resource_id: str
    resource_uri: str
    address: str
    token: str | None
    expiration_ms: int
    owner: str
    message_number: int = 0

    def resource(self) -> dict[str, Any]:
        """The channel as ``events.watch`` answers it."""
        body: dict[str, Any] = {
            "kind": "api#channel",
            "id": self.id,
            "resourceId": self.resource_id,
            "resourceUri": self.resource_uri,
            "expiration": str(self.expiration_ms),
        }
        if self.token is not None:
            body["token"] = self.token
        return body

    def expired(self, now: datetime) -> bool:
        return now.timestamp() * 1000 >= self.expiration_ms

    def notification(self, resource_state: str) -> Notification:
        """The next message of this channel (``sync`` first, then ``exists``)."""
        self.message_number += 1
        expires = datetime.fromtimestamp(self.expiration_ms / 1000, UTC)
        headers = {
            "X-Goog-Channel-ID": self.id,
            "X-Goog-Channel-Expiration": format_datetime(expires, usegmt=True),
            "X-Goog-Message-Number": str(self.message_number),
            "X-Goog-Resource-ID": self.resource_id,
            "X-Goog-Resource-URI": self.resource_uri,
            "X-Goog-Resource-State": resource_state,
        }
        if self.token is not None:
            headers["X-Goog-Channel-Token"] = self.token
        return Notification(self.id, self.address, resource_state, headers)


def new_channel(
    body: dict[str, Any],
    owner: str,
    calendar_id: str,
    base_url: str,
    now: datetime,
    allowed_hosts: set[str],
) -> Channel:
    """Validate an ``events.watch`` body (id, type web_hook, address, token, params.ttl or
    expiration in ms) into a channel; only ``allowed_hosts`` may receive notifications."""
    channel_id = str(body.get("id") or "")
    address = str(body.get("address") or "")
    if not channel_id or len(channel_id) > 64:
        raise ApiError(400, "required", "Channel id must be 1-64 characters.")
    if str(body.get("type", "")).lower() not in {"web_hook", "webhook"}:
        raise ApiError(400, "invalid", "Invalid value for: type")
    parts = urlsplit(address)
    if parts.scheme not in {"http", "https"} or (parts.hostname or "") not in allowed_hosts:
        message = f"Unauthorized WebHook callback channel: {address}"
        raise ApiError(401, "push.webhookUrlUnauthorized", message)
    now_ms = int(now.timestamp() * 1000)
    params = body.get("params") or {}
    try:
        if body.get("expiration"):
            expiration = int(body["expiration"])
        else:
            expiration = now_ms + int(params.get("ttl", DEFAULT_CHANNEL_TTL)) * 1000
    except (TypeError, ValueError):
        raise ApiError(400, "invalid", "Invalid channel expiration or ttl.") from None
    resource = hashlib.sha1(f"events {owner}".encode(), usedforsecurity=False).hexdigest()
    token = body.get("token")
    return Channel(
        id=channel_id,
        resource_id=resource[:27],
        resource_uri=f"{base_url}/calendar/v3/calendars/{quote(calendar_id, safe='')}/events"
        "?alt=json",
        address=address,
        token=None if token is None else str(token),
        expiration_ms=min(expiration, now_ms + MAX_CHANNEL_TTL * 1000),
        owner=owner,
    )


@dataclass(frozen=True)
class Notification:
    channel_id: str
    address: str
    resource_state: str
    headers: dict[str, str]


@dataclass(frozen=True)
class Delivery:
    """One delivery attempt: the receiver's status code, or the connection error."""

    notification: Notification
    status: int | None
    error: str | None = None


def post_notification(notification: Notification) -> Delivery:
    headers = {"User-Agent": USER_AGENT, **notification.headers}
    try:
        with requests.Session() as session:
            session.trust_env = False  # loopback only: never through a proxy
            with session.post(
                notification.address, headers=headers, data=b"", timeout=DELIVERY_TIMEOUT
            ) as resp:
                return Delivery(notification, resp.status_code)
    except requests.RequestException as exc:
        return Delivery(notification, None, f"{type(exc).__name__}: {exc}")


@dataclass
class PushDispatcher:
    """Delivers notifications inline (``sync``), from a worker thread (``thread``), or
    queues them until :meth:`deliver_pending` (``off``)."""

    _mode: PushMode = "off"
    pending: list[Notification] = field(default_factory=list)
    deliveries: list[Delivery] = field(default_factory=list)
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _queue: queue.Queue[Notification | None] = field(default_factory=queue.Queue)
    _worker: threading.Thread | None = None

    @property
    def mode(self) -> PushMode:
        return self._mode

    @mode.setter
    def mode(self, mode: PushMode) -> None:
        if mode not in PUSH_MODES:
            raise ValueError(f"push mode must be one of {PUSH_MODES}, not {mode!r}")
        self._mode = mode
        if mode != "off":
            with self._lock:
                batch, self.pending = self.pending, []
            self.dispatch(batch)

    def dispatch(self, notifications: list[Notification]) -> None:
        """Call without holding any stand-in lock: receivers may call back into it."""
        if not notifications:
            return
        if self._mode == "sync":
            for item in notifications:
                self._record(post_notification(item))
        elif self._mode == "thread":
            self._ensure_worker()
            for item in notifications:
                self._queue.put(item)
        else:
            with self._lock:
                self.pending.extend(notifications)

    def deliver_pending(self) -> list[Delivery]:
        """Send the queued notifications now, in this thread, in order."""
        with self._lock:
            batch, self.pending = self.pending, []
        results = [post_notification(item) for item in batch]
        for result in results:
            self._record(result)
        return results

    def drain(self, timeout: float = 10.0) -> bool:
        """Wait until the worker thread has sent everything queued so far."""
        deadline = time.monotonic() + timeout
        while self._queue.unfinished_tasks and time.monotonic() < deadline:
            time.sleep(0.01)
        return not self._queue.unfinished_tasks

    def close(self) -> None:
        worker, self._worker = self._worker, None
        if worker is not None and worker.is_alive():
            self._queue.put(None)
            worker.join(DELIVERY_TIMEOUT + 1)

    def _record(self, delivery: Delivery) -> None:
        with self._lock:
            self.deliveries.append(delivery)

    def _ensure_worker(self) -> None:
        with self._lock:
            if self._worker is None or not self._worker.is_alive():
                self._worker = threading.Thread(
                    target=self._run, name="google-stand-in-push", daemon=True
                )
                self._worker.start()

    def _run(self) -> None:
        while True:
            item = self._queue.get()
            try:
                if item is None:
                    return
                self._record(post_notification(item))
            finally:
                self._queue.task_done()
