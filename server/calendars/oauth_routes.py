"""``/oauth/<provider>/start`` and ``/oauth/<provider>/callback``: the pages a connect button
opens (the add-on's overlay, A1; when the overlay closes, the add-on reloads its card), and
where the settings app's connect links come back to (then the rep lands on ``/settings/``).

Connecting one provider replaces the rep's connection with the other (C3): the old one's push
subscriptions are stopped and its grant revoked first; what it logged stays.
"""

from __future__ import annotations

import json
from html import escape
from typing import Any, cast

import requests
from flask import Blueprint, Flask, current_app, redirect, request
from werkzeug.wrappers import Response

from server.calendars import connections, providers, push
from server.calendars import tasks as calendar_tasks
from server.calendars.provider import ProviderError
from server.calendars.providers import ConnectError
from server.config import Settings
from server.crm.models import User
from server.crypto import TokenCipher
from server.errors import Invalid
from server.web import db_session

bp = Blueprint("calendar_oauth", __name__)
SETTINGS_HOME = "/settings/"
PENDING_COOKIE = "ma_oauth_flow"


def _settings() -> Settings:
    return cast(Settings, current_app.config["SETTINGS"])


def _page(title: str, message: str, status: int = 200) -> Response:
    t, m = escape(title), escape(message)
    state = request.args.get("state", "")
    if connections.back_of(_settings(), state) == connections.BACK_TO_SETTINGS:
        after = f"<p><a href='{SETTINGS_HOME}'>Back to your settings</a></p>"
    else:
        after = "<p>You can close this window.</p>"
    html = (
        f"<!doctype html><html><head><meta charset='utf-8'><title>{t}</title>"
        "<meta name='viewport' content='width=device-width'></head>"
        "<body style='font-family:sans-serif;max-width:32rem;margin:3rem auto'>"
        f"<h1>{t}</h1><p>{m}</p>{after}</body></html>"
    )
    return Response(html, status=status, mimetype="text/html")


@bp.get(connections.start_path("<provider>"))
def start(provider: str) -> Response:
    settings = _settings()
    state = request.args.get("state", "")
    try:
        data = connections.read_state(settings, state, provider)
        user = db_session().get(User, data["u"])
        if user is None or user.email_normalized != data.get("e"):
            raise ConnectError("this connect link is not valid")
        return consent(settings, provider, state, user.email)
    except ProviderError:
        return _page("Calendar not connected", "This calendar provider is not available.", 404)
    except ConnectError as exc:
        return _page("Calendar not connected", str(exc), 400)


@bp.get(connections.callback_path("<provider>"))
def callback(provider: str) -> Response:
    settings = _settings()
    if request.args.get("error"):
        return _page("Calendar not connected", "Access was not granted.", 400)
    try:
        oauth = providers.get(provider).oauth
        data = connections.read_state(settings, request.args.get("state", ""), provider)
        session = db_session()
        user = session.get(User, data["u"])
        if user is None or user.email_normalized != data.get("e"):
            raise ConnectError("this connect link is not valid")
        http = cast(requests.Session, current_app.extensions["http"])
        cipher = cast(TokenCipher, current_app.extensions["cipher"])
        grant = oauth.finish(settings, request.args.to_dict(), _pending(cipher, provider), http)
        connections.check_grant(user, grant)  # before anything of the old one is let go
        current = connections.connection_for(session, user)
        if current is not None and current.provider != provider and current.refresh_token_encrypted:
            push.disconnect(settings, session, cipher, current, http)
        connection = connections.connect(session, cipher, user, grant, provider=provider)
        calendar_tasks.start_after_commit(session, current_app.extensions["jobs"], connection.id)
    except ProviderError:
        return _page("Calendar not connected", "This calendar provider is not available.", 404)
    except ConnectError as exc:
        return _page("Calendar not connected", str(exc), 400)
    except Invalid as exc:
        return _page("Calendar not connected", exc.message, 400)
    if data.get("b") == connections.BACK_TO_SETTINGS:
        done = redirect(f"{SETTINGS_HOME}?connected={provider}")
    else:
        done = _page(
            "Calendar connected", f"Meeting Assistant now syncs the calendar of {user.email}."
        )
    done.delete_cookie(PENDING_COOKIE, path=_cookie_path(provider))
    return done


def consent(settings: Settings, provider: str, state: str, login_hint: str) -> Response:
    """The redirect to the provider's consent page; what the flow keeps for its callback (the
    PKCE verifier, the nonce) rides along encrypted in a cookie only the callback path
    receives, for as long as the state is valid. Raises ``ConnectError``/``ProviderError``."""
    url, pending = providers.get(provider).oauth.begin(settings, state, login_hint)
    response = redirect(url)
    if pending:
        cipher = cast(TokenCipher, current_app.extensions["cipher"])
        response.set_cookie(
            PENDING_COOKIE,
            cipher.encrypt(json.dumps(pending)),
            max_age=connections.STATE_MAX_AGE,
            path=_cookie_path(provider),
            secure=settings.public_base_url.startswith("https://"),
            httponly=True,
            samesite="Lax",
        )
    return response


def _cookie_path(provider: str) -> str:
    return connections.callback_path(provider)


def _pending(cipher: TokenCipher, provider: str) -> dict[str, Any]:
    stored = request.cookies.get(PENDING_COOKIE, "")
    if not stored:
        return {}
    try:
        pending = json.loads(cipher.decrypt(stored))
    except ValueError:  # tampered, or encrypted with a key no longer configured
        return {}
    return pending if isinstance(pending, dict) else {}


def register(app: Flask) -> None:
    app.register_blueprint(bp)
