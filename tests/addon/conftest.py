"""Fixtures for the add-on unit tests: signing keys, a certificates endpoint on 127.0.0.1."""

from __future__ import annotations

import base64
import json
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from cryptography import x509
from cryptography.fernet import Fernet
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from cryptography.x509.oid import NameOID

from server.config import Settings

BASE_URL = "https://addon.example.com"
SERVICE_ACCOUNT = "service-42@gcp-sa-gsuiteaddons.iam.gserviceaccount.com"
CLIENT_ID = "42-addon.apps.googleusercontent.com"


@dataclass
class Key:
    kid: str
    private_pem: bytes
    certificate_pem: str

    def sign(self, claims: dict[str, Any], *, kid: str | None = None) -> str:
        """An RS256 JWT, as Google signs ID tokens."""
        header = {"alg": "RS256", "kid": kid or self.kid, "typ": "JWT"}
        signing_input = f"{_b64json(header)}.{_b64json(claims)}".encode()
        key = serialization.load_pem_private_key(self.private_pem, password=None)
        assert isinstance(key, rsa.RSAPrivateKey)
        signature = key.sign(signing_input, padding.PKCS1v15(), hashes.SHA256())
        return f"{signing_input.decode()}.{_b64(signature)}"


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _b64json(value: dict[str, Any]) -> str:
    return _b64(json.dumps(value, separators=(",", ":")).encode())


def _make_key(kid: str) -> Key:
    private = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "accounts.google.com")])
    start = datetime(2000, 1, 1, tzinfo=UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(private.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(start)
        .not_valid_after(start + timedelta(days=365 * 100))
        .sign(private, hashes.SHA256())
    )
    pem = private.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    return Key(kid, pem, cert.public_bytes(serialization.Encoding.PEM).decode())


@pytest.fixture(scope="session")
def google_key() -> Key:
    """The key whose certificate the certs endpoint publishes."""
    return _make_key("google-1")


@pytest.fixture(scope="session")
def rogue_key() -> Key:
    """A key nobody published."""
    return _make_key("rogue-1")


@dataclass
class CertsServer:
    url: str
    certs: dict[str, str]
    cache_control: str | None = "public, max-age=3600"
    hits: list[float] = field(default_factory=list)


@pytest.fixture
def certs_server(google_key: Key) -> Iterator[CertsServer]:
    """Google's x509 certificates endpoint (``/oauth2/v1/certs``), on 127.0.0.1."""
    state = CertsServer(url="", certs={google_key.kid: google_key.certificate_pem})

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            state.hits.append(time.monotonic())
            body = json.dumps(state.certs).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            if state.cache_control:
                self.send_header("Cache-Control", state.cache_control)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, args=(0.01,), daemon=True)
    thread.start()
    state.url = f"http://127.0.0.1:{server.server_address[1]}/oauth2/v1/certs"
    yield state
    server.shutdown()
    server.server_close()


@pytest.fixture
def addon_settings(tmp_path: Path, certs_server: CertsServer) -> Settings:
    return Settings(
        instance_path=tmp_path,
        database_url="sqlite://",
        queue_url=f"sqlite:///{tmp_path / 'queue.db'}",
        secret_key="test",
        token_encryption_keys=(Fernet.generate_key().decode(),),
        public_base_url=BASE_URL,
        addon_service_account_email=SERVICE_ACCOUNT,
        addon_oauth_client_id=CLIENT_ID,
        google_certs_url=certs_server.url,
    )


def system_claims(path: str, **overrides: Any) -> dict[str, Any]:
    """The claims Google puts in the bearer token of a request to ``BASE_URL + path``."""
    now = int(time.time())
    claims: dict[str, Any] = {
        "iss": "https://accounts.google.com",
        "aud": BASE_URL + path,
        "sub": "1122334455",
        "azp": "1122334455",
        "email": SERVICE_ACCOUNT,
        "email_verified": True,
        "iat": now,
        "exp": now + 3600,
    }
    claims.update(overrides)
    return {k: v for k, v in claims.items() if v is not None}


def user_claims(email: str = "rep@acme.example", **overrides: Any) -> dict[str, Any]:
    """The claims of ``authorizationEventObject.userIdToken``."""
    now = int(time.time())
    claims: dict[str, Any] = {
        "iss": "accounts.google.com",
        "aud": CLIENT_ID,
        "azp": CLIENT_ID,
        "sub": "998877",
        "email": email,
        "email_verified": True,
        "iat": now,
        "exp": now + 3600,
    }
    claims.update(overrides)
    return {k: v for k, v in claims.items() if v is not None}
