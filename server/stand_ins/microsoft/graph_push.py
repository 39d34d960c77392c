"""Graph change-notification subscriptions and webhook delivery.

Creating a subscription (https://learn.microsoft.com/en-us/graph/api/subscription-post-subscriptions)
first validates the endpoint: Graph POSTs ``notificationUrl?validationToken=...`` and needs
200 with the token echoed as text/plain within 10 seconds
(https://learn.microsoft.com/en-us/graph/change-notifications-delivery-webhooks). Change
notifications and lifecycle notifications
(https://learn.microsoft.com/en-us/graph/change-notifications-lifecycle-events) are JSON
``{"value": [...]}`` POSTs. Event subscriptions live at most 10080 minutes
(https://learn.microsoft.com/en-us/graph/api/resources/subscription#subscription-lifetime).
"""

from __future__ import annotations

import copy
import json
import queue
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, Literal
from urllib.parse import quote_plus, urlsplit

import requests

from .graph_events import Clock, GraphError, JsonDict, graph_timestamp, parse_instant
from .identity import TENANT_ID, object_id

# url, headers, body -> status, content type, body text
Deliver = Callable[[str, dict[str, str], bytes], tuple[int, str, str]]
PushMode = Literal["off", "queue", "immediate"]
PUSH_MODES: tuple[PushMode, ...] = ("off", "queue", "immediate")
CHANGE_TYPES = ("created", "updated", "deleted")
LIFECYCLE_EVENTS = ("reauthorizationRequired", "subscriptionRemoved", "missed")
MAX_MINUTES = 10080
MAX_CLIENT_STATE = 128
TIMEOUT = 10.0
ATTEMPTS = 4
BACKOFF = 0.05
LOOPBACK = {"127.0.0.1", "localhost", "::1"}
JSON_TYPE = "application/json; charset=utf-8"


def expiry(value: Any, now: datetime) -> datetime:
    """A requested ``expirationDateTime``: in the future, at most 10080 minutes ahead."""
    if not value:
        raise GraphError(400, "InvalidRequest", "expirationDateTime is required.")
    moment = parse_instant(str(value), "expirationDateTime")
    if moment <= now:
        raise GraphError(400, "ExtensionError", "Subscription expiration must be in the future.")
    if moment > now + timedelta(minutes=MAX_MINUTES):
        message = f"Subscription expiration can only be {MAX_MINUTES} minutes in the future."
        raise GraphError(400, "ExtensionError", message)
    return moment


@dataclass
class Subscription:
    id: str
    mailbox: str
    user_id: str
    resource: str
    application_id: str
    change_types: tuple[str, ...]
    notification_url: str
    lifecycle_url: str | None
    expiration: datetime
    client_state: str | None

    def live(self, now: datetime) -> bool:
        return now < self.expiration

    def resource_json(self, origin: str) -> JsonDict:
        return {
            "@odata.context": f"{origin}/v1.0/$metadata#subscriptions/$entity",
            "id": self.id,
            "resource": self.resource,
            "applicationId": self.application_id,
            "changeType": ",".join(self.change_types),
            "clientState": self.client_state,
            "notificationUrl": self.notification_url,
            "notificationQueryOptions": None,
            "lifecycleNotificationUrl": self.lifecycle_url,
            "expirationDateTime": graph_timestamp(self.expiration),
            "creatorId": self.user_id,
            "includeResourceData": False,
            "latestSupportedTlsVersion": "v1_2",
            "encryptionCertificate": None,
            "encryptionCertificateId": None,
            "notificationUrlAppId": None,
        }


def _check_url(url: Any, name: str, allowed_hosts: set[str]) -> str:
    parts = urlsplit(str(url or ""))
    host = (parts.hostname or "").lower()
    if parts.scheme == "https" and host:
        return str(url)
    if parts.scheme == "http" and (host in LOOPBACK or host in allowed_hosts):
        return str(url)
    raise GraphError(400, "ValidationError", f"The {name} must be an HTTPS URL.")


