"""The calendar feature, installed by ``create_app``: its providers, jobs, CRM subscription
and routes. Nothing outside this package knows how a calendar is synced."""

from __future__ import annotations

from flask import Flask

from server.calendars import api, oauth_routes, providers, scheduling, tasks, webhooks
from server.calendars.google.provider import GOOGLE
from server.calendars.microsoft.provider import MICROSOFT
from server.db import Database
from server.jobs import Jobs


def install(app: Flask, database: Database, jobs: Jobs) -> None:
    providers.register(GOOGLE)
    providers.register(MICROSOFT)
    tasks.register(jobs)
    scheduling.subscribe(database, jobs)
    oauth_routes.register(app)
    api.register(app)
    webhooks.register(app)
