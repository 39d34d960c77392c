"""Request authentication: every forgery is refused, with a message that never holds the token."""

from __future__ import annotations

import logging
import time
from typing import Any

import pytest

from server.addon import paths, scopes
from server.addon.auth import (
    AddonAuthenticator,
    AddonAuthError,
    Rep,
    missing_scopes,
    redact_event,
    scope_request,
)
from server.config import Settings

from .conftest import (
    BASE_URL,
    CLIENT_ID,
    SERVICE_ACCOUNT,
    CertsServer,
    Key,
    system_claims,
    user_claims,
)

PATH = paths.HOME


@pytest.fixture
def authn(addon_settings: Settings) -> AddonAuthenticator:
    return AddonAuthenticator(addon_settings)


def _refused(
    authn: AddonAuthenticator, header: str | None, reason: str, path: str = PATH
) -> AddonAuthError:
    with pytest.raises(AddonAuthError) as info:
        authn.verify_request(header, path)
    exc = info.value
    assert exc.reason == reason, str(exc)
    token = (header or "").partition(" ")[2]
    if token:
        assert token not in str(exc)
        assert token not in repr(exc)
    assert exc.__cause__ is None
    assert exc.__context__ is None or exc.__suppress_context__
    return exc


def test_valid_system_token_is_accepted(authn: AddonAuthenticator, google_key: Key) -> None:
    token = google_key.sign(system_claims(PATH))
    claims = authn.verify_request(f"Bearer {token}", PATH)
    assert claims["email"] == SERVICE_ACCOUNT
    assert authn.audience_for(PATH) == BASE_URL + PATH


def test_every_addon_path_has_its_own_audience(authn: AddonAuthenticator, google_key: Key) -> None:
    token = google_key.sign(system_claims(paths.ADD_NOTE))
    authn.verify_request(f"Bearer {token}", paths.ADD_NOTE)
    _refused(authn, f"Bearer {token}", "audience", paths.ADD_CONTACT)


@pytest.mark.parametrize("header", [None, "", "   "])
def test_missing_header(authn: AddonAuthenticator, header: str | None) -> None:
    _refused(authn, header, "missing_token")


@pytest.mark.parametrize(
    "header", ["Basic dXNlcjpwYXNz", "Bearer", "Bearer   ", "Token abc.def.ghi"]
)
def test_not_a_bearer_token(authn: AddonAuthenticator, header: str) -> None:
    _refused(authn, header, "not_bearer")


@pytest.mark.parametrize(
    "token",
    [
        "garbage",
        "a.b.c",
        "eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiIxIn0",
        "////.////.////",
        "\u00e9t\u00e9.\u00e9t\u00e9.\u00e9t\u00e9",
    ],
)
def test_garbage_token(authn: AddonAuthenticator, token: str) -> None:
    exc = _refused(authn, f"Bearer {token}", "malformed")
    assert "malformed" in str(exc)


def test_unsigned_token(authn: AddonAuthenticator) -> None:
    _refused(authn, "Bearer eyJhbGciOiJub25lIn0.eyJzdWIiOiIxIn0.", "signature")  # alg "none"


def test_unpublished_key(authn: AddonAuthenticator, rogue_key: Key) -> None:
    _refused(authn, f"Bearer {rogue_key.sign(system_claims(PATH))}", "signature")


def test_rogue_key_claiming_the_published_key_id(
    authn: AddonAuthenticator, rogue_key: Key, google_key: Key
) -> None:
    token = rogue_key.sign(system_claims(PATH), kid=google_key.kid)
    _refused(authn, f"Bearer {token}", "signature")


def test_tampered_payload(authn: AddonAuthenticator, google_key: Key) -> None:
    header, _, signature = google_key.sign(system_claims(PATH)).split(".")
    other = google_key.sign(system_claims(PATH, email="attacker@example.com")).split(".")[1]
    _refused(authn, f"Bearer {header}.{other}.{signature}", "signature")


def test_expired(authn: AddonAuthenticator, google_key: Key) -> None:
    now = int(time.time())
    token = google_key.sign(system_claims(PATH, iat=now - 7200, exp=now - 3600))
    _refused(authn, f"Bearer {token}", "expired")


def test_issued_in_the_future(authn: AddonAuthenticator, google_key: Key) -> None:
    now = int(time.time())
    token = google_key.sign(system_claims(PATH, iat=now + 3600, exp=now + 7200))
    _refused(authn, f"Bearer {token}", "expired")


def test_without_expiry(authn: AddonAuthenticator, google_key: Key) -> None:
    _refused(authn, f"Bearer {google_key.sign(system_claims(PATH, exp=None))}", "malformed")


@pytest.mark.parametrize(
    "audience",
    [
        BASE_URL + PATH + "/",
        BASE_URL + PATH + "?trigger=home",
        BASE_URL + PATH + "#x",
        "http://addon.example.com" + PATH,
        "https://evil.example.com" + PATH,
        BASE_URL,
        BASE_URL + "/",
        CLIENT_ID,
        [BASE_URL + PATH, "https://evil.example.com"],
    ],
)
def test_wrong_audience(authn: AddonAuthenticator, google_key: Key, audience: Any) -> None:
    _refused(authn, f"Bearer {google_key.sign(system_claims(PATH, aud=audience))}", "audience")


