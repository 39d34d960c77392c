"""Calendar v3 routes under ``/calendar/v3/``, plus the pages an event's links open."""

from __future__ import annotations

import base64
import html
from collections.abc import Callable
from typing import Any

from flask import Blueprint, Response, request

from .api import guarded, json_body
from .calendar import CalendarState
from .common import ApiError, json_response
from .oauth import AccessToken, OAuthState, norm_email

PREFIX = "/calendar/v3"
READ = {
    "calendar",
    "calendar.readonly",
    "calendar.events",
    "calendar.events.readonly",
    "calendar.events.owned",
    "calendar.events.owned.readonly",
    "calendar.app.created",
}
WRITE = {"calendar", "calendar.events", "calendar.events.owned", "calendar.app.created"}
CALENDAR_LIST = {
    "calendar",
    "calendar.readonly",
    "calendar.calendarlist",
    "calendar.calendarlist.readonly",
}
CALENDARS = {"calendar", "calendar.readonly", "calendar.calendars", "calendar.calendars.readonly"}
SEND_UPDATES = {"all", "externalOnly", "none"}


def _owner(access: AccessToken, calendar_id: str) -> str:
    """``primary`` or the user's own email; other calendars are not visible to them."""
    if calendar_id == "primary" or norm_email(calendar_id) == access.user:
        return access.user
    raise ApiError(404, "notFound", "Not Found")


def _write_options() -> tuple[int, str | None]:
    send_updates = request.args.get("sendUpdates")
    if send_updates is not None and send_updates not in SEND_UPDATES:
        raise ApiError(400, "invalid", "Invalid value for: sendUpdates")
    try:
        version = int(request.args.get("conferenceDataVersion", "0"))
    except ValueError:
        raise ApiError(400, "invalid", "Invalid value for: conferenceDataVersion") from None
    return version, send_updates


def calendar_blueprint(state: CalendarState, oauth: OAuthState) -> Blueprint:
    bp = Blueprint("google_calendar", __name__)

    def api(scopes: set[str]) -> Callable[[Callable[..., Response]], Callable[..., Response]]:
        return guarded(state.recorder, oauth, scopes)

    @bp.get(f"{PREFIX}/users/me/calendarList")
    @api(CALENDAR_LIST)
    def calendar_list(access: AccessToken) -> Response:
        entry = state.calendar_resource(access.user, list_entry=True)
        body = {
            "kind": "calendar#calendarList",
            "etag": entry["etag"],
            "nextSyncToken": "calendar-list-" + entry["etag"].strip('"'),
            "items": [entry],
        }
        return json_response(body)

    @bp.get(f"{PREFIX}/users/me/calendarList/<calendar_id>")
    @api(CALENDAR_LIST)
    def calendar_list_entry(access: AccessToken, calendar_id: str) -> Response:
        owner = _owner(access, calendar_id)
        return json_response(state.calendar_resource(owner, list_entry=True))

    @bp.get(f"{PREFIX}/calendars/<calendar_id>")
    @api(CALENDARS)
    def calendar(access: AccessToken, calendar_id: str) -> Response:
        owner = _owner(access, calendar_id)
        return json_response(state.calendar_resource(owner, list_entry=False))

    @bp.get(f"{PREFIX}/calendars/<calendar_id>/events")
    @api(READ)
    def list_events(access: AccessToken, calendar_id: str) -> Response:
        owner = _owner(access, calendar_id)
        return json_response(state.list_events(owner, request.args.to_dict(flat=True)))

    @bp.post(f"{PREFIX}/calendars/<calendar_id>/events")
    @api(WRITE)
    def insert_event(access: AccessToken, calendar_id: str) -> Response:
        owner = _owner(access, calendar_id)
        version, _ = _write_options()
        return json_response(state.insert(owner, json_body(), conference_version=version))

    @bp.get(f"{PREFIX}/calendars/<calendar_id>/events/<event_id>")
    @api(READ)
    def get_event(access: AccessToken, calendar_id: str, event_id: str) -> Response:
        return json_response(state.get(_owner(access, calendar_id), event_id))

    @bp.route(f"{PREFIX}/calendars/<calendar_id>/events/<event_id>", methods=["PATCH", "PUT"])
    @api(WRITE)
    def update_event(access: AccessToken, calendar_id: str, event_id: str) -> Response:
        owner = _owner(access, calendar_id)
        version, _ = _write_options()
        replace = request.method == "PUT"
        body = state.update(
            owner, event_id, json_body(), replace=replace, conference_version=version
        )
        return json_response(body)

    @bp.delete(f"{PREFIX}/calendars/<calendar_id>/events/<event_id>")
    @api(WRITE)
    def delete_event(access: AccessToken, calendar_id: str, event_id: str) -> Response:
        _write_options()
        state.delete(_owner(access, calendar_id), event_id)
        return Response(status=204)

    @bp.post(f"{PREFIX}/calendars/<calendar_id>/events/watch")
    @api(READ)
    def watch(access: AccessToken, calendar_id: str) -> Response:
        owner = _owner(access, calendar_id)
        return json_response(state.watch(owner, calendar_id, json_body()))

    @bp.post(f"{PREFIX}/channels/stop")
    @api(READ | CALENDAR_LIST)
    def stop_channel(access: AccessToken) -> Response:
        state.stop_channel(json_body())
        return Response(status=204)

    @bp.get("/calendar/event")
    def event_page() -> Response:
        """What an event's ``htmlLink`` opens: a plain page with the event's details."""
        eid = request.args.get("eid", "")
        try:
            decoded = base64.urlsafe_b64decode(eid + "=" * (-len(eid) % 4)).decode("utf-8")
        except ValueError:
            decoded = ""
        event_id, _, owner = decoded.partition(" ")
        event = state.get_event(owner, event_id) if event_id and owner else None
        if event is None:
            return Response("Event not found", status=404, mimetype="text/plain")
        shown: dict[str, Any] = {
            k: event[k] for k in ("status", "location", "description") if k in event
        }
        for key in ("start", "end"):
            shown[key] = event[key].get("dateTime") or event[key].get("date") or ""
        shown["attendees"] = ", ".join(a["email"] for a in event.get("attendees", []))
        if "hangoutLink" in event:
            shown["video"] = event["hangoutLink"]
        rows = "".join(
            f"<tr><th>{html.escape(k)}</th><td>{html.escape(str(v))}</td></tr>"
            for k, v in shown.items()
        )
        page = (
            '<!doctype html><html lang="en"><head><meta charset="utf-8">'
            f"<title>{html.escape(str(event.get('summary', 'Event')))}</title></head><body>"
            f"<h1>{html.escape(str(event.get('summary', '(No title)')))}</h1>"
            f"<table>{rows}</table></body></html>"
        )
        return Response(page, mimetype="text/html; charset=utf-8")

    @bp.get("/meet/<code>")
    def meet_page(code: str) -> Response:
        """Where the stand-in's video links lead."""
        page = (
            '<!doctype html><html lang="en"><head><meta charset="utf-8">'
            f"<title>Meet - {html.escape(code)}</title></head><body>"
            f"<h1>Video call {html.escape(code)}</h1><p>Local stand-in for Google Meet.</p>"
            "</body></html>"
        )
        return Response(page, mimetype="text/html; charset=utf-8")

    return bp
