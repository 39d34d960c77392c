"""State of the Microsoft identity platform stand-in (v2.0 endpoints): registered apps,
consent, authorization codes with PKCE, refresh tokens, revocation, and ID tokens signed with
a key published as a JWKS. Thread-safe.

Refresh tokens rotate as Microsoft's do: each refresh answers a new one, and the old one stays
usable until the grant is revoked.
"""

from __future__ import annotations

import base64
import hashlib
import json
import secrets
import threading
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding, rsa

JsonDict = dict[str, Any]
Clock = Callable[[], datetime]
TENANT_ID = "5f3c1d2e-9a4b-4c6d-8e7f-0a1b2c3d4e5f"
ACCESS_TOKEN_TTL = 3599
CODE_TTL = 600
PUBLISHED, ROGUE = "default", "rogue"


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _int_b64(value: int) -> str:
    return b64url(value.to_bytes((value.bit_length() + 7) // 8, "big"))


def object_id(email: str) -> str:
    return str(uuid.uuid5(uuid.NAMESPACE_URL, "user:" + email.strip().lower()))


class IdentityError(Exception):
    """An error of the token endpoint, in Microsoft's shape."""

    def __init__(self, status: int, error: str, code: int, description: str) -> None:
        super().__init__(f"{error}: AADSTS{code}: {description}")
        self.status, self.error, self.code, self.description = status, error, code, description

    def body(self, now: datetime) -> JsonDict:
        trace = str(uuid.uuid4())
        return {
            "error": self.error,
            "error_description": f"AADSTS{self.code}: {self.description} Trace ID: {trace}",
            "error_codes": [self.code],
            "timestamp": now.strftime("%Y-%m-%d %H:%M:%SZ"),
            "trace_id": trace,
            "correlation_id": str(uuid.uuid4()),
        }


class AuthorizeError(ValueError):
    """A request the authorize endpoint refuses; ``redirect`` when it may go back to the app."""

    def __init__(self, error: str, description: str, *, redirect: bool = False) -> None:
        super().__init__(f"{error}: {description}")
        self.error, self.description, self.redirect = error, description, redirect


@dataclass
class SigningKey:
    kid: str
    key: rsa.RSAPrivateKey

    def jwk(self) -> JsonDict:
        numbers = self.key.public_key().public_numbers()
        return {
            "kty": "RSA",
            "use": "sig",
            "kid": self.kid,
            "n": _int_b64(numbers.n),
            "e": _int_b64(numbers.e),
        }

    def sign(self, claims: JsonDict, kid: str) -> str:
        header = {"typ": "JWT", "alg": "RS256", "kid": kid}
        parts = [b64url(json.dumps(p, separators=(",", ":")).encode()) for p in (header, claims)]
        signing_input = ".".join(parts).encode("ascii")
        signature = self.key.sign(signing_input, padding.PKCS1v15(), hashes.SHA256())
        return f"{signing_input.decode('ascii')}.{b64url(signature)}"


@dataclass
class App:
    client_id: str
    secret: str
    redirect_uris: list[str]


@dataclass
class Grant:
    email: str
    client_id: str
    scopes: tuple[str, ...]
    revoked: bool = False


@dataclass
class Code:
    params: dict[str, str]
    email: str
    expires_at: datetime
    used: bool = False


@dataclass
class IdentityState:
    now: Clock = field(default=lambda: datetime.now(UTC))
    origin: str = "https://127.0.0.1"  # the https origin; set when serving
    default_user: str = "user@example.com"
    apps: dict[str, App] = field(default_factory=dict)
    codes: dict[str, Code] = field(default_factory=dict)
    refresh_tokens: dict[str, Grant] = field(default_factory=dict)
    access_tokens: dict[str, tuple[Grant, datetime]] = field(default_factory=dict)
    # Test hook: rewrites the claims of the next ID tokens (a defect to refuse).
    claims_hook: Callable[[JsonDict], JsonDict] | None = None
    sign_with: str = PUBLISHED
    keys: dict[str, SigningKey] = field(default_factory=dict)
    lock: threading.RLock = field(default_factory=threading.RLock)

    def __post_init__(self) -> None:
        for name in (PUBLISHED, ROGUE):
            key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
            self.keys[name] = SigningKey(b64url(secrets.token_bytes(20)), key)

    # -- apps, users, grants ------------------------------------------------------------
    def register_app(self, client_id: str, secret: str, redirect_uris: list[str]) -> None:
        """Once an app is registered, only registered apps and their redirect URIs pass."""
        with self.lock:
            self.apps[client_id] = App(client_id, secret, list(redirect_uris))

    def revoke(self, email: str) -> None:
        """The user (or an admin) revoked consent: refreshing answers ``invalid_grant``."""
        with self.lock:
            for grant in self.refresh_tokens.values():
                if grant.email == email.strip().lower():
                    grant.revoked = True

    def issuer(self, tenant: str = TENANT_ID) -> str:
        return f"{self.origin}/{tenant}/v2.0"

    def jwks(self) -> JsonDict:
        return {"keys": [self.keys[PUBLISHED].jwk()]}

    # -- authorize ----------------------------------------------------------------------
    def check_authorize(self, params: dict[str, str]) -> None:
        client_id, redirect_uri = params.get("client_id", ""), params.get("redirect_uri", "")
        with self.lock:
            app = self.apps.get(client_id)
            if self.apps and app is None:
                raise AuthorizeError(
                    "unauthorized_client",
                    f"AADSTS700016: Application with "
                    f"identifier '{client_id}' was not found in the directory.",
                )
        if not redirect_uri or (app is not None and redirect_uri not in app.redirect_uris):
            raise AuthorizeError(
                "invalid_request",
                "AADSTS50011: The redirect URI specified in "
                "the request does not match the redirect URIs configured.",
            )
        if params.get("response_type") != "code":
            raise AuthorizeError(
                "unsupported_response_type",
                "AADSTS700054: response_type 'code' is required.",
                redirect=True,
            )
        if "openid" not in params.get("scope", "").split() and not params.get("scope"):
            raise AuthorizeError(
                "invalid_request",
                "AADSTS900144: The request body must contain the following parameter: 'scope'.",
                redirect=True,
            )
        method = params.get("code_challenge_method", "plain")
        if params.get("code_challenge") and method not in ("plain", "S256"):
            raise AuthorizeError(
                "invalid_request", "AADSTS501491: Invalid code_challenge_method", redirect=True
            )

    def answer(self, params: dict[str, str], email: str | None, *, allow: bool) -> str:
        """The redirect back to the app after "Accept" or "Cancel"."""
        query: list[tuple[str, str]] = []
        if allow:
            who = (email or params.get("login_hint") or self.default_user).strip().lower()
            code = "0.A" + secrets.token_urlsafe(48)
            with self.lock:
                self.codes[code] = Code(dict(params), who, self.now() + timedelta(seconds=CODE_TTL))
            info = json.dumps({"uid": object_id(who), "utid": TENANT_ID}).encode()
            query += [("code", code), ("client_info", b64url(info))]
            query.append(("session_state", str(uuid.uuid4())))
        else:
            query += [
                ("error", "access_denied"),
                ("error_description", "AADSTS65004: User declined to consent."),
            ]
        if "state" in params:
            query.append(("state", params["state"]))
        parts = urlsplit(params["redirect_uri"])
        merged = parse_qsl(parts.query) + query
        return urlunsplit(parts._replace(query=urlencode(merged)))

    def approve(self, auth_url: str, *, email: str | None = None) -> str:
        """Act as a person accepting on ``auth_url``; returns the app's callback URL."""
        params = dict(parse_qsl(urlsplit(auth_url).query))
        self.check_authorize(params)
        return self.answer(params, email, allow=True)

    # -- token --------------------------------------------------------------------------
    def client(self, client_id: str, secret: str | None) -> None:
        with self.lock:
            if not self.apps:
                return
            app = self.apps.get(client_id)
        if app is None:
            raise IdentityError(
                400,
                "unauthorized_client",
                700016,
                f"Application with identifier '{client_id}' was not found.",
            )
        if not secret or not secrets.compare_digest(secret, app.secret):
            raise IdentityError(401, "invalid_client", 7000215, "Invalid client secret provided.")

    def redeem(self, form: dict[str, str]) -> JsonDict:
        with self.lock:
            found = self.codes.get(form.get("code", ""))
            if found is None or found.used or self.now() >= found.expires_at:
                raise IdentityError(
                    400,
                    "invalid_grant",
                    70008,
                    "The provided authorization "
                    "code or refresh token has expired due to inactivity.",
                )
            params = found.params
            if params.get("client_id") != form.get("client_id"):
                raise IdentityError(
                    400, "invalid_grant", 70000, "The code was issued to another client."
                )
            if params.get("redirect_uri") != form.get("redirect_uri"):
                raise IdentityError(
                    400,
                    "invalid_grant",
                    50148,
                    "The redirect_uri does not match the one in the authorization request.",
                )
            if params.get("code_challenge") and not _pkce_ok(params, form.get("code_verifier")):
                raise IdentityError(
                    400,
                    "invalid_grant",
                    501481,
                    "The Code_Verifier does not "
                    "match the code_challenge supplied in the authorization "
                    "request.",
                )
            found.used = True
            scopes = tuple(params.get("scope", "").split())
            grant = Grant(found.email, form.get("client_id", ""), scopes)
            return self._tokens(grant, nonce=params.get("nonce"))

    def refresh(self, form: dict[str, str]) -> JsonDict:
        with self.lock:
            grant = self.refresh_tokens.get(form.get("refresh_token", ""))
            if grant is None:
                raise IdentityError(
                    400,
                    "invalid_grant",
                    9002313,
                    "Invalid request. Request is malformed or invalid.",
                )
            if grant.revoked:
                raise IdentityError(
                    400,
                    "invalid_grant",
                    50173,
                    "The provided grant has "
                    "expired due to it being revoked, a fresh auth token is "
                    "needed.",
                )
            if grant.client_id != form.get("client_id"):
                raise IdentityError(
                    400, "invalid_grant", 70000, "The refresh token was issued to another client."
                )
            return self._tokens(grant, nonce=None)

    def resolve(self, token: str) -> Grant | None:
        """The grant behind a live access token (for Graph)."""
        with self.lock:
            found = self.access_tokens.get(token)
        if found is None or found[0].revoked or self.now() >= found[1]:
            return None
        return found[0]

    def _tokens(self, grant: Grant, nonce: str | None) -> JsonDict:
        access = "eyJ0eXAiOi" + secrets.token_urlsafe(60)
        self.access_tokens[access] = (grant, self.now() + timedelta(seconds=ACCESS_TOKEN_TTL))
        scopes = [s for s in grant.scopes if s not in ("openid", "profile", "offline_access")]
        body: JsonDict = {
            "token_type": "Bearer",
            "scope": " ".join(scopes or ["User.Read"]),
            "expires_in": ACCESS_TOKEN_TTL,
            "ext_expires_in": ACCESS_TOKEN_TTL,
            "access_token": access,
        }
        if "offline_access" in grant.scopes:
            refresh = "1.AQ" + secrets.token_urlsafe(64)
            self.refresh_tokens[refresh] = grant
            body["refresh_token"] = refresh
        if "openid" in grant.scopes:
            body["id_token"] = self.id_token(grant, nonce)
            info = json.dumps({"uid": object_id(grant.email), "utid": TENANT_ID}).encode()
            body["client_info"] = b64url(info)
        return body

    def id_token(self, grant: Grant, nonce: str | None) -> str:
        issued = int(self.now().timestamp())
        claims: JsonDict = {
            "ver": "2.0",
            "iss": self.issuer(),
            "aud": grant.client_id,
            "iat": issued,
            "nbf": issued,
            "exp": issued + ACCESS_TOKEN_TTL,
            "name": grant.email.split("@")[0].replace(".", " ").title(),
            "preferred_username": grant.email,
            "oid": object_id(grant.email),
            "sub": b64url(hashlib.sha256(f"{grant.email}|{grant.client_id}".encode()).digest()),
            "tid": TENANT_ID,
        }
        if "email" in grant.scopes:
            claims["email"] = grant.email
            claims["xms_edov"] = True
        if nonce:
            claims["nonce"] = nonce
        if self.claims_hook is not None:
            claims = self.claims_hook(dict(claims))
        key = self.keys[self.sign_with]
        return key.sign(claims, kid=self.keys[PUBLISHED].kid)


def _pkce_ok(params: dict[str, str], verifier: str | None) -> bool:
    if not verifier:
        return False
    if params.get("code_challenge_method", "plain") == "S256":
        computed = b64url(hashlib.sha256(verifier.encode("ascii")).digest())
    else:
        computed = verifier
    return secrets.compare_digest(computed, params.get("code_challenge", ""))
