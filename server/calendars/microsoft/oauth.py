"""Microsoft's authorization-code flow with PKCE for the calendar (C1), through msal.

https://learn.microsoft.com/en-us/entra/identity-platform/v2-oauth2-auth-code-flow: the rep
consents at the authority (``MICROSOFT_AUTHORITY``) to ``Calendars.ReadWrite User.Read email``
(msal adds ``openid profile offline_access``). msal runs the flow: it makes the PKCE pair
and the nonce, checks the answer's ``state`` (ours: signed, short-lived, bound to the rep)
and the ID token's nonce; the pending flow waits in the browser, encrypted (see
``oauth_routes``). Whose calendar it is comes from Graph itself (``GET /me`` with the new
access token): the mailbox the token opens.

Microsoft has no endpoint through which an app revokes one refresh token; disconnecting drops
it here (C5) and the rep can remove the app's consent at myapps.microsoft.com.
"""

from __future__ import annotations

import logging
import warnings
from collections.abc import Mapping
from typing import Any

import msal
import requests

from server.calendars.providers import ConnectError, Grant, Pending
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


class MicrosoftOAuth:
    def begin(self, settings: Settings, state: str, login_hint: str) -> tuple[str, Pending]:
        """msal's auth-code flow with our signed ``state``; msal makes the PKCE pair and the
        nonce, and the rest of its flow is what the callback needs back."""
        with requests.Session() as http, warnings.catch_warnings():
            # The answer comes back in the query: the callback is a plain top-level GET that
            # carries the cookie holding this flow (a cross-site form_post would not).
            warnings.filterwarnings("ignore", "response_mode='form_post'", UserWarning)
            flow = application(settings, http).initiate_auth_code_flow(
                SCOPES,
                redirect_uri=redirect_uri(settings),
                state=state,
                login_hint=login_hint,
                prompt="select_account",
                response_mode="query",
            )
        url = str(flow.pop("auth_uri"))
        return url, dict(flow)

    def finish(
        self,
        settings: Settings,
        answer: Mapping[str, str],
        pending: Pending,
        http: requests.Session,
    ) -> Grant:
        if not pending:
            raise ConnectError("this connect link is not valid any more; open it again")
        app = application(settings, http)
        try:
            result = app.acquire_token_by_auth_code_flow(dict(pending), dict(answer))
        except ValueError as exc:  # the answer's state is not this flow's
            raise ConnectError("this connect link is not valid any more; open it again") from exc
        except RuntimeError as exc:  # msal's nonce check on the ID token
            raise ConnectError("Microsoft's answer could not be verified") from exc
        except requests.RequestException as exc:
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
