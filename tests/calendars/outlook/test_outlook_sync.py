"""The engine on Graph: the connect flow (C1), the grant (encrypted, rotated, refused),
paging, crashes at every step, two workers, the 410 reconciliation, the moving window and
throttling."""

from __future__ import annotations

import json
import threading
from collections import Counter
from datetime import timedelta
from urllib.parse import parse_qs, parse_qsl, urlsplit

import pytest
import requests

from server.calendars import connections
from server.calendars.microsoft.client import HORIZON, SLIDE_EVERY
from server.calendars.microsoft.oauth import MicrosoftOAuth
from server.calendars.providers import ConnectError
from server.crm.models import User
from tests.calendars.conftest import Crash, CrashAt, Gate
from tests.calendars.outlook.conftest import REP, SOON, Outlook

JANE = "jane@client.example"


def stored_token(ms: Outlook) -> str:
    connection = ms.connection()
    assert connection.refresh_token_encrypted
    token: str = ms.app.extensions["cipher"].decrypt(connection.refresh_token_encrypted)
    return token


# -- C1: connecting -----------------------------------------------------------------------


def test_c1_connect_runs_the_code_flow_with_pkce_and_keeps_the_grant_encrypted(
    ms: Outlook,
) -> None:
    connection = ms.connection()
    assert (connection.provider, connection.external_email, connection.status) == (
        "microsoft",
        REP,
        "active",
    )
    assert "Calendars.ReadWrite" in connection.scopes
    token = stored_token(ms)
    assert token not in (connection.refresh_token_encrypted or "")
    assert ms.outlook.identity.refresh_tokens[token].email == REP


def test_c1_the_authorization_request_asks_for_the_calendar_with_pkce(ms: Outlook) -> None:
    with ms.database.transaction() as session:
        user = session.get(User, ms.tenant.user_id)
        assert user is not None
        state = connections.sign_state(ms.settings, user, "microsoft")
    url, pending = MicrosoftOAuth().begin(ms.settings, state, REP)
    assert pending["state"] == state
    assert "code_verifier" in pending
    query = parse_qs(urlsplit(url).query)
    assert query["code_challenge_method"] == ["S256"]
    assert len(query["code_challenge"][0]) == 43
    assert set(query["scope"][0].split()) >= {
        "Calendars.ReadWrite",
        "User.Read",
        "email",
        "offline_access",
        "openid",
    }
    assert query["state"] == [state]
    assert query["redirect_uri"] == ["https://addon.test/oauth/microsoft/callback"]


def test_c1_a_code_is_useless_without_the_flow_it_was_issued_to(ms: Outlook) -> None:
    """The answer must carry the flow's state, and the code the flow's PKCE verifier."""
    with ms.database.transaction() as session:
        user = session.get(User, ms.tenant.user_id)
        assert user is not None
        state = connections.sign_state(ms.settings, user, "microsoft")
        other = connections.sign_state(ms.settings, user, "microsoft", back="settings")
    oauth = MicrosoftOAuth()
    url, _ = oauth.begin(ms.settings, state, REP)
    _, other_pending = oauth.begin(ms.settings, other, REP)
    answer = dict(parse_qsl(urlsplit(ms.outlook.identity.approve(url)).query))
    with requests.Session() as http:
        with pytest.raises(ConnectError):  # another flow's state
            oauth.finish(ms.settings, answer, other_pending, http)
        with pytest.raises(ConnectError):  # no flow at all
            oauth.finish(ms.settings, answer, {}, http)
        forged = {**other_pending, "state": state}  # the state, with another verifier
        with pytest.raises(ConnectError):
            oauth.finish(ms.settings, answer, forged, http)


def test_c1_a_refused_refresh_needs_a_reconnect(ms: Outlook) -> None:
    ms.outlook.identity.revoke(REP)
    assert ms.sync().status == "needs_reconnect"
    connection = ms.connection()
    assert connection.status == "needs_reconnect"
    assert "Outlook" in connection.status_reason
    assert [e.action for e in ms.log()] == ["reconnect"]


def test_c1_a_rotated_refresh_token_is_stored_and_the_old_one_kept_nowhere(ms: Outlook) -> None:
    first = stored_token(ms)
    ms.contact(JANE)
    ms.event(guests=[JANE])
    assert ms.sync().status == "ok"
    second = stored_token(ms)
    assert second != first  # Microsoft rotates refresh tokens on every use
    assert second in ms.outlook.identity.refresh_tokens
    assert ms.sync().status == "ok"
    assert stored_token(ms) not in (first, second)


# -- the delta cursor ---------------------------------------------------------------------


def test_every_next_link_is_followed_and_the_delta_link_kept_with_the_last_page(
    ms: Outlook,
) -> None:
    ms.page_size = 2
    ids = ms.five_events()
    cursors: list[tuple[str | None, str | None]] = []

    def watch(point: str) -> None:
        if point == "committed":
            state = ms.state()
            cursors.append((state.page_token, state.sync_token))

    result = ms.sync(watch)
    assert (result.pages, result.full_sync) == (3, True)
    assert [page is not None for page, _ in cursors] == [True, True, False]
    assert [sync is not None for _, sync in cursors] == [False, False, True]
    assert "$deltatoken" in json.loads(cursors[-1][1] or "{}")["link"]
    first = ms.delta_requests()[0]
    assert {"startDateTime", "endDateTime"} <= set(first.query)
    ms.assert_each_logged_once(ids)
    # The next round asks for what changed only.
    ms.graph.patch_event(REP, ids[0], subject="Changed")
    again = ms.sync()
    assert (again.full_sync, again.actions) == (False, {"update": 1})
    assert "$deltatoken" in str(ms.delta_requests()[-1].query)


