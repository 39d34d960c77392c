"""The signed-in pages every rep has: sign-in and sign-out, and their calendar connection
(``/settings/``: status, last and next sync, the latest sync-log entries with their rules;
connect, reconnect, disconnect (C5), sync now)."""

from __future__ import annotations

from typing import Any, cast

import requests
from flask import Blueprint, abort, current_app, flash, redirect, render_template, request, session
from werkzeug.wrappers import Response

from server.calendars import connections, oauth_routes, push, status
from server.calendars.models import DISCONNECTED
from server.calendars.provider import ProviderError
from server.calendars.providers import ConnectError
from server.config import Settings
from server.crm import accounts
from server.crypto import TokenCipher
from server.jobs import Jobs
from server.web import database, db_session

from . import auth
from .rules import describe_rule
from .signin import SignIn, SignInError

bp = Blueprint("settings", __name__, url_prefix=auth.PREFIX, template_folder="templates")
# Sign-in has a blueprint of its own: it is rate limited per client address.
signin = Blueprint("settings_signin", __name__, url_prefix=auth.PREFIX, template_folder="templates")
SYNC_LOG_ENTRIES = 25
LABELS = {"google": "Google", "microsoft": "Outlook"}


def _settings() -> Settings:
    return cast(Settings, current_app.config["SETTINGS"])


def _http() -> requests.Session:
    return cast(requests.Session, current_app.extensions["http"])


def _sign_ins() -> dict[str, SignIn]:
    return cast(dict[str, SignIn], current_app.extensions["signin"])


def _callback_uri(provider: str) -> str:
    return f"{_settings().public_base_url}{auth.PREFIX}/login/{provider}/callback"


# --- sign-in -------------------------------------------------------------------------------


@signin.get("/login")
def login() -> str:
    return render_template("settings/login.html", next=auth.safe_next(request.args.get("next")))


@signin.get("/login/<provider>")
def login_start(provider: str) -> Response:
    flow = _sign_ins().get(provider)
    if flow is None:
        abort(404, "There is no such sign-in.")
    try:
        pending = flow.begin(_settings(), _http(), _callback_uri(provider))
    except SignInError as exc:
        abort(503, str(exc))
    nxt = auth.safe_next(request.args.get("next"))
    session["oidc"] = {"provider": provider, "next": nxt, "data": pending.data}
    return redirect(pending.url)


@signin.get("/login/<provider>/callback")
def login_callback(provider: str) -> Response | tuple[str, int]:
    flow = _sign_ins().get(provider)
    pending = session.pop("oidc", None)  # one use: a replayed answer finds nothing
    if flow is None:
        abort(404, "There is no such sign-in.")
    if not isinstance(pending, dict) or pending.get("provider") != provider:
        abort(400, "This sign-in link is not valid any more. Sign in again.")
    if request.args.get("error"):
        abort(400, "The sign-in was cancelled. Sign in again when you are ready.")
    try:
        identity = flow.finish(_settings(), _http(), pending.get("data") or {}, request.args)
    except SignInError as exc:
        abort(400, str(exc))
    user = accounts.user_by_email(db_session(), identity.email)
    if user is None:
        message = (
            f"{identity.email} is not a user of any Meeting Assistant account. "
            "Ask an admin of your account to add you, then sign in again."
        )
        return render_template("settings/refused.html", message=message), 403
    auth.sign_in(user)
    return redirect(auth.safe_next(pending.get("next")))


@bp.post("/logout")
def logout() -> Response:
    auth.sign_out()
    flash("You are signed out.")
    return auth.back(auth.LOGIN)


# --- the rep's calendar --------------------------------------------------------------------


@bp.get("/")
@auth.login_required
def home() -> str:
    user = auth.user()
    row = connections.connection_for(db_session(), user)
    described: dict[str, Any] | None = None
    log: list[dict[str, Any]] = []
    if row is not None:
        described = status.describe(db_session(), [row.id])[0]
        log, _ = status.sync_log(db_session(), row.id, None, SYNC_LOG_ENTRIES)
        for entry in log:
            entry["rule_text"] = describe_rule(entry["rule"])
    connected = request.args.get("connected")
    return render_template(
        "settings/home.html",
        connection=described,
        log=log,
        labels=LABELS,
        just_connected=LABELS.get(connected or ""),
    )


@bp.get("/calendar/connect/<provider>")
@auth.login_required
def connect(provider: str) -> Response:
    settings = _settings()
    label = LABELS.get(provider, provider)
    user = auth.user()
    state = connections.sign_state(settings, user, provider, connections.BACK_TO_SETTINGS)
    try:
        return oauth_routes.consent(settings, provider, state, user.email)
    except ProviderError:
        abort(503, f"{label} calendars are not available on this server yet.")
    except ConnectError as exc:
        abort(503, str(exc))


@bp.post("/calendar/disconnect")
@auth.login_required
def disconnect() -> Response:
    session_ = db_session()
    row = connections.connection_for(session_, auth.user())
    if row is None or row.status == DISCONNECTED:
        flash("Your calendar is not connected.")
        return auth.back(auth.HOME)
    cipher = cast(TokenCipher, current_app.extensions["cipher"])
    push.disconnect(_settings(), session_, cipher, row, _http())
    flash("Your calendar is disconnected. What it logged stays in the CRM.")
    return auth.back(auth.HOME)


@bp.post("/calendar/sync")
@auth.login_required
def sync_now() -> Response:
    session_ = db_session()
    row = connections.connection_for(session_, auth.user())
    if row is None or not row.active:
        flash("Connect your calendar first.")
        return auth.back(auth.HOME)
    status.request_sync(session_, database(), cast(Jobs, current_app.extensions["jobs"]), row)
    flash("A sync is on its way. Reload this page in a moment to see what it did.")
    return auth.back(auth.HOME)
