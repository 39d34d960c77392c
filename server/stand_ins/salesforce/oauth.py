"""OAuth 2.0 of the stand-in org: connected apps, the web-server flow with PKCE
(https://help.salesforce.com/s/articleView?id=sf.remoteaccess_oauth_web_server_flow.htm), the
refresh-token flow with optional rotation (.../remoteaccess_oauth_refresh_token_flow.htm and
"Refresh Token Rotation", Spring '24), revocation (.../remoteaccess_revoke_token.htm) and the
bearer access tokens the REST API accepts. Errors keep Salesforce's
``{"error","error_description"}`` shape. A mixin of :class:`~.org.OrgState`.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
import threading
from abc import ABC, abstractmethod
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

JsonDict = dict[str, Any]
CODE_TTL = timedelta(minutes=15)
DEFAULT_SCOPE = "api refresh_token"
OFFLINE = frozenset({"refresh_token", "offline_access", "full"})


class OAuthError(Exception):
    """A refusal of the token or revoke endpoint."""

    def __init__(self, error: str, description: str, status: int = 400) -> None:
        super().__init__(f"{error}: {description}")
        self.error, self.description, self.status = error, description, status

    def body(self) -> JsonDict:
        return {"error": self.error, "error_description": self.description}


class AuthorizeError(ValueError):
    """A refusal of the authorize page; ``redirect`` when it may go back to the app."""

    def __init__(self, error: str, description: str, *, redirect: bool = False) -> None:
        super().__init__(f"{error}: {description}")
        self.error, self.description, self.redirect = error, description, redirect


@dataclass
class App:
    client_id: str
    secret: str
    redirect_uris: list[str]


@dataclass
class Grant:
    """One user's consent to one app; refresh tokens and access tokens hang off it."""

    user_id: str
    client_id: str
    scope: str
    revoked: bool = False


@dataclass
class Code:
    params: dict[str, str]
    grant: Grant
    expires_at: datetime
    used: bool = False


@dataclass
class AccessToken:
    grant: Grant
    expires_at: datetime
    revoked: bool = False


