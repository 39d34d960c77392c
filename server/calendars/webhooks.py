"""``POST /webhooks/<provider>/calendar``: push notifications for calendar subscriptions.

Validate, record, enqueue, return. The provider reads its own wire format
(:attr:`CalendarIntegration.read_push`); here each notification's subscription id and secret
are checked (the secret in constant time, against a stored digest), handshakes are
acknowledged, a subscription's lifecycle news (Graph) is acted on, and a change flags the
connection for a sync. Only the notification that sets
the flag enqueues, so a burst of notifications becomes one sync. The sync runs on the worker.
Forged notifications, or ones for an unknown or stopped subscription, are answered 4xx and
enqueue nothing.
"""

from __future__ import annotations

import hmac
import logging
from collections.abc import Mapping
from datetime import timedelta
from typing import cast

from flask import Blueprint, Flask, Response, current_app, request
from sqlalchemy import select
from sqlalchemy.orm import Session

from server.calendars import logfmt, providers, tasks
from server.calendars.models import CalendarConnection
from server.calendars.provider import ProviderError
from server.calendars.push import RENEW_BEFORE, STOPPED, token_digest, webhook_path
from server.calendars.tables import CalendarWatchChannel
from server.db import utcnow
from server.jobs import Jobs
from server.web import database

log = logging.getLogger(__name__)
bp = Blueprint("calendar_webhooks", __name__)
_NO_DIGEST = token_digest("no channel has this token")


@bp.post(webhook_path("<provider>"))
def calendar_push(provider: str) -> Response:
    try:
        integration = providers.get(provider)
        inbound = integration.read_push(
            providers.PushRequest(
                cast(Mapping[str, str], request.headers),  # case-insensitive names
                request.args.to_dict(),
                request.get_data(cache=False),
            )
        )
    except ProviderError:
        return Response(status=404)
    except providers.BadPush:
        return Response(status=400)
    if inbound.reply is not None:
        return Response(inbound.reply, status=200, mimetype="text/plain")
    to_sync: list[int] = []
    delays: dict[int, float] = {}
    with database().transaction() as session:
        for notification in inbound.notifications:
            status = _accept(session, provider, notification, to_sync)
            if status != 200:
                return Response(status=status)
        for connection_id in to_sync:
            delays[connection_id] = tasks.push_delay(session, connection_id, utcnow())
    jobs = cast(Jobs, current_app.extensions["jobs"])
    for connection_id in to_sync:
        tasks.enqueue_sync(jobs, connection_id, delays[connection_id])
    return Response(status=inbound.accepted if inbound.notifications else 400)


def _accept(
    session: Session, provider: str, notification: providers.Notification, to_sync: list[int]
) -> int:
    channel = session.scalar(
        select(CalendarWatchChannel).where(
            CalendarWatchChannel.channel_id == notification.subscription_id
        )
    )
    expected = channel.token_hash if channel is not None else _NO_DIGEST
    secret_ok = hmac.compare_digest(token_digest(notification.secret), expected)
    if channel is None or channel.status == STOPPED:
        log.info("push for an unknown subscription refused")
        return 404
    resource = notification.resource_id
    resource_ok = hmac.compare_digest(resource.encode(), (channel.resource_id or resource).encode())
    connection = session.get(CalendarConnection, channel.connection_id)
    if not (secret_ok and resource_ok) or connection is None or connection.provider != provider:
        logfmt.warning(log, "push with a wrong secret refused", channel=channel.id)
        return 403
    if notification.handshake or not connection.active:
        return 200  # acknowledged; a disconnected calendar is not synced (C5)
    if notification.lifecycle and not _lifecycle(channel, notification.lifecycle):
        return 200  # the subscription itself needs attention, not the calendar
    if tasks.request_sync(session, connection.id, utcnow()) and connection.id not in to_sync:
        to_sync.append(connection.id)
    return 200


def _lifecycle(channel: CalendarWatchChannel, event: str) -> bool:
    """Graph's lifecycle notifications: reauthorize (renew) the subscription at the next
    sweep; replace a removed one (and sync, since changes may have gone unannounced); sync
    after missed notifications. Returns whether a sync is wanted."""
    now = utcnow()
    logfmt.info(log, "push lifecycle notification", channel=channel.id, lifecycle=event)
    if event == "reauthorizationRequired":
        channel.expires_at = min(channel.expires_at, now + RENEW_BEFORE - timedelta(minutes=1))
        return False
    if event == "subscriptionRemoved":
        channel.status, channel.stopped_at = STOPPED, now
        return True
    return event == "missed"


def register(app: Flask) -> None:
    app.register_blueprint(bp)
