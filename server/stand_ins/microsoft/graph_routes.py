"""Microsoft Graph v1.0 calendar routes under ``/v1.0``, in Graph's wire format.

Every route is authenticated with a bearer access token from the identity stand-in; errors
are ``{"error": {"code", "message", "innerError"}}`` (https://learn.microsoft.com/en-us/graph/
errors) and every answer carries ``request-id`` and ``client-request-id``. ``Prefer:
outlook.timezone`` and ``Prefer: odata.maxpagesize`` are honoured and named in
``Preference-Applied`` (https://learn.microsoft.com/en-us/graph/api/user-list-events and
https://learn.microsoft.com/en-us/graph/paging).
"""

from __future__ import annotations

import functools
import json
import re
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from flask import Blueprint, Response, request

from .graph import Fault, GraphRequest, GraphState
from .graph_events import GraphError, JsonDict, StoredEvent, parse_instant, render, zone
from .identity import Grant, IdentityState, object_id

PREFIX = "/v1.0"
READ = frozenset({"calendars.read", "calendars.readwrite", ".default"})
WRITE = frozenset({"calendars.readwrite", ".default"})
JSON_TYPE = (
    "application/json;odata.metadata=minimal;odata.streaming=true;"
    "IEEE754Compatible=false;charset=utf-8"
)
RECORDED_HEADERS = ("Prefer", "client-request-id", "Content-Type", "If-Match", "User-Agent")
DEFAULT_PAGE, MAX_PAGE = 10, 1000
FAULT_CODES = {429: "TooManyRequests", 503: "ServiceNotAvailable", 504: "GatewayTimeout"}
FAULT_MESSAGES = {
    429: "Application is over its MailboxConcurrency limit.",
    503: "The service is currently unavailable. Please try again later.",
    504: "The gateway did not receive a timely response.",
}
_PREFERENCE = re.compile(r'([A-Za-z][\w.-]*)\s*=\s*("[^"]*"|[^,;\s]*)')
Handler = Callable[..., Response]


@dataclass
class Call:
    """One authenticated request: who, and the preferences it asked for."""

    grant: Grant
    mailbox: str
    prefer: dict[str, str]
    applied: list[str] = field(default_factory=list)

    def time_zone(self) -> tuple[ZoneInfo, str]:
        """The zone ``Prefer: outlook.timezone`` names (Windows or IANA), default UTC."""
        asked = self.prefer.get("outlook.timezone")
        if asked:
            try:
                found = zone(asked)[0], asked
            except GraphError:
                return zone("UTC")
            self.applied.append(f'outlook.timezone="{asked}"')
            return found
        return zone("UTC")

    def page_size(self) -> int:
        try:
            size = int(self.prefer.get("odata.maxpagesize", ""))
        except ValueError:
            return DEFAULT_PAGE
        if not 1 <= size <= MAX_PAGE:
            return DEFAULT_PAGE
        self.applied.append(f"odata.maxpagesize={size}")
        return size


def preferences() -> dict[str, str]:
    """``Prefer`` values, comma-separated or in repeated headers, names lower-cased."""
    found: dict[str, str] = {}
    for header in request.headers.getlist("Prefer"):
        for name, value in _PREFERENCE.findall(header):
            found[name.lower()] = value.strip('"')
    return found


def respond(body: Any, status: int = 200) -> Response:
    return Response(json.dumps(body), status=status, content_type=JSON_TYPE)


def error_response(error: GraphError, now: datetime, request_id: str, client_id: str) -> Response:
    inner = {
        "date": now.strftime("%Y-%m-%dT%H:%M:%S"),
        "request-id": request_id,
        "client-request-id": client_id,
    }
    body = {"error": {"code": error.code, "message": error.message, "innerError": inner}}
    response = respond(body, error.status)
    response.headers.update(error.headers)
    return response


