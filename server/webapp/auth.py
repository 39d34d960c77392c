"""Who is signed in to the settings app: a server-signed session cookie (Flask's, keyed by
``SECRET_KEY``; HttpOnly, SameSite=Lax, Secure under https), cleared and written afresh at
sign-in, cleared at sign-out. The user is read from the database on every request, so a
removed user is signed out at once and a demoted admin loses the admin pages at once.
"""

from __future__ import annotations

import secrets
from collections.abc import Callable
from datetime import timedelta
from functools import wraps
from typing import Any, TypeVar, cast
from urllib.parse import urlencode, urlsplit

from flask import Flask, abort, g, redirect, request, session
from werkzeug.wrappers import Response

from server.config import Settings
from server.crm.models import User
from server.web import db_session

F = TypeVar("F", bound=Callable[..., Any])

PREFIX = "/settings"
HOME = PREFIX + "/"
LOGIN = PREFIX + "/login"
SESSION_LIFETIME = timedelta(hours=8)
COOKIE_NAME = "ma_session"


def configure(app: Flask, settings: Settings) -> None:
    app.config.update(
        SESSION_COOKIE_NAME=COOKIE_NAME,
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Lax",
        SESSION_COOKIE_SECURE=settings.public_base_url.startswith("https://"),
        PERMANENT_SESSION_LIFETIME=SESSION_LIFETIME,
    )


def sign_in(user: User) -> None:
    """A new session for ``user``: nothing of the one before survives (no fixation)."""
    session.clear()
    session.permanent = True
    session["uid"] = user.id
    session["email"] = user.email_normalized
    session["sid"] = secrets.token_urlsafe(16)


def sign_out() -> None:
    session.clear()


def current_user() -> User | None:
    if "web_user" in g:
        return cast(User | None, g.web_user)
    user = None
    uid = session.get("uid")
    if isinstance(uid, int):
        found = db_session().get(User, uid)
        if found is not None and found.email_normalized == session.get("email"):
            user = found
    g.web_user = user
    return user


def safe_next(value: str | None) -> str:
    """Only a path of this app's settings pages; anything else (another origin, ``//host``,
    a scheme, backslashes) is the home page."""
    if not value or "\\" in value or any(ord(c) < 32 for c in value):
        return HOME
    parts = urlsplit(value)
    if parts.scheme or parts.netloc or not parts.path.startswith(HOME) or value.startswith("//"):
        return HOME
    return value


def login_required(view: F) -> F:
    @wraps(view)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        if current_user() is None:
            target = request.full_path if request.method == "GET" else HOME
            return redirect(f"{LOGIN}?{urlencode({'next': target.rstrip('?')})}")
        return view(*args, **kwargs)

    return cast(F, wrapper)


def admin_required(view: F) -> F:
    @login_required
    @wraps(view)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        user = current_user()
        if user is None or not user.is_admin:
            abort(403, "This page is for the account's admins. Ask an admin of your account.")
        return view(*args, **kwargs)

    return cast(F, wrapper)


def user() -> User:
    found = current_user()
    assert found is not None, "behind login_required"
    return found


def back(to: str) -> Response:
    """After a form: see the page again (303, so a reload does not post twice)."""
    return redirect(to, code=303)
