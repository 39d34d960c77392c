"""The Microsoft identity platform stand-in as one object: routes, state, and two servers on
127.0.0.1 serving the same app — https (the authority msal talks to: discovery, token, keys)
and plain http (the authorize page a person's browser opens; the OpenID configuration
advertises it, so the demo needs no certificate exception in the browser).
"""

from __future__ import annotations

import html
import logging
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

from flask import Blueprint, Flask, Response, jsonify, request

from server.stand_ins.serving import DualServed

from .graph import GraphState
from .graph_routes import graph_blueprint
from .identity import TENANT_ID, AuthorizeError, IdentityError, IdentityState
from .outlook_page import outlook_blueprint
from .tls import TestCA

log = logging.getLogger(__name__)
TENANTS = {"common", "organizations", "consumers", TENANT_ID}

_PAGE = """<!doctype html><html lang="en"><head><meta charset="utf-8"><title>{title}</title>
<style>body{{font-family:sans-serif;max-width:34rem;margin:3rem auto}}
button{{font-size:1rem;padding:.4rem 1.2rem;margin-right:.6rem}}</style></head>
<body>{body}</body></html>"""


def _page(title: str, body: str, status: int = 200) -> Response:
    text = _PAGE.format(title=html.escape(title), body=body)
    return Response(text, status=status, mimetype="text/html")


def identity_blueprint(state: IdentityState, browser_origin: Callable[[], str]) -> Blueprint:
    bp = Blueprint("microsoft_identity", __name__)

    def tenant_ok(tenant: str) -> bool:
        return tenant in TENANTS

    @bp.get("/<tenant>/v2.0/.well-known/openid-configuration")
    def configuration(tenant: str) -> Response | tuple[Response, int]:
        if not tenant_ok(tenant):
            return jsonify(
                {
                    "error": "invalid_tenant",
                    "error_description": f"AADSTS90002: Tenant '{tenant}' not found.",
                }
            ), 400
        origin = state.origin
        shown = "{tenantid}" if tenant in ("common", "organizations", "consumers") else tenant
        return jsonify(
            {
                "issuer": f"{origin}/{shown}/v2.0",
                "authorization_endpoint": f"{browser_origin()}/{tenant}/oauth2/v2.0/authorize",
                "token_endpoint": f"{origin}/{tenant}/oauth2/v2.0/token",
                "jwks_uri": f"{origin}/{tenant}/discovery/v2.0/keys",
                "end_session_endpoint": f"{browser_origin()}/{tenant}/oauth2/v2.0/logout",
                "response_types_supported": ["code", "id_token", "code id_token", "id_token token"],
                "response_modes_supported": ["query", "fragment", "form_post"],
                "scopes_supported": ["openid", "profile", "email", "offline_access"],
                "subject_types_supported": ["pairwise"],
                "id_token_signing_alg_values_supported": ["RS256"],
                "token_endpoint_auth_methods_supported": [
                    "client_secret_post",
                    "private_key_jwt",
                    "client_secret_basic",
                ],
                "claims_supported": [
                    "sub",
                    "iss",
                    "aud",
                    "exp",
                    "iat",
                    "nonce",
                    "name",
                    "preferred_username",
                    "email",
                    "oid",
                    "tid",
                    "ver",
                ],
                "request_uri_parameter_supported": False,
                "tenant_region_scope": None,
                "cloud_instance_name": "microsoftonline.com",
                "msgraph_host": "graph.microsoft.com",
            }
        )

    @bp.get("/<tenant>/discovery/v2.0/keys")
    def keys(tenant: str) -> Response:
        return jsonify(state.jwks())

    @bp.route("/<tenant>/oauth2/v2.0/authorize", methods=["GET", "POST"])
    def authorize(tenant: str) -> Response:
        params = dict(request.args.items())
        try:
            if not tenant_ok(tenant):
                raise AuthorizeError("invalid_tenant", f"AADSTS90002: Tenant '{tenant}' not found.")
            state.check_authorize(params)
        except AuthorizeError as error:
            if error.redirect and params.get("redirect_uri"):
                back = dict(params, response_type="code")
                url = state.answer(back, None, allow=False).replace(
                    "error=access_denied", f"error={error.error}"
                )
                return Response(status=302, headers={"Location": url})
            body = f"<h1>Sign in</h1><p id='error'>{html.escape(error.description)}</p>"
            return _page("Sign in to your account (stand-in)", body, 400)
        if request.method == "GET":
            who = params.get("login_hint") or state.default_user
            body = (
                "<h1>Sign in with Microsoft (local stand-in)</h1>"
                f"<p><b>{html.escape(params.get('client_id', ''))}</b> asks for: "
                f"<span id='scopes'>{html.escape(params.get('scope', ''))}</span></p>"
                "<form method='post'><p><label>Signed in as <input name='email' type='email' "
                f"value='{html.escape(who)}'></label></p>"
                "<button type='submit' id='allow' name='decision' value='allow'>Accept</button>"
                "<button type='submit' id='deny' name='decision' value='deny'>Cancel</button>"
                "</form>"
            )
            return _page("Sign in to your account (stand-in)", body)
        allow = request.form.get("decision", "allow") == "allow"
        url = state.answer(params, request.form.get("email"), allow=allow)
        return Response(status=302, headers={"Location": url})

    @bp.post("/<tenant>/oauth2/v2.0/token")
    def token(tenant: str) -> Response | tuple[Response, int]:
        form = dict(request.form.items())
        try:
            state.client(form.get("client_id", ""), form.get("client_secret"))
            grant_type = form.get("grant_type", "")
            if grant_type == "authorization_code":
                body = state.redeem(form)
            elif grant_type == "refresh_token":
                body = state.refresh(form)
            else:
                raise IdentityError(
                    400,
                    "unsupported_grant_type",
                    70003,
                    f"The app requested an unsupported grant type '{grant_type}'.",
                )
        except IdentityError as error:
            return jsonify(error.body(state.now())), error.status
        response = jsonify(body)
        response.headers["Cache-Control"] = "no-store, no-cache"
        return response

    return bp


