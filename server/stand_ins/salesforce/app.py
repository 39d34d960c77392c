"""The Salesforce stand-in as one object: OAuth routes, REST routes and the org's state, served
on 127.0.0.1 by two servers sharing one app: https with a test CA (what simple-salesforce and
``requests`` talk to: it forces ``https://`` on ``instance_url``'s host and port) and plain
http (the authorize page a person's browser opens, advertised by the OpenID configuration, so
the demo needs no certificate exception).

OAuth endpoints follow https://help.salesforce.com/s/articleView?id=sf.remoteaccess_oauth_web_server_flow.htm,
.../remoteaccess_revoke_token.htm and .../remoteaccess_using_openid_discovery_endpoint.htm;
the identity URL answers as in .../remoteaccess_using_openid.htm.
"""

from __future__ import annotations

import html
import logging
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import Any

from flask import Blueprint, Flask, Response, request
from werkzeug.exceptions import HTTPException

from server.stand_ins.microsoft.tls import TestCA
from server.stand_ins.serving import DualServed

from .oauth import AuthorizeError, OAuthError
from .org import OrgRequest, OrgState
from .page import activity_blueprint
from .routes import PREFIX, api_blueprint, error_response, respond
from .wire import ApiError, format_datetime

log = logging.getLogger(__name__)

_PAGE = """<!doctype html><html lang="en"><head><meta charset="utf-8"><title>{title}</title>
<style>body{{font-family:sans-serif;max-width:34rem;margin:3rem auto}}
button{{font-size:1rem;padding:.4rem 1.2rem;margin-right:.6rem}}</style></head>
<body>{body}</body></html>"""


def _page(title: str, body: str, status: int = 200) -> Response:
    text = _PAGE.format(title=html.escape(title), body=body)
    return Response(text, status=status, mimetype="text/html")


def _redirect(url: str) -> Response:
    return Response(status=302, headers={"Location": url})


def oauth_blueprint(org: OrgState, browser_origin: Callable[[], str]) -> Blueprint:
    bp = Blueprint("salesforce_oauth", __name__)

    def record(body: Any) -> OrgRequest:
        entry = OrgRequest(request.method, request.path, dict(request.args.items()), body)
        return org.record_request(entry)

    def answer(entry: OrgRequest, response: Response) -> Response:
        entry.status = response.status_code
        return response

    @bp.get("/.well-known/openid-configuration")
    def configuration() -> Response:
        origin = org.origin
        return respond(
            {
                "issuer": origin,
                "authorization_endpoint": f"{browser_origin()}/services/oauth2/authorize",
                "token_endpoint": f"{origin}/services/oauth2/token",
                "revocation_endpoint": f"{origin}/services/oauth2/revoke",
                "userinfo_endpoint": f"{origin}/services/oauth2/userinfo",
                "response_types_supported": ["code", "token", "token id_token"],
                "grant_types_supported": ["authorization_code", "refresh_token"],
                "code_challenge_methods_supported": ["S256"],
                "scopes_supported": ["id", "api", "refresh_token", "offline_access", "openid"],
                "token_endpoint_auth_methods_supported": [
                    "client_secret_post",
                    "client_secret_basic",
                ],
            }
        )

    @bp.route("/services/oauth2/authorize", methods=["GET", "POST"])
    def authorize() -> Response:
        params = dict(request.args.items())
        entry = record(dict(request.form.items()) or None)
        try:
            org.check_authorize(params)
        except AuthorizeError as error:
            if error.redirect:
                return answer(entry, _redirect(org.refuse(params, error)))
            body = (
                "<h1>Salesforce</h1><p id='error'>error="
                f"{html.escape(error.error)}&amp;error_description="
                f"{html.escape(error.description)}</p>"
            )
            return answer(entry, _page("Error | Salesforce (stand-in)", body, 400))
        if request.method == "GET":
            body = (
                "<h1>Allow Access? (Salesforce stand-in)</h1>"
                f"<p><b id='client'>{html.escape(params.get('client_id', ''))}</b> is asking to: "
                f"<span id='scopes'>{html.escape(params.get('scope', 'api refresh_token'))}</span>"
                "</p><form method='post'><p><label>Logged in as <input name='username' "
                f"value='{html.escape(org.integration_username)}'></label></p>"
                "<button type='submit' id='allow' name='decision' value='allow'>Allow</button>"
                "<button type='submit' id='deny' name='decision' value='deny'>Deny</button>"
                "</form>"
            )
            return answer(entry, _page("Allow Access? | Salesforce (stand-in)", body))
        allow = request.form.get("decision", "allow") == "allow"
        try:
            url = org.answer(params, request.form.get("username") or None, allow=allow)
        except KeyError:
            body = "<h1>Salesforce</h1><p id='error'>Please check your username.</p>"
            return answer(entry, _page("Login | Salesforce (stand-in)", body, 400))
        return answer(entry, _redirect(url))

    @bp.post("/services/oauth2/token")
    def token() -> Response:
        form = dict(request.form.items())
        entry = record(form)
        auth = request.authorization
        basic = (
            (auth.username or "", auth.password or "") if auth and auth.type == "basic" else None
        )
        try:
            response = respond(org.token(form, basic))
        except OAuthError as error:
            response = respond(error.body(), error.status)
        response.headers["Cache-Control"] = "no-cache,must-revalidate,max-age=0,no-store,private"
        return answer(entry, response)

    @bp.route("/services/oauth2/revoke", methods=["GET", "POST"])
    def revoke() -> Response:
        form = dict(request.form.items()) or dict(request.args.items())
        entry = record(form)
        try:
            org.revoke_token(form.get("token", ""))
        except OAuthError as error:
            return answer(entry, respond(error.body(), error.status))
        return answer(entry, Response(status=200))

    @bp.get("/id/<org_id>/<user_id>")
    def identity(org_id: str, user_id: str) -> Response:
        entry = record(None)
        _, _, bearer = request.headers.get("Authorization", "").partition(" ")
        caller = org.resolve(bearer.strip() or request.args.get("oauth_token", ""))
        if caller is None:
            return answer(entry, Response("Bad_OAuth_Token", status=403, mimetype="text/plain"))
        user = org.get("User", user_id)
        if user is None or org_id != org.org_id:
            return answer(entry, Response("Bad_Id", status=404, mimetype="text/plain"))
        base = f"{org.origin}{PREFIX}/v{{version}}"
        body = {
            "id": f"{org.origin}/id/{org.org_id}/{user['Id']}",
            "asserted_user": caller == user["Id"],
            "user_id": user["Id"],
            "organization_id": org.org_id,
            "username": user["Username"],
            "nick_name": str(user["Username"]).split("@")[0],
            "display_name": user["Name"],
            "email": user["Email"],
            "email_verified": True,
            "first_name": user["FirstName"],
            "last_name": user["LastName"],
            "active": user["IsActive"],
            "user_type": "STANDARD",
            "language": "en_US",
            "locale": "en_US",
            "utcOffset": 0,
            "last_modified_date": format_datetime(user["LastModifiedDate"]),
            "urls": {
                "rest": f"{base}/",
                "sobjects": f"{base}/sobjects/",
                "query": f"{base}/query/",
                "limits": f"{base}/limits/",
            },
        }
        return answer(entry, respond(body))

    return bp


