"""A1 (connect card), C1 (offline grant stored encrypted), C4 (every user of the account
connects their own), C5 (disconnect drops the grant and keeps what was logged), end to end
through the Google stand-in's consent page and token endpoint."""

from __future__ import annotations

from typing import Any

import requests
from flask import Flask

from server.addon import paths
from server.calendars import connections
from server.calendars.models import ACTIVE, DISCONNECTED, NEEDS_RECONNECT
from server.crm import accounts
from server.crypto import TokenCipher
from server.db import Database

from .conftest import Rep, add_user, connect_calendar, connection_of, meeting_ids
from .sidebar import Sidebar, button, decorated, only_card, path_of, texts


def _grants(rep: Rep) -> list[Any]:
    return [g for g in rep.side.google.oauth.grants if g.user == rep.email]


def _event(rep: Rep, **extra: Any) -> dict[str, Any]:
    body = {
        "summary": "Pricing call",
        "start": {"dateTime": "2025-06-04T14:00:00+02:00"},
        "end": {"dateTime": "2025-06-04T15:00:00+02:00"},
        "attendees": [{"email": rep.email}, {"email": "ada@client.example", "displayName": "Ada"}],
    }
    body.update(extra)
    created: dict[str, Any] = rep.side.google.calendar.add_event(rep.email, body)
    return created


def test_a1_connect_card_then_home_after_consent(rep: Rep, database: Database) -> None:
    """A1: the connect card opens the OAuth flow in an overlay that reloads the card; after
    "Allow" the same trigger shows the home card."""
    card = rep.side.home()
    assert card["name"] == "connect"
    assert "Connect your Google Calendar" in texts(card)
    assert connection_of(database, rep.email) is None
    connect_calendar(rep.side)
    assert rep.side.home()["name"] == "home"


def test_a1_consent_denied_leaves_the_rep_unconnected(rep: Rep, database: Database) -> None:
    link = button(rep.side.home(), "Connect Google Calendar")["onClick"]["openLink"]["url"]
    consent = rep.side.client.get(path_of(link)).headers["Location"]
    denied = requests.post(consent, data={"decision": "deny"}, allow_redirects=False, timeout=10)
    back = rep.side.client.get(path_of(denied.headers["Location"]))
    assert back.status_code == 400
    assert "not connected" in back.get_data(as_text=True)
    assert connection_of(database, rep.email) is None
    assert rep.side.home()["name"] == "connect"


def test_c1_refresh_token_is_stored_encrypted(
    connected: Rep, database: Database, app: Flask
) -> None:
    """C1: an offline grant; the column holds ciphertext that decrypts to Google's token."""
    row = connection_of(database, connected.email)
    assert row is not None
    assert row.status == ACTIVE
    assert row.calendar_id == "primary"
    (grant,) = _grants(connected)
    assert grant.refresh_token
    assert not grant.revoked
    stored = row.refresh_token_encrypted
    assert stored
    assert grant.refresh_token not in stored
    cipher: TokenCipher = app.extensions["cipher"]
    assert cipher.decrypt(stored) == grant.refresh_token


def test_c4_every_user_of_the_account_connects_their_own(
    connected: Rep, database: Database, app: Flask
) -> None:
    """C4: a second rep of the same account connects their own calendar; both stay active."""
    colleague_email = "bea@acme.example"
    add_user(database, connected.tenant.account_id, colleague_email)
    colleague = Sidebar(app.test_client(), connected.side.google, colleague_email)
    assert colleague.home()["name"] == "connect"  # the first rep's connection is theirs only
    connect_calendar(colleague)
    assert colleague.home()["name"] == "home"
    mine, theirs = (
        connection_of(database, connected.email),
        connection_of(database, colleague_email),
    )
    assert mine is not None
    assert theirs is not None
    assert mine.id != theirs.id
    assert mine.user_id != theirs.user_id
    assert (mine.status, theirs.status) == (ACTIVE, ACTIVE)
    assert mine.external_email == connected.email
    assert theirs.external_email == colleague_email
    cipher: TokenCipher = app.extensions["cipher"]
    assert mine.refresh_token_encrypted
    assert theirs.refresh_token_encrypted
    assert cipher.decrypt(mine.refresh_token_encrypted) != cipher.decrypt(
        theirs.refresh_token_encrypted
    )


