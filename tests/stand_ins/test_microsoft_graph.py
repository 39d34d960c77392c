"""The Microsoft Graph calendar stand-in, driven over https on 127.0.0.1 with ``requests`` and
access tokens msal obtained from the identity stand-in: events, recurrence across DST,
calendarView delta with paging and state tokens, faults, subscriptions and notifications."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import parse_qs, unquote_plus, urlsplit

import msal
import pytest
import requests
from flask import Flask, request

from server.stand_ins.microsoft import MicrosoftStandIn
from server.stand_ins.microsoft.identity import object_id

CLIENT, SECRET, REDIRECT = "client-1", "secret-1", "https://app.test/callback"
USER = "Rep.One@Contoso.example"
MAILBOX = USER.lower()
PST = "Pacific Standard Time"
WINDOW = ("2027-01-01T00:00:00Z", "2027-06-01T00:00:00Z")
START = f"/me/calendarView/delta?startDateTime={WINDOW[0]}&endDateTime={WINDOW[1]}"


class Clock:
    def __init__(self) -> None:
        self.now = datetime.now(UTC)

    def __call__(self) -> datetime:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += timedelta(seconds=seconds)


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def stand_in(clock: Clock, monkeypatch: pytest.MonkeyPatch) -> Iterator[MicrosoftStandIn]:
    with MicrosoftStandIn(now=clock) as ms:
        ms.identity.register_app(CLIENT, SECRET, [REDIRECT])
        monkeypatch.setenv("REQUESTS_CA_BUNDLE", ms.ca_bundle_path)
        yield ms


def access_token(stand_in: MicrosoftStandIn, email: str, scopes: list[str]) -> str:
    with requests.Session() as http:
        app = msal.ConfidentialClientApplication(
            CLIENT,
            client_credential=SECRET,
            authority=stand_in.authority,
            instance_discovery=False,
            http_client=http,
        )
        with pytest.warns(UserWarning, match="form_post"):
            flow = app.initiate_auth_code_flow(scopes, redirect_uri=REDIRECT)
        callback = stand_in.identity.approve(flow["auth_uri"], email=email)
        answer = {k: v[0] for k, v in parse_qs(urlsplit(callback).query).items()}
        result = app.acquire_token_by_auth_code_flow(flow, answer)
    assert "access_token" in result, result
    token: str = result["access_token"]
    return token


class Graph:
    """A bare https client of the stand-in's Graph endpoint."""

    def __init__(self, stand_in: MicrosoftStandIn, token: str | None) -> None:
        self.base = stand_in.identity.origin + "/v1.0"
        self.http = requests.Session()
        self.http.trust_env = False  # 127.0.0.1 only, never through a proxy
        self.http.verify = stand_in.ca_bundle_path
        if token is not None:
            self.http.headers["Authorization"] = f"Bearer {token}"

    def call(self, method: str, path: str, **kwargs: Any) -> requests.Response:
        url = path if path.startswith("https://") else self.base + path
        return self.http.request(method, url, timeout=10, **kwargs)

    def delta_round(
        self, link: str | None = None, page_size: int = 10, zone: str | None = None
    ) -> tuple[list[list[dict[str, Any]]], str]:
        """Follow every nextLink of one round; the pages and the round's deltaLink."""
        url = link or START
        pages: list[list[dict[str, Any]]] = []
        while True:
            prefer = f"odata.maxpagesize={page_size}"
            prefer += f', outlook.timezone="{zone}"' if zone else ""
            response = self.call("GET", url, headers={"Prefer": prefer})
            assert response.status_code == 200, response.text
            body = response.json()
            pages.append(body["value"])
            assert ("@odata.nextLink" in body) != ("@odata.deltaLink" in body)
            if "@odata.deltaLink" in body:
                return pages, body["@odata.deltaLink"]
            url = body["@odata.nextLink"]


@pytest.fixture
def graph(stand_in: MicrosoftStandIn) -> Iterator[Graph]:
    client = Graph(stand_in, access_token(stand_in, USER, ["Calendars.ReadWrite"]))
    yield client
    client.http.close()


def when(text: str, zone: str = "UTC") -> dict[str, str]:
    return {"dateTime": text, "timeZone": zone}


def removed(event_id: str) -> dict[str, Any]:
    return {
        "@odata.type": "#microsoft.graph.event",
        "id": event_id,
        "@removed": {"reason": "deleted"},
    }


