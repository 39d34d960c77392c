"""The console script ``meeting-assistant``: a Flask CLI group over ``create_app()``."""

from __future__ import annotations

import json
import signal
import sys
from typing import Any, cast

import click
from flask import Flask, current_app
from flask.cli import FlaskGroup, with_appcontext

from server import migrate
from server.app import create_app
from server.config import Settings, SettingsError
from server.crm import services
from server.crm.models import Account
from server.db import Database
from server.errors import DomainError
from server.jobs import Jobs


def _app(*_args: Any) -> Flask:
    try:
        return create_app()
    except SettingsError as exc:
        raise click.ClickException(str(exc)) from exc


def settings() -> Settings:
    return cast(Settings, current_app.config["SETTINGS"])


def database() -> Database:
    return cast(Database, current_app.extensions["database"])


def jobs() -> Jobs:
    return cast(Jobs, current_app.extensions["jobs"])


def emit(data: dict[str, Any], as_json: bool, text: str) -> None:
    click.echo(json.dumps(data, default=str) if as_json else text)


@click.group(cls=FlaskGroup, create_app=_app, add_default_commands=False, add_version_option=False)
def main() -> None:
    """Meeting Assistant: the add-on backend, the CRM and the calendar sync."""


@main.group()
def db() -> None:
    """Database schema."""


@db.command("upgrade")
@click.option("--revision", default="head", show_default=True)
@with_appcontext
def db_upgrade(revision: str) -> None:
    """Apply migrations."""
    migrate.upgrade(database(), revision)
    click.echo(f"database at {revision}")


@main.group()
def account() -> None:
    """Accounts."""


@account.command("create")
@click.option("--name", required=True)
@click.option("--domain", "domains", multiple=True, required=True, help="an internal domain")
@click.option("--user", "user_email", required=True, help="email of the first user")
@click.option("--json", "as_json", is_flag=True)
@with_appcontext
def account_create(name: str, domains: tuple[str, ...], user_email: str, as_json: bool) -> None:
    """Create an account with its internal domains and a first user; prints its API token once."""
    try:
        with database().transaction() as session:
            acc, user, token = services.create_account(session, name, domains, user_email)
    except DomainError as exc:
        raise click.ClickException(exc.message) from exc
    data = {"account_id": acc.id, "user_id": user.id, "api_token": token}
    emit(
        data, as_json, f"account {acc.id} created, user {user.id}\nAPI token (shown once): {token}"
    )


@main.group()
def user() -> None:
    """Users."""


@user.command("add")
@click.option("--account", "account_id", type=int, required=True)
@click.option("--email", required=True)
@click.option("--name", default="")
@click.option("--json", "as_json", is_flag=True)
@with_appcontext
def user_add(account_id: int, email: str, name: str, as_json: bool) -> None:
    """Add a user to an account."""
    try:
        with database().transaction() as session:
            acc = session.get(Account, account_id)
            if acc is None:
                raise click.ClickException(f"no account {account_id}")
            row = services.add_user(session, acc, email, name)
    except DomainError as exc:
        raise click.ClickException(exc.message) from exc
    data = {"account_id": account_id, "user_id": row.id, "email": row.email}
    emit(data, as_json, f"user {row.id} added to account {account_id}")


@main.group()
def sync() -> None:
    """Sync jobs."""


@sync.command("run")
@click.option("--json", "as_json", is_flag=True)
@with_appcontext
def sync_run(as_json: bool) -> None:
    """Run every registered periodic job once in the foreground, then exit."""
    results = jobs().run_all_once()
    lines = [f"{name}: {json.dumps(result, default=str)}" for name, result in results.items()]
    emit({"jobs": results}, as_json, "\n".join(lines) or "no periodic jobs registered")


@main.command("worker")
@click.option("--workers", default=2, show_default=True, help="worker threads")
@with_appcontext
def worker(workers: int) -> None:
    """Run the task queue consumer, periodic jobs included."""
    consumer = jobs().consumer(workers=workers)
    signal.signal(signal.SIGTERM, lambda *_: consumer.stop(graceful=True))
    click.echo(f"worker started with {workers} threads on {settings().queue_url.split('://')[0]}")
    consumer.run()
    sys.exit(0)
