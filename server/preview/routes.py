"""``/preview/``: a local stand-in for the Gmail / Calendar sidebar host.

The page renders the add-on's card JSON; every click goes through ``POST /preview/api/invoke``,
which does what Google's host does: build the event object (``commonEventObject``,
``authorizationEventObject`` with the user's tokens, the ``calendar`` or ``gmail`` object),
sign a system ID token whose audience is the endpoint URL, and POST both to the add-on route
over HTTP. The add-on's own authentication runs unchanged.
See https://developers.google.com/workspace/add-ons/guides/alternate-runtimes
"""

from __future__ import annotations

import logging
import time
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any, cast
from urllib.parse import quote, urlsplit
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import requests
from flask import Blueprint, Flask, Response, current_app, jsonify, request, send_from_directory
from marshmallow import Schema, ValidationError, fields, validate, validates_schema

from server.addon import paths, scopes
from server.config import Settings
from server.db import utcnow
from server.errors import DomainError, Invalid
from server.web import json_body, load

from . import event_object
from .host import PreviewHost, current_host

log = logging.getLogger(__name__)

STATIC = Path(__file__).with_name("static")
HTTP_TIMEOUT = 30
_CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; connect-src 'self'; "
    "img-src 'self' data: http://127.0.0.1:*; frame-ancestors 'none'; base-uri 'none'; "
    "form-action 'none'"
)

bp = Blueprint("preview", __name__, url_prefix="/preview", static_folder=None)


class Unavailable(DomainError):
    status = 503
    code = "unavailable"


class UpstreamError(DomainError):
    status = 502
    code = "upstream"


def _valid_zone(value: str) -> bool:
    try:
        ZoneInfo(value)
    except (ZoneInfoNotFoundError, ValueError):
        return False
    return True


class _CalendarContext(Schema):
    calendarId = fields.String(load_default=None)
    eventId = fields.String(load_default=None)


class _GmailContext(Schema):
    messageId = fields.String(required=True, validate=validate.Length(min=1, max=200))
    threadId = fields.String(load_default=None)


class _StringInputs(Schema):
    value = fields.List(fields.String(validate=validate.Length(max=20_000)), required=True)


class _DateTimeInput(Schema):
    msSinceEpoch = fields.String(required=True, validate=validate.Regexp(r"^-?[0-9]{1,16}$"))
    hasDate = fields.Boolean(load_default=True)
    hasTime = fields.Boolean(load_default=True)


class _DateInput(Schema):
    msSinceEpoch = fields.String(required=True, validate=validate.Regexp(r"^-?[0-9]{1,16}$"))


class _TimeInput(Schema):
    hours = fields.Integer(required=True, validate=validate.Range(0, 23))
    minutes = fields.Integer(required=True, validate=validate.Range(0, 59))


class _FormInput(Schema):
    """One ``commonEventObject.formInputs`` value, in Google's wire shape."""

    stringInputs = fields.Nested(_StringInputs)
    dateTimeInput = fields.Nested(_DateTimeInput)
    dateInput = fields.Nested(_DateInput)
    timeInput = fields.Nested(_TimeInput)

    @validates_schema
    def _one_kind(self, data: dict[str, Any], **_: Any) -> None:
        if len(data) != 1:
            raise ValidationError(
                "exactly one of stringInputs, dateTimeInput, dateInput, timeInput"
            )


class InvokeSchema(Schema):
    """What the page asks the host to send: the endpoint, who, where, and the widget data."""

    url = fields.String(required=True, validate=validate.Length(max=2048))
    host = fields.String(required=True, validate=validate.OneOf(event_object.HOST_APPS))
    user = fields.String(required=True, validate=validate.Length(min=3, max=254))
    timeZone = fields.String(required=True, validate=_valid_zone)
    locale = fields.String(load_default="en-US", validate=validate.Length(max=35))
    scopes = fields.List(fields.String(), required=True)
    formInputs = fields.Dict(
        keys=fields.String(validate=validate.Length(max=200)),
        values=fields.Nested(_FormInput),
        load_default=dict,
    )
    parameters = fields.Dict(keys=fields.String(), values=fields.String(), load_default=dict)
    calendar = fields.Nested(_CalendarContext, load_default=None)
    gmail = fields.Nested(_GmailContext, load_default=None)


class _UserQuery(Schema):
    user = fields.String(required=True)
    timeZone = fields.String(load_default=None, validate=_valid_zone)