def flat(pages: list[list[dict[str, Any]]]) -> list[dict[str, Any]]:
    return [item for page in pages for item in page]


def _add(stand_in: MicrosoftStandIn, subject: str, day: str, hour: int = 10) -> dict[str, Any]:
    return stand_in.graph.add_event(
        MAILBOX,
        subject=subject,
        start=when(f"{day}T{hour:02d}:00:00"),
        end=when(f"{day}T{hour + 1:02d}:00:00"),
    )


# -- identity, errors -------------------------------------------------------------------------
def test_me_answers_the_signed_in_user_with_request_ids(
    stand_in: MicrosoftStandIn, graph: Graph
) -> None:
    response = graph.call("GET", "/me", headers={"client-request-id": "abc-123"})
    assert response.status_code == 200
    body = response.json()
    assert body["id"] == object_id(MAILBOX)
    assert body["mail"] == body["userPrincipalName"] == MAILBOX
    assert body["displayName"] == "Rep One"
    assert response.headers["client-request-id"] == "abc-123"
    assert response.headers["request-id"]
    assert stand_in.graph.requests[-1].mailbox == MAILBOX


def test_missing_or_bad_tokens_get_401(stand_in: MicrosoftStandIn) -> None:
    empty = Graph(stand_in, None).call("GET", "/me/events/x")
    assert empty.status_code == 401
    error = empty.json()["error"]
    assert error == {
        "code": "InvalidAuthenticationToken",
        "message": "Access token is empty.",
        "innerError": error["innerError"],
    }
    assert set(error["innerError"]) == {"date", "request-id", "client-request-id"}
    assert empty.headers["request-id"] == error["innerError"]["request-id"]
    bad = Graph(stand_in, "not-a-token").call("GET", "/me")
    assert bad.status_code == 401
    assert bad.json()["error"]["code"] == "InvalidAuthenticationToken"
    assert "validation fail" in bad.json()["error"]["message"]


def test_expired_access_tokens_get_401(stand_in: MicrosoftStandIn, clock: Clock) -> None:
    graph = Graph(stand_in, access_token(stand_in, USER, ["Calendars.ReadWrite"]))
    assert graph.call("GET", "/me").status_code == 200
    clock.advance(3600)
    response = graph.call("GET", "/me")
    assert response.status_code == 401
    assert "expired" in response.json()["error"]["message"]


def test_calendar_routes_need_a_calendar_scope(stand_in: MicrosoftStandIn) -> None:
    graph = Graph(stand_in, access_token(stand_in, USER, ["User.Read"]))
    assert graph.call("GET", "/me").status_code == 200
    refused = graph.call("GET", f"/me/calendarView/delta?startDateTime={WINDOW[0]}")
    assert refused.status_code == 403
    assert refused.json()["error"]["code"] == "ErrorAccessDenied"
    assert refused.json()["error"]["message"] == (
        "Access is denied. Check credentials and try again."
    )
    reader = Graph(stand_in, access_token(stand_in, USER, ["Calendars.Read"]))
    created = _add(stand_in, "x", "2027-02-01")
    assert reader.call("GET", f"/me/events/{created['id']}").status_code == 200
    assert reader.call("DELETE", f"/me/events/{created['id']}").status_code == 403


