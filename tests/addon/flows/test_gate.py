"""The gate every add-on route runs first, over HTTP: the Google-signed request token (every
forgery answers 401 and nothing else runs), the event object (400), the scopes
(``requesting_google_scopes``), the rep (unknown rep: a card with no data), the connection.
"""

from __future__ import annotations

import logging
from typing import Any

import pytest
from sqlalchemy import func, select

from server.addon import paths, scopes
from server.crm.models import Contact, Note
from server.db import Database

from ..cardcheck import check_response
from .conftest import Rep
from .sidebar import BASE_URL, CLIENT_ID, SERVICE_ACCOUNT, only_card, texts

ROUTES = sorted(paths.ADDON_PATHS)


def _count(database: Database, model: Any) -> int:
    with database.transaction() as session:
        return int(session.scalar(select(func.count()).select_from(model)) or 0)


def _refused(response: Any, reason: str | None = None) -> None:
    assert response.status_code == 401, response.get_data(as_text=True)
    body = response.get_json()
    assert set(body) == {"error"}
    assert body["error"]["code"] == "unauthorized"
    assert "eyJ" not in response.get_data(as_text=True)  # no token echoed
    if reason is not None:
        assert body["error"]["details"]["reason"] == reason


def _system(rep: Rep, path: str, **claims: Any) -> str:
    values: dict[str, Any] = {"audience": BASE_URL + path, "email": SERVICE_ACCOUNT}
    values.update(claims)
    return "Bearer " + rep.side.google.id_token_for(**values)


def _add_note_body(rep: Rep) -> dict[str, Any]:
    """A note submission that would store a note if it got past the gate."""
    params = {"event_id": "abcdef123", "nonce": "n1", "note_field": "note_x"}
    return rep.side.event(parameters=params, form={"note_x": "secret"})


FORGERIES: dict[str, tuple[dict[str, Any], str]] = {
    "rogue signing key": ({"key": "rogue"}, "signature"),
    "expired": ({"ttl": -3600}, "expired"),
    "not yet valid": ({"iat": 4_000_000_000, "exp": 4_000_003_600}, "expired"),
    "wrong issuer": ({"issuer": "https://evil.example.com"}, "issuer"),
    "a user's token, not the add-on's": ({"email": "rep@acme.example"}, "email"),
    "email not verified": ({"email_verified": False}, "email_unverified"),
}


@pytest.mark.parametrize("case", sorted(FORGERIES))
@pytest.mark.parametrize("path", [paths.HOME, paths.ADD_NOTE, paths.DISCONNECT])
def test_forged_request_tokens_get_401_and_nothing_runs(
    connected: Rep, database: Database, path: str, case: str
) -> None:
    claims, reason = FORGERIES[case]
    calls = len(connected.side.google.calendar.requests)
    response = connected.side.raw(
        path, _add_note_body(connected), _system(connected, path, **claims)
    )
    _refused(response, reason)
    assert len(connected.side.google.calendar.requests) == calls
    assert _count(database, Note) == 0


@pytest.mark.parametrize("path", ROUTES)
def test_every_route_refuses_a_missing_or_non_bearer_token(rep: Rep, path: str) -> None:
    _refused(rep.side.raw(path, rep.side.event(), None), "missing_token")
    _refused(rep.side.raw(path, rep.side.event(), "Basic dXNlcjpwdw=="), "not_bearer")
    _refused(rep.side.raw(path, rep.side.event(), "Bearer not.a.jwt"), "malformed")


@pytest.mark.parametrize("path", ROUTES)
def test_a_token_for_another_route_is_refused(rep: Rep, path: str) -> None:
    other = paths.REFRESH if path != paths.REFRESH else paths.HOME
    _refused(rep.side.raw(path, rep.side.event(), _system(rep, other)), "audience")


def test_audience_comes_from_the_configured_base_url_not_the_request(rep: Rep) -> None:
    # The test client calls http://localhost/...: a token for that URL must not pass ...
    as_requested = "http://localhost" + paths.HOME
    _refused(
        rep.side.raw(paths.HOME, rep.side.event(), _system(rep, "", audience=as_requested)),
        "audience",
    )
    with_query = BASE_URL + paths.HOME + "?x=1"
    _refused(
        rep.side.raw(paths.HOME, rep.side.event(), _system(rep, "", audience=with_query)),
        "audience",
    )
    # ... while the configured PUBLIC_BASE_URL + path does, whatever host the request names.
    response = rep.side.client.post(
        paths.HOME,
        json=rep.side.event(),
        headers={"Authorization": _system(rep, paths.HOME), "Host": "evil.example"},
    )
    assert response.status_code == 200
    check_response(response.get_json(), BASE_URL, "trigger")


USER_FORGERIES: dict[str, dict[str, Any]] = {
    "rogue key": {"key": "rogue"},
    "wrong audience": {"audience": "someone-else.apps.googleusercontent.com"},
    "expired": {"ttl": -3600},
    "wrong issuer": {"issuer": "https://evil.example.com"},
    "unverified email": {"email_verified": False},
}


@pytest.mark.parametrize("case", sorted(USER_FORGERIES))
def test_forged_user_id_tokens_get_401(connected: Rep, database: Database, case: str) -> None:
    claims: dict[str, Any] = {"audience": CLIENT_ID, "email": connected.email}
    claims.update(USER_FORGERIES[case])
    forged = connected.side.google.id_token_for(**claims)
    body = _add_note_body(connected)
    body["authorizationEventObject"]["userIdToken"] = forged
    _refused(connected.side.raw(paths.ADD_NOTE, body))
    assert _count(database, Note) == 0


