"""OpenID Connect sign-in with Google and with Microsoft: authorization code flow with
``state``, ``nonce`` and PKCE, and a verified ID token.

Google: the flow is a few query parameters; the ID token is verified with google-auth
(signature against ``GOOGLE_CERTS_URL``, audience, expiry) and then its issuer, nonce and
``email_verified``. Microsoft: msal runs the flow (it makes the PKCE pair, ``state`` and
``nonce`` and checks both on the way back); msal no longer verifies the ID token, so it is
verified here with google-auth against the keys the authority publishes (``jwks_uri`` of its
OpenID configuration), then its issuer (the configuration's, with the token's tenant) and
that the email is verified: Microsoft vouches for an ``email`` only with ``xms_edov`` (the
domain owner verified it), otherwise anyone could claim any address (the "nOAuth" flaw).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import logging
import secrets
import threading
import time
import warnings
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Protocol
from urllib.parse import urlencode

import msal
import requests
from google.auth.transport.requests import Request
from google.oauth2 import id_token

from server.config import Settings

log = logging.getLogger(__name__)

HTTP_TIMEOUT = 20
GOOGLE_ISSUERS = ("https://accounts.google.com", "accounts.google.com")
DISCOVERY_TTL = 3600.0


class SignInError(Exception):
    """Sign-in failed; the message is safe to show."""


@dataclass(frozen=True)
class Identity:
    provider: str
    email: str
    name: str


class SignIn(Protocol):
    label: str

    def begin(self, settings: Settings, http: requests.Session, redirect_uri: str) -> Pending:
        """The provider's authorization URL and what the callback needs to check the answer."""
        ...

    def finish(
        self,
        settings: Settings,
        http: requests.Session,
        pending: Mapping[str, Any],
        answer: Mapping[str, str],
    ) -> Identity:
        """Check the callback's answer against ``pending``; raises :class:`SignInError`."""
        ...


@dataclass(frozen=True)
class Pending:
    url: str
    data: dict[str, Any]  # kept in the signed session cookie until the callback


def _verify(token: str, http: requests.Session, audience: str, keys_url: str) -> dict[str, Any]:
    """Signature against the published keys, audience and expiry (google-auth)."""
    try:
        return dict(id_token.verify_token(token, Request(session=http), audience, keys_url))
    except Exception as exc:  # google-auth and PyJWT raise several types
        log.info("ID token refused: %s", type(exc).__name__)
        raise SignInError("the sign-in could not be verified; try again") from exc


def _same(a: object, b: object) -> bool:
    return isinstance(a, str) and isinstance(b, str) and hmac.compare_digest(a, b)


class GoogleSignIn:
    label = "Google"

    def begin(self, settings: Settings, http: requests.Session, redirect_uri: str) -> Pending:
        if not settings.google_client_id:
            raise SignInError("Google sign-in is not configured on this server (GOOGLE_CLIENT_ID)")
        state, nonce = secrets.token_urlsafe(24), secrets.token_urlsafe(24)
        verifier = secrets.token_urlsafe(64)
        challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest())
        query = {
            "client_id": settings.google_client_id,
            "redirect_uri": redirect_uri,
            "response_type": "code",
            "scope": "openid email profile",
            "state": state,
            "nonce": nonce,
            "code_challenge": challenge.rstrip(b"=").decode(),
            "code_challenge_method": "S256",
            "prompt": "select_account",
        }
        data = {"state": state, "nonce": nonce, "verifier": verifier, "redirect_uri": redirect_uri}
        return Pending(f"{settings.google_auth_uri}?{urlencode(query)}", data)

    def finish(
        self,
        settings: Settings,
        http: requests.Session,
        pending: Mapping[str, Any],
        answer: Mapping[str, str],
    ) -> Identity:
        if not _same(answer.get("state"), pending.get("state")):
            raise SignInError("this sign-in link is not valid any more; sign in again")
        try:
            response = http.post(
                settings.google_token_uri,
                data={
                    "grant_type": "authorization_code",
                    "code": answer.get("code", ""),
                    "client_id": settings.google_client_id,
                    "client_secret": settings.google_client_secret,
                    "redirect_uri": pending.get("redirect_uri", ""),
                    "code_verifier": pending.get("verifier", ""),
                },
                timeout=HTTP_TIMEOUT,
            )
        except requests.RequestException as exc:
            raise SignInError("Google could not be reached; try again") from exc
        body = _json(response)
        if response.status_code != 200 or not body.get("id_token"):
            log.info("google sign-in refused: %s %s", response.status_code, body.get("error"))
            raise SignInError("Google did not accept the sign-in; try again")
        claims = _verify(
            str(body["id_token"]), http, settings.google_client_id, settings.google_certs_url
        )
        if claims.get("iss") not in GOOGLE_ISSUERS:
            raise SignInError("the sign-in came from an unexpected issuer")
        if not _same(claims.get("nonce"), pending.get("nonce")):
            raise SignInError("the sign-in could not be verified; try again")
        if claims.get("email_verified") is not True or not claims.get("email"):
            raise SignInError("Google has not verified this email address")
        return Identity("google", str(claims["email"]), str(claims.get("name", "")))


