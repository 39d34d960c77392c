"""Retrying a provider call: capped exponential backoff with jitter that honours
``Retry-After``. Shared by every calendar provider (Google's and Graph's clients)."""

from __future__ import annotations

import random
import time
from collections.abc import Callable
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime

Sleep = Callable[[float], None]


class Backoff:
    """Capped exponential backoff with jitter that never waits less than ``Retry-After``.

    ``max_wait`` bounds a single wait: a server asking for longer gets a
    :class:`TemporaryError` instead, so the sync is rescheduled rather than holding a worker.
    """

    def __init__(
        self,
        *,
        attempts: int = 5,
        base: float = 0.5,
        cap: float = 30.0,
        max_wait: float = 60.0,
        sleep: Sleep = time.sleep,
        rand: Callable[[], float] = random.random,
    ) -> None:
        self.attempts = attempts
        self.base = base
        self.cap = cap
        self.max_wait = max_wait
        self.sleep = sleep
        self.rand = rand

    def delay(self, attempt: int, retry_after: float | None) -> float:
        ceiling = min(self.cap, self.base * 2.0 ** (attempt - 1))
        jittered = ceiling / 2 + self.rand() * ceiling / 2  # "equal jitter": spread, never 0
        return float(max(jittered, retry_after or 0.0))


def retry_after_seconds(value: str | None, now: datetime | None = None) -> float | None:
    """``Retry-After`` as seconds: either delta-seconds or an HTTP date."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        moment = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return max(0.0, (moment - (now or datetime.now(UTC))).total_seconds())