def test_a_missing_user_id_token_gets_401(connected: Rep) -> None:
    body = connected.side.event(user_id_token=None)
    _refused(connected.side.raw(paths.HOME, body), "missing_user_token")


def test_a_user_id_token_naming_someone_else_shows_their_identity_only(
    connected: Rep, make_rep: Any
) -> None:
    """The rep is whoever the verified token names: another tenant's rep sees their own card."""
    other: Rep = make_rep("globex.example")
    body = connected.side.event()
    body["authorizationEventObject"]["userIdToken"] = other.side.google.id_token_for(
        audience=CLIENT_ID, email=other.email
    )
    card = only_card(connected.side.post(paths.HOME, body))
    assert card["name"] == "connect"  # Globex's rep has no calendar connected


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ({"commonEventObject": {"hostApp": "DRIVE"}}, "hostApp"),
        ({"calendar": {}}, "commonEventObject"),
        ([1, 2], "JSON object"),
        ({"commonEventObject": {"hostApp": "GMAIL", "parameters": {"a": 1}}}, "parameters"),
    ],
)
def test_malformed_events_get_400_with_a_clear_message(rep: Rep, body: Any, message: str) -> None:
    response = rep.side.raw(paths.HOME, body)
    assert response.status_code == 400
    assert message in response.get_json()["error"]["message"]


def test_a_body_that_is_not_json_gets_400(rep: Rep) -> None:
    response = rep.side.client.post(
        paths.HOME,
        data="not json",
        headers={"Authorization": _system(rep, paths.HOME), "Content-Type": "text/plain"},
    )
    assert response.status_code == 400


def test_missing_scopes_are_requested(connected: Rep) -> None:
    without = tuple(
        s for s in scopes.DESCRIPTOR_SCOPES if s != scopes.CALENDAR_EVENTS_OWNED_READONLY
    )
    answer = connected.side.post(paths.HOME, granted=without)
    assert answer == {
        "requesting_google_scopes": {"scopes": list(scopes.NEEDED_SCOPES[paths.HOME])}
    }
    without_gmail = tuple(
        s for s in scopes.DESCRIPTOR_SCOPES if s != scopes.GMAIL_CURRENT_MESSAGE_METADATA
    )
    answer = connected.side.post(paths.GMAIL_MESSAGE, host="GMAIL", granted=without_gmail)
    assert scopes.GMAIL_CURRENT_MESSAGE_METADATA in answer["requesting_google_scopes"]["scopes"]
    # userinfo.email unticked: Google sends no userIdToken; ask again rather than refuse.
    no_email = tuple(s for s in scopes.DESCRIPTOR_SCOPES if s != scopes.USERINFO_EMAIL)
    answer = connected.side.post(
        paths.HOME, connected.side.event(granted=no_email, user_id_token=None)
    )
    assert scopes.USERINFO_EMAIL in answer["requesting_google_scopes"]["scopes"]


def test_unknown_rep_gets_a_card_with_no_data(rep: Rep, database: Database) -> None:
    stranger = "stranger@elsewhere.example"
    rep.side.google.calendar.add_event(
        stranger,
        {
            "summary": "Stranger's secret meeting",
            "start": {"dateTime": "2025-06-04T12:00:00+02:00"},
            "end": {"dateTime": "2025-06-04T13:00:00+02:00"},
        },
    )
    body = rep.side.event()
    body["authorizationEventObject"]["userIdToken"] = rep.side.google.id_token_for(
        audience=CLIENT_ID, email=stranger
    )
    for path in (paths.HOME, paths.CALENDAR_EVENT, paths.REFRESH):
        card = only_card(rep.side.post(path, body))
        assert card["name"] == "unknown-rep"
        assert stranger in texts(card)
        assert "secret" not in texts(card)
    assert rep.side.google.calendar.requests == []
    assert _count(database, Contact) == 0


def test_unconnected_rep_gets_the_connect_card_everywhere(rep: Rep) -> None:
    """A1: no calendar connected yet: every entry point shows the connect card."""
    for path in (paths.HOME, paths.CALENDAR_EVENT, paths.GMAIL_MESSAGE):
        card = only_card(rep.side.post(path))
        assert card["name"] == "connect"
    answer = rep.side.post(paths.ADD_NOTE, parameters={"event_id": "abcdef123"})
    assert answer["renderActions"]["action"]["navigations"][0] == {"popToRoot": True}
    assert only_card(answer)["name"] == "connect"
    assert rep.side.google.calendar.requests == []


def test_logs_carry_no_tokens_and_no_note_text(
    connected: Rep, caplog: pytest.LogCaptureFixture
) -> None:
    event = connected.side.google.calendar.add_event(
        connected.email,
        {
            "summary": "Review",
            "start": {"dateTime": "2025-06-04T12:00:00+02:00"},
            "end": {"dateTime": "2025-06-04T13:00:00+02:00"},
            "attendees": [{"email": connected.email}, {"email": "ada@client.example"}],
        },
    )
    caplog.set_level(logging.DEBUG)
    body = connected.side.event(
        parameters={"event_id": event["id"], "nonce": "n1", "note_field": "note_x"},
        form={"note_x": "the confidential price is 42k"},
    )
    check_response(connected.side.post(paths.ADD_NOTE, body), BASE_URL, "callback")
    auth = body["authorizationEventObject"]
    assert "addon/actions/add-note" in caplog.text  # the request was logged ...
    for secret in (auth["userOAuthToken"], auth["userIdToken"], "confidential price"):
        assert secret not in caplog.text  # ... without its tokens or the note
