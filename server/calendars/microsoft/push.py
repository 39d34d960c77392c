"""Reading Microsoft Graph's change and lifecycle notifications.

https://learn.microsoft.com/en-us/graph/change-notifications-delivery-webhooks: creating or
renewing a subscription makes Graph POST ``?validationToken=...``, to be echoed as
``text/plain`` within 10 seconds; notifications are JSON ``{"value": [...]}``, each naming its
``subscriptionId`` and carrying our ``clientState``, to be acknowledged with 202 at once.
Lifecycle notifications (https://learn.microsoft.com/en-us/graph/change-notifications-lifecycle-events)
come in the same shape with a ``lifecycleEvent``.
"""

from __future__ import annotations

import json
from collections.abc import Mapping

from server.calendars.providers import BadPush, Inbound, Notification, PushRequest

MAX_VALIDATION_TOKEN = 1024
MAX_ID = 64
MAX_NOTIFICATIONS = 1000
LIFECYCLE_EVENTS = frozenset({"reauthorizationRequired", "subscriptionRemoved", "missed"})


def read_push(request: PushRequest) -> Inbound:
    token = request.args.get("validationToken")
    if token is not None:
        if not token or len(token) > MAX_VALIDATION_TOKEN:
            raise BadPush("not a Graph validation request")
        return Inbound(reply=token)
    try:
        body = json.loads(request.body)
    except (ValueError, UnicodeDecodeError) as exc:
        raise BadPush("not a Graph notification") from exc
    items = body.get("value") if isinstance(body, Mapping) else None
    if not isinstance(items, list) or not items or len(items) > MAX_NOTIFICATIONS:
        raise BadPush("not a Graph notification")
    return Inbound(notifications=tuple(_notification(i) for i in items), accepted=202)


def _notification(item: object) -> Notification:
    if not isinstance(item, Mapping):
        raise BadPush("not a Graph notification")
    subscription = item.get("subscriptionId")
    if not isinstance(subscription, str) or not subscription or len(subscription) > MAX_ID:
        raise BadPush("a notification without its subscription")
    lifecycle = item.get("lifecycleEvent") or ""
    if lifecycle and lifecycle not in LIFECYCLE_EVENTS:
        raise BadPush("an unknown lifecycle event")
    return Notification(
        subscription_id=subscription,
        secret=str(item.get("clientState") or ""),
        lifecycle=str(lifecycle),
    )
