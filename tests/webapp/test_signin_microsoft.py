"""Sign-in with Microsoft: msal runs the code flow (state, nonce, PKCE) against the local
identity stand-in over https; the ID token is verified against the authority's published keys,
issuer, audience, nonce, expiry and a verified email; only users of an account get in."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest

from server.config import Settings
from server.stand_ins.microsoft import MicrosoftStandIn
from tests.conftest import Tenant

from .conftest import Browser, path_of

CLIENT_ID = "6731de76-14a6-49ae-97bc-6eba6914391e"
SECRET = "ms-web-secret"


@pytest.fixture
def microsoft(monkeypatch: pytest.MonkeyPatch) -> Iterator[MicrosoftStandIn]:
    stand_in = MicrosoftStandIn()
    stand_in.start()
    stand_in.identity.register_app(
        CLIENT_ID, SECRET, ["https://addon.test/settings/login/microsoft/callback"]
    )
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", stand_in.ca_bundle_path)
    yield stand_in
    stand_in.stop()


@pytest.fixture
def settings(settings: Settings, microsoft: MicrosoftStandIn) -> Settings:
    return settings.with_overrides(
        microsoft_client_id=CLIENT_ID,
        microsoft_client_secret=SECRET,
        microsoft_authority=microsoft.authority,
    )


def _sign_in(browser: Browser, microsoft: MicrosoftStandIn, email: str, nxt: str = "") -> Any:
    start = browser.get("/settings/login/microsoft" + (f"?next={nxt}" if nxt else ""))
    assert start.status_code == 302, start.get_data(as_text=True)
    callback = microsoft.identity.approve(start.headers["Location"], email=email)
    return browser.get(path_of(callback))


def test_the_redirect_carries_state_nonce_pkce_and_the_scopes(
    browser: Browser, microsoft: MicrosoftStandIn
) -> None:
    location = browser.get("/settings/login/microsoft").headers["Location"]
    assert location.startswith(microsoft.http_origin + "/common/oauth2/v2.0/authorize?")
    query = parse_qs(urlsplit(location).query)
    assert set(query["scope"][0].split()) >= {"openid", "email", "profile"}
    assert query["code_challenge_method"] == ["S256"]
    assert query["state"][0]
    assert query["nonce"][0]
    assert query["redirect_uri"] == ["https://addon.test/settings/login/microsoft/callback"]


def test_a_user_of_an_account_signs_in_with_microsoft(
    browser: Browser, tenant: Tenant, microsoft: MicrosoftStandIn
) -> None:
    response = _sign_in(browser, microsoft, tenant.user_email, "/settings/domains")
    assert response.status_code == 302
    assert response.headers["Location"] == "/settings/domains"
    assert tenant.user_email in browser.get("/settings/").get_data(as_text=True)


def test_someone_without_an_account_is_refused(
    browser: Browser, tenant: Tenant, microsoft: MicrosoftStandIn
) -> None:
    response = _sign_in(browser, microsoft, "outsider@contoso.example")
    assert response.status_code == 403
    assert browser.get("/settings/").status_code == 302


@pytest.mark.parametrize(
    ("defect", "change"),
    [
        ("wrong audience", lambda c: {**c, "aud": "00000000-0000-0000-0000-000000000000"}),
        ("wrong issuer", lambda c: {**c, "iss": "https://login.evil.example/x/v2.0"}),
        ("expired", lambda c: {**c, "exp": c["iat"] - 3600, "nbf": c["iat"] - 7200}),
        ("nonce of another sign-in", lambda c: {**c, "nonce": "0" * 64}),
        ("unverified email", lambda c: {k: v for k, v in c.items() if k != "xms_edov"}),
        ("no email", lambda c: {k: v for k, v in c.items() if k != "email"}),
    ],
)
def test_each_id_token_defect_is_refused(
    browser: Browser, tenant: Tenant, microsoft: MicrosoftStandIn, defect: str, change: Any
) -> None:
    microsoft.identity.claims_hook = change
    response = _sign_in(browser, microsoft, tenant.user_email)
    assert response.status_code == 400, defect
    assert browser.get("/settings/").status_code == 302, defect


def test_a_token_signed_with_an_unpublished_key_is_refused(
    browser: Browser, tenant: Tenant, microsoft: MicrosoftStandIn
) -> None:
    microsoft.identity.sign_with = "rogue"
    assert _sign_in(browser, microsoft, tenant.user_email).status_code == 400


def test_a_replayed_callback_is_refused(
    browser: Browser, tenant: Tenant, microsoft: MicrosoftStandIn
) -> None:
    start = browser.get("/settings/login/microsoft")
    callback = path_of(
        microsoft.identity.approve(start.headers["Location"], email=tenant.user_email)
    )
    assert browser.get(callback).status_code == 302
    browser.post("/settings/logout", csrf_from="/settings/")
    assert browser.get(callback).status_code == 400


def test_a_code_with_the_wrong_verifier_is_refused(
    browser: Browser, tenant: Tenant, microsoft: MicrosoftStandIn
) -> None:
    start = browser.get("/settings/login/microsoft")
    callback = microsoft.identity.approve(start.headers["Location"], email=tenant.user_email)
    # Another sign-in starts in between: its pending flow (state, verifier) replaces the first.
    browser.get("/settings/login/microsoft")
    assert browser.get(path_of(callback)).status_code == 400
