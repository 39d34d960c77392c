"""OAuth 2.0 and OpenID Connect stand-in: consent, tokens, revocation, ID tokens, certs."""

from __future__ import annotations

import base64
import hashlib
import secrets
import threading
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from .common import ApiRecorder, Clock, JsonDict, RecordedRequest, utc_now
from .keys import PUBLISHED_KEY, signing_keys

ACCESS_TOKEN_TTL = 3599
CODE_TTL = 600
GOOGLE_ISSUER = "https://accounts.google.com"
SCOPE_PREFIX = "https://www.googleapis.com/auth/"
_SCOPE_ALIASES = {
    "email": SCOPE_PREFIX + "userinfo.email",
    "profile": SCOPE_PREFIX + "userinfo.profile",
}
_IDENTITY_SCOPES = {"openid", SCOPE_PREFIX + "userinfo.email", SCOPE_PREFIX + "userinfo.profile"}


def norm_email(email: str) -> str:
    return email.strip().lower()


def expand_scopes(scopes: str | list[str] | tuple[str, ...]) -> tuple[str, ...]:
    """Google's canonical form: ``email`` -> ``.../auth/userinfo.email``, order kept."""
    items = scopes.split() if isinstance(scopes, str) else list(scopes)
    out: list[str] = []
    for item in items:
        full = _SCOPE_ALIASES.get(item, item)
        if "://" not in full and full != "openid":
            full = SCOPE_PREFIX + full  # lenient: "calendar" means .../auth/calendar
        if full not in out:
            out.append(full)
    return tuple(out)


def subject_for(email: str) -> str:
    """A stable numeric ``sub`` for an email, shaped like Google's 21-digit ids."""
    digest = hashlib.sha256(norm_email(email).encode("utf-8")).hexdigest()
    return "1" + str(int(digest[:16], 16)).zfill(20)[:20]


class OAuthError(Exception):
    """An error of the token or revoke endpoint: ``{"error", "error_description"}``."""

    def __init__(self, status: int, error: str, description: str) -> None:
        super().__init__(f"{error}: {description}")
        self.status = status
        self.error = error
        self.description = description


class AuthorizationError(ValueError):
    """An authorization request Google would refuse with an error page."""

    def __init__(self, error: str, description: str) -> None:
        super().__init__(f"{error}: {description}")
        self.error = error
        self.description = description


@dataclass
class OAuthClient:
    client_id: str
    client_secret: str
    redirect_uris: list[str] = field(default_factory=list)


@dataclass
class AuthRequest:
    """A validated request to the authorization endpoint."""

    client_id: str
    redirect_uri: str
    scopes: tuple[str, ...]
    state: str | None
    offline: bool
    login_hint: str | None
    nonce: str | None
    code_challenge: str | None
    code_challenge_method: str


@dataclass
class AuthCode:
    code: str
    request: AuthRequest
    user: str
    expires_at: datetime
    used: bool = False


@dataclass
class Grant:
    """What one consent produced; a refresh token when offline access was asked for."""

    user: str
    client_id: str
    scopes: tuple[str, ...]
    refresh_token: str | None
    nonce: str | None = None
    revoked: bool = False


@dataclass
class AccessToken:
    token: str
    user: str
    scopes: tuple[str, ...] | None
    expires_at: datetime
    client_id: str | None = None
    grant: Grant | None = None
    revoked: bool = False

    def allows(self, accepted: set[str]) -> bool:
        """Whether any of ``accepted`` (short names under .../auth/ or full URLs) is granted."""
        if self.scopes is None:
            return True
        full = {a if "://" in a else SCOPE_PREFIX + a for a in accepted}
        return bool(full.intersection(self.scopes))


