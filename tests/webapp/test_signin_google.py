"""Sign-in with Google (OpenID Connect, code flow with state, nonce and PKCE): every defect of
the ID token refused, only users of an account get in, sessions and ``next`` kept safe."""

from __future__ import annotations

from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
from sqlalchemy import func, select

from server.crm.models import Account, User
from server.db import Database
from server.stand_ins.google import GoogleStandIn
from tests.conftest import Tenant

from .conftest import GOOGLE_CLIENT, Browser, path_of


def _counts(database: Database) -> tuple[int, int]:
    with database.transaction() as session:
        return (
            session.scalar(select(func.count()).select_from(User)) or 0,
            session.scalar(select(func.count()).select_from(Account)) or 0,
        )


def test_the_settings_page_asks_to_sign_in_first(browser: Browser) -> None:
    response = browser.get("/settings/")
    assert response.status_code == 302
    assert response.headers["Location"].startswith("/settings/login?next=")
    page = browser.get("/settings/login").get_data(as_text=True)
    assert "Sign in with Google" in page
    assert "Sign in with Microsoft" in page


def test_the_redirect_carries_state_nonce_and_pkce(browser: Browser) -> None:
    response = browser.get("/settings/login/google")
    query = parse_qs(urlsplit(response.headers["Location"]).query)
    assert query["scope"] == ["openid email profile"]
    assert query["client_id"] == [GOOGLE_CLIENT]
    assert query["response_type"] == ["code"]
    assert query["code_challenge_method"] == ["S256"]
    assert len(query["code_challenge"][0]) >= 43
    assert query["state"][0]
    assert query["nonce"][0]
    assert query["redirect_uri"] == ["https://addon.test/settings/login/google/callback"]


def test_a_user_of_an_account_signs_in(browser: Browser, tenant: Tenant) -> None:
    response = browser.google_sign_in(tenant.user_email.upper())  # case-insensitive
    assert response.status_code == 302
    assert response.headers["Location"] == "/settings/"
    page = browser.get("/settings/").get_data(as_text=True)
    assert tenant.user_email in page
    assert "Your calendar is not connected" in page
    # The code went back with its verifier: PKCE was checked by the stand-in.
    token_call = [r for r in browser.google.oauth.requests if r.path.endswith("/token")][-1]
    assert token_call.body.get("code_verifier")


def test_the_session_cookie_is_httponly_lax_and_secure(browser: Browser, tenant: Tenant) -> None:
    response = browser.google_sign_in(tenant.user_email)
    header = next(v for v in response.headers.getlist("Set-Cookie") if v.startswith("ma_session="))
    assert "HttpOnly" in header
    assert "SameSite=Lax" in header
    assert "Secure" in header


def test_someone_without_an_account_is_refused_and_nothing_is_created(
    browser: Browser, tenant: Tenant, database: Database
) -> None:
    before = _counts(database)
    response = browser.google_sign_in("stranger@elsewhere.example")
    assert response.status_code == 403
    assert "not a user of any Meeting Assistant account" in response.get_data(as_text=True)
    assert _counts(database) == before
    assert browser.get("/settings/").status_code == 302  # still signed out


def _answer_with(google: GoogleStandIn, browser: Browser, email: str, **claims: Any) -> Any:
    """Run the flow, but the token endpoint answers with an ID token shaped by ``claims``
    (``key`` picks the signing key)."""
    start = browser.get("/settings/login/google")
    callback = google.oauth.approve(start.headers["Location"], email=email)
    nonce = parse_qs(urlsplit(start.headers["Location"]).query)["nonce"][0]
    original = google.oauth.id_token_for
    key = claims.pop("key", "default")
    base: dict[str, Any] = {"audience": GOOGLE_CLIENT, "email": email, "nonce": nonce}
    base.update(claims)

    def forged(**_kwargs: Any) -> str:
        return original(key=key, **base)

    google.oauth.id_token_for = forged  # type: ignore[method-assign]
    try:
        return browser.get(path_of(callback))
    finally:
        google.oauth.id_token_for = original  # type: ignore[method-assign]


@pytest.mark.parametrize(
    ("defect", "claims"),
    [
        ("wrong audience", {"audience": "someone-else.apps.googleusercontent.com"}),
        ("wrong issuer", {"issuer": "https://evil.example"}),
        ("expired", {"ttl": -3600}),
        ("bad signature", {"key": "rogue"}),
        ("nonce of another sign-in", {"nonce": "replayed-nonce"}),
        ("no nonce", {"nonce": None}),
        ("unverified email", {"email_verified": False}),
    ],
)
def test_each_id_token_defect_is_refused(
    browser: Browser, tenant: Tenant, google: GoogleStandIn, defect: str, claims: dict[str, Any]
) -> None:
    response = _answer_with(google, browser, tenant.user_email, **claims)
    assert response.status_code == 400, defect
    assert "Traceback" not in response.get_data(as_text=True)
    assert browser.get("/settings/").status_code == 302, defect


def test_a_replayed_callback_is_refused(browser: Browser, tenant: Tenant) -> None:
    start = browser.get("/settings/login/google")
    callback = path_of(
        browser.google.oauth.approve(start.headers["Location"], email=tenant.user_email)
    )
    assert browser.get(callback).status_code == 302
    browser.post("/settings/logout", csrf_from="/settings/")
    assert browser.get(callback).status_code == 400  # the nonce and state were used up


def test_a_forged_state_is_refused(browser: Browser, tenant: Tenant) -> None:
    start = browser.get("/settings/login/google")
    callback = browser.google.oauth.approve(start.headers["Location"], email=tenant.user_email)
    forged = callback.replace("state=", "state=x")
    assert browser.get(path_of(forged)).status_code == 400


@pytest.mark.parametrize(
    "target",
    [
        "https://evil.example/",
        "//evil.example/settings/",
        "/\\evil.example",
        "javascript:alert(1)",
        "/api/v1/contacts",
    ],
)
def test_next_goes_only_to_settings_pages(browser: Browser, tenant: Tenant, target: str) -> None:
    response = browser.google_sign_in(tenant.user_email, next_path=target)
    assert response.headers["Location"] == "/settings/"


def test_next_goes_back_to_the_page_asked_for(browser: Browser, tenant: Tenant) -> None:
    response = browser.google_sign_in(tenant.user_email, next_path="/settings/tokens")
    assert response.headers["Location"] == "/settings/tokens"


def test_sign_in_rotates_the_session_and_sign_out_clears_it(
    browser: Browser, tenant: Tenant
) -> None:
    browser.get("/settings/login/google")  # a session exists before sign-in (the pending flow)
    before = browser.cookie()
    browser.google_sign_in(tenant.user_email)
    after = browser.cookie()
    assert before is not None
    assert after is not None
    assert before.value != after.value
    response = browser.post("/settings/logout", csrf_from="/settings/")
    assert response.status_code == 303
    assert browser.get("/settings/").status_code == 302
    # The old cookie is not a way back in once the user is gone.


def test_a_removed_user_is_signed_out_at_once(
    signed_in: Browser, tenant: Tenant, database: Database
) -> None:
    with database.transaction() as session:
        user = session.get(User, tenant.user_id)
        assert user is not None
        session.delete(user)
    assert signed_in.get("/settings/").status_code == 302
