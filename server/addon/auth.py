"""Authenticating add-on requests: the Google-signed bearer token, then the rep's ID token.

Google calls each HTTP add-on endpoint with ``Authorization: Bearer <ID token>`` for the add-on's
service account (audience: the endpoint URL), and puts the rep's own ID token (audience: the
add-on's OAuth client id) in ``authorizationEventObject.userIdToken``.
See https://developers.google.com/workspace/add-ons/guides/alternate-runtimes
("Verify requests" and "Get the user's email address").

Every failure raises :class:`AddonAuthError`, whose message names what was wrong and never
contains a token; the route answers 401 and runs nothing else.
"""

from __future__ import annotations

import copy
import logging
import threading
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import google.auth.exceptions
import google.auth.transport.requests
import requests
from google.oauth2 import id_token
from requests.adapters import HTTPAdapter

from server.config import Settings

from . import paths

log = logging.getLogger(__name__)

GOOGLE_ISSUERS = frozenset({"accounts.google.com", "https://accounts.google.com"})
_DEFAULT_CERTS_MAX_AGE = 300.0
_MAX_CERTS_MAX_AGE = 24 * 3600.0
_CERTS_TIMEOUT_SECONDS = 5.0
# A token signed with a key id we have not seen may mean Google rotated its keys: refetch the
# certificates, but at most this often, so forged tokens cannot make us hammer the endpoint.
_REFETCH_UNKNOWN_KEY_AFTER = 60.0
# Failures no other kind of token can fix: nothing to try the Apps Script audience on.
_NOT_A_TOKEN = frozenset({"missing_token", "not_bearer", "certs_unavailable"})


class AddonAuthError(Exception):
    """An add-on request failed authentication. ``reason`` is a short code for logs and tests.

    The message is safe to log and to return: it never contains a token.
    """

    def __init__(self, reason: str, message: str) -> None:
        super().__init__(message)
        self.reason = reason


@dataclass(frozen=True)
class Rep:
    """The verified Google user behind an add-on request (from ``userIdToken``)."""

    email: str
    sub: str


# --------------------------------------------------------------------------- certificate cache


@dataclass
class _Cached:
    status: int
    headers: dict[str, str]
    content: bytes
    fetched_at: float
    expires_at: float


def _max_age(cache_control: str | None) -> float | None:
    """Seconds the response may be reused, from ``Cache-Control``; None when it does not say."""
    if cache_control is None:
        return None
    directives = [part.strip().lower() for part in cache_control.split(",")]
    if "no-store" in directives or "no-cache" in directives:
        return 0.0
    for directive in directives:
        name, _, value = directive.partition("=")
        if name.strip() == "max-age":
            try:
                return max(0.0, float(value.strip().strip('"')))
            except ValueError:
                return None
    return None