class SalesforceStandIn(DualServed):
    """``start()`` serves it; ``settings()`` points the product at it; the product trusts it
    through ``REQUESTS_CA_BUNDLE=stand_in.ca_bundle_path``. ``org`` holds the state and the
    test hooks."""

    def __init__(
        self,
        *,
        now: Callable[[], datetime] | None = None,
        folder: Path | None = None,
        ca: TestCA | None = None,
    ) -> None:
        """``ca``: sign with another stand-in's CA, so one bundle trusts both (the demo)."""
        super().__init__()
        self.org = OrgState(now=now)
        self.ca = ca or TestCA(folder)
        app = Flask("salesforce_stand_in")
        app.register_blueprint(oauth_blueprint(self.org, lambda: self.http_origin))
        app.register_blueprint(api_blueprint(self.org))
        app.register_blueprint(activity_blueprint(self.org))

        @app.errorhandler(HTTPException)
        def http_error(error: HTTPException) -> Response | HTTPException:
            if not request.path.startswith(PREFIX):
                return error
            code = {404: "NOT_FOUND", 405: "METHOD_NOT_ALLOWED"}.get(error.code or 0, "")
            message = (
                "The requested resource does not exist"
                if error.code == 404
                else f"HTTP Method '{request.method}' not allowed."
            )
            status = error.code or 400
            response = error_response(ApiError(status, code or "BAD_REQUEST", message))
            response.headers["Sforce-Limit-Info"] = self.org.limit_info()
            return response

        self.wsgi_app = app

    @property
    def ca_bundle_path(self) -> str:
        return str(self.ca.bundle_path)

    @property
    def instance_url(self) -> str:
        """The https origin: login URL and ``instance_url`` at once (one org, one host)."""
        return self.org.origin

    @property
    def activities_url(self) -> str:
        """The browser page where a person logs a call or task (the demo's Salesforce)."""
        return f"{self.http_origin}/activities/"

    @property
    def authorize_url(self) -> str:
        """The plain-http authorize page, for a person's browser in the demo."""
        return f"{self.http_origin}/services/oauth2/authorize"

    def settings(self) -> dict[str, str]:
        return {"SALESFORCE_LOGIN_URL": self.instance_url}

    name = "salesforce-stand-in"

    def served(self, https_origin: str, http_origin: str) -> None:
        super().served(https_origin, http_origin)
        self.org.origin = https_origin

    def origin(self) -> str:
        return self.instance_url