# -- events -----------------------------------------------------------------------------------
def test_create_get_patch_delete(stand_in: MicrosoftStandIn, graph: Graph, clock: Clock) -> None:
    buyer = {"emailAddress": {"address": "buyer@client.example"}, "type": "required"}
    body: dict[str, Any] = {
        "subject": "Quarterly review",
        "body": {"contentType": "text", "content": "Agenda <draft>"},
        "start": when("2027-02-10T09:00:00", PST),
        "end": when("2027-02-10T10:00:00", "America/Los_Angeles"),
        "attendees": [buyer],
        "location": {"displayName": "Room 4"},
        "sensitivity": "private",
        "isOnlineMeeting": True,
    }
    created = graph.call("POST", "/me/events", json=body)
    assert created.status_code == 201, created.text
    event = created.json()
    assert event["type"] == "singleInstance"
    assert event["isOrganizer"] is True
    assert event["organizer"]["emailAddress"]["address"] == MAILBOX
    assert event["start"] == {"dateTime": "2027-02-10T17:00:00.0000000", "timeZone": "UTC"}
    assert event["originalStartTimeZone"] == PST
    assert event["originalEndTimeZone"] == PST
    assert event["body"]["contentType"] == "html"
    assert "Agenda &lt;draft&gt;" in event["body"]["content"]
    assert event["bodyPreview"] == "Agenda <draft>"
    assert event["attendees"][0]["status"]["response"] == "none"
    assert event["onlineMeeting"]["joinUrl"].startswith("https://teams.microsoft.com/")
    assert event["recurrence"] is None
    assert event["transactionId"] is None
    assert len(event["createdDateTime"]) == len("2027-02-10T17:00:00.0000000Z")
    other = graph.call("POST", "/me/events", json={**body, "attendees": []}).json()
    assert other["iCalUId"] != event["iCalUId"]
    assert [i.kind for i in stand_in.graph.invitations] == ["new"]

    fetched = graph.call("GET", f"/me/events/{event['id']}").json()
    assert fetched["subject"] == "Quarterly review"
    clock.advance(60)
    patched = graph.call("PATCH", f"/me/events/{event['id']}", json={"subject": "Moved"})
    assert patched.status_code == 200
    assert patched.json()["subject"] == "Moved"
    assert patched.json()["changeKey"] != event["changeKey"]
    assert patched.json()["lastModifiedDateTime"] > event["lastModifiedDateTime"]
    assert len(stand_in.graph.invitations) == 1  # attendees unchanged: no update sent
    attendees = [buyer, {"emailAddress": {"address": "cfo@client.example"}}]
    graph.call("PATCH", f"/me/events/{event['id']}", json={"attendees": attendees})
    assert stand_in.graph.invitations[-1].kind == "update"
    assert graph.call("DELETE", f"/me/events/{event['id']}").status_code == 204
    gone = graph.call("GET", f"/me/events/{event['id']}")
    assert gone.status_code == 404
    assert gone.json()["error"]["code"] == "ErrorItemNotFound"
    assert gone.json()["error"]["message"] == "The specified object was not found in the store."


def test_a_repeated_transaction_id_creates_and_invites_once(
    stand_in: MicrosoftStandIn, graph: Graph
) -> None:
    body = {
        "subject": "Demo",
        "start": when("2027-02-11T15:00:00"),
        "end": when("2027-02-11T16:00:00"),
        "attendees": [{"emailAddress": {"address": "a@client.example", "name": "A"}}],
        "transactionId": "7E163156-7762-4BEB-A1C6-729EA81755A7",
    }
    first = graph.call("POST", "/me/events", json=body)
    second = graph.call("POST", "/me/events", json=body)
    assert first.status_code == second.status_code == 201
    assert first.json()["id"] == second.json()["id"]
    assert first.json()["transactionId"] == body["transactionId"]
    assert len(stand_in.graph.events(MAILBOX)) == 1
    assert [(i.kind, i.addresses) for i in stand_in.graph.invitations] == [
        ("new", ("a@client.example",))
    ]


def test_bad_bodies_are_refused(stand_in: MicrosoftStandIn, graph: Graph) -> None:
    json_type = {"Content-Type": "application/json"}
    broken = graph.call("POST", "/me/events", data=b"{not json", headers=json_type)
    assert broken.status_code == 400
    assert broken.json()["error"]["code"] == "RequestBodyRead"
    bad_time = {"start": when("tomorrow"), "end": when("2027-02-11T16:00:00")}
    assert graph.call("POST", "/me/events", json=bad_time).json()["error"]["code"] == (
        "ErrorInvalidRequest"
    )
    bad_zone = {"start": when("2027-02-11T15:00:00", "Mars"), "end": when("2027-02-11T16:00:00")}
    assert graph.call("POST", "/me/events", json=bad_zone).status_code == 400
    backwards = {"start": when("2027-02-11T15:00:00"), "end": when("2027-02-11T14:00:00")}
    assert graph.call("POST", "/me/events", json=backwards).status_code == 400
    assert stand_in.graph.events(MAILBOX) == []