def new_subscription(
    body: JsonDict,
    mailbox: str,
    user_id: str,
    application_id: str,
    now: datetime,
    allowed_hosts: set[str],
) -> Subscription:
    """Validate a create body into a subscription (the handshake is the caller's)."""
    kinds = tuple(k.strip() for k in str(body.get("changeType") or "").split(",") if k.strip())
    if not kinds or any(k not in CHANGE_TYPES for k in kinds):
        message = f"Invalid 'changeType' attribute: '{body.get('changeType')}'."
        raise GraphError(400, "InvalidRequest", message)
    resource = str(body.get("resource") or "")
    path = resource.strip("/").lower()
    own = {"me/events", f"users/{user_id}/events", f"users/{mailbox}/events"}
    if path not in own:
        raise GraphError(400, "InvalidRequest", f"Resource '{resource}' is not supported.")
    state = body.get("clientState")
    if state is not None and len(str(state)) > MAX_CLIENT_STATE:
        message = f"clientState must be at most {MAX_CLIENT_STATE} characters long."
        raise GraphError(400, "InvalidRequest", message)
    lifecycle = body.get("lifecycleNotificationUrl")
    return Subscription(
        id=str(uuid.uuid4()),
        mailbox=mailbox,
        user_id=user_id,
        resource=resource,
        application_id=application_id,
        change_types=kinds,
        notification_url=_check_url(body.get("notificationUrl"), "notificationUrl", allowed_hosts),
        lifecycle_url=None
        if lifecycle is None
        else _check_url(lifecycle, "lifecycleNotificationUrl", allowed_hosts),
        expiration=expiry(body.get("expirationDateTime"), now),
        client_state=None if state is None else str(state),
    )


def validation_token() -> str:
    return (
        "Validation: Testing client application reachability for subscription "
        f"Request-Id: {uuid.uuid4()}"
    )


def handshake(deliver: Deliver, url: str) -> bool:
    """POST ``url?validationToken=...``; passes on 200 text/plain echoing the token."""
    token = validation_token()
    target = f"{url}{'&' if '?' in url else '?'}validationToken={quote_plus(token)}"
    headers = {"Content-Type": "text/plain; charset=utf-8"}
    try:
        status, content_type, text = deliver(target, headers, b"")
    except Exception:  # a broken receiver fails validation, whatever it raised
        return False
    plain = content_type.split(";")[0].strip().lower() == "text/plain"
    return status == 200 and plain and text == token


@dataclass(frozen=True)
class Notification:
    url: str
    headers: dict[str, str]
    body: bytes
    subscription_id: str

    @property
    def payload(self) -> JsonDict:
        value: JsonDict = json.loads(self.body)
        return value


def change_notification(
    sub: Subscription, change_type: str, event_id: str, change_key: str
) -> Notification:
    resource = f"Users/{sub.user_id}/Events/{event_id}"
    item = {
        "subscriptionId": sub.id,
        "subscriptionExpirationDateTime": graph_timestamp(sub.expiration),
        "changeType": change_type,
        "resource": resource,
        "resourceData": {
            "@odata.type": "#Microsoft.Graph.Event",
            "@odata.id": resource,
            "@odata.etag": f'W/"{change_key}"',
            "id": event_id,
        },
        "clientState": sub.client_state,
        "tenantId": TENANT_ID,
    }
    return _notification(sub.notification_url, sub.id, item)


def lifecycle_notification(sub: Subscription, event: str) -> Notification:
    item = {
        "subscriptionId": sub.id,
        "subscriptionExpirationDateTime": graph_timestamp(sub.expiration),
        "tenantId": TENANT_ID,
        "clientState": sub.client_state,
        "lifecycleEvent": event,
    }
    return _notification(sub.lifecycle_url or sub.notification_url, sub.id, item)


def _notification(url: str, subscription_id: str, item: JsonDict) -> Notification:
    body = json.dumps({"value": [item]}).encode()
    return Notification(url, {"Content-Type": JSON_TYPE}, body, subscription_id)


def post(url: str, headers: dict[str, str], body: bytes) -> tuple[int, str, str]:
    """The default delivery: a real POST (certificates unchecked on loopback only)."""
    loopback = (urlsplit(url).hostname or "") in LOOPBACK
    with requests.Session() as session:
        session.trust_env = False  # never through a proxy
        with session.post(
            url, headers=headers, data=body, timeout=TIMEOUT, verify=not loopback
        ) as resp:
            return resp.status_code, resp.headers.get("Content-Type", ""), resp.text


@dataclass(frozen=True)
class Delivery:
    """The outcome of delivering one notification: the last status, or the error."""

    notification: Notification
    status: int | None
    error: str | None = None
    attempts: int = 1

    @property
    def ok(self) -> bool:
        return self.status is not None and 200 <= self.status < 300