class OAuthGrants(ABC):
    """Apps, codes, grants and tokens. Needs the host's ``lock``, ``now``, ``org_id``,
    ``origin``, :meth:`user_id_for` and :meth:`user_is_active`."""

    lock: threading.RLock
    now: Callable[[], datetime]
    org_id: str
    origin: str

    def __init__(self) -> None:
        self.apps: dict[str, App] = {}
        self.codes: dict[str, Code] = {}
        self.refresh_tokens: dict[str, Grant] = {}
        self.access_tokens: dict[str, AccessToken] = {}
        self.rotate_refresh_tokens = True
        self.access_token_ttl = timedelta(hours=2)

    @abstractmethod
    def user_id_for(self, username: str | None) -> str:
        """The user a grant is for (the org's users live in ``OrgState``)."""

    @abstractmethod
    def user_is_active(self, user_id: str) -> bool:
        """Whether that user may still be issued tokens."""

    # -- hooks ------------------------------------------------------------------------------
    def register_app(self, client_id: str, secret: str, redirect_uris: list[str]) -> None:
        """A connected app (consumer key, secret, callback URLs). Once one is registered only
        registered apps pass; before that any client id is accepted."""
        with self.lock:
            self.apps[client_id] = App(client_id, secret, list(redirect_uris))

    def approve(self, auth_url: str, username: str | None = None) -> str:
        """Act as ``username`` (default: the integration user) pressing Allow on
        ``auth_url``; returns the app's callback URL with ``code`` and ``state``."""
        params = dict(parse_qsl(urlsplit(auth_url).query))
        self.check_authorize(params)
        return self.answer(params, username, allow=True)

    def revoke(self, username: str | None = None) -> None:
        """The user (or an admin) revoked the app: refresh answers ``invalid_grant`` and the
        access tokens stop working."""
        user_id = self.user_id_for(username)
        with self.lock:
            for grant in list(self.refresh_tokens.values()) + [
                t.grant for t in self.access_tokens.values()
            ]:
                if grant.user_id == user_id:
                    grant.revoked = True

    def expire_access_tokens(self) -> None:
        """Every access token issued so far expires now (a session timeout)."""
        with self.lock:
            for token in self.access_tokens.values():
                token.expires_at = min(token.expires_at, self.now())

    def issue_tokens(self, username: str | None = None, client_id: str = "stand-in") -> JsonDict:
        """The token answer of a completed code flow, without the flow (for tests)."""
        with self.lock:
            grant = Grant(self.user_id_for(username), client_id, DEFAULT_SCOPE)
            return self._tokens(grant, with_refresh=True)

    # -- authorize --------------------------------------------------------------------------
    def check_authorize(self, params: dict[str, str]) -> None:
        client_id, redirect_uri = params.get("client_id", ""), params.get("redirect_uri", "")
        with self.lock:
            app = self.apps.get(client_id)
            if not client_id or (self.apps and app is None):
                raise AuthorizeError("invalid_client_id", "client identifier invalid")
        if not redirect_uri or (app is not None and redirect_uri not in app.redirect_uris):
            raise AuthorizeError("redirect_uri_mismatch", "redirect_uri must match configuration")
        if params.get("response_type") != "code":
            raise AuthorizeError(
                "unsupported_response_type", "response type not supported", redirect=True
            )
        method = params.get("code_challenge_method", "S256")
        if params.get("code_challenge") and method != "S256":
            raise AuthorizeError("invalid_request", "invalid code_challenge_method", redirect=True)

    def answer(self, params: dict[str, str], username: str | None, *, allow: bool) -> str:
        """The redirect back to the app after Allow or Deny."""
        query: list[tuple[str, str]] = []
        if allow:
            user_id = self.user_id_for(username or None)
            scope = " ".join(dict.fromkeys(params.get("scope", DEFAULT_SCOPE).split()))
            code = "aPrx" + secrets.token_urlsafe(60)
            with self.lock:
                grant = Grant(user_id, params.get("client_id", ""), scope or DEFAULT_SCOPE)
                self.codes[code] = Code(dict(params), grant, self.now() + CODE_TTL)
            query.append(("code", code))
        else:
            query += [
                ("error", "access_denied"),
                ("error_description", "end-user denied authorization"),
            ]
        if "state" in params:
            query.append(("state", params["state"]))
        return _with_query(params["redirect_uri"], query)

    def refuse(self, params: dict[str, str], error: AuthorizeError) -> str:
        query = [("error", error.error), ("error_description", error.description)]
        if "state" in params:
            query.append(("state", params["state"]))
        return _with_query(params["redirect_uri"], query)

    # -- token ------------------------------------------------------------------------------
    def token(self, form: dict[str, str], basic: tuple[str, str] | None) -> JsonDict:
        """``POST /services/oauth2/token``: the code and the refresh-token grants."""
        if basic is not None:
            form = {**form, "client_id": basic[0], "client_secret": basic[1]}
        grant_type = form.get("grant_type", "")
        if grant_type not in ("authorization_code", "refresh_token"):
            raise OAuthError("unsupported_grant_type", "grant type not supported")
        with self.lock:
            app = self._client(form.get("client_id", ""), form.get("client_secret"))
            if grant_type == "authorization_code":
                return self._redeem(form, app)
            return self._refresh(form, app)

    def _client(self, client_id: str, secret: str | None) -> App | None:
        if not self.apps:
            return None
        app = self.apps.get(client_id)
        if app is None:
            raise OAuthError("invalid_client_id", "client identifier invalid")
        if not secret or not secrets.compare_digest(secret, app.secret):
            raise OAuthError("invalid_client", "invalid client credentials")
        return app

    def _redeem(self, form: dict[str, str], app: App | None) -> JsonDict:
        found = self.codes.get(form.get("code", ""))
        if found is None or found.used or self.now() >= found.expires_at:
            raise OAuthError("invalid_grant", "invalid authorization code")
        if app is not None and found.grant.client_id != app.client_id:
            raise OAuthError("invalid_grant", "invalid authorization code")
        if found.params.get("redirect_uri") != form.get("redirect_uri"):
            raise OAuthError("redirect_uri_mismatch", "redirect_uri must match configuration")
        challenge = found.params.get("code_challenge")
        if challenge and not _pkce_ok(challenge, form.get("code_verifier")):
            raise OAuthError("invalid_grant", "invalid code verifier")
        found.used = True
        if not self.user_is_active(found.grant.user_id):
            raise OAuthError("invalid_grant", "inactive user")
        offline = bool(OFFLINE & set(found.grant.scope.split()))
        return self._tokens(found.grant, with_refresh=offline)

    def _refresh(self, form: dict[str, str], app: App | None) -> JsonDict:
        token = form.get("refresh_token", "")
        grant = self.refresh_tokens.get(token)
        if grant is None or grant.revoked or (app is not None and grant.client_id != app.client_id):
            raise OAuthError("invalid_grant", "expired access/refresh token")
        if not self.user_is_active(grant.user_id):
            raise OAuthError("invalid_grant", "inactive user")
        if self.rotate_refresh_tokens:
            del self.refresh_tokens[token]
        return self._tokens(grant, with_refresh=self.rotate_refresh_tokens)

    def _tokens(self, grant: Grant, *, with_refresh: bool) -> JsonDict:
        now = self.now()
        access = f"{self.org_id[:15]}!AQ" + secrets.token_urlsafe(72)
        self.access_tokens[access] = AccessToken(grant, now + self.access_token_ttl)
        identity = f"{self.origin}/id/{self.org_id}/{grant.user_id}"
        issued_at = str(int(now.timestamp() * 1000))
        app = self.apps.get(grant.client_id)
        key = (app.secret if app else grant.client_id).encode()
        # "Base64-encoded HMAC-SHA256 signature signed with the client_secret containing the
        # concatenated ID and issued_at value" (web-server flow docs).
        signature = base64.b64encode(
            hmac.new(key, (identity + issued_at).encode(), hashlib.sha256).digest()
        ).decode()
        body: JsonDict = {"access_token": access}
        if with_refresh:
            refresh = "5Aep861" + secrets.token_urlsafe(64)
            self.refresh_tokens[refresh] = grant
            body["refresh_token"] = refresh
        body.update(
            signature=signature,
            scope=grant.scope,
            instance_url=self.origin,
            id=identity,
            token_type="Bearer",  # noqa: S106
            issued_at=issued_at,
        )
        return body

    # -- revoke and bearer ------------------------------------------------------------------
    def revoke_token(self, token: str) -> None:
        """``POST /services/oauth2/revoke``: a refresh token takes its access tokens along."""
        with self.lock:
            grant = self.refresh_tokens.get(token)
            if grant is not None:
                grant.revoked = True
                return
            access = self.access_tokens.get(token)
            if access is None:
                raise OAuthError("unsupported_token_type", "this token type is not supported")
            access.revoked = True

    def resolve(self, token: str) -> str | None:
        """The user id behind a live access token."""
        with self.lock:
            found = self.access_tokens.get(token)
            if found is None or found.revoked or found.grant.revoked:
                return None
            if self.now() >= found.expires_at or not self.user_is_active(found.grant.user_id):
                return None
            return found.grant.user_id


def _with_query(url: str, extra: list[tuple[str, str]]) -> str:
    parts = urlsplit(url)
    return urlunsplit(parts._replace(query=urlencode(parse_qsl(parts.query) + extra)))


def _pkce_ok(challenge: str, verifier: str | None) -> bool:
    if not verifier:
        return False
    digest = hashlib.sha256(verifier.encode("ascii", "replace")).digest()
    computed = base64.urlsafe_b64encode(digest).rstrip(b"=").decode("ascii")
    return secrets.compare_digest(computed, challenge)
