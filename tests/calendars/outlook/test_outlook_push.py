"""Graph subscriptions: created through the validation handshake with a random clientState,
notifications checked and answered 202 with one coalesced sync, forged and unknown ones
refused, lifecycle notifications acted on, renewed before they lapse, deleted on disconnect
(C5)."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import requests
from sqlalchemy import select

from server.calendars import push
from server.calendars.models import CalendarConnection
from server.calendars.tables import CalendarWatchChannel
from server.db import utcnow
from tests.calendars.outlook.conftest import REP, SOON, Outlook

JANE = "jane@client.example"
HOOK = push.webhook_path("microsoft")


def channels(ms: Outlook) -> list[CalendarWatchChannel]:
    with ms.database.transaction() as session:
        return list(session.scalars(select(CalendarWatchChannel).order_by(CalendarWatchChannel.id)))


def send(ms: Outlook) -> list[int]:
    """Post the stand-in's queued notifications to our webhook; their status codes."""
    client = ms.app.test_client()
    sent = list(ms.graph.pending)
    ms.graph.pending.clear()
    return [
        client.post(HOOK, data=n.body, headers={"Content-Type": "application/json"}).status_code
        for n in sent
    ]


def post(ms: Outlook, value: list[dict[str, Any]]) -> int:
    response = ms.app.test_client().post(HOOK, json={"value": value})
    return response.status_code


@pytest.fixture
def watched(ms: Outlook) -> Outlook:
    assert push.ensure_channel(ms.env(), ms.connection_id) == "created"
    return ms


def test_a_subscription_is_created_through_the_validation_handshake(watched: Outlook) -> None:
    (row,) = channels(watched)
    remote = watched.graph.subscriptions[row.channel_id]
    assert remote.notification_url == "https://addon.test/webhooks/microsoft/calendar"
    assert remote.lifecycle_url == remote.notification_url
    assert remote.resource == "me/events"
    assert set(remote.change_types) == {"created", "updated", "deleted"}
    assert remote.client_state
    assert len(remote.client_state) >= 32
    assert row.token_hash == push.token_digest(remote.client_state)
    assert remote.client_state not in row.token_hash
    assert row.expires_at > utcnow() + timedelta(days=6)
    assert push.ensure_channel(watched.env(), watched.connection_id) == "ok"


def test_the_validation_token_is_echoed_as_plain_text(ms: Outlook) -> None:
    token = "Validation: Testing client application reachability for subscription Request-Id: 1"
    response = ms.app.test_client().post(HOOK, query_string={"validationToken": token})
    assert response.status_code == 200
    assert response.content_type.startswith("text/plain")
    assert response.get_data(as_text=True) == token
    assert ms.jobs.huey.pending_count() == 0


def test_a_webhook_that_does_not_answer_the_handshake_gets_no_subscription(ms: Outlook) -> None:
    ms.graph.deliver = lambda url, headers, body: (200, "text/plain", "wrong")
    assert push.ensure_channel(ms.env(), ms.connection_id) == "failed"
    assert channels(ms) == []
    assert ms.state().channel_retry_at is not None


def test_a_flood_of_notifications_becomes_one_sync(watched: Outlook) -> None:
    watched.contact(JANE)
    ids = [watched.event(SOON + timedelta(hours=i), guests=[JANE])["id"] for i in range(20)]
    for event_id in ids[:10]:
        watched.graph.patch_event(REP, event_id, subject="Edited")
    statuses = send(watched)
    assert len(statuses) == 30
    assert set(statuses) == {202}
    assert watched.jobs.huey.pending_count() == 1
    assert watched.drain_queue() == 1
    assert len(watched.meetings()) == 20


