"""``POST /webhooks/google/calendar``: Google's push notifications for watch channels.

Validate, record, enqueue, return: the channel id and token are checked (the token in
constant time, against a stored digest), the initial ``sync`` message is acknowledged, and a
change flags the connection for a sync. Only the notification that sets the flag enqueues,
so a burst of notifications becomes one sync. The sync itself runs on the worker.
https://developers.google.com/calendar/api/guides/push#receiving-notifications
"""

from __future__ import annotations

import hmac
import logging
from typing import cast

from flask import Blueprint, Flask, Response, current_app, request
from sqlalchemy import select

from server.calendars import logfmt, tasks
from server.calendars.models import CalendarConnection
from server.calendars.push import STOPPED, WEBHOOK_PATH, token_digest
from server.calendars.tables import CalendarWatchChannel
from server.db import utcnow
from server.jobs import Jobs
from server.web import database

log = logging.getLogger(__name__)
bp = Blueprint("calendar_webhooks", __name__)
_NO_DIGEST = token_digest("no channel has this token")


def _answer(status: int) -> Response:
    return Response(status=status)


@bp.post(WEBHOOK_PATH)
def google_calendar() -> Response:
    channel_id = request.headers.get("X-Goog-Channel-ID", "")
    token = request.headers.get("X-Goog-Channel-Token", "")
    resource_id = request.headers.get("X-Goog-Resource-ID", "")
    state = request.headers.get("X-Goog-Resource-State", "")
    if not channel_id or len(channel_id) > 64 or not state:
        return _answer(400)
    with database().transaction() as session:
        channel = session.scalar(
            select(CalendarWatchChannel).where(CalendarWatchChannel.channel_id == channel_id)
        )
        expected = channel.token_hash if channel is not None else _NO_DIGEST
        token_ok = hmac.compare_digest(token_digest(token), expected)
        if channel is None or channel.status == STOPPED:
            log.info("push for an unknown channel refused")
            return _answer(404)
        resource_ok = hmac.compare_digest(
            resource_id.encode(), (channel.resource_id or resource_id).encode()
        )
        if not (token_ok and resource_ok):
            logfmt.warning(log, "push with a wrong token refused", channel=channel.id)
            return _answer(403)
        if state == "sync":  # the handshake after events.watch: nothing changed yet
            return _answer(200)
        connection = session.get(CalendarConnection, channel.connection_id)
        if connection is None or not connection.active:
            return _answer(200)  # acknowledged; a disconnected calendar is not synced (C5)
        connection_id = connection.id
        first = tasks.request_sync(session, connection_id, utcnow())
    if first:
        tasks.enqueue_sync(cast(Jobs, current_app.extensions["jobs"]), connection_id)
    return _answer(200)


def register(app: Flask) -> None:
    app.register_blueprint(bp)