class MicrosoftStandIn(DualServed):
    """``start()`` serves it; ``settings()`` points the product at it; the product trusts it
    through ``REQUESTS_CA_BUNDLE=stand_in.ca_bundle_path``. ``identity`` holds the sign-in
    state, ``graph`` the mailboxes' calendars and subscriptions."""

    def __init__(
        self, *, now: Callable[[], datetime] | None = None, folder: Path | None = None
    ) -> None:
        super().__init__()
        self.identity = IdentityState(now=now or (lambda: datetime.now(UTC)))
        self.graph = GraphState(now=lambda: self.identity.now())
        self.ca = TestCA(folder)
        app = Flask("microsoft_stand_in")
        app.register_blueprint(identity_blueprint(self.identity, lambda: self.http_origin))
        app.register_blueprint(graph_blueprint(self.graph, self.identity))
        app.register_blueprint(outlook_blueprint(self.graph, lambda: self.identity.default_user))
        self.wsgi_app = app

    @property
    def ca_bundle_path(self) -> str:
        return str(self.ca.bundle_path)

    @property
    def outlook_url(self) -> str:
        """The browser page where a person adds meetings to a mailbox (the demo's Outlook)."""
        return f"{self.http_origin}/outlook/"

    @property
    def authority(self) -> str:
        return f"{self.identity.origin}/common"

    def settings(self) -> dict[str, str]:
        return {
            "MICROSOFT_AUTHORITY": self.authority,
            "MICROSOFT_GRAPH_URL": f"{self.identity.origin}/v1.0",
        }

    name = "microsoft-stand-in"

    def served(self, https_origin: str, http_origin: str) -> None:
        super().served(https_origin, http_origin)
        self.identity.origin = self.graph.origin = https_origin

    def origin(self) -> str:
        return self.authority
