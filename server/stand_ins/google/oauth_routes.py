"""HTTP routes of the OAuth stand-in: consent page, token, revoke, certs, userinfo."""

from __future__ import annotations

import base64
import html
from datetime import timedelta
from email.utils import format_datetime
from urllib.parse import unquote

from flask import Blueprint, Response, request

from .common import Clock, bearer_token, json_response
from .keys import published_certs
from .oauth import AuthorizationError, AuthRequest, OAuthError, OAuthState, subject_for

AUTH_PATH = "/o/oauth2/v2/auth"
TOKEN_PATH = "/token"  # noqa: S105 - a URL path
REVOKE_PATH = "/revoke"
CERTS_PATH = "/oauth2/v1/certs"
USERINFO_PATH = "/oauth2/v3/userinfo"
TOKENINFO_PATH = "/oauth2/v3/tokeninfo"
CERTS_MAX_AGE = 21600

_PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>{title}</title>
<style>body{{font-family:sans-serif;max-width:34rem;margin:3rem auto}}
button{{font-size:1rem;padding:.4rem 1.2rem;margin-right:.6rem}}</style></head>
<body>{body}</body></html>"""


def _page(title: str, body: str, status: int = 200) -> Response:
    text = _PAGE.format(title=html.escape(title), body=body)
    return Response(text, status=status, mimetype="text/html; charset=utf-8")


def _error_page(error: AuthorizationError) -> Response:
    body = (
        "<h1>Access blocked: authorization error</h1>"
        f'<p id="error">Error 400: {html.escape(error.error)}</p>'
        f"<p>{html.escape(error.description)}</p>"
    )
    return _page("Error - Google stand-in", body, 400)


def _consent_page(auth: AuthRequest, user: str) -> Response:
    scopes = "".join(f"<li>{html.escape(s)}</li>" for s in auth.scopes)
    body = (
        "<h1>Sign in with Google (local stand-in)</h1>"
        f"<p><b>{html.escape(auth.client_id)}</b> wants to access your Google Account:</p>"
        f'<ul id="scopes">{scopes}</ul>'
        '<form method="post">'
        f'<p><label>Signed in as <input name="email" type="email" value="{html.escape(user)}">'
        "</label></p>"
        '<button type="submit" id="allow" name="decision" value="allow">Allow</button>'
        '<button type="submit" id="deny" name="decision" value="deny">Deny</button>'
        "</form>"
    )
    return _page("Sign in - Google Accounts (stand-in)", body)


def _oauth_error(error: OAuthError) -> Response:
    resp = json_response(
        {"error": error.error, "error_description": error.description}, error.status
    )
    resp.headers["Cache-Control"] = "no-cache, no-store, max-age=0, must-revalidate"
    return resp


def _client_credentials() -> tuple[str, str | None]:
    header = request.headers.get("Authorization", "")
    if header.lower().startswith("basic "):
        try:
            decoded = base64.b64decode(header[6:].strip()).decode("utf-8")
        except ValueError:
            raise OAuthError(401, "invalid_client", "Unauthorized") from None
        client_id, _, secret = decoded.partition(":")
        return unquote(client_id), unquote(secret)
    return request.form.get("client_id", ""), request.form.get("client_secret")


def oauth_blueprint(state: OAuthState, now: Clock) -> Blueprint:
    bp = Blueprint("google_oauth", __name__)

    @bp.before_request
    def _record() -> None:
        state.recorder.record()

    @bp.route(AUTH_PATH, methods=["GET", "POST"])
    def authorize() -> Response:
        try:
            auth = state.parse_authorization(dict(request.args.items()))
        except AuthorizationError as error:
            return _error_page(error)
        if request.method == "GET":
            return _consent_page(auth, state.signed_in_user(auth))
        allow = request.form.get("decision", "allow") == "allow"
        user = request.form.get("email") or state.signed_in_user(auth)
        resp = Response(status=302)
        resp.headers["Location"] = state.callback_url(auth, user, allow=allow)
        return resp

    @bp.post(TOKEN_PATH)
    def token() -> Response:
        try:
            client_id, secret = _client_credentials()
            state.authenticate_client(client_id, secret)
            grant_type = request.form.get("grant_type", "")
            if grant_type == "authorization_code":
                body = state.exchange_code(
                    client_id,
                    request.form.get("code", ""),
                    request.form.get("redirect_uri", ""),
                    request.form.get("code_verifier"),
                )
            elif grant_type == "refresh_token":
                body = state.refresh(client_id, request.form.get("refresh_token", ""))
            else:
                raise OAuthError(400, "unsupported_grant_type", f"Invalid grant_type: {grant_type}")
        except OAuthError as error:
            return _oauth_error(error)
        resp = json_response(body)
        resp.headers["Cache-Control"] = "no-cache, no-store, max-age=0, must-revalidate"
        resp.headers["Pragma"] = "no-cache"
        return resp

    @bp.route(REVOKE_PATH, methods=["GET", "POST"])
    def revoke() -> Response:
        token = request.values.get("token", "")
        if not token or not state.revoke_token(token):
            return _oauth_error(OAuthError(400, "invalid_token", "Token expired or revoked"))
        return json_response({})

    @bp.get(CERTS_PATH)
    def certs() -> Response:
        resp = json_response(published_certs())
        resp.headers["Cache-Control"] = f"public, max-age={CERTS_MAX_AGE}, must-revalidate"
        resp.headers["Expires"] = format_datetime(
            now() + timedelta(seconds=CERTS_MAX_AGE), usegmt=True
        )
        return resp

    @bp.get(USERINFO_PATH)
    def userinfo() -> Response:
        access = state.resolve(bearer_token())
        if access is None:
            return _oauth_error(OAuthError(401, "invalid_request", "Invalid Credentials"))
        return json_response(
            {"sub": subject_for(access.user), "email": access.user, "email_verified": True}
        )

    @bp.get(TOKENINFO_PATH)
    def tokeninfo() -> Response:
        access = state.resolve(request.args.get("access_token"))
        if access is None:
            return _oauth_error(OAuthError(400, "invalid_token", "Invalid Value"))
        remaining = int((access.expires_at - now()).total_seconds())
        body = {
            "azp": access.client_id or "",
            "aud": access.client_id or "",
            "sub": subject_for(access.user),
            "scope": " ".join(access.scopes or ()),
            "exp": str(int(access.expires_at.timestamp())),
            "expires_in": str(max(remaining, 0)),
            "email": access.user,
            "email_verified": "true",
        }
        return json_response(body)

    return bp
