"""``create_app(settings)``: the only place the service is wired together."""

from __future__ import annotations

import requests
from flask import Flask

from server import health, observability, preview, ratelimit, web, webapp
from server.addon import routes as addon_routes
from server.calendars import feature as calendars
from server.config import Settings
from server.crm import activities_api, api
from server.crypto import TokenCipher
from server.db import Database
from server.jobs import Jobs
from server.salesforce import feature as salesforce

MAX_BODY_BYTES = 1_000_000


def create_app(settings: Settings | None = None) -> Flask:
    """Build the Flask app for ``settings`` (default: read from the environment)."""
    settings = settings or Settings.from_env()
    app = Flask(__name__, instance_path=str(settings.instance_path))
    app.config.update(
        SETTINGS=settings,
        SECRET_KEY=settings.secret_key,
        MAX_CONTENT_LENGTH=MAX_BODY_BYTES,
        JSON_SORT_KEYS=False,
    )
    database = Database(settings.database_url)
    web.install(app, database)
    jobs = app.extensions["jobs"] = Jobs(settings, database)
    app.extensions["cipher"] = TokenCipher(settings.token_encryption_keys)
    app.extensions["http"] = requests.Session()
    api.register(app)
    activities_api.register(app)
    addon_routes.register(app)
    calendars.install(app, database, jobs)
    salesforce.install(app, jobs)
    webapp.install(app, settings)
    if settings.preview_enabled and not settings.is_production:
        preview.register(app)  # the demo's local stand-in for the sidebar host
    health.register(app, database, jobs)
    observability.install(app, settings, database, jobs)
    ratelimit.install(app, settings)

    return app