class OAuthState:
    """Users, clients, codes and tokens of the OAuth stand-in. Thread-safe."""

    def __init__(self, now: Clock = utc_now) -> None:
        self._now = now
        self._lock = threading.RLock()
        self.default_user = "user@example.com"
        self.clients: dict[str, OAuthClient] = {}
        self.codes: dict[str, AuthCode] = {}
        self.grants: list[Grant] = []
        self.access_tokens: dict[str, AccessToken] = {}
        self.refresh_tokens: dict[str, Grant] = {}
        self.recorder = ApiRecorder()

    @property
    def requests(self) -> list[RecordedRequest]:
        """Requests to the OAuth endpoints (form fields included)."""
        return self.recorder.requests

    # -- clients and users --------------------------------------------------------------
    def register_client(
        self, client_id: str, client_secret: str, redirect_uris: list[str] | None = None
    ) -> None:
        """Once any client is registered, only registered clients (and their redirect URIs,
        when listed) are accepted; until then every client id and secret is."""
        with self._lock:
            self.clients[client_id] = OAuthClient(client_id, client_secret, redirect_uris or [])

    def user_access_token(self, email: str, scopes: list[str] | None = None) -> str:
        """An access token for ``email`` (like an add-on's ``userOAuthToken``); ``None``
        scopes means every scope."""
        with self._lock:
            token = self._new_access(norm_email(email), expand_scopes(scopes) if scopes else None)
            return token.token

    def resolve(self, token: str | None) -> AccessToken | None:
        """The live (unexpired, unrevoked) access token, if any."""
        if not token:
            return None
        with self._lock:
            found = self.access_tokens.get(token)
            if found is None or found.revoked or self._now() >= found.expires_at:
                return None
            return found

    def revoke(self, email: str) -> None:
        """Revoke every grant and token of ``email``: refreshing answers ``invalid_grant``."""
        user = norm_email(email)
        with self._lock:
            for grant in self.grants:
                if grant.user == user:
                    grant.revoked = True
            for token in self.access_tokens.values():
                if token.user == user:
                    token.revoked = True

    def revoke_token(self, token: str) -> bool:
        """Revoke a refresh or access token and the grant behind it, as /revoke does."""
        with self._lock:
            grant = self.refresh_tokens.get(token)
            access = self.access_tokens.get(token)
            if grant is None and access is not None:
                grant = access.grant
                access.revoked = True
            if grant is None and access is None:
                return False
            if grant is not None:
                grant.revoked = True
                for other in self.access_tokens.values():
                    if other.grant is grant:
                        other.revoked = True
            return True

    # -- authorization endpoint ---------------------------------------------------------
    def parse_authorization(self, params: dict[str, str]) -> AuthRequest:
        client_id = params.get("client_id", "")
        redirect_uri = params.get("redirect_uri", "")
        if not client_id:
            raise AuthorizationError("invalid_request", "Missing required parameter: client_id")
        with self._lock:
            client = self.clients.get(client_id)
            if self.clients and client is None:
                raise AuthorizationError("invalid_client", "The OAuth client was not found.")
        if not redirect_uri:
            raise AuthorizationError("invalid_request", "Missing required parameter: redirect_uri")
        parts = urlsplit(redirect_uri)
        if parts.scheme not in {"http", "https"} or not parts.netloc or parts.fragment:
            raise AuthorizationError("invalid_request", "Invalid parameter value for redirect_uri")
        if client is not None and client.redirect_uris and redirect_uri not in client.redirect_uris:
            raise AuthorizationError(
                "redirect_uri_mismatch",
                f"The redirect URI in the request, {redirect_uri}, does not match the ones "
                "authorized for the OAuth client.",
            )
        if params.get("response_type") != "code":
            raise AuthorizationError(
                "unsupported_response_type",
                f"Invalid response_type: {params.get('response_type', '')}",
            )
        scopes = expand_scopes(params.get("scope", ""))
        if not scopes:
            raise AuthorizationError("invalid_request", "Missing required parameter: scope")
        method = params.get("code_challenge_method", "plain")
        if method not in {"plain", "S256"}:
            raise AuthorizationError("invalid_request", "Invalid code_challenge_method")
        return AuthRequest(
            client_id=client_id,
            redirect_uri=redirect_uri,
            scopes=scopes,
            state=params.get("state"),
            offline=params.get("access_type") == "offline",
            login_hint=params.get("login_hint") or None,
            nonce=params.get("nonce") or None,
            code_challenge=params.get("code_challenge") or None,
            code_challenge_method=method,
        )

    def signed_in_user(self, auth: AuthRequest) -> str:
        return norm_email(auth.login_hint or self.default_user)

    def issue_code(self, auth: AuthRequest, user: str) -> str:
        with self._lock:
            code = "4/0" + secrets.token_urlsafe(40)
            expires = self._now() + timedelta(seconds=CODE_TTL)
            self.codes[code] = AuthCode(code, auth, norm_email(user), expires)
            return code

    def callback_url(self, auth: AuthRequest, user: str | None, *, allow: bool) -> str:
        """Where the consent screen sends the browser: ``redirect_uri?code=&state=&scope=``,
        or ``?error=access_denied``."""
        params: list[tuple[str, str]] = []
        if allow:
            code = self.issue_code(auth, user or self.signed_in_user(auth))
            params += [("code", code), ("scope", " ".join(auth.scopes))]
            params += [("authuser", "0"), ("prompt", "consent")]
        else:
            params.append(("error", "access_denied"))
        if auth.state is not None:
            params.insert(0, ("state", auth.state))
        parts = urlsplit(auth.redirect_uri)
        query = parse_qsl(parts.query, keep_blank_values=True) + params
        return urlunsplit(parts._replace(query=urlencode(query)))

    def approve(self, auth_url: str, *, email: str | None = None) -> str:
        """Act as a person clicking "Allow" on ``auth_url`` (the product's redirect to
        GOOGLE_AUTH_URI); returns the callback URL with ``code`` and ``state``."""
        auth = self.parse_authorization(dict(parse_qsl(urlsplit(auth_url).query)))
        return self.callback_url(auth, email, allow=True)

    def deny(self, auth_url: str) -> str:
        """Act as a person clicking "Deny"; returns the callback URL with the error."""
        auth = self.parse_authorization(dict(parse_qsl(urlsplit(auth_url).query)))
        return self.callback_url(auth, None, allow=False)

    # -- token endpoint -----------------------------------------------------------------
    def authenticate_client(self, client_id: str, client_secret: str | None) -> None:
        if not client_id:
            raise OAuthError(400, "invalid_request", "Could not determine client ID from request.")
        with self._lock:
            if not self.clients:
                return
            client = self.clients.get(client_id)
        if client is None:
            raise OAuthError(401, "invalid_client", "The OAuth client was not found.")
        if client_secret != client.client_secret:
            raise OAuthError(401, "invalid_client", "Unauthorized")

    def exchange_code(
        self, client_id: str, code: str, redirect_uri: str, code_verifier: str | None
    ) -> JsonDict:
        if not code:
            raise OAuthError(400, "invalid_request", "Missing required parameter: code")
        with self._lock:
            found = self.codes.get(code)
            if found is None:
                raise OAuthError(400, "invalid_grant", "Malformed auth code.")
            auth = found.request
            if found.used or self._now() >= found.expires_at or auth.client_id != client_id:
                raise OAuthError(400, "invalid_grant", "Bad Request")
            if redirect_uri != auth.redirect_uri:
                raise OAuthError(400, "redirect_uri_mismatch", "Bad Request")
            if auth.code_challenge is not None:
                _check_verifier(auth, code_verifier)
            found.used = True
            refresh = "1//0" + secrets.token_urlsafe(48) if auth.offline else None
            grant = Grant(found.user, client_id, auth.scopes, refresh, auth.nonce)
            self.grants.append(grant)
            if refresh is not None:
                self.refresh_tokens[refresh] = grant
            body = self._token_body(grant)
            if refresh is not None:
                body["refresh_token"] = refresh
            return body

    def refresh(self, client_id: str, refresh_token: str) -> JsonDict:
        if not refresh_token:
            raise OAuthError(400, "invalid_request", "Missing required parameter: refresh_token")
        with self._lock:
            grant = self.refresh_tokens.get(refresh_token)
            if grant is None or grant.revoked:
                raise OAuthError(400, "invalid_grant", "Token has been expired or revoked.")
            if grant.client_id != client_id:
                raise OAuthError(401, "unauthorized_client", "Unauthorized")
            return self._token_body(grant, with_nonce=False)

    def _token_body(self, grant: Grant, *, with_nonce: bool = True) -> JsonDict:
        access = self._new_access(grant.user, grant.scopes, grant=grant)
        body: JsonDict = {
            "access_token": access.token,
            "expires_in": ACCESS_TOKEN_TTL,
            "scope": " ".join(grant.scopes),
            "token_type": "Bearer",
        }
        if _IDENTITY_SCOPES.intersection(grant.scopes):
            extra: dict[str, Any] = {"azp": grant.client_id, "at_hash": _at_hash(access.token)}
            if with_nonce and grant.nonce:
                extra["nonce"] = grant.nonce
            body["id_token"] = self.id_token_for(
                audience=grant.client_id, email=grant.user, ttl=ACCESS_TOKEN_TTL, **extra
            )
        return body

    def _new_access(
        self, user: str, scopes: tuple[str, ...] | None, *, grant: Grant | None = None
    ) -> AccessToken:
        token = AccessToken(
            token="ya29.a0" + secrets.token_urlsafe(60),
            user=user,
            scopes=scopes,
            expires_at=self._now() + timedelta(seconds=ACCESS_TOKEN_TTL),
            client_id=grant.client_id if grant else None,
            grant=grant,
        )
        self.access_tokens[token.token] = token
        return token

    # -- ID tokens ----------------------------------------------------------------------
    def sign_id_token(self, claims: dict[str, Any], *, key: str = PUBLISHED_KEY) -> str:
        """An RS256 JWT with a ``kid`` header. ``key="rogue"`` signs with a key that is not
        published but claims the published key's ``kid``: a forgery verification must reject."""
        keys = signing_keys()
        return keys[key].sign_jwt(claims, kid=keys[PUBLISHED_KEY].kid)

    def id_token_for(
        self,
        *,
        audience: str,
        email: str,
        issuer: str = GOOGLE_ISSUER,
        ttl: int = 3600,
        key: str = PUBLISHED_KEY,
        **extra: Any,
    ) -> str:
        """A Google-shaped ID token (iss, aud, sub, email, email_verified, iat, exp)."""
        issued = int(self._now().timestamp())
        claims: dict[str, Any] = {
            "iss": issuer,
            "aud": audience,
            "sub": subject_for(email),
            "email": norm_email(email),
            "email_verified": True,
            "iat": issued,
            "exp": issued + ttl,
        }
        claims.update(extra)
        return self.sign_id_token(claims, key=key)


def _check_verifier(auth: AuthRequest, verifier: str | None) -> None:
    if not verifier:
        raise OAuthError(400, "invalid_grant", "Missing code verifier.")
    if auth.code_challenge_method == "S256":
        digest = hashlib.sha256(verifier.encode("ascii")).digest()
        computed = base64.urlsafe_b64encode(digest).rstrip(b"=").decode("ascii")
    else:
        computed = verifier
    if not secrets.compare_digest(computed, auth.code_challenge or ""):
        raise OAuthError(400, "invalid_grant", "Invalid code verifier.")


def _at_hash(access_token: str) -> str:
    digest = hashlib.sha256(access_token.encode("ascii")).digest()
    return base64.urlsafe_b64encode(digest[:16]).rstrip(b"=").decode("ascii")
