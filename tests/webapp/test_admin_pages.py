"""Admin pages: users (add, remove, admin on/off), internal domains (R4), API tokens (created
and shown once, listed by prefix and last use, revoked at once). Non-admins get 403 on every
admin path; another account's ids change nothing; a POST without its CSRF token changes
nothing."""

from __future__ import annotations

import re
from typing import Any

import pytest
from sqlalchemy import select

from server.calendars.models import CalendarConnection
from server.crm.models import AccountDomain, ApiToken, User
from server.db import Database
from tests.conftest import Tenant

from .conftest import Browser
from .test_rep_page import connect_google

ADMIN_PAGES = [
    "/settings/users",
    "/settings/domains",
    "/settings/tokens",
    "/settings/salesforce",
    "/settings/salesforce/connect",
]
ADMIN_POSTS = [
    "/settings/users",
    "/settings/users/1/remove",
    "/settings/users/1/admin",
    "/settings/domains",
    "/settings/domains/1/remove",
    "/settings/tokens",
    "/settings/tokens/1/revoke",
]


def _user(database: Database, email: str) -> User | None:
    with database.transaction() as session:
        row = session.scalar(select(User).where(User.email_normalized == email.lower()))
        if row is not None:
            session.expunge(row)
        return row


def _add_user(browser: Browser, email: str, admin: bool = False) -> Any:
    data = {"email": email, "name": "New Rep"}
    if admin:
        data["admin"] = "on"
    return browser.post("/settings/users", data, csrf_from="/settings/users")


def test_a_non_admin_is_refused_every_admin_path(
    signed_in: Browser, tenant: Tenant, app: Any, google: Any
) -> None:
    _add_user(signed_in, "plain@acme.example")
    rep = Browser(app.test_client(), google)
    rep.google_sign_in("plain@acme.example")
    page = rep.get("/settings/").get_data(as_text=True)
    assert "API tokens" not in page  # no admin links in the navigation
    for path in ADMIN_PAGES:
        response = rep.get(path)
        assert response.status_code == 403, path
        assert "admins" in response.get_data(as_text=True)
    for path in ADMIN_POSTS:
        assert (
            rep.post(path, {"email": "x@acme.example"}, csrf_from="/settings/").status_code == 403
        )


def test_admins_add_users_who_can_then_sign_in(
    signed_in: Browser, database: Database, app: Any, google: Any
) -> None:
    response = _add_user(signed_in, "New.Rep@Acme.example", admin=True)
    assert response.status_code == 303
    row = _user(database, "new.rep@acme.example")
    assert row is not None
    assert row.is_admin
    assert "New.Rep@Acme.example" in signed_in.get("/settings/users").get_data(as_text=True)
    other = Browser(app.test_client(), google)
    assert other.google_sign_in("new.rep@acme.example").status_code == 302


@pytest.mark.parametrize("email", ["not-an-email", "", "a@b", "x" * 300 + "@acme.example"])
def test_a_bad_email_is_a_form_error_and_adds_nobody(
    signed_in: Browser, database: Database, email: str
) -> None:
    with database.transaction() as session:
        before = len(list(session.scalars(select(User.id))))
    response = _add_user(signed_in, email)
    assert response.status_code == 400
    assert 'id="form-error"' in response.get_data(as_text=True)
    with database.transaction() as session:
        assert len(list(session.scalars(select(User.id)))) == before


def test_an_existing_email_is_refused(signed_in: Browser, tenant: Tenant) -> None:
    response = _add_user(signed_in, tenant.user_email)
    assert response.status_code == 400
    assert "already exists" in response.get_data(as_text=True)


def test_removing_a_user_disconnects_their_calendar(
    signed_in: Browser, database: Database, app: Any, google: Any
) -> None:
    _add_user(signed_in, "leaver@acme.example")
    leaver = Browser(app.test_client(), google)
    leaver.google_sign_in("leaver@acme.example")
    connect_google(leaver, "leaver@acme.example")
    row = _user(database, "leaver@acme.example")
    assert row is not None
    with database.transaction() as session:
        assert session.scalar(
            select(CalendarConnection).where(CalendarConnection.user_id == row.id)
        )
    response = signed_in.post(f"/settings/users/{row.id}/remove", csrf_from="/settings/users")
    assert response.status_code == 303
    assert _user(database, "leaver@acme.example") is None
    with database.transaction() as session:
        assert session.scalars(select(CalendarConnection)).first() is None
    # The grant was revoked at Google and the removed user is signed out.
    assert any(r.path.endswith("/revoke") for r in google.oauth.requests)
    assert leaver.get("/settings/").status_code == 302


def test_admins_cannot_remove_themselves_or_the_last_admin(
    signed_in: Browser, tenant: Tenant, database: Database
) -> None:
    response = signed_in.post(
        f"/settings/users/{tenant.user_id}/remove", csrf_from="/settings/users"
    )
    assert response.status_code == 303
    assert "cannot remove yourself" in signed_in.get("/settings/users").get_data(as_text=True)
    signed_in.post(
        f"/settings/users/{tenant.user_id}/admin", {"admin": "off"}, csrf_from="/settings/users"
    )
    assert "at least one admin" in signed_in.get("/settings/users").get_data(as_text=True)
    row = _user(database, tenant.user_email)
    assert row is not None
    assert row.is_admin


def test_admin_on_and_off(signed_in: Browser, database: Database) -> None:
    _add_user(signed_in, "rep2@acme.example")
    row = _user(database, "rep2@acme.example")
    assert row is not None
    signed_in.post(f"/settings/users/{row.id}/admin", {"admin": "on"}, csrf_from="/settings/users")
    assert (_user(database, "rep2@acme.example") or row).is_admin
    signed_in.post(f"/settings/users/{row.id}/admin", {"admin": "off"}, csrf_from="/settings/users")
    assert not (_user(database, "rep2@acme.example") or row).is_admin


