"""``meeting-assistant demo``: the product, a worker and a local Google, in one process.

The product is configured only through :class:`~server.config.Settings` values: Google's URLs
point at the local stand-in, whose keys sign the add-on's request tokens; the add-on verifies
them as it verifies Google's. Nothing skips authentication.
"""

from __future__ import annotations

import logging
import os
import secrets
import signal
import threading
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, cast
from wsgiref.types import StartResponse, WSGIEnvironment
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import requests
from flask import Flask
from werkzeug.serving import BaseWSGIServer, WSGIRequestHandler, make_server

from server import migrate
from server.app import create_app
from server.calendars import connections
from server.config import Settings
from server.crm import accounts
from server.crypto import TokenCipher
from server.db import Database, utcnow
from server.jobs import Jobs
from server.preview import install as install_preview
from server.stand_ins.google import GoogleStandIn
from server.stand_ins.microsoft import MicrosoftStandIn
from server.stand_ins.salesforce import SalesforceStandIn

from . import calendar, people, seed
from . import salesforce as demo_salesforce
from .host import StandInHost, fill_inbox

log = logging.getLogger(__name__)

LOOPBACK = {"127.0.0.1", "localhost", "::1"}
#: The add-on's identity in the demo: the email claim of the request token and the audience of
#: the rep's ID token. Deployments read theirs from ``gcloud workspace-add-ons get-authorization``.
ADDON_SERVICE_ACCOUNT = "service-100000000001@gcp-sa-gsuiteaddons.iam.gserviceaccount.com"
ADDON_CLIENT_ID = "100000000001-demo-addon.apps.googleusercontent.com"
CALENDAR_CLIENT_ID = "100000000002-demo-calendar.apps.googleusercontent.com"
SIGN_IN_CALLBACK = "/settings/login/google/callback"
MICROSOFT_CLIENT_ID = "00000000-0000-4000-8000-0000000de300"
MICROSOFT_CALLBACKS = ("/settings/login/microsoft/callback", "/oauth/microsoft/callback")


class DemoError(RuntimeError):
    """The demo could not start; the message says why."""


@dataclass(frozen=True)
class DemoOptions:
    instance_path: Path
    host: str = "127.0.0.1"
    port: int = 8080
    time_zone: str = "UTC"
    locale: str = "en-US"
    connected: bool = False
    workers: int = 2


def demo_environment(
    options: DemoOptions,
    public_base_url: str,
    google: dict[str, str],
    client_secret: str,
    others: dict[str, str] | None = None,
) -> dict[str, str]:
    """The environment the product runs with: only settings, nothing read from the shell's
    environment (a stray ``DATABASE_URL`` must not point the demo at a real database)."""
    return {
        "MEETING_ASSISTANT_INSTANCE": str(options.instance_path),
        "MEETING_ASSISTANT_PREVIEW": "1",
        "PUBLIC_BASE_URL": public_base_url,
        "ADDON_SERVICE_ACCOUNT_EMAIL": ADDON_SERVICE_ACCOUNT,
        "ADDON_OAUTH_CLIENT_ID": ADDON_CLIENT_ID,
        "GOOGLE_CLIENT_ID": CALENDAR_CLIENT_ID,
        "GOOGLE_CLIENT_SECRET": client_secret,
        **google,
        **(others or {}),  # Microsoft's and Salesforce's stand-ins
    }


ENV_FILE = "demo.env"


def write_env_file(folder: Path, env: dict[str, str]) -> Path:
    """The demo's settings (and the CA its stand-ins' TLS chains to) as a dotenv file, for the
    CLI in another terminal: ``meeting-assistant --env-file <it> sync run``. Mode 0600: it
    holds the stand-ins' client secrets."""
    path = folder / ENV_FILE
    bundle = os.environ.get("REQUESTS_CA_BUNDLE", "")
    lines = [f"{k}={v}" for k, v in sorted({**env, "REQUESTS_CA_BUNDLE": bundle}.items()) if v]
    path.touch(mode=0o600, exist_ok=True)
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


