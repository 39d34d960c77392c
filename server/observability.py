"""What an operator sees: a request id on every request (``X-Request-Id`` in and out), one log
line per event — JSON with ``LOG_FORMAT=json`` (the default in production) — carrying the
request id, account, connection, job and duration when known, and, with ``METRICS_ENABLED``,
``GET /metrics`` in the Prometheus text format.

Log lines carry ids, counts, statuses and paths (never a query string, a header, a body): no
token, note or email text reaches a log. Metrics that are state (sync lag, queue depth, sync
outcomes by rule over the last hour) are read from the database and the queue when scraped,
so every web process answers the same; request counters are per process, or shared across
gunicorn workers when ``PROMETHEUS_MULTIPROC_DIR`` names a folder (prometheus-client's
multiprocess mode).
"""

from __future__ import annotations

import json
import logging
import os
import re
import time
import uuid
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

from flask import Flask, Response, g, has_request_context, request
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Histogram,
    generate_latest,
    multiprocess,
)
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector
from sqlalchemy import func, select

from server import logcontext
from server.calendars.models import ACTIVE, CalendarConnection
from server.calendars.tables import CalendarSyncLogEntry, CalendarSyncState
from server.config import Settings
from server.db import Database, utcnow
from server.jobs import Jobs

log = logging.getLogger("server.access")
REQUEST_ID = re.compile(r"^[A-Za-z0-9._-]{1,64}$")
FIELDS = ("request_id", "account_id", "connection_id", "job", "duration_ms")


class ContextFilter(logging.Filter):
    """Adds the request's and the job's ids to every record."""

    def filter(self, record: logging.LogRecord) -> bool:
        if has_request_context():
            record.request_id = g.get("request_id")
            account = g.get("account")
            if account is not None and not hasattr(record, "account_id"):
                record.account_id = getattr(account, "id", None)
        for key, value in (logcontext.fields.get() or {}).items():
            if not hasattr(record, key):
                setattr(record, key, value)
        return True


class JsonFormatter(logging.Formatter):
    """One JSON object a line: time, level, logger, message and the known fields."""

    def format(self, record: logging.LogRecord) -> str:
        line: dict[str, Any] = {
            "ts": self.formatTime(record, "%Y-%m-%dT%H:%M:%S") + f".{int(record.msecs):03d}Z",
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
        }
        for key in FIELDS:
            value = getattr(record, key, None)
            if value is not None:
                line[key] = value
        for key, value in record.__dict__.items():
            if key not in line and key not in _STANDARD and not key.startswith("_"):
                line[key] = value if isinstance(value, int | float | bool) else str(value)
        if record.exc_info:
            line["exception"] = self.formatException(record.exc_info)
        return json.dumps(line, default=str)


_STANDARD = set(logging.LogRecord("", 0, "", 0, "", (), None).__dict__) | {"message", "asctime"}
_STANDARD |= set(FIELDS)


def configure_logging(settings: Settings) -> None:
    """Once per process: the root handler's format and the context filter."""
    root = logging.getLogger()
    if getattr(root, "_meeting_assistant", None) == settings.log_format:
        return
    handler = logging.StreamHandler()
    if settings.log_format == "json":
        handler.setFormatter(JsonFormatter())
        logging.Formatter.converter = time.gmtime
    else:
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s %(message)s"))
    handler.addFilter(ContextFilter())
    for old in list(root.handlers):  # ours from before, or Python's default; not a test's
        if getattr(old, "_meeting_assistant", False) or type(old) is logging.StreamHandler:
            root.removeHandler(old)
    handler._meeting_assistant = True  # type: ignore[attr-defined]
    root.addHandler(handler)
    root.setLevel(logging.INFO)
    root._meeting_assistant = settings.log_format  # type: ignore[attr-defined]