def test_prefer_outlook_timezone_renders_wall_clock(
    stand_in: MicrosoftStandIn, graph: Graph
) -> None:
    event = stand_in.graph.add_event(
        MAILBOX, subject="x", start=when("2027-02-10T15:00:00"), end=when("2027-02-10T16:00:00")
    )
    assert event["start"] == {"dateTime": "2027-02-10T15:00:00.0000000", "timeZone": "UTC"}
    headers = {"Prefer": f'outlook.timezone="{PST}", odata.maxpagesize=5'}
    response = graph.call("GET", f"/me/events/{event['id']}", headers=headers)
    assert response.json()["start"] == {"dateTime": "2027-02-10T07:00:00.0000000", "timeZone": PST}
    assert response.headers["Preference-Applied"] == f'outlook.timezone="{PST}"'
    iana = graph.call(
        "GET",
        f"/me/events/{event['id']}",
        headers={"Prefer": 'outlook.timezone="Europe/Berlin"'},
    ).json()
    assert iana["end"] == {"dateTime": "2027-02-10T17:00:00.0000000", "timeZone": "Europe/Berlin"}


def test_hooks_act_as_the_user(stand_in: MicrosoftStandIn, graph: Graph) -> None:
    old = datetime(2025, 1, 2, 3, 4, 5, tzinfo=UTC)
    invite = stand_in.graph.add_event(
        MAILBOX,
        subject="From a partner",
        start=when("2027-03-01T10:00:00"),
        end=when("2027-03-01T11:00:00"),
        organizer={"emailAddress": {"address": "boss@partner.example", "name": "Boss"}},
        iCalUId="partner-uid-1",
        createdDateTime=old,
    )
    assert invite["isOrganizer"] is False
    assert invite["iCalUId"] == "partner-uid-1"
    assert invite["createdDateTime"] == "2025-01-02T03:04:05.0000000Z"
    assert invite["responseStatus"]["response"] == "notResponded"
    fetched = graph.call("GET", f"/me/events/{invite['id']}").json()
    assert fetched["organizer"]["emailAddress"]["name"] == "Boss"
    stand_in.graph.patch_event(MAILBOX, invite["id"], subject="Renamed")
    assert stand_in.graph.get(MAILBOX, invite["id"])["subject"] == "Renamed"  # type: ignore[index]
    stand_in.graph.delete_event(MAILBOX, invite["id"])
    assert stand_in.graph.get(MAILBOX, invite["id"]) is None


# -- delta ------------------------------------------------------------------------------------
def test_delta_pages_then_lists_changes_and_removals(
    stand_in: MicrosoftStandIn, graph: Graph
) -> None:
    events = [_add(stand_in, f"e{n}", f"2027-02-0{n + 1}") for n in range(5)]
    _add(stand_in, "outside", "2026-12-01")
    pages, delta_link = graph.delta_round(page_size=2)
    assert [len(p) for p in pages] == [2, 2, 1]
    assert [e["subject"] for e in flat(pages)] == ["e0", "e1", "e2", "e3", "e4"]
    assert delta_link.startswith(f"{stand_in.identity.origin}/v1.0/me/calendarView/delta?")
    assert "$deltatoken=" in delta_link

    stand_in.graph.patch_event(MAILBOX, events[1]["id"], subject="e1 renamed")
    graph.call("DELETE", f"/me/events/{events[3]['id']}")
    pages, second_link = graph.delta_round(delta_link)
    changed = flat(pages)
    assert [e.get("subject") for e in changed] == ["e1 renamed", None]
    assert changed[1] == removed(events[3]["id"])
    pages, third_link = graph.delta_round(second_link)
    assert flat(pages) == []
    assert third_link != second_link


def test_a_skiptoken_can_be_read_again(stand_in: MicrosoftStandIn, graph: Graph) -> None:
    for n in range(4):
        _add(stand_in, f"e{n}", f"2027-02-0{n + 1}")
    prefer = {"Prefer": "odata.maxpagesize=2"}
    first = graph.call("GET", START, headers=prefer).json()
    assert first["@odata.nextLink"]
    again = [graph.call("GET", first["@odata.nextLink"], headers=prefer) for _ in range(2)]
    assert again[0].headers["Preference-Applied"] == "odata.maxpagesize=2"
    assert again[0].json() == again[1].json()
    assert [e["subject"] for e in again[0].json()["value"]] == ["e2", "e3"]


def test_the_window_is_fixed_by_the_first_request(stand_in: MicrosoftStandIn, graph: Graph) -> None:
    inside = _add(stand_in, "inside", "2027-02-01")
    _add(stand_in, "before", "2026-12-31", hour=22)  # ends 23:00, before the window
    pages, link = graph.delta_round()
    assert [e["id"] for e in flat(pages)] == [inside["id"]]
    stand_in.graph.patch_event(
        MAILBOX, inside["id"], start=when("2027-07-01T10:00:00"), end=when("2027-07-01T11:00:00")
    )
    _add(stand_in, "later", "2027-08-01")
    pages, link = graph.delta_round(link)
    assert flat(pages) == [removed(inside["id"])]