def test_missing_audience(authn: AddonAuthenticator, google_key: Key) -> None:
    _refused(authn, f"Bearer {google_key.sign(system_claims(PATH, aud=None))}", "audience")


@pytest.mark.parametrize("issuer", ["https://evil.example.com", "accounts.google.com.evil", None])
def test_wrong_issuer(authn: AddonAuthenticator, google_key: Key, issuer: str | None) -> None:
    _refused(authn, f"Bearer {google_key.sign(system_claims(PATH, iss=issuer))}", "issuer")


@pytest.mark.parametrize(
    "email",
    [
        "someone@example.com",
        "service-43@gcp-sa-gsuiteaddons.iam.gserviceaccount.com",
        SERVICE_ACCOUNT + ".evil.com",
        None,
    ],
)
def test_wrong_email(authn: AddonAuthenticator, google_key: Key, email: str | None) -> None:
    _refused(authn, f"Bearer {google_key.sign(system_claims(PATH, email=email))}", "email")


@pytest.mark.parametrize("verified", [False, "true", None])
def test_email_not_verified(authn: AddonAuthenticator, google_key: Key, verified: Any) -> None:
    token = google_key.sign(system_claims(PATH, email_verified=verified))
    _refused(authn, f"Bearer {token}", "email_unverified")


def test_user_token_as_system_token(authn: AddonAuthenticator, google_key: Key) -> None:
    _refused(authn, f"Bearer {google_key.sign(user_claims())}", "audience")


def test_unknown_path_is_a_programming_error(authn: AddonAuthenticator, google_key: Key) -> None:
    with pytest.raises(ValueError, match="not an add-on route"):
        authn.verify_request(f"Bearer {google_key.sign(system_claims('/x'))}", "/x")


def test_unconfigured_service_account_refuses_everything(
    addon_settings: Settings, google_key: Key
) -> None:
    authn = AddonAuthenticator(addon_settings.with_overrides(addon_service_account_email=""))
    token = google_key.sign(system_claims(PATH, email=""))
    _refused(authn, f"Bearer {token}", "not_configured")


# --------------------------------------------------------------------------- the rep's token


def test_valid_user_token(authn: AddonAuthenticator, google_key: Key) -> None:
    rep = authn.verify_user(google_key.sign(user_claims("Rep@Acme.example")))
    assert rep == Rep(email="rep@acme.example", sub="998877")


def test_missing_user_token(authn: AddonAuthenticator) -> None:
    for value in (None, ""):
        with pytest.raises(AddonAuthError) as info:
            authn.verify_user(value)
        assert info.value.reason == "missing_user_token"


@pytest.mark.parametrize(
    ("overrides", "reason"),
    [
        ({"aud": BASE_URL + PATH}, "audience"),
        ({"aud": "other-client.apps.googleusercontent.com"}, "audience"),
        ({"iss": "https://evil.example.com"}, "issuer"),
        ({"email_verified": False}, "email_unverified"),
        ({"email": None}, "malformed"),
        ({"sub": None}, "malformed"),
        ({"exp": int(time.time()) - 3600, "iat": int(time.time()) - 7200}, "expired"),
    ],
)
def test_bad_user_token(
    authn: AddonAuthenticator, google_key: Key, overrides: dict[str, Any], reason: str
) -> None:
    token = google_key.sign(user_claims(**overrides))
    with pytest.raises(AddonAuthError) as info:
        authn.verify_user(token)
    assert info.value.reason == reason
    assert token not in str(info.value)


def test_valid_system_token_with_forged_user_token(
    authn: AddonAuthenticator, google_key: Key, rogue_key: Key
) -> None:
    authn.verify_request(f"Bearer {google_key.sign(system_claims(PATH))}", PATH)
    forged = rogue_key.sign(user_claims("ceo@acme.example"))
    with pytest.raises(AddonAuthError) as info:
        authn.verify_user(forged)
    assert info.value.reason == "signature"


def test_system_token_as_user_token(authn: AddonAuthenticator, google_key: Key) -> None:
    with pytest.raises(AddonAuthError) as info:
        authn.verify_user(google_key.sign(system_claims(PATH)))
    assert info.value.reason == "audience"


def test_unconfigured_client_id_refuses_users(addon_settings: Settings, google_key: Key) -> None:
    authn = AddonAuthenticator(addon_settings.with_overrides(addon_oauth_client_id=""))
    with pytest.raises(AddonAuthError) as info:
        authn.verify_user(google_key.sign(user_claims(aud="")))
    assert info.value.reason == "not_configured"


