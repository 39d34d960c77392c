"""Salesforce's OAuth 2.0 web-server flow with PKCE, and the refresh-token grant.

https://help.salesforce.com/s/articleView?id=sf.remoteaccess_oauth_web_server_flow.htm and
.../remoteaccess_oauth_refresh_token_flow.htm: the admin consents at
``SALESFORCE_LOGIN_URL/services/oauth2/authorize`` (scope ``api refresh_token``); the code is
traded at ``/services/oauth2/token`` for an access token, a refresh token, the org's
``instance_url`` and the identity URL whose last two segments are the org's and the
integration user's ids. With refresh-token rotation every refresh answers a new refresh
token and the old one stops working, so the caller stores it before anything else.
simple-salesforce has no code or refresh grant; these are plain form posts.
"""

from __future__ import annotations

import base64
import hashlib
import logging
import secrets
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode

import requests

from server.config import Settings

log = logging.getLogger(__name__)

SCOPE = "api refresh_token"
CALLBACK = "/settings/salesforce/callback"
TIMEOUT = 20
# Refresh answers no retry fixes: an admin has to connect the org again.
PERMANENT = frozenset({"invalid_grant", "invalid_client", "unauthorized_client", "inactive_user"})


class OAuthError(Exception):
    """The round trip failed; the message is safe to show the admin."""


class GrantRefused(OAuthError):
    """Salesforce no longer accepts the stored refresh token."""


@dataclass(frozen=True)
class Tokens:
    access_token: str
    instance_url: str
    refresh_token: str | None  # a new one when Salesforce rotated it
    org_id: str = ""
    user_id: str = ""


def redirect_uri(settings: Settings) -> str:
    return settings.public_base_url.rstrip("/") + CALLBACK


def authorize_endpoint(settings: Settings, http: requests.Session) -> str:
    """The authority's consent page, from its OpenID configuration
    (``/.well-known/openid-configuration``, which Salesforce publishes for its login hosts and
    My Domains); the documented path when the configuration cannot be read."""
    try:
        response = http.get(f"{_base(settings)}/.well-known/openid-configuration", timeout=TIMEOUT)
        found = response.json().get("authorization_endpoint") if response.ok else None
    except (requests.RequestException, ValueError, AttributeError):
        found = None
    if isinstance(found, str) and found.startswith(("https://", "http://127.0.0.1")):
        return found
    return f"{_base(settings)}/services/oauth2/authorize"


def begin(settings: Settings, state: str, http: requests.Session) -> tuple[str, str]:
    """The consent page and the PKCE verifier to keep until the callback."""
    if not settings.salesforce_client_id:
        raise OAuthError("Salesforce is not configured on this server (SALESFORCE_CLIENT_ID)")
    verifier = secrets.token_urlsafe(64)
    challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest())
    query = {
        "response_type": "code",
        "client_id": settings.salesforce_client_id,
        "redirect_uri": redirect_uri(settings),
        "scope": SCOPE,
        "state": state,
        "code_challenge": challenge.rstrip(b"=").decode(),
        "code_challenge_method": "S256",
        "prompt": "login consent",
    }
    return f"{authorize_endpoint(settings, http)}?{urlencode(query)}", verifier


def finish(settings: Settings, code: str, verifier: str, http: requests.Session) -> Tokens:
    body = _post(
        settings,
        http,
        {
            "grant_type": "authorization_code",
            "code": code,
            "code_verifier": verifier,
            "redirect_uri": redirect_uri(settings),
        },
    )
    if not body.get("refresh_token"):
        raise OAuthError("Salesforce granted no offline access (scope refresh_token); try again")
    return _tokens(body)


def refresh(settings: Settings, refresh_token: str, http: requests.Session) -> Tokens:
    return _tokens(
        _post(settings, http, {"grant_type": "refresh_token", "refresh_token": refresh_token})
    )


def revoke(settings: Settings, token: str, http: requests.Session) -> None:
    """Best effort: Salesforce forgets the grant (disconnect)."""
    try:
        http.post(
            f"{_base(settings)}/services/oauth2/revoke", data={"token": token}, timeout=TIMEOUT
        )
    except requests.RequestException:
        log.warning("revoking the Salesforce grant failed")


def _base(settings: Settings) -> str:
    return settings.salesforce_login_url.rstrip("/")


def _post(settings: Settings, http: requests.Session, form: dict[str, str]) -> dict[str, Any]:
    form = {
        **form,
        "client_id": settings.salesforce_client_id,
        "client_secret": settings.salesforce_client_secret,
    }
    try:
        response = http.post(f"{_base(settings)}/services/oauth2/token", data=form, timeout=TIMEOUT)
        body = response.json()
    except (requests.RequestException, ValueError) as exc:
        raise OAuthError("Salesforce could not be reached; try again") from exc
    if response.status_code == 200 and isinstance(body, dict) and body.get("access_token"):
        return body
    error = str(body.get("error", "")) if isinstance(body, dict) else ""
    log.warning("salesforce token request refused: %s %s", response.status_code, error)
    if error in PERMANENT:
        raise GrantRefused(f"Salesforce refused the grant ({error})")
    raise OAuthError("Salesforce did not accept the request; try again")


def _tokens(body: dict[str, Any]) -> Tokens:
    identity = str(body.get("id", "")).rstrip("/").split("/")
    org_id, user_id = (identity[-2], identity[-1]) if len(identity) >= 2 else ("", "")
    instance = str(body.get("instance_url", ""))
    if not instance.startswith("https://"):
        raise OAuthError("Salesforce answered without an https instance URL")
    return Tokens(
        access_token=str(body["access_token"]),
        instance_url=instance,
        refresh_token=str(body["refresh_token"]) if body.get("refresh_token") else None,
        org_id=org_id,
        user_id=user_id,
    )