def test_delta_needs_a_window(graph: Graph) -> None:
    response = graph.call("GET", f"/me/calendarView/delta?startDateTime={WINDOW[0]}")
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "ErrorInvalidParameter"


def test_a_weekly_series_keeps_its_local_time_across_dst(
    stand_in: MicrosoftStandIn, graph: Graph
) -> None:
    series = graph.call(
        "POST",
        "/me/events",
        json={
            "subject": "Pipeline",
            "start": when("2027-03-04T09:00:00", PST),
            "end": when("2027-03-04T09:30:00", PST),
            "recurrence": {
                "pattern": {"type": "weekly", "interval": 1, "daysOfWeek": ["thursday"]},
                "range": {"type": "numbered", "startDate": "2027-03-04", "numberOfOccurrences": 4},
            },
        },
    ).json()
    assert series["type"] == "seriesMaster"
    assert series["recurrence"]["range"]["recurrenceTimeZone"] == PST
    pages, link = graph.delta_round()
    items = flat(pages)
    assert {e["type"] for e in items} == {"occurrence"}
    assert [e["start"]["dateTime"][:16] for e in items] == [
        "2027-03-04T17:00",
        "2027-03-11T17:00",
        "2027-03-18T16:00",  # DST began on 2027-03-14: still 09:00 in Seattle
        "2027-03-25T16:00",
    ]
    assert {e["seriesMasterId"] for e in items} == {series["id"]}
    assert len({e["iCalUId"] for e in items}) == 4
    local, _ = graph.delta_round(zone=PST)
    assert {e["start"]["dateTime"][11:16] for e in flat(local)} == {"09:00"}
    master = graph.call("GET", f"/me/events/{items[0]['seriesMasterId']}").json()
    assert master["type"] == "seriesMaster"
    assert master["recurrence"]["pattern"]["daysOfWeek"] == ["thursday"]
    one = graph.call("GET", f"/me/events/{items[1]['id']}").json()
    assert one["type"] == "occurrence"
    assert one["originalStart"] == "2027-03-11T17:00:00Z"
    assert (
        stand_in.graph.occurrence_id(series["id"], datetime(2027, 3, 11, 17, tzinfo=UTC))
        == (items[1]["id"])
    )

    moved = graph.call("PATCH", f"/me/events/{items[1]['id']}", json={"subject": "Moved"}).json()
    assert moved["type"] == "exception"
    assert moved["id"] == items[1]["id"]
    stand_in.graph.cancel_occurrence(MAILBOX, series["id"], datetime(2027, 3, 18, 16, tzinfo=UTC))
    pages, link = graph.delta_round(link)
    changes = flat(pages)
    assert [(e["id"], e.get("type")) for e in changes] == [
        (items[1]["id"], "exception"),
        (items[2]["id"], None),
    ]
    assert changes[1]["@removed"] == {"reason": "deleted"}
    assert graph.call("GET", f"/me/events/{items[2]['id']}").status_code == 404

    graph.call("DELETE", f"/me/events/{series['id']}")
    pages, _ = graph.delta_round(link)
    removed = flat(pages)
    assert {e["id"] for e in removed} == {items[0]["id"], items[1]["id"], items[3]["id"]}
    assert all("@removed" in e for e in removed)


def test_editing_a_series_lists_its_occurrences_again(
    stand_in: MicrosoftStandIn, graph: Graph
) -> None:
    series = stand_in.graph.add_event(
        MAILBOX,
        subject="Standup",
        start=when("2027-02-01T09:00:00", "Europe/Paris"),
        end=when("2027-02-01T09:15:00", "Europe/Paris"),
        recurrence={
            "pattern": {"type": "daily", "interval": 1},
            "range": {"type": "endDate", "startDate": "2027-02-01", "endDate": "2027-02-03"},
        },
    )
    assert series["originalStartTimeZone"] == "Romance Standard Time"
    first, link = graph.delta_round()
    assert len(flat(first)) == 3
    stand_in.graph.modify_occurrence(
        MAILBOX, series["id"], datetime(2027, 2, 2, 8, tzinfo=UTC), subject="Special"
    )
    stand_in.graph.patch_event(MAILBOX, series["id"], subject="Daily standup")
    pages, _ = graph.delta_round(link)
    assert sorted(e["subject"] for e in flat(pages)) == [
        "Daily standup",
        "Daily standup",
        "Special",
    ]