def json_body() -> JsonDict:
    if not request.data:
        return {}
    try:
        body = json.loads(request.data)
    except ValueError:
        body = None
    if not isinstance(body, dict):
        raise GraphError(
            400,
            "RequestBodyRead",
            "Unable to read JSON request payload. Please ensure Content-Type header is set "
            "and payload is of valid JSON format.",
        )
    return body


def fault_error(fault: Fault) -> GraphError:
    """An injected failure in Graph's words (https://learn.microsoft.com/en-us/graph/errors)."""
    retry = {"Retry-After": str(fault.retry_after)} if fault.retry_after is not None else {}
    code = FAULT_CODES.get(fault.status, "generalException")
    message = FAULT_MESSAGES.get(fault.status, "An unspecified error has occurred.")
    return GraphError(fault.status, code, message, retry)


def _scopes(grant: Grant) -> set[str]:
    return {s.rsplit("/", 1)[-1].lower() for s in grant.scopes}


def _authenticate(identity: IdentityState) -> Grant:
    scheme, _, token = request.headers.get("Authorization", "").partition(" ")
    token = token.strip() if scheme.lower() == "bearer" else ""
    authenticate = {
        "WWW-Authenticate": f'Bearer realm="", authorization_uri="{identity.origin}/common/'
        'oauth2/authorize", client_id="00000003-0000-0000-c000-000000000000"'
    }
    if not token:
        raise GraphError(401, "InvalidAuthenticationToken", "Access token is empty.", authenticate)
    grant = identity.resolve(token)
    if grant is None:
        known = token in identity.access_tokens
        message = (
            "Lifetime validation failed, the token is expired."
            if known
            else "Access token validation failure. Token validation failed."
        )
        raise GraphError(401, "InvalidAuthenticationToken", message, authenticate)
    return grant


