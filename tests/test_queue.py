"""Huey tasks through a real consumer on both queue backends, and the periodic jobs."""

from __future__ import annotations

import socket
import threading
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from huey.exceptions import TaskException
from sqlalchemy import func, select

from server.config import Settings
from server.crm import services
from server.crm.models import Company
from server.db import Database
from server.jobs import JobContext, Jobs, Periodic
from tests.conftest import TEST_QUEUE_URL
from tests.workers import running

# The suite's Redis database in the Redis run, else one the SQLite run has to itself.
REDIS_URL = TEST_QUEUE_URL if TEST_QUEUE_URL.startswith("redis") else "redis://127.0.0.1:6379/14"


def redis_answers() -> bool:
    try:
        with socket.create_connection(("127.0.0.1", 6379), timeout=0.5):
            return True
    except OSError:
        return False


@pytest.fixture(params=["sqlite", "redis"])
def jobs(
    request: pytest.FixtureRequest, settings: Settings, database: Database, tmp_path: Path
) -> Iterator[Jobs]:
    """A fresh ``Jobs`` on the SQLite queue or on Redis (skipped when Redis does not answer)."""
    if request.param == "redis":
        if not redis_answers():
            pytest.skip("Redis does not answer on 127.0.0.1:6379")
        url = REDIS_URL
    else:
        url = f"sqlite:///{tmp_path / 'tasks.db'}"
    queue = Jobs(settings.with_overrides(queue_url=url), database)
    queue.huey.flush()
    yield queue
    queue.huey.flush()
    close(queue)


def close(queue: Jobs) -> None:
    storage: Any = queue.huey.storage
    pool = getattr(getattr(storage, "conn", None), "connection_pool", None)
    if pool is not None:  # Redis: huey made the pool, so it is ours to disconnect
        pool.disconnect()
    storage.close()


@pytest.fixture
def consumer(jobs: Jobs) -> Iterator[Any]:
    """A running consumer with thread workers and its scheduler, stopped gracefully afterwards."""
    worker = jobs.consumer(workers=2)
    with running(worker):
        yield worker
    threads = [thread for _, thread in worker.worker_threads] + [worker.scheduler]
    assert not any(thread.is_alive() for thread in threads)


def test_task_runs_on_a_real_consumer(
    jobs: Jobs, consumer: Any, database: Database, tenant: Any
) -> None:
    seen: list[str] = []

    @jobs.task("add_company")
    def add_company(context: JobContext, account_id: int, name: str) -> dict[str, Any]:
        seen.append(threading.current_thread().name)
        with context.database.transaction() as session:
            row = services.create_record(session, account_id, "company", name)
            return {"id": row.id, "queue": context.settings.queue_url.split(":")[0]}

    @jobs.task("fail", retries=0)
    def fail(context: JobContext) -> None:
        raise RuntimeError("boom")

    results = [add_company(tenant.account_id, f"Queued {i}") for i in range(3)]
    values = [r.get(blocking=True, timeout=30) for r in results]

    assert {v["queue"] for v in values} == {jobs.settings.queue_url.split(":")[0]}
    assert len({v["id"] for v in values}) == 3
    assert len(seen) == 3
    assert threading.main_thread().name not in seen
    with database.transaction() as session:
        names = session.scalars(select(Company.name).where(Company.account_id == tenant.account_id))
        assert sorted(names) == ["Queued 0", "Queued 1", "Queued 2"]

    failed = fail()
    with pytest.raises(TaskException, match="boom"):
        failed.get(blocking=True, timeout=30)


def test_run_all_once_runs_registered_periodic_jobs(
    jobs: Jobs, database: Database, tenant: Any
) -> None:
    calls: list[str] = []

    def count_companies(context: JobContext) -> dict[str, Any]:
        calls.append("count")
        with context.database.transaction() as session:
            return {"companies": session.scalar(select(func.count()).select_from(Company))}

    def add_one(context: JobContext) -> dict[str, Any]:
        calls.append("add")
        with context.database.transaction() as session:
            services.create_record(
                session, tenant.account_id, "company", f"Periodic {uuid.uuid4().hex[:6]}"
            )
        return {"added": 1}

    already = set(jobs.run_all_once())
    jobs.register_periodic(Periodic("test_add_one", add_one, every_minutes=5))
    jobs.register_periodic(Periodic("test_count", count_companies))

    results = jobs.run_all_once()
    assert results["test_add_one"] == {"added": 1}
    assert results["test_count"] == {"companies": 1}
    assert set(results) == already | {"test_add_one", "test_count"}
    assert calls == ["add", "count"]

    assert jobs.run_one("test_count") == {"companies": 1}
    with pytest.raises(KeyError):
        jobs.run_one("no_such_job")


def test_periodic_job_runs_through_the_queue(jobs: Jobs, consumer: Any) -> None:
    """The worker runs periodic jobs by name through the ``run_periodic`` task."""
    jobs.register_periodic(Periodic("test_ping", lambda context: {"pong": context.settings.env}))
    result = jobs.tasks["run_periodic"]("test_ping")
    assert result.get(blocking=True, timeout=30) == {"pong": "development"}