def test_expired_or_unknown_state_tokens_answer_410(
    stand_in: MicrosoftStandIn, graph: Graph
) -> None:
    for n in range(3):
        _add(stand_in, f"e{n}", f"2027-02-0{n + 1}")
    first = graph.call("GET", START, headers={"Prefer": "odata.maxpagesize=2"}).json()
    _, delta_link = graph.delta_round()
    stand_in.graph.expire_delta_tokens(MAILBOX)
    for link in (first["@odata.nextLink"], delta_link):
        response = graph.call("GET", link)
        assert response.status_code == 410
        assert response.json()["error"]["code"] == "SyncStateNotFound"
        assert response.json()["error"]["message"] == "The sync state generation is not found."
    _, fresh = graph.delta_round()
    stand_in.graph.expire_delta_tokens(MAILBOX, code="resyncRequired")
    assert graph.call("GET", fresh).json()["error"]["code"] == "resyncRequired"
    unknown = graph.call("GET", "/me/calendarView/delta?$deltatoken=nope")
    assert unknown.status_code == 410


def test_injected_throttling_then_success(stand_in: MicrosoftStandIn, graph: Graph) -> None:
    stand_in.graph.fail_next(429, retry_after=3, path_contains="/me/events")
    body = {
        "subject": "x",
        "start": when("2027-02-01T10:00:00"),
        "end": when("2027-02-01T11:00:00"),
    }
    throttled = graph.call("POST", "/me/events", json=body)
    assert throttled.status_code == 429
    assert throttled.headers["Retry-After"] == "3"
    assert throttled.json()["error"]["code"] == "TooManyRequests"
    assert stand_in.graph.events(MAILBOX) == []  # nothing changed
    assert graph.call("POST", "/me/events", json=body).status_code == 201
    stand_in.graph.fail_next(503, count=2)
    codes = [graph.call("GET", "/me").json().get("error", {}).get("code") for _ in range(3)]
    assert codes == ["ServiceNotAvailable", "ServiceNotAvailable", None]
    assert [r.status for r in stand_in.graph.requests[-3:]] == [503, 503, 200]


# -- subscriptions and notifications ----------------------------------------------------------
HOOK = "https://addon.test/graph/notifications"
LIFECYCLE = "https://addon.test/graph/lifecycle"


class Receiver:
    """A notification endpoint living in a Flask test client: it answers the validation
    handshake by echoing the token, and keeps every notification it gets."""

    def __init__(self, *, echo: bool = True, fail_first: int = 0) -> None:
        self.calls: list[tuple[str, dict[str, str], bytes]] = []
        self.received: list[dict[str, Any]] = []
        self.fail_first = fail_first
        app = Flask("receiver")

        @app.post("/graph/<kind>")
        def hook(kind: str) -> tuple[str, int, dict[str, str]]:
            token = request.args.get("validationToken")
            if token is not None:
                return (token if echo else "nope"), 200, {"Content-Type": "text/plain"}
            if self.fail_first > 0:
                self.fail_first -= 1
                return "busy", 503, {}
            self.received.append({"kind": kind, **json.loads(request.data)})
            return "", 202, {}

        self.client = app.test_client()

    def __call__(self, url: str, headers: dict[str, str], body: bytes) -> tuple[int, str, str]:
        self.calls.append((url, headers, body))
        parts = urlsplit(url)
        answer = self.client.post(f"{parts.path}?{parts.query}", headers=headers, data=body)
        return answer.status_code, answer.content_type or "", answer.get_data(as_text=True)


def _subscribe(graph: Graph, clock: Clock, **extra: Any) -> requests.Response:
    body = {
        "changeType": "created,updated,deleted",
        "notificationUrl": HOOK,
        "resource": "me/events",
        "expirationDateTime": (clock.now + timedelta(days=2)).isoformat(),
        "clientState": "secret-state",
        **extra,
    }
    return graph.call("POST", "/subscriptions", json=body)


