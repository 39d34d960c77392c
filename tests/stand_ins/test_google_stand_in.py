"""The Google stand-in, driven through the real client libraries over HTTP on 127.0.0.1."""

from __future__ import annotations

import base64
import html
import re
import threading
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit

import pytest
import requests
from google.auth.exceptions import RefreshError
from google.auth.transport.requests import Request as AuthRequest
from google.oauth2 import id_token
from google.oauth2.credentials import Credentials
from googleapiclient.discovery import build
from googleapiclient.errors import HttpError
from werkzeug.serving import make_server

from server.stand_ins.google import GoogleStandIn

USER = "rep@example.com"
OTHER = "someone@example.org"
CLIENT_ID = "client-123.apps.googleusercontent.com"
CLIENT_SECRET = "s3cret"
REDIRECT = "http://127.0.0.1:9/oauth/callback"


class Clock:
    def __init__(self) -> None:
        self.now = datetime.now(UTC)

    def __call__(self) -> datetime:
        return self.now

    def advance(self, seconds: int) -> None:
        self.now += timedelta(seconds=seconds)


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def stand_in(clock: Clock) -> Iterator[GoogleStandIn]:
    stand_in = GoogleStandIn(now=clock)
    stand_in.start()
    yield stand_in
    stand_in.stop()


@pytest.fixture
def build_service(stand_in: GoogleStandIn) -> Iterator[Callable[..., Any]]:
    services: list[Any] = []

    def factory(api: str = "calendar", version: str = "v3", *, token: str) -> Any:
        setting = "GOOGLE_CALENDAR_API_URL" if api == "calendar" else "GOOGLE_GMAIL_API_URL"
        service = build(
            api,
            version,
            credentials=Credentials(token=token),
            static_discovery=True,
            cache_discovery=False,
            client_options={"api_endpoint": stand_in.settings()[setting]},
        )
        services.append(service)
        return service

    yield factory
    for service in services:
        service.close()


@pytest.fixture
def calendar(stand_in: GoogleStandIn, build_service: Callable[..., Any]) -> Any:
    return build_service(token=stand_in.user_access_token(USER))


def timed(start: datetime, minutes: int = 30, **fields: Any) -> dict[str, Any]:
    end = start + timedelta(minutes=minutes)
    return {"start": {"dateTime": start.isoformat()}, "end": {"dateTime": end.isoformat()}} | fields


def list_all(calendar: Any, **params: Any) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """Every item over all pages, plus the raw pages."""
    pages: list[dict[str, Any]] = []
    request = calendar.events().list(calendarId="primary", **params)
    while request is not None:
        page = request.execute()
        pages.append(page)
        request = calendar.events().list_next(request, page)
    return [item for page in pages for item in page.get("items", [])], pages


def test_settings_point_at_the_stand_in(stand_in: GoogleStandIn) -> None:
    settings = stand_in.settings()
    assert stand_in.base_url.startswith("http://127.0.0.1:")
    assert settings["GOOGLE_CALENDAR_API_URL"] == stand_in.base_url + "/calendar/v3/"
    assert settings["GOOGLE_GMAIL_API_URL"] == stand_in.base_url + "/"
    assert settings["GOOGLE_CERTS_URL"] == stand_in.base_url + "/oauth2/v1/certs"
    assert settings["GOOGLE_AUTH_URI"].endswith("/o/oauth2/v2/auth")
    assert settings["GOOGLE_TOKEN_URI"].endswith("/token")


def test_full_list_pages_and_ends_with_a_sync_token(
    stand_in: GoogleStandIn, calendar: Any, clock: Clock
) -> None:
    base = clock.now.replace(microsecond=0) + timedelta(days=1)
    created = [
        stand_in.calendar.add_event(USER, timed(base + timedelta(hours=i), summary=f"M{i}"))
        for i in range(5)
    ]
    items, pages = list_all(calendar, maxResults=2, showDeleted=True)
    assert [p.get("nextPageToken") is not None for p in pages] == [True, True, False]
    assert all("nextSyncToken" not in p for p in pages[:-1])
    assert pages[-1]["nextSyncToken"]
    assert [i["id"] for i in items] == [e["id"] for e in created]
    assert pages[0]["kind"] == "calendar#events"
    assert pages[0]["timeZone"] == "UTC"
    event = items[0]
    assert event["organizer"] == {"email": USER, "self": True}
    assert event["iCalUID"] == f"{event['id']}@google.com"
    assert event["status"] == "confirmed"
    listed = stand_in.calendar.requests[-1]
    assert listed.method == "GET"
    assert listed.query["pageToken"]
    assert listed.user == USER