def install(app: Flask, settings: Settings, database: Database, jobs: Jobs) -> None:
    configure_logging(settings)
    registry, requests_total, latency = _http_metrics()

    @app.before_request
    def _start() -> None:
        given = request.headers.get("X-Request-Id", "")
        g.request_id = given if REQUEST_ID.match(given) else uuid.uuid4().hex
        g.started = time.perf_counter()

    @app.after_request
    def _finish(response: Response) -> Response:
        elapsed = time.perf_counter() - g.get("started", time.perf_counter())
        response.headers["X-Request-Id"] = g.get("request_id", "")
        endpoint = request.url_rule.rule if request.url_rule is not None else "unmatched"
        requests_total.labels(request.method, endpoint, str(response.status_code)).inc()
        latency.labels(endpoint).observe(elapsed)
        log.info(
            "%s %s %s",
            request.method,
            request.path,
            response.status_code,
            extra={"status": response.status_code, "duration_ms": round(elapsed * 1000, 1)},
        )
        return response

    if not settings.metrics_enabled:
        return
    state = StateCollector(database, jobs)

    @app.get("/metrics")
    def metrics() -> Response:
        if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
            scrape = CollectorRegistry()
            multiprocess.MultiProcessCollector(scrape)  # type: ignore[no-untyped-call]
        else:
            scrape = registry
        body = generate_latest(scrape) + generate_latest(state.registry)
        return Response(body, mimetype=CONTENT_TYPE_LATEST)


def _http_metrics() -> tuple[CollectorRegistry, Counter, Histogram]:
    registry = CollectorRegistry()
    requests_total = Counter(
        "http_requests", "Requests answered, by method, route and status",
        ["method", "route", "status"], registry=registry,
    )  # fmt: skip
    latency = Histogram(
        "http_request_duration_seconds", "Time to answer, by route", ["route"], registry=registry
    )
    return registry, requests_total, latency


class StateCollector(Collector):
    """Read at scrape time: sync lag, connections overdue, queue depth, sync outcomes by rule
    over the last hour."""

    def __init__(self, database: Database, jobs: Jobs) -> None:
        self.database = database
        self.jobs = jobs
        self.registry = CollectorRegistry()
        self.registry.register(self)

    def collect(self) -> Iterator[GaugeMetricFamily]:
        now = utcnow()
        with self.database.transaction() as session:
            oldest, overdue, active = session.execute(
                select(
                    func.min(CalendarSyncState.last_synced_at),
                    func.count().filter(
                        CalendarSyncState.next_sync_at < now - timedelta(minutes=5)
                    ),
                    func.count(),
                )
                .join(CalendarConnection, CalendarConnection.id == CalendarSyncState.connection_id)
                .where(CalendarConnection.status == ACTIVE)
            ).one()
            outcomes = session.execute(
                select(CalendarSyncLogEntry.rule, CalendarSyncLogEntry.action, func.count())
                .where(CalendarSyncLogEntry.created_at >= now - timedelta(hours=1))
                .group_by(CalendarSyncLogEntry.rule, CalendarSyncLogEntry.action)
            ).all()
        lag = GaugeMetricFamily(
            "calendar_sync_lag_seconds", "Seconds since the least recently synced active calendar"
        )
        lag.add_metric([], (now - oldest).total_seconds() if oldest else 0.0)
        yield lag
        yield GaugeMetricFamily(
            "calendar_connections_active", "Active calendar connections", value=active
        )
        yield GaugeMetricFamily(
            "calendar_syncs_overdue", "Active calendars more than 5 minutes past due", value=overdue
        )
        rules = GaugeMetricFamily(
            "calendar_sync_outcomes_last_hour",
            "What the sync did with events in the last hour, by rule and action",
            labels=["rule", "action"],
        )
        for rule, action, count in outcomes:
            rules.add_metric([rule or "-", action], count)
        yield rules
        depth = GaugeMetricFamily("queue_depth", "Tasks waiting in the queue")
        try:
            depth.add_metric([], float(self.jobs.huey.pending_count()))
        except Exception:  # the queue not answering is what readyz reports
            depth.add_metric([], float("nan"))
        yield depth