def test_creating_a_subscription_runs_the_validation_handshake(
    stand_in: MicrosoftStandIn, graph: Graph, clock: Clock
) -> None:
    receiver = Receiver()
    stand_in.graph.deliver = receiver
    response = _subscribe(graph, clock, lifecycleNotificationUrl=LIFECYCLE)
    assert response.status_code == 201, response.text
    sub = response.json()
    assert sub["changeType"] == "created,updated,deleted"
    assert sub["clientState"] == "secret-state"
    assert sub["applicationId"] == CLIENT
    assert sub["creatorId"] == object_id(MAILBOX)
    assert sub["latestSupportedTlsVersion"] == "v1_2"
    assert sub["includeResourceData"] is False
    assert sub["expirationDateTime"].endswith("Z")
    assert [urlsplit(c[0]).path for c in receiver.calls] == [
        "/graph/notifications",
        "/graph/lifecycle",
    ]
    url, headers, body = receiver.calls[0]
    token = unquote_plus(urlsplit(url).query.removeprefix("validationToken="))
    assert " " in token
    assert ":" in token
    assert headers["Content-Type"] == "text/plain; charset=utf-8"
    assert body == b""
    assert set(stand_in.graph.subscriptions) == {sub["id"]}
    fetched = graph.call("GET", f"/subscriptions/{sub['id']}").json()
    assert fetched["notificationUrl"] == HOOK


def test_a_failed_handshake_creates_nothing(
    stand_in: MicrosoftStandIn, graph: Graph, clock: Clock
) -> None:
    stand_in.graph.deliver = Receiver(echo=False)
    response = _subscribe(graph, clock)
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "ValidationError"
    assert response.json()["error"]["message"].startswith("Subscription validation request failed")
    assert stand_in.graph.subscriptions == {}

    def unreachable(url: str, headers: dict[str, str], body: bytes) -> tuple[int, str, str]:
        raise requests.ConnectionError("refused")

    stand_in.graph.deliver = unreachable
    assert _subscribe(graph, clock).status_code == 400


def test_subscription_limits(stand_in: MicrosoftStandIn, graph: Graph, clock: Clock) -> None:
    stand_in.graph.deliver = Receiver()
    too_far = (clock.now + timedelta(minutes=10081)).isoformat()
    response = _subscribe(graph, clock, expirationDateTime=too_far)
    assert response.status_code == 400
    assert response.json()["error"] == {
        "code": "ExtensionError",
        "message": "Subscription expiration can only be 10080 minutes in the future.",
        "innerError": response.json()["error"]["innerError"],
    }
    past = (clock.now - timedelta(minutes=1)).isoformat()
    assert _subscribe(graph, clock, expirationDateTime=past).status_code == 400
    assert _subscribe(graph, clock, clientState="x" * 129).status_code == 400
    plain = _subscribe(graph, clock, notificationUrl="http://addon.test/graph/notifications")
    assert plain.status_code == 400
    stand_in.graph.allowed_push_hosts.add("addon.test")
    plain = _subscribe(graph, clock, notificationUrl="http://addon.test/graph/notifications")
    assert plain.status_code == 201
    assert _subscribe(graph, clock, resource="/me/events").status_code == 201
    assert _subscribe(graph, clock, resource="me/messages").status_code == 400
    assert stand_in.graph.pending == []


def test_changes_queue_notifications_with_the_client_state(
    stand_in: MicrosoftStandIn, graph: Graph, clock: Clock
) -> None:
    receiver = Receiver()
    stand_in.graph.deliver = receiver
    sub = _subscribe(graph, clock, changeType="created,deleted").json()
    body = {
        "subject": "x",
        "start": when("2027-02-01T10:00:00"),
        "end": when("2027-02-01T11:00:00"),
    }
    created = graph.call("POST", "/me/events", json=body).json()
    stand_in.graph.patch_event(MAILBOX, created["id"], subject="y")  # "updated": not subscribed
    stand_in.graph.delete_event(MAILBOX, created["id"])
    pending = list(stand_in.graph.pending)
    assert [n.url for n in pending] == [HOOK, HOOK]
    assert {n.subscription_id for n in pending} == {sub["id"]}
    items = [json.loads(n.body)["value"][0] for n in pending]
    assert [i["changeType"] for i in items] == ["created", "deleted"]
    first = items[0]
    assert first["clientState"] == "secret-state"
    assert first["subscriptionId"] == sub["id"]
    assert first["resource"] == f"Users/{object_id(MAILBOX)}/Events/{created['id']}"
    assert first["resourceData"]["id"] == created["id"]
    assert first["resourceData"]["@odata.type"] == "#Microsoft.Graph.Event"
    assert first["tenantId"]
    deliveries = stand_in.graph.deliver_pending()
    assert [d.status for d in deliveries] == [202, 202]
    assert stand_in.graph.pending == []
    assert len(receiver.received) == 2

    other = Graph(stand_in, access_token(stand_in, "someone@else.example", ["Calendars.ReadWrite"]))
    other.call("POST", "/me/events", json=body)
    assert stand_in.graph.pending == []  # another mailbox: not this subscription's business
    assert other.call("GET", f"/subscriptions/{sub['id']}").status_code == 404


