"""RSA keys that sign the stand-in's ID tokens, and the x509 certificates it publishes."""

from __future__ import annotations

import base64
import functools
import hashlib
import json
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from cryptography.x509.oid import NameOID

PUBLISHED_KEY = "default"
ROGUE_KEY = "rogue"


@dataclass(frozen=True)
class SigningKey:
    name: str
    kid: str
    private_key: rsa.RSAPrivateKey
    certificate_pem: str

    def sign_jwt(self, claims: dict[str, Any], *, kid: str | None = None) -> str:
        header = {"alg": "RS256", "kid": kid or self.kid, "typ": "JWT"}
        signing_input = f"{_b64(_json(header))}.{_b64(_json(claims))}".encode("ascii")
        signature = self.private_key.sign(signing_input, padding.PKCS1v15(), hashes.SHA256())
        return f"{signing_input.decode('ascii')}.{_b64(signature)}"


def _json(value: dict[str, Any]) -> bytes:
    return json.dumps(value, separators=(",", ":")).encode("utf-8")


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _make_key(name: str) -> SigningKey:
    private_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    public_der = private_key.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    kid = hashlib.sha1(public_der, usedforsecurity=False).hexdigest()
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "accounts.google.com")])
    not_before = datetime(2000, 1, 1, tzinfo=UTC)
    certificate = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(subject)
        .public_key(private_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(not_before)
        .not_valid_after(not_before + timedelta(days=365 * 100))
        .sign(private_key, hashes.SHA256())
    )
    pem = certificate.public_bytes(serialization.Encoding.PEM).decode("ascii")
    return SigningKey(name, kid, private_key, pem)


@functools.cache
def signing_keys() -> dict[str, SigningKey]:
    """The process-wide keys: ``default`` (published in the certs) and ``rogue`` (not)."""
    return {PUBLISHED_KEY: _make_key(PUBLISHED_KEY), ROGUE_KEY: _make_key(ROGUE_KEY)}


def published_certs() -> dict[str, str]:
    """``{kid: PEM}`` as served at https://www.googleapis.com/oauth2/v1/certs."""
    key = signing_keys()[PUBLISHED_KEY]
    return {key.kid: key.certificate_pem}
