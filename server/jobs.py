"""The task queue (Huey) and the periodic jobs.

SQLite-backed by default, Redis when ``QUEUE_URL`` is ``redis://``. Each feature registers its
own tasks and periodic jobs from its own package (``create_app`` calls it); this module knows
none of them. The worker runs periodic jobs on their schedule; ``sync run`` runs each once
now, through its ``run_now`` when it has one (work that is not due yet included).
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from huey import Huey, RedisHuey, SqliteHuey, crontab

from server import logcontext
from server.config import Settings
from server.crypto import TokenCipher
from server.db import Database, utcnow

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class JobContext:
    """What a job needs: settings, the database, and the queue to enqueue follow-up work."""

    settings: Settings
    database: Database
    jobs: Jobs


def no_fault(point: str) -> None:
    return None


@dataclass
class RunEnv:
    """What a sync run works with (a calendar connection's, a Salesforce org's): built from
    the app's wiring, or by tests with their clock and a ``fault`` hook called at each step
    (``"fetched"``, ``"applied"``, ...), which raises to play a crash there."""

    settings: Settings
    database: Database
    cipher: TokenCipher
    huey: Huey | None
    now: Callable[[], datetime] = utcnow
    fault: Callable[[str], None] = no_fault


JobResult = dict[str, Any]
PeriodicJob = Callable[[JobContext], JobResult]


@dataclass(frozen=True)
class Periodic:
    name: str
    run: PeriodicJob  # what the schedule runs: the work that is due
    every_minutes: int = 1
    run_now: PeriodicJob | None = None  # ``sync run``: everything, due or not


def make_huey(settings: Settings, name: str = "meeting-assistant") -> Huey:
    url = settings.queue_url
    if url.startswith(("redis://", "rediss://")):
        return RedisHuey(name, url=url, utc=True)
    if url.startswith("sqlite:///"):
        path = url[len("sqlite:///") :]
        if not path.startswith("/"):
            path = str(settings.instance_path / path)
        return SqliteHuey(name, filename=path, utc=True)
    raise ValueError("QUEUE_URL must be sqlite:///path or redis://host:port/db")


@dataclass
class Jobs:
    """The queue and the tasks registered on it, built once per app (nothing at import time)."""

    settings: Settings
    database: Database
    periodic: list[Periodic] = field(default_factory=list)
    huey: Huey = field(init=False)
    tasks: dict[str, Any] = field(init=False, default_factory=dict)

    def __post_init__(self) -> None:
        # Set when the worker is asked to stop (SIGTERM): long tasks end after the unit of
        # work they are in (a sync after its page) and leave the rest to another worker.
        self.stopping = threading.Event()
        self.huey = make_huey(self.settings)
        self.context = JobContext(self.settings, self.database, self)

        def run_periodic(name: str) -> JobResult:
            return self.run_one(name)

        self.tasks["run_periodic"] = self.huey.task(name="run_periodic")(run_periodic)

    def task(self, name: str, **options: Any) -> Callable[[Callable[..., Any]], Any]:
        """Register ``fn`` as a queue task named ``name``; it receives the context first."""

        def register(fn: Callable[..., Any]) -> Any:
            def call(*args: Any, **kwargs: Any) -> Any:
                connection = args[0] if args and isinstance(args[0], int) else None
                with logcontext.bound(job=name, connection_id=connection):
                    return fn(self.context, *args, **kwargs)

            call.__name__ = name
            wrapped = self.huey.task(name=name, **options)(call)
            self.tasks[name] = wrapped
            return wrapped

        return register

    def register_periodic(self, job: Periodic) -> None:
        self.periodic.append(job)
        minutes = f"*/{job.every_minutes}" if job.every_minutes > 1 else "*"

        def scheduled() -> JobResult:
            return self.run_one(job.name)

        scheduled.__name__ = f"periodic_{job.name}"
        self.huey.periodic_task(crontab(minute=minutes), name=f"periodic_{job.name}")(scheduled)

    def run_one(self, name: str, *, now: bool = False) -> JobResult:
        """Run the periodic job ``name`` in the foreground; ``now`` uses its ``run_now``."""
        job = next((j for j in self.periodic if j.name == name), None)
        if job is None:
            raise KeyError(f"no periodic job named {name!r}")
        started = time.monotonic()
        with logcontext.bound(job=name):
            result = (job.run_now if now and job.run_now else job.run)(self.context)
            elapsed = time.monotonic() - started
            log.info("job %s done in %.3fs", name, elapsed, extra={"duration_ms": elapsed * 1000})
        return result

    def run_all_once(self, *, now: bool = False) -> dict[str, JobResult]:
        """Run every registered periodic job once, in the foreground (``sync run``)."""
        return {job.name: self.run_one(job.name, now=now) for job in self.periodic}

    def consumer(self, workers: int = 2) -> Any:
        # An idle SQLite consumer polls at most a second apart (Huey's default backs off to
        # ten), so a push notification reaches the timeline promptly; Redis blocks instead.
        return self.huey.create_consumer(
            workers=workers, worker_type="thread", periodic=True, max_delay=1.0
        )
