"""What a sync run of one org works with (settings, database, cipher, queue, clock, fault
hook for the crash tests) and what it reports."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from server.jobs import RunEnv


class SyncEnv(RunEnv):
    """What an org's sync run works with (:class:`~server.jobs.RunEnv`)."""


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
