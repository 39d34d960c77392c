"""The Microsoft identity stand-in speaks what msal expects: discovery over https (trusted
through REQUESTS_CA_BUNDLE), the code flow with PKCE, rotating refresh tokens, Microsoft's
error shape; its ID tokens verify against its JWKS with google-auth."""

from __future__ import annotations

from collections.abc import Iterator
from urllib.parse import parse_qs, urlsplit

import msal
import pytest
import requests
from google.auth.transport.requests import Request
from google.oauth2 import id_token

from server.stand_ins.microsoft import MicrosoftStandIn

CLIENT, SECRET, REDIRECT = "client-1", "secret-1", "https://app.test/callback"


@pytest.fixture
def stand_in(monkeypatch: pytest.MonkeyPatch) -> Iterator[MicrosoftStandIn]:
    with MicrosoftStandIn() as ms:
        ms.identity.register_app(CLIENT, SECRET, [REDIRECT])
        monkeypatch.setenv("REQUESTS_CA_BUNDLE", ms.ca_bundle_path)
        yield ms


@pytest.fixture
def app(stand_in: MicrosoftStandIn) -> Iterator[msal.ConfidentialClientApplication]:
    with requests.Session() as http:
        yield msal.ConfidentialClientApplication(
            CLIENT,
            client_credential=SECRET,
            authority=stand_in.authority,
            instance_discovery=False,
            http_client=http,
        )


def _flow(app: msal.ConfidentialClientApplication) -> dict[str, str]:
    with pytest.warns(UserWarning, match="form_post"):
        return dict(app.initiate_auth_code_flow(["Calendars.ReadWrite"], redirect_uri=REDIRECT))


def _answer(url: str) -> dict[str, str]:
    return {k: v[0] for k, v in parse_qs(urlsplit(url).query).items()}


def test_code_flow_with_pkce_refresh_and_revocation(
    stand_in: MicrosoftStandIn, app: msal.ConfidentialClientApplication
) -> None:
    flow = _flow(app)
    assert "code_challenge=" in flow["auth_uri"]
    callback = stand_in.identity.approve(flow["auth_uri"], email="Ada@Contoso.example")
    result = app.acquire_token_by_auth_code_flow(flow, _answer(callback))
    assert "error" not in result, result
    assert result["refresh_token"]
    assert result["id_token_claims"]["preferred_username"] == "ada@contoso.example"
    with requests.Session() as http:
        claims = id_token.verify_token(
            result["id_token"],
            Request(session=http),
            audience=CLIENT,
            certs_url=stand_in.identity.origin + "/common/discovery/v2.0/keys",
        )
    assert claims["tid"] in claims["iss"]
    refreshed = app.acquire_token_by_refresh_token(result["refresh_token"], ["Calendars.ReadWrite"])
    assert refreshed["access_token"]
    assert refreshed["refresh_token"] != result["refresh_token"]  # rotated
    stand_in.identity.revoke("ada@contoso.example")
    refused = app.acquire_token_by_refresh_token(
        refreshed["refresh_token"], ["Calendars.ReadWrite"]
    )
    assert refused["error"] == "invalid_grant"
    assert "AADSTS50173" in refused["error_description"]


def test_a_wrong_verifier_and_a_reused_code_are_refused(
    stand_in: MicrosoftStandIn, app: msal.ConfidentialClientApplication
) -> None:
    flow = _flow(app)
    answer = _answer(stand_in.identity.approve(flow["auth_uri"]))
    tampered = dict(flow, code_verifier="x" * 50)
    assert app.acquire_token_by_auth_code_flow(tampered, answer)["error"] == "invalid_grant"
    assert "access_token" in app.acquire_token_by_auth_code_flow(flow, answer)
    assert app.acquire_token_by_auth_code_flow(flow, answer)["error"] == "invalid_grant"  # used


def test_an_unregistered_redirect_uri_gets_an_error_page(stand_in: MicrosoftStandIn) -> None:
    url = (
        f"{stand_in.http_origin}/common/oauth2/v2.0/authorize?client_id={CLIENT}"
        "&response_type=code&scope=openid&redirect_uri=https://evil.example/cb"
    )
    response = requests.get(url, timeout=10, allow_redirects=False)
    assert response.status_code == 400
    assert "AADSTS50011" in response.text


def test_the_rogue_key_is_not_published(stand_in: MicrosoftStandIn) -> None:
    keys = requests.get(stand_in.identity.origin + "/common/discovery/v2.0/keys", timeout=10)
    kids = [k["kid"] for k in keys.json()["keys"]]
    assert kids == [stand_in.identity.keys["default"].kid]