def graph_blueprint(state: GraphState, identity: IdentityState) -> Blueprint:
    bp = Blueprint("microsoft_graph", __name__, url_prefix=PREFIX)

    def api(scopes: frozenset[str] | None) -> Callable[[Handler], Handler]:
        """Record, authenticate, check scopes, apply injected faults, answer errors."""

        def decorate(handler: Handler) -> Handler:
            @functools.wraps(handler)
            def wrapper(**kwargs: Any) -> Response:
                request_id = str(uuid.uuid4())
                client_id = request.headers.get("client-request-id") or request_id
                headers = {n: request.headers[n] for n in RECORDED_HEADERS if n in request.headers}
                entry = GraphRequest(request.method, request.path, dict(request.args), headers)
                entry.body = request.get_json(silent=True)
                state.record(entry)
                call: Call | None = None
                try:
                    grant = _authenticate(identity)
                    entry.mailbox = grant.email.strip().lower()
                    if scopes is not None and not scopes & _scopes(grant):
                        message = "Access is denied. Check credentials and try again."
                        raise GraphError(403, "ErrorAccessDenied", message)
                    fault = state.take_fault(request.path)
                    if fault is not None:
                        raise fault_error(fault)
                    call = Call(grant, entry.mailbox, preferences())
                    response = handler(call, **kwargs)
                except GraphError as error:
                    response = error_response(error, state.now(), request_id, client_id)
                if call is not None and call.applied and response.status_code < 400:
                    response.headers["Preference-Applied"] = ", ".join(call.applied)
                response.headers["request-id"] = request_id
                response.headers["client-request-id"] = client_id
                entry.status = response.status_code
                return response

            return wrapper

        return decorate

    def event_json(call: Call, event: StoredEvent) -> JsonDict:
        tz, label = call.time_zone()
        context = f"{state.origin}{PREFIX}/$metadata#users('{call.mailbox}')/events/$entity"
        return {"@odata.context": context, **render(event, call.mailbox, tz, label)}

    @bp.get("/me")
    @api(None)
    def me(call: Call) -> Response:
        name = call.mailbox.split("@")[0].replace(".", " ").title()
        return respond(
            {
                "@odata.context": f"{state.origin}{PREFIX}/$metadata#users/$entity",
                "businessPhones": [],
                "displayName": name,
                "givenName": name.split(" ")[0],
                "surname": name.split(" ")[-1] if " " in name else None,
                "jobTitle": None,
                "mail": call.mailbox,
                "mobilePhone": None,
                "officeLocation": None,
                "preferredLanguage": "en-US",
                "userPrincipalName": call.mailbox,
                "id": object_id(call.mailbox),
            }
        )

    @bp.get("/me/events/<event_id>")
    @api(READ)
    def get_event(call: Call, event_id: str) -> Response:
        return respond(event_json(call, state.find(call.mailbox, event_id)))

    @bp.post("/me/events")
    @api(WRITE)
    def create_event(call: Call) -> Response:
        return respond(event_json(call, state.create(call.mailbox, json_body())), 201)

    @bp.patch("/me/events/<event_id>")
    @api(WRITE)
    def update_event(call: Call, event_id: str) -> Response:
        return respond(event_json(call, state.update(call.mailbox, event_id, json_body())))

    @bp.delete("/me/events/<event_id>")
    @api(WRITE)
    def delete_event(call: Call, event_id: str) -> Response:
        state.remove(call.mailbox, event_id)
        return Response(status=204)

    @bp.get("/me/calendarView/delta")
    @bp.get("/me/calendarview/delta")
    @api(READ)
    def delta(call: Call) -> Response:
        args = request.args
        skip, token = args.get("$skiptoken"), args.get("$deltatoken")
        window: tuple[datetime, datetime] | None = None
        if not skip and not token and args.get("startDateTime") and args.get("endDateTime"):
            window = (
                parse_instant(args["startDateTime"], "startDateTime"),
                parse_instant(args["endDateTime"], "endDateTime"),
            )
            if window[1] <= window[0]:
                message = "The parameter 'EndDateTime' must be later than 'StartDateTime'."
                raise GraphError(400, "ErrorInvalidParameter", message)
        found, offset = state.delta_round(call.mailbox, window, skip, token)
        size = call.page_size()
        tz, label = call.time_zone()
        value: list[JsonDict] = []
        for entry in found.entries[offset : offset + size]:
            if isinstance(entry, str):
                removed = {"reason": "deleted"}
                value.append(
                    {"@odata.type": "#microsoft.graph.event", "id": entry, "@removed": removed}
                )
            else:
                value.append(render(entry, call.mailbox, tz, label))
        base = f"{state.origin}{PREFIX}/me/calendarView/delta"
        body: JsonDict = {"@odata.context": f"{state.origin}{PREFIX}/$metadata#Collection(event)"}
        body["value"] = value
        if offset + size < len(found.entries):
            body["@odata.nextLink"] = f"{base}?$skiptoken={state.next_link(found, offset + size)}"
        else:
            body["@odata.deltaLink"] = f"{base}?$deltatoken={found.delta_token}"
        return respond(body)

    @bp.post("/subscriptions")
    @api(READ)
    def create_subscription(call: Call) -> Response:
        sub = state.subscribe(call.mailbox, call.grant.client_id, json_body())
        return respond(sub.resource_json(state.origin), 201)

    @bp.get("/subscriptions/<subscription_id>")
    @api(READ)
    def get_subscription(call: Call, subscription_id: str) -> Response:
        sub = state.subscription(call.mailbox, subscription_id)
        return respond(sub.resource_json(state.origin))

    @bp.patch("/subscriptions/<subscription_id>")
    @api(READ)
    def renew_subscription(call: Call, subscription_id: str) -> Response:
        sub = state.renew(call.mailbox, subscription_id, json_body())
        return respond(sub.resource_json(state.origin))

    @bp.delete("/subscriptions/<subscription_id>")
    @api(READ)
    def delete_subscription(call: Call, subscription_id: str) -> Response:
        state.unsubscribe(call.mailbox, subscription_id)
        return Response(status=204)

    return bp
