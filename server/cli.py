"""The console script ``meeting-assistant``: a Flask CLI group over ``create_app()``."""

from __future__ import annotations

import json
import os
import signal
import sys
from pathlib import Path
from typing import Any, cast

import click
from flask import Flask, current_app
from flask.cli import FlaskGroup, with_appcontext

from server import migrate
from server.addon import descriptor
from server.app import create_app
from server.config import DEFAULT_INSTANCE_PATH, Settings, SettingsError
from server.crm import accounts
from server.crm.models import Account
from server.db import Database
from server.demo import DemoError, DemoOptions
from server.demo import run as demo_run
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
            acc, user, token = accounts.create_account(session, name, domains, user_email)
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
@click.option("--admin", is_flag=True, help="an account admin (settings app: users, tokens, ...)")
@click.option("--json", "as_json", is_flag=True)
@with_appcontext
def user_add(account_id: int, email: str, name: str, admin: bool, as_json: bool) -> None:
    """Add a user to an account."""
    try:
        with database().transaction() as session:
            acc = session.get(Account, account_id)
            if acc is None:
                raise click.ClickException(f"no account {account_id}")
            row = accounts.add_user(session, acc, email, name, admin=admin)
    except DomainError as exc:
        raise click.ClickException(exc.message) from exc
    data = {"account_id": account_id, "user_id": row.id, "email": row.email, "admin": row.is_admin}
    role = "admin" if admin else "user"
    emit(data, as_json, f"{role} {row.id} added to account {account_id}")


@main.group()
def sync() -> None:
    """Sync jobs."""


@sync.command("run")
@click.option("--json", "as_json", is_flag=True)
@with_appcontext
def sync_run(as_json: bool) -> None:
    """Run every periodic job once now, in the foreground (every active calendar connection is
    synced, due or not), then exit; prints what each did."""
    results = jobs().run_all_once(now=True)
    lines = []
    for name, result in results.items():
        reports = result.get("connections") or []
        summary = {k: v for k, v in result.items() if k != "connections"}
        lines.append(f"{name}: {json.dumps(summary, default=str)}")
        lines += [
            f"  connection {r['connection_id']} ({r['provider']}, {r['user_email']}): "
            f"{r['status']}, {r['events']} events, {json.dumps(r['actions'])}"
            for r in reports
        ]
    emit({"jobs": results}, as_json, "\n".join(lines) or "no periodic jobs registered")


@main.group()
def addon() -> None:
    """The Google Workspace add-on."""


@addon.command("descriptor")
@click.option("--base-url", required=True, help="PUBLIC_BASE_URL of the server Google calls")
@click.option("--out", "out", type=click.Path(dir_okay=False, writable=True), default=None)
def addon_descriptor(base_url: str, out: str | None) -> None:
    """Print (or write to --out) the HTTP deployment descriptor for BASE_URL, for
    ``gcloud workspace-add-ons deployments create NAME --deployment-file=FILE``."""
    try:
        document = descriptor.render(base_url)
    except ValueError as exc:
        raise click.BadParameter(str(exc), param_hint="--base-url") from exc
    if not base_url.startswith("https://"):
        click.echo("warning: Google only calls https endpoints", err=True)
    text = json.dumps(document, indent=2) + "\n"
    if out is None:
        click.echo(text, nl=False)
    else:
        Path(out).write_text(text, encoding="utf-8")
        click.echo(f"deployment descriptor for {base_url} written to {out}")


@main.command("worker")
@click.option("--workers", default=2, show_default=True, help="worker threads")
@with_appcontext
def worker(workers: int) -> None:
    """Run the task queue consumer, periodic jobs included."""
    queue = jobs()
    consumer = queue.consumer(workers=workers)

    def stop(*_: object) -> None:
        queue.stopping.set()  # a sync ends after its page; the lock is released
        consumer.stop(graceful=True)

    signal.signal(signal.SIGTERM, stop)
    click.echo(f"worker started with {workers} threads on {settings().queue_url.split('://')[0]}")
    consumer.run()
    sys.exit(0)


@main.command("demo")
@click.option("--host", default="127.0.0.1", show_default=True, help="loopback address")
@click.option("--port", default=8080, show_default=True, help="web port (0: any free port)")
@click.option("--time-zone", default=None, help="the rep's time zone [default: this machine's]")
@click.option("--locale", default="en-US", show_default=True, help="the rep's locale")
@click.option("--connected", is_flag=True, help="start with the rep's calendar connected")
def demo(host: str, port: int, time_zone: str | None, locale: str, connected: bool) -> None:
    """Run everything locally with seeded data and a local Google; prints the preview URL."""
    folder = os.environ.get("MEETING_ASSISTANT_INSTANCE", DEFAULT_INSTANCE_PATH)
    zone = time_zone or demo_run.local_time_zone()
    options = DemoOptions(
        instance_path=Path(folder).resolve(),
        host=host,
        port=port,
        time_zone=zone,
        locale=locale,
        connected=connected,
    )
    try:
        demo_run.run(options, lambda line: click.echo(line))
    except (DemoError, SettingsError) as exc:
        raise click.ClickException(str(exc)) from exc
