"""The Apps Script deployment (opt-in, ``ADDON_APPS_SCRIPT_CLIENT_ID``): the forwarder's bearer
token is the rep's own Google-signed ID token with the script's OAuth client as audience."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from flask import Flask

from server.addon import paths
from server.app import create_app
from server.config import Settings

from ..cardcheck import check_response
from .conftest import Rep
from .sidebar import BASE_URL, CLIENT_ID, only_card

SCRIPT_CLIENT = "555-apps-script.apps.googleusercontent.com"


@pytest.fixture
def script_app(settings: Settings) -> Iterator[Flask]:
    app = create_app(settings.with_overrides(addon_apps_script_client_id=SCRIPT_CLIENT))
    yield app
    app.extensions["database"].dispose()


def _answer(response: Any) -> dict[str, Any]:
    assert response.status_code == 200, response.get_data(as_text=True)
    answer: dict[str, Any] = response.get_json()
    check_response(answer, BASE_URL, "trigger")
    return answer


def _forwarded(rep: Rep) -> dict[str, Any]:
    """What Code.gs posts: the event with the rep's token and no granular-consent fields."""
    body = rep.side.event(user_id_token=None)
    del body["authorizationEventObject"]["authorizedScopes"]
    return body


def _post(app: Flask, rep: Rep, path: str = paths.HOME, **claims: Any) -> Any:
    values: dict[str, Any] = {"audience": SCRIPT_CLIENT, "email": rep.email}
    values.update(claims)
    token = rep.side.google.id_token_for(**values)
    body = _forwarded(rep)
    return app.test_client().post(path, json=body, headers={"Authorization": f"Bearer {token}"})


def test_apps_script_token_names_the_rep(script_app: Flask, connected: Rep) -> None:
    assert only_card(_answer(_post(script_app, connected)))["name"] == "home"


def test_apps_script_is_refused_unless_configured(app: Flask, connected: Rep) -> None:
    response = _post(app, connected)
    assert response.status_code == 401
    assert response.get_json()["error"]["details"]["reason"] == "audience"


@pytest.mark.parametrize(
    ("claims", "status"),
    [
        ({"audience": "another-script.apps.googleusercontent.com"}, 401),
        ({"key": "rogue"}, 401),
        ({"ttl": -3600}, 401),
        ({"email_verified": False}, 401),
        ({"issuer": "https://evil.example.com"}, 401),
    ],
)
def test_forged_apps_script_tokens_are_refused(
    script_app: Flask, connected: Rep, claims: dict[str, Any], status: int
) -> None:
    assert _post(script_app, connected, **claims).status_code == status


def test_the_rep_is_the_bearer_not_the_events_user_token(
    script_app: Flask, connected: Rep, make_rep: Any
) -> None:
    other: Rep = make_rep("globex.example")
    token = connected.side.google.id_token_for(audience=SCRIPT_CLIENT, email=other.email)
    body = _forwarded(connected)
    body["authorizationEventObject"]["userIdToken"] = connected.side.google.id_token_for(
        audience=CLIENT_ID, email=connected.email
    )
    response = script_app.test_client().post(
        paths.HOME, json=body, headers={"Authorization": f"Bearer {token}"}
    )
    assert only_card(_answer(response))["name"] == "connect"  # Globex's rep: not connected


def test_the_http_deployment_still_works_when_apps_script_is_on(
    script_app: Flask, connected: Rep
) -> None:
    body = connected.side.event()
    token = connected.side.system_token(paths.HOME)
    response = script_app.test_client().post(
        paths.HOME, json=body, headers={"Authorization": f"Bearer {token}"}
    )
    assert only_card(_answer(response))["name"] == "home"


def test_the_add_on_client_id_is_never_an_apps_script_audience(
    settings: Settings, connected: Rep
) -> None:
    """Otherwise any rep's userIdToken would pass as a bearer token."""
    app = create_app(settings.with_overrides(addon_apps_script_client_id=CLIENT_ID))
    try:
        assert _post(app, connected, audience=CLIENT_ID).status_code == 401
    finally:
        app.extensions["database"].dispose()


def test_setting_is_read_from_the_environment(tmp_path: Path) -> None:
    env = {"ADDON_APPS_SCRIPT_CLIENT_ID": SCRIPT_CLIENT, "SECRET_KEY": "k"}
    assert (
        Settings.from_env(env, instance_path=tmp_path).addon_apps_script_client_id == SCRIPT_CLIENT
    )
    assert (
        Settings.from_env({"SECRET_KEY": "k"}, instance_path=tmp_path).addon_apps_script_client_id
        == ""
    )