class CachingAdapter(HTTPAdapter):
    """A requests adapter that reuses successful GET responses for their ``max-age``.

    Google's certificate endpoints send ``Cache-Control: max-age=...``; google-auth fetches the
    certificates on every verification unless the session caches them
    (https://googleapis.dev/python/google-auth/latest/reference/google.oauth2.id_token.html).
    Without a ``max-age`` a response is kept for five minutes; ``no-store``/``no-cache`` are
    honoured. The cache is in-process, keyed by URL, and thread-safe.
    """

    def __init__(
        self,
        *,
        timeout: float = _CERTS_TIMEOUT_SECONDS,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        super().__init__()
        self._timeout = timeout
        self._clock = clock
        self._lock = threading.Lock()
        self._entries: dict[str, _Cached] = {}

    def send(
        self,
        request: requests.PreparedRequest,
        stream: bool = False,
        timeout: Any = None,
        verify: bool | str = True,
        cert: Any = None,
        proxies: Mapping[str, str] | None = None,
    ) -> requests.Response:
        url = request.url or ""
        if request.method != "GET":
            return super().send(request, stream, self._timeout, verify, cert, proxies)
        now = self._clock()
        with self._lock:
            entry = self._entries.get(url)
        if entry is not None and entry.expires_at > now:
            return self._replay(entry, request)
        response = super().send(request, False, self._timeout, verify, cert, proxies)
        max_age = _max_age(response.headers.get("Cache-Control"))
        if max_age is None:
            max_age = _DEFAULT_CERTS_MAX_AGE
        if response.status_code == 200 and max_age > 0:
            entry = _Cached(
                status=response.status_code,
                headers=dict(response.headers),
                content=response.content,
                fetched_at=now,
                expires_at=now + min(max_age, _MAX_CERTS_MAX_AGE),
            )
            with self._lock:
                self._entries[url] = entry
        return response

    def forget_if_older_than(self, url: str, seconds: float) -> bool:
        """Drop the cached response for ``url`` if it was fetched over ``seconds`` ago."""
        with self._lock:
            entry = self._entries.get(url)
            if entry is None or self._clock() - entry.fetched_at < seconds:
                return False
            del self._entries[url]
            return True

    @staticmethod
    def _replay(entry: _Cached, request: requests.PreparedRequest) -> requests.Response:
        response = requests.Response()
        response.status_code = entry.status
        response.headers.update(entry.headers)
        response._content = entry.content
        response.url = request.url or ""
        response.request = request
        response.encoding = "utf-8"
        return response


# --------------------------------------------------------------------------- verification


def _bearer(authorization: str | None) -> str:
    if not authorization or not authorization.strip():
        raise AddonAuthError("missing_token", "missing Authorization header")
    scheme, _, token = authorization.strip().partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise AddonAuthError("not_bearer", "Authorization header is not a Bearer token")
    return token.strip()


def _classify(exc: BaseException) -> tuple[str, str]:
    """A reason code and a token-free message for a google-auth verification failure."""
    text = str(exc).lower()
    if "expired" in text or "too early" in text:
        return "expired", "token expired or not yet valid"
    if "audience" in text:
        return "audience", "token has the wrong audience"
    if "signature" in text or "key id" in text or "signing key" in text:
        return "signature", "token signature could not be verified"
    return "malformed", "token is malformed"


class AddonAuthenticator:
    """Verifies the tokens of add-on requests against the configured identities.

    Build one per app (it holds the certificate cache) and call :meth:`verify_request` first on
    every add-on route, then :meth:`verify_user` with the parsed event's ``userIdToken``.
    See https://developers.google.com/workspace/add-ons/guides/alternate-runtimes and
    https://developers.google.com/identity/openid-connect/openid-connect#validatinganidtoken
    """

    def __init__(
        self,
        settings: Settings,
        *,
        clock_skew_seconds: int = 10,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._base_url = settings.public_base_url.rstrip("/")
        self._service_account = settings.addon_service_account_email.strip().lower()
        self._client_id = settings.addon_oauth_client_id.strip()
        self._apps_script_client_id = settings.addon_apps_script_client_id.strip()
        if self._apps_script_client_id and self._apps_script_client_id == self._client_id:
            # Then a rep's userIdToken would pass as an Apps Script bearer token: refuse both.
            log.warning("ADDON_APPS_SCRIPT_CLIENT_ID equals ADDON_OAUTH_CLIENT_ID: ignored")
            self._apps_script_client_id = ""
        self._certs_url = settings.google_certs_url
        self._skew = clock_skew_seconds
        self._adapter = CachingAdapter(clock=clock)
        session = requests.Session()
        session.mount("https://", self._adapter)
        session.mount("http://", self._adapter)
        self._transport = google.auth.transport.requests.Request(session=session)

    def audience_for(self, path: str) -> str:
        """The exact audience Google signs for the endpoint at ``path``."""
        return paths.absolute(self._base_url, path)

    def verify_request(self, authorization: str | None, path: str) -> Mapping[str, Any]:
        """Verify the ``Authorization`` header of a request to the add-on route ``path``.

        ``path`` is the route's own fixed path (one of :data:`paths.ADDON_PATHS`), never taken
        from the incoming request URL. Checks signature, expiry, issuer, audience
        (``PUBLIC_BASE_URL`` + ``path``), ``email`` == ``ADDON_SERVICE_ACCOUNT_EMAIL`` and
        ``email_verified``. Returns the claims.
        """
        if not self._service_account:
            raise AddonAuthError("not_configured", "ADDON_SERVICE_ACCOUNT_EMAIL is not set")
        if path not in paths.ADDON_PATHS:
            raise ValueError(f"not an add-on route: {path!r}")
        token = _bearer(authorization)
        claims = self._verify(token, self.audience_for(path))
        email = claims.get("email")
        if not isinstance(email, str) or email.strip().lower() != self._service_account:
            raise AddonAuthError("email", "token was not issued to the add-on service account")
        if claims.get("email_verified") is not True:
            raise AddonAuthError("email_unverified", "token email is not verified")
        return claims

    def verify_caller(self, authorization: str | None, path: str) -> Rep | None:
        """Verify the bearer token of a request to ``path``, from either deployment.

        Google's HTTP deployment (:meth:`verify_request`) answers None: the rep comes next, from
        the event's ``userIdToken``. When ``ADDON_APPS_SCRIPT_CLIENT_ID`` is set, a token that
        fails that check may instead be the rep's own ID token minted by the Apps Script
        forwarder (``ScriptApp.getIdentityToken()``, audience = the script's OAuth client);
        then the rep it names is returned. The script binds the route itself (its ``onAction``
        only forwards to known paths), so that token carries no route audience.
        """
        try:
            self.verify_request(authorization, path)
            return None
        except AddonAuthError as exc:
            if not self._apps_script_client_id or exc.reason in _NOT_A_TOKEN:
                raise
            try:
                return self.verify_apps_script(authorization)
            except AddonAuthError:
                raise exc from None

    def verify_apps_script(self, authorization: str | None) -> Rep:
        """The rep an Apps Script bearer token names (audience ``ADDON_APPS_SCRIPT_CLIENT_ID``)."""
        if not self._apps_script_client_id:
            raise AddonAuthError("not_configured", "ADDON_APPS_SCRIPT_CLIENT_ID is not set")
        claims = self._verify(_bearer(authorization), self._apps_script_client_id)
        return _rep(claims, "token")

    def verify_user(self, user_id_token: str | None) -> Rep:
        """Verify ``authorizationEventObject.userIdToken`` and return the rep it names.

        Audience: ``ADDON_OAUTH_CLIENT_ID``. Google sends this token only when the
        ``userinfo.email`` scope is declared and granted; check the scopes first
        (:func:`missing_scopes`) so that a rep who unticked it is asked again rather than refused.
        """
        if not self._client_id:
            raise AddonAuthError("not_configured", "ADDON_OAUTH_CLIENT_ID is not set")
        if not user_id_token:
            raise AddonAuthError("missing_user_token", "the event carries no userIdToken")
        return _rep(self._verify(user_id_token, self._client_id), "userIdToken")

    def _verify(self, token: str, audience: str) -> Mapping[str, Any]:
        try:
            claims = self._verify_once(token, audience)
        except AddonAuthError as exc:
            # Unknown key id: Google may have rotated its keys since we cached the certificates.
            if exc.reason != "signature" or not self._adapter.forget_if_older_than(
                self._certs_url, _REFETCH_UNKNOWN_KEY_AFTER
            ):
                raise
            claims = self._verify_once(token, audience)
        if claims.get("iss") not in GOOGLE_ISSUERS:
            raise AddonAuthError("issuer", "token was not issued by Google")
        # google-auth requires exp for x509 certificates, PyJWT (JWK certificates) does not.
        if not isinstance(claims.get("exp"), int | float):
            raise AddonAuthError("malformed", "token has no expiry")
        return claims

    def _verify_once(self, token: str, audience: str) -> Mapping[str, Any]:
        try:
            return id_token.verify_token(
                token,
                self._transport,
                audience=audience,
                certs_url=self._certs_url,
                clock_skew_in_seconds=self._skew,
            )
        except google.auth.exceptions.TransportError:
            log.warning("addon auth: could not fetch Google certificates")
            raise AddonAuthError(
                "certs_unavailable", "could not fetch Google signing certificates"
            ) from None
        except Exception as exc:
            # google-auth and PyJWT raise many types, and their messages may hold the token.
            reason, message = _classify(exc)
            log.debug("addon auth: %s (%s)", reason, type(exc).__name__)
            # `from None`: the original exception's message can contain the token itself.
            raise AddonAuthError(reason, message) from None


def _rep(claims: Mapping[str, Any], what: str) -> Rep:
    email = claims.get("email")
    sub = claims.get("sub")
    if not isinstance(email, str) or not email.strip() or not isinstance(sub, str) or not sub:
        raise AddonAuthError("malformed", f"{what} has no email or subject")
    if claims.get("email_verified") is not True:
        raise AddonAuthError("email_unverified", f"{what} email is not verified")
    return Rep(email=email.strip().lower(), sub=sub)


# --------------------------------------------------------------------------- scopes and logging


def missing_scopes(authorized: Sequence[str] | None, needed: Iterable[str]) -> list[str]:
    """Scopes in ``needed`` that the rep has not granted, in ``needed``'s order.

    ``authorized`` is ``authorizationEventObject.authorizedScopes``. When Google did not send it
    at all (None) nothing is reported missing: granular consent is what adds that field, and
    asking for scopes we cannot see would loop.
    See https://developers.google.com/workspace/add-ons/guides/alternate-runtimes
    """
    if authorized is None:
        return []
    granted = set(authorized)
    return [scope for scope in needed if scope not in granted]


def scope_request(scopes: Sequence[str]) -> dict[str, Any]:
    """The answer that makes Google ask the rep to grant ``scopes``, then re-run the action.

    Shape (snake_case keys): ``{"requesting_google_scopes": {"scopes": [...]}}``; see
    https://developers.google.com/workspace/add-ons/guides/alternate-runtimes
    ("Granular OAuth consent").
    """
    if not scopes:
        raise ValueError("no scopes to request")
    return {"requesting_google_scopes": {"scopes": list(scopes)}}


def redact_event(event: Mapping[str, Any]) -> dict[str, Any]:
    """A deep copy of an event object without ``authorizationEventObject`` or Gmail's token.

    Use it for anything that may reach a log: the tokens in there are bearer credentials.
    """
    clean = {k: copy.deepcopy(v) for k, v in event.items() if k != "authorizationEventObject"}
    gmail = clean.get("gmail")
    if isinstance(gmail, dict) and "accessToken" in gmail:
        gmail["accessToken"] = "[redacted]"
    metadata = clean.get("messageMetadata")  # legacy Gmail copy of the same token
    if isinstance(metadata, dict) and "accessToken" in metadata:
        metadata["accessToken"] = "[redacted]"
    return clean