def test_c5_disconnect_drops_the_grant_and_keeps_meetings_and_notes(
    connected: Rep, database: Database
) -> None:
    """C5: the menu's disconnect revokes and forgets the grant; the logged meeting and its
    notes stay, and the sidebar asks to connect again."""
    event = _event(connected)
    meeting_card = connected.side.open_event(event["id"])
    field = next(
        w["textInput"]["name"]
        for s in meeting_card["sections"]
        for w in s["widgets"]
        if "textInput" in w
    )
    save = button(meeting_card, "Save note")["onClick"]
    connected.side.click(save, form={field: "Budget approved"})
    (meeting_id,) = meeting_ids(database, connected.tenant.account_id)

    home = connected.side.home()
    answer = connected.side.click(button(home, "Disconnect calendar")["onClick"])
    action = answer["renderActions"]["action"]
    assert action["navigations"][0] == {"popToRoot": True}
    assert only_card(answer)["name"] == "connect"
    assert "disconnected" in action["notification"]["text"].lower()

    row = connection_of(database, connected.email)
    assert row is not None
    assert row.status == DISCONNECTED
    assert row.refresh_token_encrypted is None
    assert row.disconnected_at is not None
    assert all(g.revoked for g in _grants(connected))
    kept = connected.api("GET", f"/meetings/{meeting_id}")
    assert [n["body"] for n in kept["notes"]] == ["Budget approved"]
    assert connected.side.home()["name"] == "connect"


def test_c5_disconnect_when_already_disconnected_shows_the_connect_card(connected: Rep) -> None:
    home = connected.side.home()
    menu = button(home, "Disconnect calendar")["onClick"]
    connected.side.click(menu)
    again = connected.side.click(menu)
    assert only_card(again)["name"] == "connect"


def test_reconnect_needed_shows_a_banner_and_the_sidebar_still_works(
    connected: Rep, database: Database
) -> None:
    with database.transaction() as session:
        user = accounts.user_by_email(session, connected.email)
        assert user is not None
        row = connections.connection_for(session, user)
        assert row is not None
        connections.mark_needs_reconnect(session, row, "invalid_grant")
    assert connection_of(database, connected.email).status == NEEDS_RECONNECT  # type: ignore[union-attr]
    _event(connected)
    home = connected.side.home()
    assert "stopped working" in texts(home)
    assert "Pricing call" in texts(home)
    link = button(home, "Reconnect")["onClick"]["openLink"]
    assert link["url"].startswith("https://addon.example.com/oauth/google/start?state=")
    assert (link["openAs"], link["onClose"]) == ("OVERLAY", "RELOAD")
    meeting = connected.side.click(decorated_click(home, "Pricing call"))
    assert "stopped working" in texts(only_card(meeting))
    connect_calendar_again(connected.side, link["url"])
    assert connection_of(database, connected.email).status == ACTIVE  # type: ignore[union-attr]
    assert "stopped working" not in texts(connected.side.home())


def decorated_click(card: dict[str, Any], title: str) -> dict[str, Any]:
    click: dict[str, Any] = decorated(card, title)["onClick"]
    return click


def connect_calendar_again(side: Sidebar, url: str) -> None:
    consent = side.client.get(path_of(url)).headers["Location"]
    allowed = requests.post(
        consent, data={"decision": "allow", "email": side.email}, allow_redirects=False, timeout=10
    )
    assert side.client.get(path_of(allowed.headers["Location"])).status_code == 200


def test_disconnect_route_needs_no_calendar_scope(connected: Rep) -> None:
    only_identity = ("https://www.googleapis.com/auth/userinfo.email",)
    answer = connected.side.post(paths.DISCONNECT, granted=only_identity)
    assert only_card(answer)["name"] == "connect"


def test_an_outlook_reps_reconnect_banner_reconnects_outlook(
    connected: Rep, database: Database
) -> None:
    """C3: the banner offers the connection's own provider, never a switch to another."""
    with database.transaction() as session:
        user = accounts.user_by_email(session, connected.email)
        assert user is not None
        row = connections.connection_for(session, user)
        assert row is not None
        row.provider = "microsoft"  # the rep's calendar is Outlook's
        connections.mark_needs_reconnect(session, row, "invalid_grant")
    _event(connected)
    link = button(connected.side.home(), "Reconnect")["onClick"]["openLink"]
    assert link["url"].startswith("https://addon.example.com/oauth/microsoft/start?state=")