def _settings() -> Settings:
    return cast(Settings, current_app.config["SETTINGS"])


def _http() -> requests.Session:
    return cast(requests.Session, current_app.extensions["http"])


def _host() -> PreviewHost:
    host = current_host()
    if host is None:
        raise Unavailable("no Google stand-in is attached: run `meeting-assistant demo`")
    return host


def _known_user(host: PreviewHost, email: str) -> str:
    wanted = email.strip().lower()
    if not any(u.email.lower() == wanted for u in host.users):
        raise Invalid("not a user of the preview", {"user": email})
    return wanted


@bp.before_request
def _same_origin() -> Response | None:
    """Answer only requests addressed to this server's own origin (no DNS rebinding)."""
    expected = urlsplit(_settings().public_base_url).netloc
    if request.host != expected:
        return Response("preview is served only at " + expected, status=421)
    return None


@bp.after_request
def _headers(response: Response) -> Response:
    response.headers["Cache-Control"] = "no-store"
    response.headers["Content-Security-Policy"] = _CSP
    response.headers["X-Content-Type-Options"] = "nosniff"
    return response


@bp.get("/")
def page() -> Response:
    return send_from_directory(STATIC, "index.html")


@bp.get("/static/<path:name>")
def static(name: str) -> Response:
    return send_from_directory(STATIC, name)


@bp.get("/api/context")
def context() -> Response:
    """Who can sign in, their zone and locale, the add-on's scopes and trigger URLs."""
    settings = _settings()
    host = _host()
    base = settings.public_base_url
    return jsonify(
        {
            "users": [{"email": u.email, "name": u.name, "note": u.note} for u in host.users],
            "timeZone": host.time_zone,
            "locale": host.locale,
            "scopes": list(scopes.DESCRIPTOR_SCOPES),
            "triggers": {
                "home": paths.absolute(base, paths.HOME),
                "calendarEvent": paths.absolute(base, paths.CALENDAR_EVENT),
                "gmailMessage": paths.absolute(base, paths.GMAIL_MESSAGE),
            },
            "apiBase": base + "/api/v1",
            "apiToken": host.api_token,
        }
    )


def _calendar_api(path: str, token: str, params: dict[str, str] | None = None) -> Any:
    url = _settings().google_calendar_api_url + path
    try:
        response = _http().get(
            url,
            params=params,
            headers={"Authorization": f"Bearer {token}"},
            timeout=HTTP_TIMEOUT,
        )
    except requests.RequestException as exc:
        raise UpstreamError("the Calendar API could not be reached") from exc
    if response.status_code == 404:
        return None
    if response.status_code != 200:
        raise UpstreamError("the Calendar API answered " + str(response.status_code))
    return response.json()


def _summary(event: dict[str, Any], calendar_id: str) -> dict[str, Any]:
    start, end = event.get("start", {}), event.get("end", {})
    conference = event.get("conferenceData") or {}
    video = any(p.get("entryPointType") == "video" for p in conference.get("entryPoints", []) or [])
    return {
        "id": event.get("id"),
        "calendarId": calendar_id,
        "summary": event.get("summary") or "(No title)",
        "start": start.get("dateTime") or start.get("date"),
        "end": end.get("dateTime") or end.get("date"),
        "allDay": "date" in start,
        "recurring": bool(event.get("recurringEventId")),
        "video": video or bool(event.get("hangoutLink")),
        "organizer": (event.get("organizer") or {}).get("email"),
        "attendees": len(event.get("attendees") or []),
        "status": event.get("status", "confirmed"),
    }


@bp.get("/api/calendar")
def calendar() -> Response:
    """The user's events of today (in ``timeZone``), read like any Calendar API client."""
    host = _host()
    args = load(_UserQuery(), request.args.to_dict())
    user = _known_user(host, args["user"])
    zone = ZoneInfo(args["timeZone"] or host.time_zone)
    day = datetime.now(zone).date()
    start = datetime(day.year, day.month, day.day, tzinfo=zone)
    end = (start + timedelta(days=1, hours=2)).replace(hour=0)
    data = _calendar_api(
        "calendars/primary/events",
        host.host_access_token(user),
        {
            "timeMin": start.isoformat(),
            "timeMax": end.isoformat(),
            "singleEvents": "true",
            "orderBy": "startTime",
            "maxResults": "100",
        },
    )
    items = [i for i in (data or {}).get("items", []) if i.get("status") != "cancelled"]
    return jsonify({"results": [_summary(i, user) for i in items]})


