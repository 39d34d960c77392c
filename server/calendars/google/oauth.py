"""Google's OAuth web-server flow with offline access to the calendar (C1).

https://developers.google.com/identity/protocols/oauth2/web-server: the code is exchanged at
``GOOGLE_TOKEN_URI``; the ID token that comes back is verified (google-auth, against
``GOOGLE_CERTS_URL``) and names the Google account the calendar belongs to.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from urllib.parse import urlencode

import requests
from google.auth.transport.requests import Request
from google.oauth2 import id_token

from server.calendars.providers import ConnectError, Grant, Pending
from server.config import Settings

log = logging.getLogger(__name__)

NAME = "google"
CALENDAR_SCOPE = "https://www.googleapis.com/auth/calendar.events"
SCOPES = ("openid", "https://www.googleapis.com/auth/userinfo.email", CALENDAR_SCOPE)
HTTP_TIMEOUT = 20


def redirect_uri(settings: Settings) -> str:
    return f"{settings.public_base_url}/oauth/{NAME}/callback"


class GoogleOAuth:
    def begin(self, settings: Settings, state: str, login_hint: str) -> tuple[str, Pending]:
        if not settings.google_client_id:
            raise ConnectError("Google sign-in is not configured on this server (GOOGLE_CLIENT_ID)")
        query = {
            "client_id": settings.google_client_id,
            "redirect_uri": redirect_uri(settings),
            "response_type": "code",
            "scope": " ".join(SCOPES),
            "access_type": "offline",
            "prompt": "consent",
            "include_granted_scopes": "true",
            "login_hint": login_hint,
            "state": state,
        }
        return f"{settings.google_auth_uri}?{urlencode(query)}", {}

    def finish(
        self,
        settings: Settings,
        answer: Mapping[str, str],
        pending: Pending,
        http: requests.Session,
    ) -> Grant:
        """Trade the authorization code for tokens; only the refresh token is kept."""
        code = answer.get("code", "")
        try:
            response = http.post(
                settings.google_token_uri,
                data={
                    "grant_type": "authorization_code",
                    "code": code,
                    "client_id": settings.google_client_id,
                    "client_secret": settings.google_client_secret,
                    "redirect_uri": redirect_uri(settings),
                },
                timeout=HTTP_TIMEOUT,
            )
        except requests.RequestException as exc:
            raise ConnectError("Google could not be reached; try again") from exc
        json_body = response.headers.get("content-type", "").startswith("application/json")
        body = response.json() if json_body else {}
        if response.status_code != 200:
            log.warning(
                "google token exchange failed: %s %s", response.status_code, body.get("error")
            )
            raise ConnectError("Google did not accept the sign-in; try again")
        if not body.get("refresh_token"):
            raise ConnectError("Google granted no offline access; try again")
        try:
            claims = id_token.verify_token(
                body.get("id_token", ""),
                Request(session=http),
                audience=settings.google_client_id,
                certs_url=settings.google_certs_url,
            )
        except Exception as exc:  # google-auth raises several types here
            raise ConnectError("Google's answer could not be verified") from exc
        scopes = tuple(str(body.get("scope", "")).split())
        if CALENDAR_SCOPE not in scopes:
            raise ConnectError(
                "calendar access was not granted; tick the calendar box and try again"
            )
        return Grant(str(claims.get("email", "")), str(body["refresh_token"]), scopes)

    def revoke(self, settings: Settings, http: requests.Session, refresh_token: str) -> None:
        """Google's revoke endpoint sits next to its token endpoint."""
        revoke_url = settings.google_token_uri.rsplit("/", 1)[0] + "/revoke"
        http.post(revoke_url, data={"token": refresh_token}, timeout=HTTP_TIMEOUT)
