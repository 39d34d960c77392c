"""Request ids, one-line JSON logs with the request's and job's fields and never a token or a
body, and /metrics (off unless METRICS_ENABLED) with sync lag, queue depth, sync outcomes by
rule and answers by status."""

from __future__ import annotations

import json
import logging

import pytest
from flask import Flask

from server.app import create_app
from server.config import Settings
from server.observability import ContextFilter, JsonFormatter
from tests.conftest import Tenant


def test_every_answer_carries_a_request_id(client: object, tenant: Tenant) -> None:
    response = tenant.call("GET", "/contacts?email=a@b.example")
    assert len(response.headers["X-Request-Id"]) == 32
    given = tenant.call("GET", "/contacts?email=a@b.example", headers={"X-Request-Id": "abc-123"})
    assert given.headers["X-Request-Id"] == "abc-123"
    forged = tenant.call("GET", "/contacts", headers={"X-Request-Id": "a b;c<script>"})
    assert forged.headers["X-Request-Id"] != "a b;c<script>"


def test_json_lines_carry_the_request_fields_and_no_secrets(
    tenant: Tenant, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.handler.addFilter(ContextFilter())
    caplog.handler.setFormatter(JsonFormatter())
    with caplog.at_level(logging.INFO):
        tenant.call(
            "POST",
            "/contacts?token=query-secret",
            json={"email": "ada@client.example", "first_name": "Body-Secret"},
            headers={"X-Request-Id": "req-1"},
        )
    lines = [json.loads(line) for line in caplog.text.splitlines() if line.startswith("{")]
    access = [line for line in lines if line["logger"] == "server.access"]
    assert access, caplog.text
    line = access[-1]
    assert line["request_id"] == "req-1"
    assert line["account_id"] == tenant.account_id
    assert line["status"] == 201
    assert "duration_ms" in line
    for secret in (tenant.token, "query-secret", "Body-Secret", "ada@client.example"):
        assert secret not in caplog.text


def test_metrics_are_off_by_default(client: object, app: Flask) -> None:
    assert app.test_client().get("/metrics").status_code == 404


def test_metrics_when_enabled(settings: Settings, tenant: Tenant) -> None:
    app = create_app(settings.with_overrides(metrics_enabled=True))
    try:
        client = app.test_client()
        client.get("/api/v1/contacts")  # a 401
        body = client.get("/metrics").get_data(as_text=True)
    finally:
        app.extensions["database"].dispose()
    assert 'http_requests_total{method="GET",route="/api/v1/contacts",status="401"} 1.0' in body
    for name in (
        "calendar_sync_lag_seconds",
        "calendar_sync_outcomes_last_hour",
        "queue_depth",
        "calendar_syncs_overdue",
    ):
        assert name in body