def test_incremental_list_returns_changes_and_tombstones(
    stand_in: GoogleStandIn, calendar: Any, clock: Clock
) -> None:
    start = clock.now.replace(microsecond=0)
    kept = stand_in.calendar.add_event(USER, timed(start, summary="Kept"))
    moved = stand_in.calendar.add_event(USER, timed(start, summary="Moved"))
    gone = stand_in.calendar.add_event(USER, timed(start, summary="Gone"))
    _, pages = list_all(calendar)
    token = pages[-1]["nextSyncToken"]

    stand_in.calendar.patch_event(USER, moved["id"], {"summary": "Moved later"})
    stand_in.calendar.delete_event(USER, gone["id"])
    fresh = stand_in.calendar.add_event(USER, timed(start, summary="Fresh"))

    changes, pages = list_all(calendar, syncToken=token)
    by_id = {item["id"]: item for item in changes}
    assert set(by_id) == {moved["id"], gone["id"], fresh["id"]}
    assert kept["id"] not in by_id
    assert by_id[moved["id"]]["summary"] == "Moved later"
    assert by_id[moved["id"]]["updated"] >= moved["updated"]
    tombstone = by_id[gone["id"]]
    assert tombstone["status"] == "cancelled"
    assert set(tombstone) <= {"kind", "etag", "id", "status"}

    again, _ = list_all(calendar, syncToken=pages[-1]["nextSyncToken"])
    assert again == []


def test_sync_token_rules(stand_in: GoogleStandIn, calendar: Any, clock: Clock) -> None:
    stand_in.calendar.add_event(USER, timed(clock.now))
    _, pages = list_all(calendar)
    token = pages[-1]["nextSyncToken"]

    with pytest.raises(HttpError) as bad:
        calendar.events().list(
            calendarId="primary", syncToken=token, timeMin="2020-01-01T00:00:00Z"
        ).execute()
    assert bad.value.resp.status == 400

    stand_in.calendar.invalidate_sync_tokens(USER)
    with pytest.raises(HttpError) as gone:
        calendar.events().list(calendarId="primary", syncToken=token).execute()
    assert gone.value.resp.status == 410
    assert gone.value.error_details[0]["reason"] == "fullSyncRequired"
    assert gone.value.error_details[0]["domain"] == "calendar"
    assert "full sync is required" in gone.value.reason


def test_recurring_series_expands_with_cancelled_and_modified_instances(
    stand_in: GoogleStandIn, calendar: Any
) -> None:
    master = stand_in.calendar.add_event(
        USER,
        {
            "summary": "Weekly sync",
            "start": {"dateTime": "2025-03-03T09:00:00", "timeZone": "America/New_York"},
            "end": {"dateTime": "2025-03-03T09:30:00", "timeZone": "America/New_York"},
            "recurrence": [
                "RRULE:FREQ=WEEKLY;COUNT=5",
                "EXDATE;TZID=America/New_York:20250331T090000",
            ],
            "attendees": [{"email": USER}, {"email": OTHER}],
        },
    )
    base = master["id"]
    stand_in.calendar.cancel_instance(USER, base, "2025-03-10T09:00:00-04:00")
    stand_in.calendar.modify_instance(
        USER, base, "2025-03-17T13:00:00Z", {"summary": "Weekly sync (moved)"}
    )

    items, _ = list_all(
        calendar,
        singleEvents=True,
        orderBy="startTime",
        timeMin="2025-03-01T00:00:00Z",
        timeMax="2025-04-30T00:00:00Z",
    )
    # 5 occurrences, one EXDATE, one cancelled; DST starts 2025-03-09 in New York.
    assert [i["id"] for i in items] == [
        f"{base}_20250303T140000Z",
        f"{base}_20250317T130000Z",
        f"{base}_20250324T130000Z",
    ]
    assert {i["recurringEventId"] for i in items} == {base}
    assert items[0]["start"] == {
        "dateTime": "2025-03-03T09:00:00-05:00",
        "timeZone": "America/New_York",
    }
    assert items[2]["originalStartTime"]["dateTime"] == "2025-03-24T09:00:00-04:00"
    assert items[1]["summary"] == "Weekly sync (moved)"
    assert items[2]["summary"] == "Weekly sync"
    assert all("recurrence" not in i for i in items)

    with_deleted, _ = list_all(
        calendar, singleEvents=True, showDeleted=True, timeMin="2025-03-01T00:00:00Z"
    )
    cancelled = [i for i in with_deleted if i["status"] == "cancelled"]
    assert [c["id"] for c in cancelled] == [f"{base}_20250310T130000Z"]
    assert cancelled[0]["recurringEventId"] == base
    assert cancelled[0]["originalStartTime"]["dateTime"] == "2025-03-10T09:00:00-04:00"

    masters, _ = list_all(calendar)
    assert {m["id"] for m in masters} == {
        base,
        f"{base}_20250310T130000Z",
        f"{base}_20250317T130000Z",
    }

    instance = (
        calendar.events().get(calendarId="primary", eventId=f"{base}_20250324T130000Z").execute()
    )
    assert instance["recurringEventId"] == base