@pytest.mark.parametrize("point", ["fetched", "applied", "committed"])
@pytest.mark.parametrize("nth", [1, 2, 3])
def test_a_crash_at_any_step_loses_and_doubles_nothing(ms: Outlook, point: str, nth: int) -> None:
    ms.page_size = 2
    ids = ms.five_events()
    with pytest.raises(Crash):
        ms.sync(CrashAt(point, nth))
    assert ms.sync().status == "ok"
    ms.assert_each_logged_once(ids)
    ms.graph.delete_event(REP, ids[0])
    more = [ms.event(SOON + timedelta(days=2, hours=i), guests=[JANE])["id"] for i in range(3)]
    with pytest.raises(Crash):
        ms.sync(CrashAt(point, min(nth, 2)))
    ms.sync()
    ms.assert_each_logged_once(ids[1:] + more, removed=(ids[0],))
    assert [e.action for e in ms.log() if e.external_event_id == ids[0]] == ["log", "remove"]


def test_two_workers_racing_on_one_connection_run_one_sync(ms: Outlook) -> None:
    ids = ms.five_events()
    gate = Gate("fetched")
    results: list[str] = []
    first = threading.Thread(target=lambda: results.append(ms.sync(gate).status))
    first.start()
    assert gate.reached.wait(30)
    before = len(ms.delta_requests())
    assert ms.sync().status == "locked"
    assert len(ms.delta_requests()) == before  # the loser never called Graph
    gate.release.set()
    first.join(30)
    assert results == ["ok"]
    ms.assert_each_logged_once(ids)


@pytest.mark.parametrize("code", ["SyncStateNotFound", "resyncRequired"])
def test_410_relists_reconciles_against_stored_ids_and_doubles_nothing(
    ms: Outlook, code: str
) -> None:
    ids = ms.five_events()
    ms.sync()
    ms.graph.patch_event(REP, ids[0], subject="Changed")
    ms.graph.delete_event(REP, ids[1])
    ms.graph.expire_delta_tokens(REP, code=code)
    result = ms.sync()
    assert (result.status, result.full_sync, result.reconciled) == ("ok", True, 1)
    assert Counter(m.external_event_id for m in ms.meetings()) == Counter(ids[:1] + ids[2:])
    assert ms.meetings_for(ids[0])[0].title == "Changed"
    (full,) = [e for e in ms.log() if e.action == "full_sync"]
    assert code in full.reason
    removed = [e for e in ms.log() if e.external_event_id == ids[1]][-1]
    assert (removed.action, removed.rule) == ("remove", "R2")
    assert "missing from the full listing" in removed.reason
    assert ms.sync().full_sync is False


def test_the_window_moves_forward_without_losing_or_doubling(ms: Outlook) -> None:
    """A month on, the window is listed anew: the meeting now in the past (outside the new
    window) stays, the ones inside are not logged again, and one that came into the window
    is logged."""
    ms.contact(JANE)
    soon = ms.event(SOON - timedelta(days=29), guests=[JANE])  # in the past a month on
    later = ms.event(SOON + timedelta(days=60), guests=[JANE])
    ms.sync()
    assert len(ms.meetings()) == 2
    # Beyond the window now (it ends HORIZON from now), inside it a month on.
    far = ms.event(SOON + HORIZON - timedelta(days=25), guests=[JANE])
    ms.sync()
    assert ms.reasons(far["id"]) == []
    ms.clock.offset = SLIDE_EVERY + timedelta(days=1)
    result = ms.sync()
    assert (result.status, result.full_sync, result.reconciled) == ("ok", True, 0)
    assert Counter(m.external_event_id for m in ms.meetings()) == Counter(
        [soon["id"], later["id"], far["id"]]
    )
    (full,) = [e for e in ms.log() if e.action == "full_sync"]
    assert "window" in full.reason
    assert ms.reasons(later["id"]) == [("log", "R1")]
    assert ms.sync().full_sync is False


def test_throttling_honours_retry_after_and_then_succeeds(ms: Outlook) -> None:
    ms.contact(JANE)
    ms.event(guests=[JANE])
    ms.graph.fail_next(429, count=2, retry_after=7, path_contains="calendarView")
    result = ms.sync()
    assert (result.status, result.actions) == ("ok", {"log": 1})
    assert ms.sleeps[:2] == [7, 7]


@pytest.mark.parametrize("status", [503, 504])
def test_unavailable_beyond_the_retries_reschedules_the_sync(ms: Outlook, status: int) -> None:
    ms.graph.fail_next(status, count=10, retry_after=1)
    result = ms.sync()
    assert result.status == "retry_later"
    state = ms.state()
    assert state.failures == 1
    assert str(status) in state.last_error
    assert ms.meetings() == []