@dataclass
class PushDispatcher:
    """Queues notifications (``queue``), delivers them from a worker thread with retries
    (``immediate``), or drops them (``off``)."""

    deliver: Deliver = post
    _mode: PushMode = "queue"
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

    def dispatch(self, notifications: list[Notification]) -> None:
        """Call without holding the state lock: receivers may call back into the stand-in."""
        if not notifications or self._mode == "off":
            return
        if self._mode == "queue":
            with self._lock:
                self.pending.extend(notifications)
            return
        self._ensure_worker()
        for item in notifications:
            self._queue.put(item)

    def deliver_pending(self) -> list[Delivery]:
        """Send what is queued now, in this thread, in order (one attempt each)."""
        with self._lock:
            batch = list(self.pending)
            self.pending.clear()
        return [self._send(item, attempts=1) for item in batch]

    def drain(self, timeout: float = 10.0) -> bool:
        """Wait until the worker has delivered (or given up on) everything queued so far."""
        deadline = time.monotonic() + timeout
        while self._queue.unfinished_tasks and time.monotonic() < deadline:
            time.sleep(0.01)
        return not self._queue.unfinished_tasks

    def close(self) -> None:
        worker, self._worker = self._worker, None
        if worker is not None and worker.is_alive():
            self._queue.put(None)
            worker.join(TIMEOUT + 1)

    def _send(self, item: Notification, attempts: int) -> Delivery:
        result = Delivery(item, None, "not sent", 0)
        for attempt in range(1, attempts + 1):
            try:
                status = self.deliver(item.url, dict(item.headers), item.body)[0]
                result = Delivery(item, status, None, attempt)
            except Exception as exc:  # the receiver's failure is recorded, never raised
                result = Delivery(item, None, f"{type(exc).__name__}: {exc}", attempt)
            if result.ok or attempt == attempts:
                break
            time.sleep(BACKOFF * 2 ** (attempt - 1))
        with self._lock:
            self.deliveries.append(result)
        return result

    def _ensure_worker(self) -> None:
        with self._lock:
            if self._worker is None or not self._worker.is_alive():
                self._worker = threading.Thread(
                    target=self._run, name="graph-stand-in-push", daemon=True
                )
                self._worker.start()

    def _run(self) -> None:
        while True:
            item = self._queue.get()
            try:
                if item is None:
                    return
                self._send(item, ATTEMPTS)
            finally:
                self._queue.task_done()


class SubscriptionHooks:
    """The subscription operations of :class:`~.graph.GraphState` (mixed into it)."""

    now: Clock
    lock: threading.RLock
    subscriptions: dict[str, Subscription]
    allowed_push_hosts: set[str]
    push: PushDispatcher

    def subscribe(self, mailbox: str, application_id: str, body: JsonDict) -> Subscription:
        """Validate, run the validation handshake(s) through ``deliver``, then store."""
        mailbox = mailbox.strip().lower()
        with self.lock:
            hosts, deliver = set(self.allowed_push_hosts), self.push.deliver
            user_id = object_id(mailbox)
            sub = new_subscription(body, mailbox, user_id, application_id, self.now(), hosts)
        for url in (sub.notification_url, sub.lifecycle_url):
            if url is not None and not handshake(deliver, url):
                raise GraphError(
                    400,
                    "ValidationError",
                    "Subscription validation request failed. Notification endpoint must "
                    "respond with 200 OK to validation request.",
                )
        with self.lock:
            self.subscriptions[sub.id] = sub
            return copy.copy(sub)

    def subscription(self, mailbox: str, subscription_id: str) -> Subscription:
        """A live subscription of ``mailbox``, or 404 ResourceNotFound."""
        with self.lock:
            sub = self.subscriptions.get(subscription_id)
            if sub is None or sub.mailbox != mailbox.strip().lower() or not sub.live(self.now()):
                raise GraphError(404, "ResourceNotFound", "The object was not found.")
            return sub

    def renew(self, mailbox: str, subscription_id: str, body: JsonDict) -> Subscription:
        with self.lock:
            sub = self.subscription(mailbox, subscription_id)
            sub.expiration = expiry(body.get("expirationDateTime"), self.now())
            return copy.copy(sub)

    def unsubscribe(self, mailbox: str, subscription_id: str) -> None:
        with self.lock:
            del self.subscriptions[self.subscription(mailbox, subscription_id).id]

    def expire_subscription(self, subscription_id: str) -> None:
        """The subscription lapses now (no more notifications; GET/PATCH answer 404)."""
        with self.lock:
            self.subscriptions[subscription_id].expiration = self.now()

    def lifecycle(self, subscription_id: str, event: str) -> None:
        """Send a lifecycle notification; ``subscriptionRemoved`` also removes it."""
        if event not in LIFECYCLE_EVENTS:
            raise ValueError(f"lifecycle event must be one of {LIFECYCLE_EVENTS}")
        with self.lock:
            sub = self.subscriptions[subscription_id]
            note = lifecycle_notification(sub, event)
            if event == "subscriptionRemoved":
                del self.subscriptions[subscription_id]
        self.push.dispatch([note])

    def notifications(
        self, mailbox: str, change_type: str, event_id: str, change_key: str
    ) -> list[Notification]:
        """What a change to one event sends (callers hold the lock, dispatch after it)."""
        now = self.now()
        return [
            change_notification(sub, change_type, event_id, change_key)
            for sub in self.subscriptions.values()
            if sub.mailbox == mailbox and sub.live(now) and change_type in sub.change_types
        ]