def test_all_day_series_and_instance_patch_through_the_api(
    stand_in: GoogleStandIn, calendar: Any
) -> None:
    master = (
        calendar.events()
        .insert(
            calendarId="primary",
            body={
                "summary": "Offsite",
                "start": {"date": "2025-06-02"},
                "end": {"date": "2025-06-03"},
                "recurrence": ["RRULE:FREQ=DAILY;COUNT=3"],
            },
        )
        .execute()
    )
    _, pages = list_all(calendar, singleEvents=True)
    token = pages[-1]["nextSyncToken"]
    instance_id = f"{master['id']}_20250603"
    calendar.events().delete(calendarId="primary", eventId=instance_id).execute()

    changes, _ = list_all(calendar, singleEvents=True, syncToken=token)
    assert changes == [
        {
            "kind": "calendar#event",
            "etag": changes[0]["etag"],
            "id": instance_id,
            "status": "cancelled",
            "recurringEventId": master["id"],
            "originalStartTime": {"date": "2025-06-03"},
        }
    ]
    items, _ = list_all(calendar, singleEvents=True)
    assert [i["id"] for i in items] == [f"{master['id']}_20250602", f"{master['id']}_20250604"]


def test_insert_with_client_id_is_idempotent(
    stand_in: GoogleStandIn, calendar: Any, clock: Clock
) -> None:
    body = timed(clock.now, summary="Demo", attendees=[{"email": OTHER}]) | {"id": "crm0000000042"}
    created = calendar.events().insert(calendarId="primary", body=body, sendUpdates="all").execute()
    assert created["id"] == "crm0000000042"
    assert created["organizer"]["email"] == USER
    assert created["attendees"] == [{"email": OTHER, "responseStatus": "needsAction"}]
    with pytest.raises(HttpError) as dup:
        calendar.events().insert(calendarId="primary", body=body, sendUpdates="all").execute()
    assert dup.value.resp.status == 409
    assert dup.value.error_details[0]["reason"] == "duplicate"
    inserts = [r for r in stand_in.calendar.requests if r.method == "POST"]
    assert [r.query.get("sendUpdates") for r in inserts] == ["all", "all"]
    assert [r.status for r in inserts] == [200, 409]

    with pytest.raises(HttpError) as invalid:
        calendar.events().insert(calendarId="primary", body=body | {"id": "NOT-VALID"}).execute()
    assert invalid.value.resp.status == 400


