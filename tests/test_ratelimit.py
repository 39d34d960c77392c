"""Rate limits on sign-in, the OAuth callbacks and the webhooks: a flood from one address is
refused with 429 in the error shape (a page under /settings/), other addresses go on."""

from __future__ import annotations

from flask import Flask


def test_sign_in_is_rate_limited_per_address(app: Flask) -> None:
    client = app.test_client()
    statuses = [
        client.get("/settings/login", environ_base={"REMOTE_ADDR": "10.0.0.1"}).status_code
        for _ in range(31)
    ]
    assert statuses[:30] == [200] * 30
    assert statuses[30] == 429
    refused = client.get("/settings/login", environ_base={"REMOTE_ADDR": "10.0.0.1"})
    assert refused.mimetype == "text/html"
    assert "Retry-After" in refused.headers
    other = client.get("/settings/login", environ_base={"REMOTE_ADDR": "10.0.0.2"})
    assert other.status_code == 200


def test_oauth_callbacks_are_rate_limited(app: Flask) -> None:
    client = app.test_client()
    statuses = [
        client.get(
            "/oauth/google/callback?state=x", environ_base={"REMOTE_ADDR": "10.0.0.3"}
        ).status_code
        for _ in range(31)
    ]
    assert statuses[-1] == 429
    assert set(statuses[:30]) == {400}


def test_the_api_is_not_limited_by_address(app: Flask) -> None:
    client = app.test_client()
    statuses = {
        client.get("/api/v1/contacts", environ_base={"REMOTE_ADDR": "10.0.0.4"}).status_code
        for _ in range(40)
    }
    assert statuses == {401}
