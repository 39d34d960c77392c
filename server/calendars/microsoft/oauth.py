"""Microsoft's authorization-code flow with PKCE for the calendar (C1), through msal.

https://learn.microsoft.com/en-us/entra/identity-platform/v2-oauth2-auth-code-flow: the rep
consents at the authority (``MICROSOFT_AUTHORITY``) to ``Calendars.ReadWrite User.Read email``
(msal adds ``openid profile offline_access``). The PKCE verifier is derived from the signed,
short-lived ``state`` with the server's secret, so the round trip needs no server-side
storage and a code is useless without the state it was issued with. Whose calendar it is
comes from Graph itself (``GET /me`` with the new access token): the mailbox the token opens.

Microsoft has no endpoint through which an app revokes one refresh token; disconnecting drops
it here (C5) and the rep can remove the app's consent at myapps.microsoft.com.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import logging
from typing import Any

import msal
import requests

from server.calendars.providers import ConnectError, Grant
from server.config import Settings

log = logging.getLogger(__name__)

NAME = "microsoft"
CALENDAR_SCOPE = "Calendars.ReadWrite"
# msal adds (and refuses to be given) the reserved scopes openid, profile and offline_access.
SCOPES = [CALENDAR_SCOPE, "User.Read", "email"]
HTTP_TIMEOUT = 20
# msal keeps the authority's metadata (24 h) and Microsoft's throttling answers here, shared
# by every client of the process, so opening a calendar costs no discovery request.
_HTTP_CACHE: dict[Any, Any] = {}


def application(settings: Settings, http: requests.Session) -> msal.ConfidentialClientApplication:
    """msal's client for this server's app registration; a fresh token cache each time (the
    grant lives encrypted in the database, not in a process-wide cache)."""
    if not settings.microsoft_client_id:
        raise ConnectError("Outlook is not configured on this server (MICROSOFT_CLIENT_ID)")
    try:
        return msal.ConfidentialClientApplication(
            settings.microsoft_client_id,
            client_credential=settings.microsoft_client_secret,
            authority=settings.microsoft_authority,
            instance_discovery=False,
            http_client=http,
            http_cache=_HTTP_CACHE,
            timeout=HTTP_TIMEOUT,
        )
    except (ValueError, requests.RequestException) as exc:
        log.warning("Microsoft authority unavailable: %s", type(exc).__name__)
        raise ConnectError("Microsoft could not be reached; try again") from exc


def redirect_uri(settings: Settings) -> str:
    return f"{settings.public_base_url}/oauth/{NAME}/callback"


def code_verifier(settings: Settings, state: str) -> str:
    """RFC 7636 verifier (43 characters of base64url) bound to this round trip's state."""
    digest = hmac.new(settings.secret_key.encode(), f"pkce|{state}".encode(), hashlib.sha256)
    return base64.urlsafe_b64encode(digest.digest()).rstrip(b"=").decode()


def code_challenge(verifier: str) -> str:
    digest = hashlib.sha256(verifier.encode("ascii")).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode()


class MicrosoftOAuth:
    def authorization_url(self, settings: Settings, state: str, login_hint: str) -> str:
        with requests.Session() as http:
            app = application(settings, http)
            return str(
                app.get_authorization_request_url(
                    SCOPES,
                    state=state,
                    redirect_uri=redirect_uri(settings),
                    login_hint=login_hint,
                    prompt="select_account",
                    code_challenge=code_challenge(code_verifier(settings, state)),
                    code_challenge_method="S256",
                )
            )

    def exchange_code(
        self, settings: Settings, code: str, http: requests.Session, state: str = ""
    ) -> Grant:
        app = application(settings, http)
        try:
            result = app.acquire_token_by_authorization_code(
                code,
                SCOPES,
                redirect_uri=redirect_uri(settings),
                data={"code_verifier": code_verifier(settings, state)},
            )
        except (ValueError, RuntimeError, requests.RequestException) as exc:
            raise ConnectError("Microsoft could not be reached; try again") from exc
        if "error" in result:
            log.warning("microsoft token exchange refused: %s", result.get("error"))
            raise ConnectError("Microsoft did not accept the sign-in; try again")
        scopes = tuple(str(result.get("scope", "")).split())
        if CALENDAR_SCOPE.lower() not in {s.lower() for s in scopes}:
            raise ConnectError("calendar access was not granted; accept it and try again")
        if not result.get("refresh_token"):
            raise ConnectError("Microsoft granted no offline access; try again")
        email = _mailbox(settings, http, str(result["access_token"]))
        return Grant(email, str(result["refresh_token"]), scopes)

    def revoke(self, settings: Settings, http: requests.Session, refresh_token: str) -> None:
        """Nothing to call: see the module's docstring."""
        return None


def _mailbox(settings: Settings, http: requests.Session, access_token: str) -> str:
    """The address of the mailbox the token opens (``mail``, else the sign-in name)."""
    try:
        response = http.get(
            settings.microsoft_graph_url.rstrip("/") + "/me",
            headers={"Authorization": f"Bearer {access_token}"},
            params={"$select": "mail,userPrincipalName"},
            timeout=HTTP_TIMEOUT,
        )
        body = response.json() if response.status_code == 200 else {}
    except (requests.RequestException, ValueError) as exc:
        raise ConnectError("Microsoft could not be reached; try again") from exc
    email = str(body.get("mail") or body.get("userPrincipalName") or "")
    if "@" not in email:
        raise ConnectError("Microsoft did not say whose calendar this is; try again")
    return email