def test_another_accounts_ids_are_not_found_and_change_nothing(
    signed_in: Browser, make_tenant: Any, database: Database
) -> None:
    other = make_tenant("Globex", "globex.example")
    with database.transaction() as session:
        domain_id = session.scalar(
            select(AccountDomain.id).where(AccountDomain.account_id == other.account_id)
        )
        token_id = session.scalar(
            select(ApiToken.id).where(ApiToken.account_id == other.account_id)
        )
    attempts = [
        (f"/settings/users/{other.user_id}/remove", {}),
        (f"/settings/users/{other.user_id}/admin", {"admin": "off"}),
        (f"/settings/domains/{domain_id}/remove", {}),
        (f"/settings/tokens/{token_id}/revoke", {}),
        ("/settings/users/999999999/remove", {}),
        ("/settings/tokens/99999999999999999999/revoke", {}),
    ]
    for path, data in attempts:
        response = signed_in.post(path, data, csrf_from="/settings/users")
        assert response.status_code == 404, path
        assert response.mimetype == "text/html"
    assert other.call("GET", "/contacts?email=x@y.example").status_code == 200  # token alive
    assert _user(database, other.user_email) is not None
    with database.transaction() as session:
        assert session.get(AccountDomain, domain_id) is not None
    users_page = signed_in.get("/settings/users").get_data(as_text=True)
    assert other.user_email not in users_page


def test_internal_domains_are_added_and_removed(
    signed_in: Browser, tenant: Tenant, database: Database
) -> None:
    response = signed_in.post(
        "/settings/domains", {"domain": "Acme-Labs.example"}, csrf_from="/settings/domains"
    )
    assert response.status_code == 303
    page = signed_in.get("/settings/domains").get_data(as_text=True)
    assert "acme-labs.example" in page
    for bad in ["not a domain", "x", "-.example", "acme-labs.example"]:
        refused = signed_in.post(
            "/settings/domains", {"domain": bad}, csrf_from="/settings/domains"
        )
        assert refused.status_code == 400, bad
    with database.transaction() as session:
        row_id = session.scalar(
            select(AccountDomain.id).where(AccountDomain.domain == "acme-labs.example")
        )
    signed_in.post(f"/settings/domains/{row_id}/remove", csrf_from="/settings/domains")
    assert "acme-labs.example" not in signed_in.get("/settings/domains").get_data(as_text=True)


def test_an_api_token_is_shown_once_listed_by_prefix_and_revoked_at_once(
    signed_in: Browser, tenant: Tenant, app: Any
) -> None:
    response = signed_in.post(
        "/settings/tokens", {"name": "reporting"}, csrf_from="/settings/tokens"
    )
    assert response.status_code == 200
    token = re.search(
        r'id="new-token" readonly size="50" value="([^"]+)"', response.get_data(as_text=True)
    )
    assert token is not None
    secret = token.group(1)
    api = app.test_client()
    auth = {"Authorization": f"Bearer {secret}"}
    assert api.get("/api/v1/contacts?email=a@b.example", headers=auth).status_code == 200
    listing = signed_in.get("/settings/tokens").get_data(as_text=True)
    assert secret not in listing  # shown once
    assert secret[:10] in listing
    assert "reporting" in listing
    row = re.search(rf'data-token-id="(\d+)">\s*<td><code>{re.escape(secret[:10])}', listing)
    assert row is not None
    last_used = listing.split(secret[:10])[1][:400]
    assert "never" not in last_used  # its use shows
    revoked = signed_in.post(
        f"/settings/tokens/{row.group(1)}/revoke", csrf_from="/settings/tokens"
    )
    assert revoked.status_code == 303
    assert api.get("/api/v1/contacts?email=a@b.example", headers=auth).status_code == 401
    assert "Revoked" in signed_in.get("/settings/tokens").get_data(as_text=True)
    assert tenant.call("GET", "/contacts?email=a@b.example").status_code == 200  # others live


@pytest.mark.parametrize("token", [None, "", "forged-token"])
def test_a_post_without_a_good_csrf_token_changes_nothing(
    signed_in: Browser, database: Database, token: str | None
) -> None:
    data = {"email": "sneaky@acme.example"}
    if token is not None:
        data["csrf_token"] = token
    response = signed_in.post("/settings/users", data)
    assert response.status_code == 400
    assert "expired or did not come from this site" in response.get_data(as_text=True)
    assert _user(database, "sneaky@acme.example") is None


def test_a_post_from_another_site_is_refused(signed_in: Browser, database: Database) -> None:
    data = {"email": "sneaky@acme.example", "csrf_token": signed_in.csrf("/settings/users")}
    response = signed_in.post("/settings/users", data, headers={"Referer": "https://evil.example/"})
    assert response.status_code == 400
    assert _user(database, "sneaky@acme.example") is None


def test_the_salesforce_section_has_its_connect_link(signed_in: Browser) -> None:
    page = signed_in.get("/settings/salesforce").get_data(as_text=True)
    assert 'href="/settings/salesforce/connect"' in page


@pytest.mark.parametrize(
    ("path", "field", "size"),
    [
        ("/settings/users", "name", 201),
        ("/settings/domains", "domain", 260),
        ("/settings/tokens", "name", 101),
    ],
)
def test_oversize_fields_are_refused_not_cut(
    signed_in: Browser, database: Database, path: str, field: str, size: int
) -> None:
    data = {field: "a" * size}
    if path == "/settings/users":
        data["email"] = "long.name@acme.example"
    response = signed_in.post(path, data, csrf_from=path)
    assert response.status_code == 400
    assert _user(database, "long.name@acme.example") is None