class Receiver:
    """A tiny local webhook receiver that records each notification's headers and body."""

    def __init__(self) -> None:
        self.received: list[tuple[dict[str, str], bytes]] = []
        self.event = threading.Event()
        self.server = make_server("127.0.0.1", 0, self.app)
        self.url = f"http://127.0.0.1:{self.server.server_port}/webhooks/google"
        self.thread = threading.Thread(
            target=self.server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )
        self.thread.start()

    def app(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> list[bytes]:
        headers = {
            key[5:].replace("_", "-").title(): value
            for key, value in environ.items()
            if key.startswith("HTTP_")
        }
        length = int(environ.get("CONTENT_LENGTH") or 0)
        self.received.append((headers, environ["wsgi.input"].read(length)))
        self.event.set()
        start_response("200 OK", [("Content-Length", "0")])
        return [b""]

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()
        self.thread.join()


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    server = Receiver()
    yield server
    server.close()


def test_watch_pushes_notifications_and_channels_stop(
    stand_in: GoogleStandIn, calendar: Any, receiver: Receiver, clock: Clock
) -> None:
    stand_in.calendar.push_mode = "sync"
    channel = (
        calendar.events()
        .watch(
            calendarId="primary",
            body={
                "id": "chan-1",
                "type": "web_hook",
                "address": receiver.url,
                "token": "secret-token",
                "params": {"ttl": "3600"},
            },
        )
        .execute()
    )
    assert channel["id"] == "chan-1"
    assert channel["resourceId"]
    assert int(channel["expiration"]) == int(clock.now.timestamp() * 1000) + 3600 * 1000
    assert "chan-1" in stand_in.calendar.channels

    stand_in.calendar.add_event(USER, timed(clock.now, summary="Triggers a push"))
    assert len(receiver.received) == 2
    (sync_headers, sync_body), (headers, body) = receiver.received
    assert sync_headers["X-Goog-Resource-State"] == "sync"
    assert sync_headers["X-Goog-Message-Number"] == "1"
    assert body == b""
    assert sync_body == b""
    assert headers["X-Goog-Channel-Id"] == "chan-1"
    assert headers["X-Goog-Channel-Token"] == "secret-token"
    assert headers["X-Goog-Resource-State"] == "exists"
    assert headers["X-Goog-Message-Number"] == "2"
    assert headers["X-Goog-Resource-Id"] == channel["resourceId"]
    assert headers["X-Goog-Resource-Uri"] == channel["resourceUri"]
    assert headers["X-Goog-Channel-Expiration"].endswith("GMT")
    assert [d.status for d in stand_in.calendar.deliveries] == [200, 200]

    calendar.channels().stop(body={"id": "chan-1", "resourceId": channel["resourceId"]}).execute()
    stand_in.calendar.add_event(USER, timed(clock.now, summary="No push"))
    assert len(receiver.received) == 2
    with pytest.raises(HttpError) as unknown:
        calendar.channels().stop(
            body={"id": "chan-1", "resourceId": channel["resourceId"]}
        ).execute()
    assert unknown.value.resp.status == 404


def test_push_queued_when_off_and_sent_by_deliver_pending(
    stand_in: GoogleStandIn, calendar: Any, receiver: Receiver, clock: Clock
) -> None:
    calendar.events().watch(
        calendarId="primary", body={"id": "c2", "type": "web_hook", "address": receiver.url}
    ).execute()
    stand_in.calendar.add_event(USER, timed(clock.now))
    assert receiver.received == []
    assert [n.resource_state for n in stand_in.calendar.pending_notifications] == ["sync", "exists"]
    deliveries = stand_in.calendar.deliver_pending()
    assert [d.status for d in deliveries] == [200, 200]
    assert "X-Goog-Channel-Token" not in receiver.received[0][0]

    stand_in.calendar.push_mode = "thread"
    stand_in.calendar.add_event(USER, timed(clock.now))
    assert stand_in.calendar.push.drain()
    assert len(receiver.received) == 3

    # Only loopback addresses are accepted; Google answers 401 for unverified domains.
    with pytest.raises(RefreshError):
        calendar.events().watch(
            calendarId="primary",
            body={"id": "c3", "type": "web_hook", "address": "https://example.com/hook"},
        ).execute()
    assert stand_in.calendar.requests[-1].status == 401


def test_injected_rate_limit_surfaces_as_http_error(stand_in: GoogleStandIn, calendar: Any) -> None:
    stand_in.calendar.fail_next(1, 429, retry_after=7, path_contains="/events")
    with pytest.raises(HttpError) as limited:
        calendar.events().list(calendarId="primary").execute()
    assert limited.value.resp.status == 429
    assert limited.value.resp["retry-after"] == "7"
    assert limited.value.error_details[0]["reason"] == "rateLimitExceeded"
    assert limited.value.error_details[0]["domain"] == "usageLimits"
    calendar.events().list(calendarId="primary").execute()
    assert [r.status for r in stand_in.calendar.requests] == [429, 200]

    stand_in.calendar.fail_next(1, 403)
    with pytest.raises(HttpError) as user_limit:
        calendar.calendarList().list().execute()
    assert user_limit.value.error_details[0]["reason"] == "userRateLimitExceeded"
    assert calendar.calendarList().list().execute()["items"][0]["id"] == USER


def test_requests_need_a_valid_access_token(
    stand_in: GoogleStandIn, build_service: Callable[..., Any], clock: Clock
) -> None:
    url = stand_in.settings()["GOOGLE_CALENDAR_API_URL"] + "calendars/primary/events"
    missing = requests.get(url, timeout=10)
    assert missing.status_code == 401
    assert missing.json()["error"]["errors"][0]["reason"] == "required"
    bad = requests.get(url, headers={"Authorization": "Bearer nope"}, timeout=10)
    assert bad.status_code == 401
    assert bad.json()["error"]["errors"][0]["reason"] == "authError"
    # google-auth answers a 401 by refreshing, which a bare access token cannot do.
    with pytest.raises(RefreshError):
        build_service(token="not-a-token").events().list(calendarId="primary").execute()

    token = stand_in.user_access_token(USER)
    clock.advance(3600)
    expired = requests.get(url, headers={"Authorization": f"Bearer {token}"}, timeout=10)
    assert expired.status_code == 401

    readonly = stand_in.user_access_token(
        USER, ["https://www.googleapis.com/auth/calendar.readonly"]
    )
    service = build_service(token=readonly)
    service.events().list(calendarId="primary").execute()
    with pytest.raises(HttpError) as scoped:
        service.events().insert(calendarId="primary", body=timed(clock.now)).execute()
    assert scoped.value.resp.status == 403
    assert scoped.value.error_details[0]["reason"] == "insufficientPermissions"
    with pytest.raises(HttpError) as other:
        service.events().list(calendarId=OTHER).execute()
    assert other.value.resp.status == 404


def _authorize_url(stand_in: GoogleStandIn, **extra: str) -> str:
    params = {
        "client_id": CLIENT_ID,
        "redirect_uri": REDIRECT,
        "response_type": "code",
        "scope": "openid email https://www.googleapis.com/auth/calendar",
        "state": "st-1",
        "access_type": "offline",
        "login_hint": USER,
    } | extra
    return stand_in.settings()["GOOGLE_AUTH_URI"] + "?" + urlencode(params)


def _token(stand_in: GoogleStandIn, **form: str) -> requests.Response:
    return requests.post(
        stand_in.settings()["GOOGLE_TOKEN_URI"],
        data=form,
        auth=(CLIENT_ID, CLIENT_SECRET),
        timeout=10,
    )


def test_oauth_code_refresh_revoke(
    stand_in: GoogleStandIn, build_service: Callable[..., Any]
) -> None:
    stand_in.oauth.register_client(CLIENT_ID, CLIENT_SECRET, [REDIRECT])
    url = _authorize_url(stand_in)
    page = requests.get(url, timeout=10)
    assert page.status_code == 200
    assert 'id="allow"' in page.text
    assert html.escape(USER) in page.text

    consent = requests.post(
        url, data={"decision": "allow", "email": USER}, allow_redirects=False, timeout=10
    )
    assert consent.status_code == 302
    location = urlsplit(consent.headers["Location"])
    assert f"{location.scheme}://{location.netloc}{location.path}" == REDIRECT
    query = parse_qs(location.query)
    assert query["state"] == ["st-1"]
    assert "https://www.googleapis.com/auth/userinfo.email" in query["scope"][0].split()

    exchanged = _token(
        stand_in, grant_type="authorization_code", code=query["code"][0], redirect_uri=REDIRECT
    )
    assert exchanged.status_code == 200, exchanged.text
    tokens = exchanged.json()
    assert tokens["expires_in"] == 3599
    assert tokens["token_type"] == "Bearer"
    assert tokens["refresh_token"]
    with requests.Session() as session:
        claims = id_token.verify_token(
            tokens["id_token"],
            AuthRequest(session=session),
            audience=CLIENT_ID,
            certs_url=stand_in.settings()["GOOGLE_CERTS_URL"],
        )
    assert claims["email"] == USER
    assert claims["iss"] == "https://accounts.google.com"
    events = (
        build_service(token=tokens["access_token"]).events().list(calendarId="primary").execute()
    )
    assert events["summary"] == USER

    reused = _token(
        stand_in, grant_type="authorization_code", code=query["code"][0], redirect_uri=REDIRECT
    )
    assert reused.status_code == 400
    assert reused.json()["error"] == "invalid_grant"

    refreshed = _token(stand_in, grant_type="refresh_token", refresh_token=tokens["refresh_token"])
    assert refreshed.status_code == 200
    assert refreshed.json()["access_token"] != tokens["access_token"]
    assert "refresh_token" not in refreshed.json()

    revoked = requests.post(
        stand_in.revoke_url, data={"token": tokens["refresh_token"]}, timeout=10
    )
    assert revoked.status_code == 200
    denied = _token(stand_in, grant_type="refresh_token", refresh_token=tokens["refresh_token"])
    assert denied.status_code == 400
    assert denied.json() == {
        "error": "invalid_grant",
        "error_description": "Token has been expired or revoked.",
    }
    assert stand_in.oauth.resolve(refreshed.json()["access_token"]) is None

    wrong_secret = requests.post(
        stand_in.settings()["GOOGLE_TOKEN_URI"],
        data={
            "grant_type": "refresh_token",
            "refresh_token": "x",
            "client_id": CLIENT_ID,
            "client_secret": "no",
        },
        timeout=10,
    )
    assert wrong_secret.status_code == 401
    assert wrong_secret.json()["error"] == "invalid_client"


def test_oauth_deny_revoke_by_email_and_bad_requests(stand_in: GoogleStandIn) -> None:
    denied = urlsplit(stand_in.oauth.deny(_authorize_url(stand_in)))
    assert parse_qs(denied.query) == {"state": ["st-1"], "error": ["access_denied"]}

    callback = stand_in.oauth.approve(_authorize_url(stand_in, login_hint=""), email=OTHER)
    code = parse_qs(urlsplit(callback).query)["code"][0]
    tokens = _token(
        stand_in, grant_type="authorization_code", code=code, redirect_uri=REDIRECT
    ).json()
    assert stand_in.oauth.resolve(tokens["access_token"]).user == OTHER
    stand_in.oauth.revoke(OTHER)
    denied_refresh = _token(
        stand_in, grant_type="refresh_token", refresh_token=tokens["refresh_token"]
    )
    assert denied_refresh.json()["error"] == "invalid_grant"

    bad = requests.get(_authorize_url(stand_in, response_type="token"), timeout=10)
    assert bad.status_code == 400
    assert "unsupported_response_type" in bad.text


def test_id_tokens_verify_with_published_key_only(stand_in: GoogleStandIn) -> None:
    audience = "https://addon.example.com/addon/homepage"
    good = stand_in.id_token_for(
        audience=audience, email="sa@gcp-sa-gsuiteaddons.iam.gserviceaccount.com"
    )
    rogue = stand_in.id_token_for(audience=audience, email="x@example.com", key="rogue")
    header = base64.urlsafe_b64decode(good.split(".")[0] + "==")
    assert b'"kid"' in header
    assert b'"RS256"' in header
    certs_url = stand_in.settings()["GOOGLE_CERTS_URL"]
    with requests.Session() as session:
        request = AuthRequest(session=session)
        claims = id_token.verify_token(good, request, audience=audience, certs_url=certs_url)
        assert claims["email_verified"] is True
        assert claims["exp"] - claims["iat"] == 3600
        with pytest.raises(ValueError, match="Could not verify token signature"):
            id_token.verify_token(rogue, request, audience=audience, certs_url=certs_url)
        with pytest.raises(ValueError, match="audience"):
            id_token.verify_token(good, request, audience=audience + "/", certs_url=certs_url)
        certs = session.get(certs_url, timeout=10)
    assert re.match(r"public, max-age=\d+", certs.headers["Cache-Control"])
    assert all(v.startswith("-----BEGIN CERTIFICATE-----") for v in certs.json().values())


def test_gmail_message_get(stand_in: GoogleStandIn, build_service: Callable[..., Any]) -> None:
    stand_in.gmail.add_message(
        USER, "msg-f:1234567", "Ann Buyer <ann@buyer.example>", "Pricing", to=USER
    )
    gmail = build_service("gmail", "v1", token=stand_in.user_access_token(USER))
    request = gmail.users().messages().get(userId="me", id="msg-f:1234567", format="metadata")
    request.headers["X-Goog-Gmail-Access-Token"] = "per-message-token"
    message = request.execute()
    headers = {h["name"]: h["value"] for h in message["payload"]["headers"]}
    assert headers["From"] == "Ann Buyer <ann@buyer.example>"
    assert headers["Subject"] == "Pricing"
    assert headers["To"] == USER
    assert headers["Date"]
    assert stand_in.gmail.requests[-1].headers == {"X-Goog-Gmail-Access-Token": "per-message-token"}

    with pytest.raises(HttpError) as missing:
        gmail.users().messages().get(userId="me", id="nope").execute()
    assert missing.value.resp.status == 404