class _QuietHandler(WSGIRequestHandler):
    def log_request(self, code: int | str = "-", size: int | str = "-") -> None:
        log.debug("%s %s %s", self.command, self.path, code)


@dataclass
class _LateApp:
    """The WSGI callable the server starts with; the app is built once the port is known."""

    app: Flask | None = None

    def __call__(self, environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
        if self.app is None:
            start_response("503 Service Unavailable", [("Content-Type", "text/plain")])
            return [b"starting"]
        return self.app(environ, start_response)


@dataclass
class DemoStack:
    """Start with :meth:`start` (from the main thread), stop with :meth:`stop`."""

    options: DemoOptions
    stand_in: GoogleStandIn = field(default_factory=GoogleStandIn)
    microsoft: MicrosoftStandIn | None = None
    salesforce: SalesforceStandIn | None = None
    settings: Settings | None = None
    app: Flask | None = None
    preview_url: str = ""
    settings_url: str = ""
    env_file: Path | None = None
    seeded: seed.Seeded | None = None
    _server: BaseWSGIServer | None = None
    _thread: threading.Thread | None = None
    _consumer: Any = None

    def start(self) -> str:
        """Bring everything up; returns the preview URL."""
        if self.options.host not in LOOPBACK:
            raise DemoError("the demo signs Google tokens for anyone who asks: loopback only")
        try:
            ZoneInfo(self.options.time_zone)
        except (ZoneInfoNotFoundError, ValueError) as exc:
            raise DemoError(f"unknown time zone {self.options.time_zone!r}") from exc
        late = _LateApp()
        try:
            server = make_server(
                self.options.host,
                self.options.port,
                late,
                threaded=True,
                request_handler=_QuietHandler,
            )
        except OSError as exc:
            raise DemoError(
                f"cannot listen on {self.options.host}:{self.options.port} ({exc.strerror}); "
                "pass --port"
            ) from exc
        self._server = server
        host = "127.0.0.1" if self.options.host == "localhost" else self.options.host
        netloc = f"[{host}]" if ":" in host else host
        public = f"http://{netloc}:{server.server_port}"
        try:
            self._start_product(public, late)
            self._thread = threading.Thread(
                target=server.serve_forever, kwargs={"poll_interval": 0.1}, name="web", daemon=True
            )
            self._thread.start()
            self._start_worker()
            if self.options.connected:
                self.connect_calendar(people.REP.email)
        except BaseException:
            self.stop()
            raise
        self.preview_url = public + "/preview/"
        self.settings_url = public + "/settings/"
        return self.preview_url

    def _start_product(self, public: str, late: _LateApp) -> None:
        options = self.options
        self.stand_in.start("127.0.0.1")
        secret = secrets.token_urlsafe(24)
        microsoft = self._start_microsoft(public, secret)
        assert self.microsoft is not None
        self.salesforce, salesforce_env = demo_salesforce.start(public, self.microsoft.ca)
        env = demo_environment(
            options, public, self.stand_in.settings(), secret, {**microsoft, **salesforce_env}
        )
        settings = Settings.from_env(env, instance_path=options.instance_path)
        self.settings = settings
        self.env_file = write_env_file(settings.instance_path, env)
        database = Database(settings.database_url)
        try:
            migrate.upgrade(database)
            self.seeded = seed.seed(database, settings.instance_path)
            seed.drop_stale_connections(database, TokenCipher(settings.token_encryption_keys))
        finally:
            database.dispose()
        self._prepare_google(settings, public, secret)
        app = create_app(settings)
        messages = fill_inbox(self.stand_in, utcnow())
        install_preview(
            app,
            StandInHost(
                self.stand_in,
                time_zone=options.time_zone,
                locale=options.locale,
                api_token=self.seeded.api_token,
                messages=messages,
            ),
        )
        self.app = app
        late.app = app

    def _start_microsoft(self, public: str, secret: str) -> dict[str, str]:
        """The Microsoft identity stand-in, over https with its own CA: this process trusts
        it the way a deployment trusts a private CA (``REQUESTS_CA_BUNDLE``)."""
        folder = self.options.instance_path / "microsoft-stand-in"
        self.microsoft = MicrosoftStandIn(folder=folder)
        self.microsoft.start("127.0.0.1")
        self.microsoft.identity.default_user = people.REP.email
        callbacks = [public + path for path in MICROSOFT_CALLBACKS]
        self.microsoft.identity.register_app(MICROSOFT_CLIENT_ID, secret, callbacks)
        # Outlook: the manager's mailbox, its changes pushed to our webhook as Graph would.
        self.microsoft.graph.push_mode = "immediate"
        os.environ["REQUESTS_CA_BUNDLE"] = self.microsoft.ca_bundle_path
        return {
            **self.microsoft.settings(),
            "MICROSOFT_CLIENT_ID": MICROSOFT_CLIENT_ID,
            "MICROSOFT_CLIENT_SECRET": secret,
        }

    def _prepare_google(self, settings: Settings, public: str, secret: str) -> None:
        oauth = self.stand_in.oauth
        redirect_uris = [public + connections.callback_path("google"), public + SIGN_IN_CALLBACK]
        oauth.register_client(settings.google_client_id, secret, redirect_uris)
        oauth.default_user = people.REP.email
        cal = self.stand_in.calendar
        for person in (people.REP, people.MANAGER):
            cal.set_time_zone(person.email, self.options.time_zone)
        for owner, body in calendar.todays_events(utcnow(), self.options.time_zone):
            cal.add_event(owner.email, body)
        cal.push_mode = "thread"

    def _start_worker(self) -> None:
        assert self.app is not None
        jobs = cast(Jobs, self.app.extensions["jobs"])
        consumer = jobs.consumer(workers=self.options.workers)
        # The consumer installs its own signal handlers; Ctrl-C belongs to whoever started us.
        main = threading.current_thread() is threading.main_thread()
        names = ("SIGINT", "SIGTERM", "SIGHUP")
        kept = {s: signal.getsignal(s) for n in names if (s := getattr(signal, n, None))}
        if not main:
            raise DemoError("start the demo from the main thread")
        consumer.start()
        for signum, handler in kept.items():
            signal.signal(signum, handler)
        self._consumer = consumer

    def connect_calendar(self, email: str) -> None:
        """Connect ``email``'s calendar through the product's own OAuth routes, clicking
        "Allow" on the stand-in's consent page as the rep would."""
        settings = self.settings
        assert settings is not None
        assert self.app is not None
        database = cast(Database, self.app.extensions["database"])
        with database.transaction() as session:
            user = accounts.user_by_email(session, email)
            if user is None:
                raise DemoError(f"{email} is not a demo user")
            start = connections.start_url(settings, user, "google")
        with requests.Session() as http:
            redirect = http.get(start, allow_redirects=False, timeout=30)
            consent = redirect.headers.get("Location", "")
            if redirect.status_code != 302 or not consent:
                raise DemoError(f"connect flow did not redirect ({redirect.status_code})")
            done = http.get(self.stand_in.oauth.approve(consent, email=email), timeout=30)
        if done.status_code != 200:
            raise DemoError(f"connect flow failed ({done.status_code})")

    def stop(self) -> None:
        """Stop the worker, the web server and the stand-in; safe to call twice."""
        consumer, self._consumer = self._consumer, None
        if consumer is not None:
            consumer.stop(graceful=True)
        server, self._server = self._server, None
        if server is not None:
            if self._thread is not None:
                server.shutdown()
            server.server_close()
        thread, self._thread = self._thread, None
        if thread is not None:
            thread.join(timeout=10)
        self.stand_in.stop()
        for stand_in in (self.microsoft, self.salesforce):
            if stand_in is not None:
                stand_in.stop()
        self.microsoft = self.salesforce = None
        app, self.app = self.app, None
        if app is not None:
            cast(Database, app.extensions["database"]).dispose()
            cast(requests.Session, app.extensions["http"]).close()