@bp.get("/api/gmail")
def gmail() -> Response:
    host = _host()
    user = _known_user(host, load(_UserQuery(), request.args.to_dict())["user"])
    return jsonify(
        {
            "results": [
                {
                    "messageId": m.message_id,
                    "threadId": m.thread_id,
                    "from": m.sender_email,
                    "fromName": m.sender_name,
                    "subject": m.subject,
                    "snippet": m.snippet,
                    "receivedAt": m.received_at.isoformat(),
                }
                for m in host.messages(user)
            ]
        }
    )


def _addon_path(url: str) -> str:
    """The add-on route ``url`` names; only this server's add-on endpoints may be called."""
    base = _settings().public_base_url
    for path in paths.ADDON_PATHS:
        if url == paths.absolute(base, path):
            return path
    raise Invalid("not an add-on endpoint of this server", {"url": url})


def _calendar_object(host: PreviewHost, user: str, ctx: dict[str, Any]) -> dict[str, Any]:
    calendar_id = ctx.get("calendarId") or user
    event_id = ctx.get("eventId")
    if not event_id:  # a new event the user has not saved yet: no id
        return {"capabilities": {"canSeeAttendees": True, "canAddAttendees": True}}
    owner = "primary" if calendar_id.lower() == user else calendar_id
    resource = _calendar_api(
        f"calendars/{quote(owner, safe='')}/events/{quote(event_id, safe='')}",
        host.host_access_token(user),
    )
    if resource is None:
        raise Invalid("no such event in the user's calendar", {"eventId": event_id})
    return event_object.calendar_host_object(resource, calendar_id)


@bp.post("/api/invoke")
def invoke() -> tuple[Response, int]:
    """Call an add-on endpoint as Google's host does and hand back its answer."""
    if not request.is_json:  # also keeps cross-site form posts out
        raise Invalid("the body must be JSON")
    settings = _settings()
    host = _host()
    body = json_body(InvokeSchema())
    url = body["url"]
    path = _addon_path(url)
    user = _known_user(host, body["user"])
    granted = tuple(s for s in scopes.DESCRIPTOR_SCOPES if s in set(body["scopes"]))
    host_app = body["host"]
    calendar_obj = gmail_obj = None
    if host_app == "CALENDAR" and body["calendar"] is not None:
        calendar_obj = _calendar_object(host, user, body["calendar"])
    if host_app == "GMAIL" and body["gmail"] is not None:
        ctx = body["gmail"]
        token = host.gmail_access_token(user, ctx["messageId"])
        gmail_obj = event_object.gmail_host_object(ctx["messageId"], ctx["threadId"], token)
    system_token = host.id_token(audience=url, email=settings.addon_service_account_email)
    user_id_token = None
    if scopes.USERINFO_EMAIL in granted:
        user_id_token = host.id_token(audience=settings.addon_oauth_client_id, email=user)
    tokens = event_object.Tokens(
        user_oauth_token=host.user_oauth_token(user, granted),
        system_id_token=system_token,
        user_id_token=user_id_token,
        authorized_scopes=granted,
    )
    event = event_object.build_event(
        host_app=host_app,
        tokens=tokens,
        time_zone=body["timeZone"],
        locale=body["locale"],
        now=utcnow(),
        form_inputs=body["formInputs"],
        parameters=body["parameters"],
        calendar=calendar_obj,
        gmail=gmail_obj,
    )
    started = time.monotonic()
    try:
        answer = _http().post(
            url,
            json=event,
            headers={"Authorization": f"Bearer {system_token}"},
            timeout=HTTP_TIMEOUT,
        )
    except requests.RequestException as exc:
        raise UpstreamError("the add-on endpoint could not be reached") from exc
    elapsed = round((time.monotonic() - started) * 1000)
    try:
        payload: Any = answer.json()
    except ValueError:
        payload = answer.text[:2000]
    log.info("preview %s %s -> %s in %sms", host_app, path, answer.status_code, elapsed)
    shown = {"url": url, "event": event_object.elide_tokens(event)}
    result = {"status": answer.status_code, "body": payload, "elapsedMs": elapsed, "request": shown}
    return jsonify(result), 200


def register(app: Flask) -> None:
    """Serve the preview; ``create_app`` calls this only when ``settings.preview_enabled``."""
    app.register_blueprint(bp)