def test_forged_and_unknown_notifications_are_refused_and_enqueue_nothing(
    watched: Outlook,
) -> None:
    (row,) = channels(watched)
    base = {"changeType": "created", "resource": "Users/x/Events/y", "tenantId": "t"}
    forged = {**base, "subscriptionId": row.channel_id, "clientState": "guess"}
    unknown = {**base, "subscriptionId": "00000000-0000-0000-0000-000000000000"}
    unknown["clientState"] = watched.graph.subscriptions[row.channel_id].client_state
    assert post(watched, [forged]) == 403
    assert post(watched, [unknown]) == 404
    assert post(watched, [{**base, "subscriptionId": ""}]) == 400
    bad = watched.app.test_client().post(HOOK, data=b"{not json", content_type="application/json")
    assert bad.status_code == 400
    assert watched.jobs.huey.pending_count() == 0


def test_lifecycle_missed_asks_for_a_sync(watched: Outlook) -> None:
    (row,) = channels(watched)
    watched.graph.lifecycle(row.channel_id, "missed")
    assert send(watched) == [202]
    assert watched.jobs.huey.pending_count() == 1


def test_lifecycle_reauthorization_renews_the_subscription_at_the_next_sweep(
    watched: Outlook,
) -> None:
    (row,) = channels(watched)
    before = watched.graph.subscriptions[row.channel_id].expiration
    watched.clock.offset = timedelta(hours=1)
    watched.graph.lifecycle(row.channel_id, "reauthorizationRequired")
    assert send(watched) == [202]
    assert watched.jobs.huey.pending_count() == 0
    assert push.sweep_channels(watched.env())["renewed"] == 1
    (after,) = channels(watched)
    assert after.channel_id == row.channel_id  # renewed in place (PATCH), not replaced
    assert watched.graph.subscriptions[row.channel_id].expiration > before
    assert after.expires_at > utcnow() + timedelta(days=6)


def test_lifecycle_subscription_removed_replaces_it_and_syncs(watched: Outlook) -> None:
    (row,) = channels(watched)
    watched.graph.lifecycle(row.channel_id, "subscriptionRemoved")
    assert send(watched) == [202]
    assert watched.jobs.huey.pending_count() == 1
    assert [c.status for c in channels(watched)] == ["stopped"]
    assert push.sweep_channels(watched.env())["created"] == 1
    assert [c.status for c in channels(watched)] == ["stopped", "active"]


def test_a_subscription_is_renewed_well_before_it_lapses(watched: Outlook) -> None:
    (row,) = channels(watched)
    assert push.sweep_channels(watched.env()).get("renewed", 0) == 0
    with watched.database.transaction() as session:
        stored = session.get(CalendarWatchChannel, row.id)
        assert stored is not None
        stored.expires_at = utcnow() + timedelta(days=1)  # inside RENEW_BEFORE
    assert push.sweep_channels(watched.env())["renewed"] == 1
    patches = [
        r for r in watched.graph.requests if r.method == "PATCH" and "subscriptions" in r.path
    ]
    assert len(patches) == 1
    expiry = watched.graph.subscriptions[row.channel_id].expiration
    assert expiry > datetime.now(UTC) + timedelta(days=6)
    assert expiry <= datetime.now(UTC) + timedelta(minutes=10080)


def test_disconnecting_deletes_the_subscription_c5(watched: Outlook) -> None:
    (row,) = channels(watched)
    with watched.database.transaction() as session, requests.Session() as http:
        connection = session.get(CalendarConnection, watched.connection_id)
        assert connection is not None
        cipher = watched.app.extensions["cipher"]
        push.disconnect(watched.settings, session, cipher, connection, http)
    assert row.channel_id not in watched.graph.subscriptions
    assert [c.status for c in channels(watched)] == ["stopped"]
    assert watched.connection().status == "disconnected"
    # A late notification for it enqueues nothing.
    assert post(watched, [{"subscriptionId": row.channel_id, "clientState": "x"}]) == 404
    assert watched.jobs.huey.pending_count() == 0


def test_notifications_carry_our_client_state(watched: Outlook) -> None:
    watched.event(guests=[JANE])
    (note,) = watched.graph.pending
    body = json.loads(note.body)
    (row,) = channels(watched)
    assert body["value"][0]["subscriptionId"] == row.channel_id
    assert push.token_digest(body["value"][0]["clientState"]) == row.token_hash
    assert requests.codes.accepted == send(watched)[0]
