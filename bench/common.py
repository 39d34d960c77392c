"""Shared set-up for the calendar benchmarks: a migrated database, the Google stand-in, an
account with contacts, and a rep whose calendar is connected through the real OAuth flow."""

from __future__ import annotations

import os
import tempfile
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import requests
from cryptography.fernet import Fernet
from flask import Flask

from bench.remote import RemoteStandIn
from server import migrate
from server.app import create_app
from server.calendars import connections
from server.calendars.google.oauth import GoogleOAuth
from server.calendars.microsoft.oauth import MicrosoftOAuth
from server.config import Settings
from server.crm import accounts
from server.crm.models import User
from server.db import Database
from server.stand_ins.google import GoogleStandIn
from server.stand_ins.microsoft import MicrosoftStandIn

REP = "rep@acme.example"


@dataclass
class World:
    app: Flask
    settings: Settings
    database: Database
    google: Any  # GoogleStandIn, or a RemoteStandIn speaking for one
    account_id: int
    user_id: int
    connection_id: int
    microsoft: MicrosoftStandIn | None = None  # the rep's calendar is Outlook's when set


def build(
    database_url: str | None,
    queue_url: str | None,
    public_base_url: str = "",
    *,
    remote: bool = False,
    provider: str = "google",
) -> World:
    """``remote`` runs the stand-in in a process of its own (see ``bench.remote``);
    ``provider="microsoft"`` connects the rep's Outlook calendar on the Microsoft stand-in."""
    folder = Path(tempfile.mkdtemp(prefix="ma-bench-"))
    google: Any
    if remote:
        google = RemoteStandIn()
    else:
        google = GoogleStandIn()
        google.start()
    urls = google.settings()
    settings = Settings(
        instance_path=folder,
        database_url=database_url or f"sqlite:///{folder / 'bench.db'}",
        queue_url=queue_url or f"sqlite:///{folder / 'queue.db'}",
        secret_key=uuid.uuid4().hex,
        token_encryption_keys=(Fernet.generate_key().decode(),),
        public_base_url=public_base_url or "http://127.0.0.1:9",
        google_auth_uri=urls["GOOGLE_AUTH_URI"],
        google_token_uri=urls["GOOGLE_TOKEN_URI"],
        google_certs_url=urls["GOOGLE_CERTS_URL"],
        google_calendar_api_url=urls["GOOGLE_CALENDAR_API_URL"],
        google_client_id="bench.apps.googleusercontent.com",
        google_client_secret="bench",
    )
    microsoft = None
    if provider == "microsoft":
        microsoft = MicrosoftStandIn(folder=folder / "microsoft")
        microsoft.start()
        os.environ["REQUESTS_CA_BUNDLE"] = microsoft.ca_bundle_path
        callback = settings.public_base_url + connections.callback_path("microsoft")
        microsoft.identity.register_app("bench-outlook", "bench", [callback])
        urls = microsoft.settings()
        settings = settings.with_overrides(
            microsoft_client_id="bench-outlook",
            microsoft_client_secret="bench",
            microsoft_authority=urls["MICROSOFT_AUTHORITY"],
            microsoft_graph_url=urls["MICROSOFT_GRAPH_URL"],
        )
    database = Database(settings.database_url)
    migrate.upgrade(database)
    app = create_app(settings)
    with database.transaction() as session:
        account, user, _ = accounts.create_account(session, "Acme", ["acme.example"], REP)
        account_id, user_id = account.id, user.id
    if microsoft is not None:
        connection_id = connect_outlook(settings, database, app, microsoft, user_id)
    else:
        connection_id = connect(settings, database, app, google, user_id)
    return World(app, settings, database, google, account_id, user_id, connection_id, microsoft)


def connect(settings: Settings, database: Database, app: Flask, google: Any, user_id: int) -> int:
    with database.transaction() as session:
        user = session.get(User, user_id)
        assert user is not None
        url, pending = GoogleOAuth().begin(
            settings, connections.sign_state(settings, user, "google"), user.email
        )
    answer = dict(parse_qsl(urlsplit(google.oauth.approve(url)).query))
    with requests.Session() as http:
        grant = GoogleOAuth().finish(settings, answer, pending, http)
    with database.transaction() as session:
        user = session.get(User, user_id)
        assert user is not None
        return connections.connect(
            session, app.extensions["cipher"], user, grant, provider="google"
        ).id


def connect_outlook(
    settings: Settings, database: Database, app: Flask, microsoft: MicrosoftStandIn, user_id: int
) -> int:
    with database.transaction() as session:
        user = session.get(User, user_id)
        assert user is not None
        state = connections.sign_state(settings, user, "microsoft")
    url, pending = MicrosoftOAuth().begin(settings, state, REP)
    answer = dict(parse_qsl(urlsplit(microsoft.identity.approve(url, email=REP)).query))
    with requests.Session() as http:
        grant = MicrosoftOAuth().finish(settings, answer, pending, http)
    with database.transaction() as session:
        user = session.get(User, user_id)
        assert user is not None
        return connections.connect(
            session, app.extensions["cipher"], user, grant, provider="microsoft"
        ).id
