"""Reading Google's push notifications for watch channels.

https://developers.google.com/calendar/api/guides/push#receiving-notifications: the channel
id, its token (ours, echoed back), the resource id and the resource state come as
``X-Goog-*`` headers; the first message after ``events.watch`` has the state ``sync``.
"""

from __future__ import annotations

from server.calendars.providers import BadPush, Inbound, Notification, PushRequest

MAX_CHANNEL_ID = 64


def read_push(request: PushRequest) -> Inbound:
    headers = request.headers
    channel_id = headers.get("X-Goog-Channel-ID", "")
    state = headers.get("X-Goog-Resource-State", "")
    if not channel_id or len(channel_id) > MAX_CHANNEL_ID or not state:
        raise BadPush("not a Google channel notification")
    notification = Notification(
        subscription_id=channel_id,
        secret=headers.get("X-Goog-Channel-Token", ""),
        resource_id=headers.get("X-Goog-Resource-ID", ""),
        handshake=state == "sync",
    )
    return Inbound(notifications=(notification,))
