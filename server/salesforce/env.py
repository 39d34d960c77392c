"""What a sync run of one org works with (settings, database, cipher, queue, clock, fault
hook for the crash tests) and what it reports."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from huey import Huey

from server.config import Settings
from server.crypto import TokenCipher
from server.db import Database, utcnow


def _no_fault(point: str) -> None:
    return None


@dataclass
class SyncEnv:
    settings: Settings
    database: Database
    cipher: TokenCipher
    huey: Huey | None
    now: Callable[[], datetime] = utcnow
    fault: Callable[[str], None] = _no_fault


@dataclass
class SyncResult:
    account_id: int
    status: str = "ok"  # ok | locked | inactive | paused | needs_reconnect | failed
    pages: int = 0
    records: int = 0
    actions: Counter[str] = field(default_factory=Counter)
    pushed: Counter[str] = field(default_factory=Counter)
    error: str = ""

    def as_dict(self) -> dict[str, Any]:
        return {**self.__dict__, "actions": dict(self.actions), "pushed": dict(self.pushed)}
