"""The add-on's HTTP endpoints: the three triggers and the card actions of :mod:`.paths`.

Every request goes through the same gate, in this order, before its handler runs:

1. the Google-signed bearer token, verified with the audience ``PUBLIC_BASE_URL`` + the route's
   own fixed path (never the incoming URL); any failure answers 401 and nothing else runs;
2. the event object, parsed into one typed value (400 when malformed);
3. the scopes the route needs, against ``authorizedScopes`` (``requesting_google_scopes``);
4. the rep, from the verified ``userIdToken``, matched to a CRM user by email (an unknown rep
   gets a card that says so and shows no data);
5. the rep's calendar connection: none (or disconnected) gets the A1 connect card.

See https://developers.google.com/workspace/add-ons/guides/alternate-runtimes. Only redacted
event data ever reaches a log: no tokens, no note text.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any, cast

import requests
from flask import Blueprint, Flask, Response, current_app, jsonify, request

from server.calendars import connections
from server.calendars.models import DISCONNECTED
from server.config import Settings
from server.crm import accounts
from server.crypto import TokenCipher
from server.db import utcnow
from server.errors import DomainError, Invalid, Unauthorized
from server.web import db_session

from . import cards, responses, scopes
from .auth import AddonAuthenticator, AddonAuthError, missing_scopes, redact_event, scope_request
from .calendar_api import GoogleApiError
from .events import EventError, parse_event
from .gmail_handlers import HANDLERS
from .handlers import Call, Kind
from .responses import Json
from .service import Refused
from .views import RenderContext

log = logging.getLogger(__name__)

EXTENSION = "addon"
bp = Blueprint("addon", __name__)


@dataclass
class AddonRuntime:
    """Per-app state of the add-on: the token verifier (it caches Google's certificates) and
    the clock that decides what "today" is."""

    authenticator: AddonAuthenticator
    clock: Callable[[], datetime] = utcnow


def register(app: Flask) -> None:
    """Serve the add-on endpoints; ``create_app`` calls this."""
    settings = cast(Settings, app.config["SETTINGS"])
    app.extensions[EXTENSION] = AddonRuntime(AddonAuthenticator(settings))
    app.register_blueprint(bp)


def loggable(payload: Any) -> Any:
    """The event object as it may be logged: without tokens and without form input values
    (a note's text travels in ``formInputs``)."""
    if not isinstance(payload, Mapping):
        return None
    clean = redact_event(payload)
    common = clean.get("commonEventObject")
    if isinstance(common, dict) and isinstance(common.get("formInputs"), dict):
        common["formInputs"] = {name: "[redacted]" for name in common["formInputs"]}
    return clean


def _payload() -> Any:
    try:
        return request.get_json(silent=True)
    except RecursionError:  # nested deeper than the parser goes
        return None


def _card_answer(kind: Kind, card: Json) -> Json:
    """``card`` outside the handler's own flow: the root of a trigger, or a fresh stack."""
    return responses.trigger_response(card) if kind == "trigger" else responses.pop_to_root(card)


def _error_answer(kind: Kind, card: Json) -> Json:
    return responses.trigger_response(card) if kind == "trigger" else responses.push_card(card)


def _run(call: Call, path: str) -> Json:
    """The handler, with its failures turned into cards (and its writes undone)."""
    _, handler = HANDLERS[path]
    try:
        return handler(call)
    except Refused as exc:
        call.session.rollback()
        log.info("addon: action refused", extra={"path": path, "why": str(exc)})
        card = cards.error_card(call.ctx, str(exc), title="Not found")
    except GoogleApiError as exc:
        call.session.rollback()
        log.warning("addon: Google API failed", extra={"path": path, "error": str(exc)})
        if exc.needs_scope:
            return scope_request(scopes.NEEDED_SCOPES[path])
        message = (
            "Google didn't accept this request. Close the add-on and open it again."
            if exc.status == 401
            else "Google Calendar didn't answer in time. Try again in a moment."
        )
        card = cards.error_card(call.ctx, message)
    except DomainError as exc:
        call.session.rollback()
        log.info("addon: action failed", extra={"path": path, "error": exc.code})
        card = cards.error_card(call.ctx, exc.message)
    except Exception:
        call.session.rollback()
        log.exception("addon: handler crashed on %s", path)
        card = cards.error_card(call.ctx, "Something went wrong on our side. Try again.")
    return _error_answer(call.kind, card)


def _serve(path: str) -> Json:
    kind, _ = HANDLERS[path]
    runtime = cast(AddonRuntime, current_app.extensions[EXTENSION])
    settings = cast(Settings, current_app.config["SETTINGS"])
    authn = runtime.authenticator
    try:
        rep = authn.verify_caller(request.headers.get("Authorization"), path)
    except AddonAuthError as exc:
        log.warning("addon: request refused", extra={"path": path, "reason": exc.reason})
        raise Unauthorized(str(exc), {"reason": exc.reason}) from None
    payload = _payload()
    try:
        event = parse_event(payload)
    except EventError as exc:
        raise Invalid(str(exc)) from None
    if log.isEnabledFor(logging.DEBUG):
        log.debug("addon: %s event %s", path, json.dumps(loggable(payload), default=str))
    needed = scopes.NEEDED_SCOPES[path]
    if missing_scopes(event.authorized_scopes, needed):
        return scope_request(needed)
    if rep is None:
        try:
            rep = authn.verify_user(event.user_id_token)
        except AddonAuthError as exc:
            log.warning("addon: rep refused", extra={"path": path, "reason": exc.reason})
            raise Unauthorized(str(exc), {"reason": exc.reason}) from None
    session = db_session()
    user = accounts.user_by_email(session, rep.email)
    ctx = RenderContext.create(settings.public_base_url, event.tz, event.locale)
    if user is None:
        return _card_answer(kind, cards.unknown_rep_card(ctx, rep.email))
    connection = connections.connection_for(session, user)
    if connection is None or connection.status == DISCONNECTED:
        return _card_answer(
            kind, cards.connect_card(ctx, connections.start_url(settings, user, "google"))
        )
    call = Call(
        settings=settings,
        path=path,
        kind=kind,
        event=event,
        session=session,
        user=user,
        connection=connection,
        now=runtime.clock(),
        cipher=cast(TokenCipher, current_app.extensions["cipher"]),
        http=cast(requests.Session, current_app.extensions["http"]),
    )
    return _run(call, path)


def _endpoint(path: str) -> Callable[[], Response]:
    def view() -> Response:
        started = time.monotonic()
        body = _serve(path)
        elapsed = round((time.monotonic() - started) * 1000)
        log.info("addon: %s answered in %sms", path, elapsed)
        return jsonify(body)

    return view


for _path in HANDLERS:
    bp.add_url_rule(
        _path,
        endpoint=_path.strip("/").replace("/", "_"),
        view_func=_endpoint(_path),
        methods=["POST"],
    )
