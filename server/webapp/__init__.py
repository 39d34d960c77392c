"""The settings web app under ``/settings/``: sign-in with Google or Microsoft, the rep's
calendar connection, and the account admin pages. Server-rendered (Jinja2), forms that work
without JavaScript, a CSRF token on every POST (Flask-WTF), security headers on every page,
errors as pages that say what to do."""

from __future__ import annotations

from datetime import UTC, datetime

from flask import Blueprint, Flask, Response, render_template, request
from flask_wtf.csrf import CSRFError, CSRFProtect

from server.config import Settings
from server.web import error_pages

from . import admin, auth, salesforce, signin, views

# No inline script or style anywhere; nothing may frame the pages; forms post only here.
CONTENT_SECURITY_POLICY = (
    "default-src 'none'; style-src 'self'; img-src 'self'; form-action 'self'; "
    "frame-ancestors 'none'; base-uri 'none'"
)
HEADERS = {
    "Content-Security-Policy": CONTENT_SECURITY_POLICY,
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "same-origin",
    "Cache-Control": "no-store",
}

csrf = CSRFProtect()


def install(app: Flask, settings: Settings) -> None:
    auth.configure(app, settings)
    app.extensions["signin"] = signin.providers()
    # CSRF is checked for the settings pages only (the API, the add-on and the webhooks
    # authenticate each request by a token, not a cookie).
    app.config.update(WTF_CSRF_CHECK_DEFAULT=False, WTF_CSRF_TIME_LIMIT=None)
    csrf.init_app(app)
    static = Blueprint(
        "settings_static",
        __name__,
        static_folder="static",
        static_url_path=auth.PREFIX + "/static",
    )
    app.before_request(_check_csrf)
    app.register_blueprint(views.signin)
    app.register_blueprint(views.bp)
    app.register_blueprint(admin.bp)
    app.register_blueprint(salesforce.bp)
    app.register_blueprint(static)
    app.after_request(_headers)
    app.add_template_global(auth.current_user, "current_settings_user")
    app.add_template_filter(_when, "when")
    error_pages(app, auth.PREFIX, _error_page)

    @app.errorhandler(CSRFError)
    def _csrf(_error: CSRFError) -> tuple[str, int]:
        message = (
            "This form has expired or did not come from this site. Reload the page and try again."
        )
        return render_template("settings/error.html", status=400, message=message), 400


def _when(value: datetime | None, default: str = "") -> str:
    """An instant as the page shows it: UTC, to the minute."""
    if value is None:
        return default
    return value.astimezone(UTC).strftime("%Y-%m-%d %H:%M UTC")


def _check_csrf() -> None:
    if request.method == "POST" and request.path.startswith(auth.PREFIX):
        csrf.protect()


def _headers(response: Response) -> Response:
    if request.path.startswith(auth.PREFIX):
        for name, value in HEADERS.items():
            response.headers.setdefault(name, value)
    return response


def _error_page(status: int, message: str) -> Response:
    html = render_template("settings/error.html", status=status, message=message)
    return Response(html, status=status, mimetype="text/html")