def _json(response: requests.Response) -> dict[str, Any]:
    try:
        body = response.json()
    except ValueError:
        return {}
    return body if isinstance(body, dict) else {}


class MicrosoftSignIn:
    """msal's ``ConfidentialClientApplication`` per process (it caches the authority's
    metadata), and the authority's OpenID configuration for the keys and the issuer."""

    label = "Microsoft"
    scopes = ["email"]  # msal adds openid, profile (and offline_access) itself

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._apps: dict[tuple[str, str], msal.ConfidentialClientApplication] = {}
        self._configs: dict[str, tuple[float, dict[str, Any]]] = {}

    def _app(
        self, settings: Settings, http: requests.Session
    ) -> msal.ConfidentialClientApplication:
        if not settings.microsoft_client_id:
            raise SignInError(
                "Microsoft sign-in is not configured on this server (MICROSOFT_CLIENT_ID)"
            )
        key = (settings.microsoft_client_id, settings.microsoft_authority)
        with self._lock:
            app = self._apps.get(key)
            if app is None:
                try:
                    app = msal.ConfidentialClientApplication(
                        settings.microsoft_client_id,
                        client_credential=settings.microsoft_client_secret,
                        authority=settings.microsoft_authority,
                        instance_discovery=False,
                        http_client=http,
                    )
                except (ValueError, requests.RequestException) as exc:
                    log.warning("Microsoft authority unavailable: %s", type(exc).__name__)
                    raise SignInError("Microsoft could not be reached; try again") from exc
                self._apps[key] = app
            return app

    def configuration(self, settings: Settings, http: requests.Session) -> dict[str, Any]:
        url = settings.microsoft_authority.rstrip("/") + "/v2.0/.well-known/openid-configuration"
        with self._lock:
            cached = self._configs.get(url)
        if cached is not None and time.monotonic() - cached[0] < DISCOVERY_TTL:
            return cached[1]
        try:
            response = http.get(url, timeout=HTTP_TIMEOUT)
        except requests.RequestException as exc:
            raise SignInError("Microsoft could not be reached; try again") from exc
        config = _json(response)
        if response.status_code != 200 or not config.get("jwks_uri") or not config.get("issuer"):
            raise SignInError("Microsoft could not be reached; try again")
        with self._lock:
            self._configs[url] = (time.monotonic(), config)
        return config

    def begin(self, settings: Settings, http: requests.Session, redirect_uri: str) -> Pending:
        app = self._app(settings, http)
        # The answer comes back in the query (a top-level GET carries the SameSite=Lax session
        # that holds the pending flow; a cross-site form_post would not), and the code is of
        # no use without the PKCE verifier kept there. msal warns about every mode but
        # form_post; this choice is deliberate.
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", "response_mode='form_post'", UserWarning)
            flow = app.initiate_auth_code_flow(
                self.scopes,
                redirect_uri=redirect_uri,
                prompt="select_account",
                response_mode="query",
            )
        url = str(flow.pop("auth_uri"))  # the rest goes back to msal at the callback
        return Pending(url, dict(flow))

    def finish(
        self,
        settings: Settings,
        http: requests.Session,
        pending: Mapping[str, Any],
        answer: Mapping[str, str],
    ) -> Identity:
        app = self._app(settings, http)
        try:
            result = app.acquire_token_by_auth_code_flow(dict(pending), dict(answer))
        except ValueError as exc:  # state mismatch
            raise SignInError("this sign-in link is not valid any more; sign in again") from exc
        except RuntimeError as exc:  # msal's nonce check
            raise SignInError("the sign-in could not be verified; try again") from exc
        if "error" in result or not result.get("id_token"):
            log.info("microsoft sign-in refused: %s", result.get("error"))
            raise SignInError("Microsoft did not accept the sign-in; try again")
        config = self.configuration(settings, http)
        claims = _verify(
            str(result["id_token"]), http, settings.microsoft_client_id, str(config["jwks_uri"])
        )
        # msal checked the nonce on the unverified claims; check it on the verified ones.
        nonce = hashlib.sha256(str(pending.get("nonce", "")).encode()).hexdigest()
        if not pending.get("nonce") or not _same(claims.get("nonce"), nonce):
            raise SignInError("the sign-in could not be verified; try again")
        issuer = str(config["issuer"]).replace("{tenantid}", str(claims.get("tid", "")))
        if claims.get("iss") != issuer:
            raise SignInError("the sign-in came from an unexpected issuer")
        email = claims.get("email")
        if not email or claims.get("xms_edov") not in (True, "1", "true", 1):
            raise SignInError("Microsoft has not verified this email address")
        return Identity("microsoft", str(email), str(claims.get("name", "")))


def providers() -> dict[str, SignIn]:
    """A fresh set per app: the Microsoft one caches msal's application and the metadata."""
    return {"google": GoogleSignIn(), "microsoft": MicrosoftSignIn()}
