"""Request authentication against the shared Google stand-in (its certs endpoint and keys)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from server.addon import paths
from server.addon.auth import AddonAuthenticator, AddonAuthError, Rep
from server.config import Settings
from server.stand_ins.google import GoogleStandIn

from .conftest import BASE_URL, CLIENT_ID, SERVICE_ACCOUNT


@pytest.fixture(scope="module")
def google() -> Iterator[GoogleStandIn]:
    with GoogleStandIn() as stand_in:
        yield stand_in


@pytest.fixture
def authn(addon_settings: Settings, google: GoogleStandIn) -> AddonAuthenticator:
    certs = google.settings()["GOOGLE_CERTS_URL"]
    return AddonAuthenticator(addon_settings.with_overrides(google_certs_url=certs))


def _reason(authn: AddonAuthenticator, header: str, path: str = paths.HOME) -> str:
    with pytest.raises(AddonAuthError) as info:
        authn.verify_request(header, path)
    return info.value.reason


def test_stand_in_tokens_verify(authn: AddonAuthenticator, google: GoogleStandIn) -> None:
    system = google.id_token_for(audience=BASE_URL + paths.ADD_NOTE, email=SERVICE_ACCOUNT)
    authn.verify_request(f"Bearer {system}", paths.ADD_NOTE)
    user = google.id_token_for(audience=CLIENT_ID, email="rep@acme.example")
    assert authn.verify_user(user).email == "rep@acme.example"
    assert isinstance(authn.verify_user(user), Rep)


def test_stand_in_forgeries_are_refused(authn: AddonAuthenticator, google: GoogleStandIn) -> None:
    def token(**kwargs: object) -> str:
        values: dict[str, object] = {"audience": BASE_URL + paths.HOME, "email": SERVICE_ACCOUNT}
        values.update(kwargs)
        return google.id_token_for(**values)  # type: ignore[arg-type]

    assert _reason(authn, f"Bearer {token(key='rogue')}") == "signature"
    assert _reason(authn, f"Bearer {token(ttl=-3600)}") == "expired"
    assert _reason(authn, f"Bearer {token(issuer='https://evil.example.com')}") == "issuer"
    assert _reason(authn, f"Bearer {token(audience=BASE_URL + paths.HOME + '/')}") == "audience"
    assert _reason(authn, f"Bearer {token(email='rep@acme.example')}") == "email"
    assert _reason(authn, f"Bearer {token(email_verified=False)}") == "email_unverified"
    forged_user = google.id_token_for(audience=CLIENT_ID, email="ceo@acme.example", key="rogue")
    with pytest.raises(AddonAuthError):
        authn.verify_user(forged_user)
