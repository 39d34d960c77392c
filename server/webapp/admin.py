"""Account admin pages (admins only; everyone else gets 403): users, internal domains, API
tokens, and the Salesforce page. Every id in a form is looked up within the admin's own
account, so a tampered id is a 404 and changes nothing."""

from __future__ import annotations

from typing import cast

import requests
from flask import Blueprint, current_app, flash, render_template, request
from werkzeug.wrappers import Response

from server.calendars import connections, push
from server.calendars.models import DISCONNECTED
from server.config import Settings
from server.crm import accounts
from server.crypto import TokenCipher
from server.errors import DomainError
from server.web import db_session

from . import auth

bp = Blueprint("settings_admin", __name__, url_prefix=auth.PREFIX, template_folder="templates")
USERS, DOMAINS, TOKENS = (auth.PREFIX + p for p in ("/users", "/domains", "/tokens"))


def _field(name: str, limit: int = 254) -> str:
    """A form field, cut one past ``limit`` so that an oversize value is refused, not cut."""
    return (request.form.get(name) or "").strip()[: limit + 1]


def _form_id(name: str) -> int:
    raw = request.form.get(name, "")
    return int(raw) if raw.isascii() and raw.isdigit() and len(raw) < 12 else 0


# --- users ---------------------------------------------------------------------------------


@bp.get("/users")
@auth.admin_required
def users() -> str:
    account = auth.user().account
    rows = accounts.users(db_session(), account)
    return render_template("settings/users.html", users=rows, me=auth.user())


@bp.post("/users")
@auth.admin_required
def add_user() -> Response | tuple[str, int]:
    account = auth.user().account
    email = _field("email")
    try:
        row = accounts.add_user(
            db_session(), account, email, _field("name", 200), admin=bool(request.form.get("admin"))
        )
    except DomainError as exc:
        rows = accounts.users(db_session(), account)
        return _form_error("settings/users.html", exc, users=rows, me=auth.user())
    flash(f"{row.email} can now sign in and connect their calendar.")
    return auth.back(USERS)


@bp.post("/users/<int:user_id>/remove")
@auth.admin_required
def remove_user(user_id: int) -> Response | tuple[str, int]:
    me = auth.user()
    session = db_session()
    row = accounts.account_user(session, me.account, user_id)
    if row.id == me.id:
        return _error(USERS, "You cannot remove yourself; ask another admin.")
    connection = connections.connection_for(session, row)
    if connection is not None and connection.status != DISCONNECTED:
        cipher = cast(TokenCipher, current_app.extensions["cipher"])
        http = cast(requests.Session, current_app.extensions["http"])
        push.disconnect(
            cast(Settings, current_app.config["SETTINGS"]), session, cipher, connection, http
        )
    try:
        accounts.remove_user(session, me.account, row)
    except DomainError as exc:
        return _error(USERS, exc.message)
    flash(f"{row.email} is removed; their calendar is disconnected, what they logged stays.")
    return auth.back(USERS)


@bp.post("/users/<int:user_id>/admin")
@auth.admin_required
def set_admin(user_id: int) -> Response:
    me = auth.user()
    row = accounts.account_user(db_session(), me.account, user_id)
    admin = request.form.get("admin") == "on"
    try:
        accounts.set_admin(db_session(), me.account, row, admin)
    except DomainError as exc:
        return _error(USERS, exc.message)
    flash(f"{row.email} is {'now an admin' if admin else 'no longer an admin'}.")
    return auth.back(USERS)


# --- internal domains ----------------------------------------------------------------------


@bp.get("/domains")
@auth.admin_required
def domains() -> str:
    rows = accounts.domains(db_session(), auth.user().account)
    return render_template("settings/domains.html", domains=rows)


@bp.post("/domains")
@auth.admin_required
def add_domain() -> Response | tuple[str, int]:
    account = auth.user().account
    try:
        row = accounts.add_domain(db_session(), account, _field("domain", 300))
    except DomainError as exc:
        rows = accounts.domains(db_session(), account)
        return _form_error("settings/domains.html", exc, domains=rows)
    flash(f"People at {row.domain} count as internal from the next sync on (R4).")
    return auth.back(DOMAINS)


@bp.post("/domains/<int:domain_id>/remove")
@auth.admin_required
def remove_domain(domain_id: int) -> Response:
    accounts.remove_domain(db_session(), auth.user().account, domain_id)
    flash("The domain is removed; its people count as outside guests from the next sync on.")
    return auth.back(DOMAINS)


# --- API tokens ----------------------------------------------------------------------------


@bp.get("/tokens")
@auth.admin_required
def tokens() -> str:
    return _tokens_page()


def _tokens_page(new_token: str | None = None) -> str:
    rows = accounts.api_tokens(db_session(), auth.user().account)
    return render_template("settings/tokens.html", tokens=rows, new_token=new_token)


@bp.post("/tokens")
@auth.admin_required
def create_token() -> str | tuple[str, int]:
    try:
        token = accounts.issue_api_token(db_session(), auth.user().account, _field("name", 101))
    except DomainError as exc:
        rows = accounts.api_tokens(db_session(), auth.user().account)
        return _form_error("settings/tokens.html", exc, tokens=rows, new_token=None)
    return _tokens_page(new_token=token)  # shown once: only its hash is kept


@bp.post("/tokens/<int:token_id>/revoke")
@auth.admin_required
def revoke_token(token_id: int) -> Response:
    row = accounts.revoke_api_token(db_session(), auth.user().account, token_id)
    flash(f"The token {row.prefix}… is revoked; requests with it are refused from now on.")
    return auth.back(TOKENS)


# --- helpers -------------------------------------------------------------------------------


def _form_error(template: str, error: DomainError, **context: object) -> tuple[str, int]:
    """The form's page again, with what was wrong; nothing was changed."""
    return render_template(template, error=error.message, form=request.form, **context), 400


def _error(page: str, message: str) -> Response:
    flash(message, "error")
    return auth.back(page)
