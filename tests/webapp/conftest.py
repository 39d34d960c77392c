"""Settings web app fixtures: the app pointed at the Google stand-in (and the Microsoft one
when a test asks for it), a browser-like client over https, and sign-in through the stand-ins."""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import pytest
from flask import Flask
from flask.testing import FlaskClient
from werkzeug.test import TestResponse

from server.config import Settings
from server.stand_ins.google import GoogleStandIn
from tests.conftest import Tenant, pointed_at_google

GOOGLE_CLIENT = "web-client.apps.googleusercontent.com"
ORIGIN = "https://addon.test"


@pytest.fixture
def google() -> Iterator[GoogleStandIn]:
    stand_in = GoogleStandIn()
    stand_in.start()
    stand_in.calendar.allowed_push_hosts.add("addon.test")
    yield stand_in
    stand_in.stop()


@pytest.fixture
def settings(settings: Settings, google: GoogleStandIn) -> Settings:
    return pointed_at_google(settings, google, GOOGLE_CLIENT, "web-secret")


def path_of(url: str) -> str:
    parts = urlsplit(url)
    return parts.path + ("?" + parts.query if parts.query else "")


@dataclass
class Browser:
    """A person's browser on the settings app: cookies kept, https, CSRF tokens read from
    the page like a form would send them."""

    client: FlaskClient
    google: GoogleStandIn

    def get(self, path: str, **kwargs: Any) -> TestResponse:
        return self.client.get(path, base_url=ORIGIN, **kwargs)

    def post(
        self,
        path: str,
        data: dict[str, str] | None = None,
        *,
        csrf_from: str | None = None,
        **kwargs: Any,
    ) -> TestResponse:
        form = dict(data or {})
        if csrf_from is not None:
            form.setdefault("csrf_token", self.csrf(csrf_from))
        # Flask-WTF checks the Referer of https form posts (a browser sends it: same origin).
        headers = {"Referer": ORIGIN + (csrf_from or "/settings/"), **kwargs.pop("headers", {})}
        return self.client.post(path, data=form, base_url=ORIGIN, headers=headers, **kwargs)

    def csrf(self, page: str) -> str:
        html = self.get(page).get_data(as_text=True)
        found = re.search(r'name="csrf_token" value="([^"]+)"', html)
        assert found, f"no CSRF token on {page}"
        return found.group(1)

    def google_sign_in(self, email: str, next_path: str | None = None) -> TestResponse:
        query = f"?next={next_path}" if next_path else ""
        start = self.get(f"/settings/login/google{query}")
        assert start.status_code == 302, start.get_data(as_text=True)
        callback = self.google.oauth.approve(start.headers["Location"], email=email)
        return self.get(path_of(callback))

    def cookie(self, name: str = "ma_session") -> Any:
        return self.client.get_cookie(name, domain="addon.test")


@pytest.fixture
def browser(app: Flask, google: GoogleStandIn) -> Browser:
    return Browser(app.test_client(), google)


@pytest.fixture
def signed_in(browser: Browser, tenant: Tenant) -> Browser:
    """The tenant's first user (an admin), signed in with Google."""
    response = browser.google_sign_in(tenant.user_email)
    assert response.status_code == 302
    assert response.headers["Location"] == "/settings/"
    return browser
