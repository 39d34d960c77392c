"""Crash and flood on the scale-out setup (issue: hardening), at CI size: PostgreSQL + Redis,
2 gunicorn and 3 worker processes started as the Procfile does, workers killed with SIGKILL at
random and restarted while a calendar syncs, meetings go through the outbox and notifications
flood the webhook. Nothing lost, nothing doubled, no lock left, the queue drained. The full
size is ``python -m bench.chaos``."""

from __future__ import annotations

import pytest

from bench import chaos
from tests.conftest import TEST_DATABASE_URL, TEST_QUEUE_URL

pytestmark = [pytest.mark.postgres, pytest.mark.redis]


@pytest.mark.skipif(
    not (TEST_DATABASE_URL.startswith("postgresql") and TEST_QUEUE_URL.startswith("redis")),
    reason="runs on the scale-out setup: TEST_DATABASE_URL (PostgreSQL) and TEST_QUEUE_URL (Redis)",
)
def test_kills_and_a_flood_lose_nothing_and_double_nothing() -> None:
    result = chaos.run(
        events=2000, meetings=60, connections=10, notifications=1000, chaos_seconds=25
    )
    assert result["settled"], result
    assert result["kills"] >= 5, result
    for key in (
        "calendar_lost",
        "calendar_doubled",
        "calendar_unexpected",
        "meetings_lost",
        "meetings_doubled",
        "events_lost",
        "events_doubled",
        "locks_held",
        "queue_pending",
    ):
        assert result[key] == 0, (key, result)
    assert result["notification_statuses"] == {"200": 1000}, result
    assert result["syncs_per_connection_max"] <= 12, result
    assert result["workers_drained"] == 3, result  # SIGTERM: each finished and exited 0