def test_immediate_delivery_retries(stand_in: MicrosoftStandIn, graph: Graph, clock: Clock) -> None:
    receiver = Receiver(fail_first=1)
    stand_in.graph.deliver = receiver
    stand_in.graph.push_mode = "immediate"
    _subscribe(graph, clock)
    _add(stand_in, "pushed", "2027-02-01")
    assert stand_in.graph.drain()
    [delivery] = stand_in.graph.deliveries
    assert (delivery.status, delivery.attempts) == (202, 2)
    assert receiver.received[0]["value"][0]["changeType"] == "created"
    stand_in.graph.push_mode = "off"
    _add(stand_in, "dropped", "2027-02-02")
    assert stand_in.graph.pending == []


def test_lifecycle_renewal_expiry_and_deletion(
    stand_in: MicrosoftStandIn, graph: Graph, clock: Clock
) -> None:
    stand_in.graph.deliver = Receiver()
    with_lifecycle = _subscribe(graph, clock, lifecycleNotificationUrl=LIFECYCLE).json()
    plain = _subscribe(graph, clock).json()
    stand_in.graph.lifecycle(with_lifecycle["id"], "reauthorizationRequired")
    stand_in.graph.lifecycle(plain["id"], "subscriptionRemoved")
    notes = list(stand_in.graph.pending)
    assert [n.url for n in notes] == [LIFECYCLE, HOOK]
    item = json.loads(notes[0].body)["value"][0]
    assert item["lifecycleEvent"] == "reauthorizationRequired"
    assert item["clientState"] == "secret-state"
    assert item["subscriptionId"] == with_lifecycle["id"]
    assert plain["id"] not in stand_in.graph.subscriptions
    assert graph.call("GET", f"/subscriptions/{plain['id']}").status_code == 404

    later = (clock.now + timedelta(days=3)).isoformat()
    renewed = graph.call(
        "PATCH", f"/subscriptions/{with_lifecycle['id']}", json={"expirationDateTime": later}
    )
    assert renewed.status_code == 200
    assert renewed.json()["expirationDateTime"] > with_lifecycle["expirationDateTime"]
    too_far = (clock.now + timedelta(days=8)).isoformat()
    refused = graph.call(
        "PATCH", f"/subscriptions/{with_lifecycle['id']}", json={"expirationDateTime": too_far}
    )
    assert refused.json()["error"]["code"] == "ExtensionError"
    assert graph.call("DELETE", f"/subscriptions/{with_lifecycle['id']}").status_code == 204
    missing = graph.call("DELETE", f"/subscriptions/{with_lifecycle['id']}")
    assert missing.status_code == 404
    assert missing.json()["error"]["code"] == "ResourceNotFound"

    expiring = _subscribe(graph, clock).json()
    stand_in.graph.pending.clear()
    stand_in.graph.expire_subscription(expiring["id"])
    _add(stand_in, "unheard", "2027-02-01")
    assert stand_in.graph.pending == []
    renew = graph.call(
        "PATCH", f"/subscriptions/{expiring['id']}", json={"expirationDateTime": later}
    )
    assert renew.status_code == 404


def test_repeated_prefer_headers_are_combined(stand_in: MicrosoftStandIn) -> None:
    token = access_token(stand_in, USER, ["Calendars.ReadWrite"])
    event = _add(stand_in, "x", "2027-02-01")
    answer = stand_in.wsgi_app.test_client().get(
        f"/v1.0/me/events/{event['id']}",
        headers=[
            ("Authorization", f"Bearer {token}"),
            ("Prefer", 'IdType="ImmutableId"'),
            ("Prefer", f'outlook.timezone="{PST}"'),
        ],
    )
    assert answer.json is not None
    assert answer.json["start"]["timeZone"] == PST
    assert answer.headers["Preference-Applied"] == f'outlook.timezone="{PST}"'