def test_failures_never_log_the_token(
    authn: AddonAuthenticator, google_key: Key, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    token = google_key.sign(system_claims(PATH, aud="https://evil.example.com"))
    for header in (f"Bearer {token}", "Bearer not.a.token-secret-123"):
        with pytest.raises(AddonAuthError):
            authn.verify_request(header, PATH)
    assert token not in caplog.text
    assert "token-secret-123" not in caplog.text


# --------------------------------------------------------------------------- certificates


def test_certificates_are_cached_for_max_age(
    authn: AddonAuthenticator, google_key: Key, certs_server: CertsServer
) -> None:
    for _ in range(3):
        authn.verify_request(f"Bearer {google_key.sign(system_claims(PATH))}", PATH)
        authn.verify_user(google_key.sign(user_claims()))
    assert len(certs_server.hits) == 1


@pytest.mark.parametrize("cache_control", ["no-store", "no-cache", "max-age=0"])
def test_uncacheable_certificates_are_refetched(
    authn: AddonAuthenticator, google_key: Key, certs_server: CertsServer, cache_control: str
) -> None:
    certs_server.cache_control = cache_control
    for _ in range(2):
        authn.verify_request(f"Bearer {google_key.sign(system_claims(PATH))}", PATH)
    assert len(certs_server.hits) == 2


def test_cache_expires(
    addon_settings: Settings, google_key: Key, certs_server: CertsServer
) -> None:
    now = [1000.0]
    authn = AddonAuthenticator(addon_settings, clock=lambda: now[0])
    certs_server.cache_control = "public, max-age=100, must-revalidate"
    authn.verify_request(f"Bearer {google_key.sign(system_claims(PATH))}", PATH)
    now[0] += 99
    authn.verify_request(f"Bearer {google_key.sign(system_claims(PATH))}", PATH)
    assert len(certs_server.hits) == 1
    now[0] += 2
    authn.verify_request(f"Bearer {google_key.sign(system_claims(PATH))}", PATH)
    assert len(certs_server.hits) == 2


def test_rotated_key_is_fetched_but_forgeries_do_not_hammer(
    addon_settings: Settings,
    google_key: Key,
    rogue_key: Key,
    certs_server: CertsServer,
) -> None:
    now = [1000.0]
    authn = AddonAuthenticator(addon_settings, clock=lambda: now[0])
    authn.verify_request(f"Bearer {google_key.sign(system_claims(PATH))}", PATH)
    for _ in range(5):  # unknown key ids within a minute: no refetch
        with pytest.raises(AddonAuthError):
            authn.verify_request(f"Bearer {rogue_key.sign(system_claims(PATH))}", PATH)
    assert len(certs_server.hits) == 1
    # Google publishes a new key; a token signed with it arrives after a minute.
    certs_server.certs[rogue_key.kid] = rogue_key.certificate_pem
    now[0] += 61
    authn.verify_request(f"Bearer {rogue_key.sign(system_claims(PATH))}", PATH)
    assert len(certs_server.hits) == 2


def test_unreachable_certificates(addon_settings: Settings, google_key: Key) -> None:
    authn = AddonAuthenticator(
        addon_settings.with_overrides(google_certs_url="http://127.0.0.1:9/oauth2/v1/certs")
    )
    token = google_key.sign(system_claims(PATH))
    with pytest.raises(AddonAuthError) as info:
        authn.verify_request(f"Bearer {token}", PATH)
    assert info.value.reason == "certs_unavailable"


# --------------------------------------------------------------------------- scopes and redaction


def test_missing_scopes() -> None:
    needed = scopes.NEEDED_SCOPES[paths.GMAIL_MESSAGE]
    assert missing_scopes(None, needed) == []
    assert missing_scopes(list(needed), needed) == []
    granted = [scopes.GMAIL_EXECUTE, scopes.CALENDAR_EVENTS_OWNED_READONLY]
    assert missing_scopes(granted, needed) == [
        scopes.USERINFO_EMAIL,
        scopes.GMAIL_CURRENT_MESSAGE_METADATA,
    ]
    assert missing_scopes([], needed) == list(needed)


def test_every_route_needs_the_rep_identity() -> None:
    assert set(scopes.NEEDED_SCOPES) == paths.ADDON_PATHS
    for needed in scopes.NEEDED_SCOPES.values():
        assert scopes.USERINFO_EMAIL in needed
        assert set(needed) <= set(scopes.DESCRIPTOR_SCOPES)


def test_scope_request() -> None:
    assert scope_request([scopes.USERINFO_EMAIL]) == {
        "requesting_google_scopes": {"scopes": [scopes.USERINFO_EMAIL]}
    }
    with pytest.raises(ValueError, match="no scopes"):
        scope_request([])


def test_redact_event() -> None:
    event = {
        "commonEventObject": {"hostApp": "GMAIL"},
        "authorizationEventObject": {"userOAuthToken": "ya29.secret", "userIdToken": "id.tok"},
        "gmail": {"messageId": "msg-f:1", "accessToken": "gmail-secret"},
        "messageMetadata": {"messageId": "msg-f:1", "accessToken": "gmail-secret"},
    }
    clean = redact_event(event)
    assert "authorizationEventObject" not in clean
    assert "secret" not in repr(clean)
    assert clean["gmail"]["messageId"] == "msg-f:1"
    assert event["gmail"]["accessToken"] == "gmail-secret"  # the original is untouched
    assert "authorizationEventObject" in event
