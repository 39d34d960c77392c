"""The console script ``meeting-assistant``, run as a real subprocess (CONTRACT.md console)."""

from __future__ import annotations

import json
import os
import stat
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from cryptography.fernet import Fernet
from sqlalchemy import func, select

from server.app import create_app
from server.config import Settings
from server.crm.models import Account, User
from server.db import Database

SCRIPT = Path(sys.executable).parent / "meeting-assistant"
PRODUCTION = {
    "MEETING_ASSISTANT_ENV": "production",
    "PUBLIC_BASE_URL": "https://assistant.example.com",
    "SECRET_KEY": "s" * 48,
    "TOKEN_ENCRYPTION_KEYS": Fernet.generate_key().decode(),
    "ADDON_SERVICE_ACCOUNT_EMAIL": "addon@system.gserviceaccount.com",
    "ADDON_OAUTH_CLIENT_ID": "1234.apps.googleusercontent.com",
}


@pytest.fixture
def env(tmp_path: Path) -> dict[str, str]:
    """A clean environment: nothing inherited but PATH, everything else in ``tmp_path``."""
    return {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "HOME": str(tmp_path),
        "LANG": "C.UTF-8",
        "MEETING_ASSISTANT_INSTANCE": str(tmp_path / "instance"),
        "DATABASE_URL": f"sqlite:///{tmp_path / 'cli.db'}",
        "QUEUE_URL": f"sqlite:///{tmp_path / 'queue.db'}",
    }


def run(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    assert SCRIPT.exists(), f"the console script is not installed next to {sys.executable}"
    return subprocess.run(
        [str(SCRIPT), *args],
        env=env,
        cwd=env["HOME"],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def ok(env: dict[str, str], *args: str) -> str:
    result = run(env, *args)
    assert result.returncode == 0, result.stderr
    return result.stdout


def one_json_object(stdout: str) -> dict[str, Any]:
    """``stdout`` is exactly one JSON object and nothing else."""
    data = json.loads(stdout)
    assert isinstance(data, dict)
    assert stdout.strip().count("\n") == 0
    return data


@pytest.fixture
def migrated(env: dict[str, str]) -> dict[str, str]:
    ok(env, "db", "upgrade")
    return env


@pytest.fixture
def cli_db(env: dict[str, str]) -> Iterator[Database]:
    db = Database(env["DATABASE_URL"])
    yield db
    db.dispose()


def count(database: Database, model: type[Any]) -> int:
    with database.transaction() as session:
        return int(session.scalar(select(func.count()).select_from(model)) or 0)


def test_account_create_prints_a_token_that_works(migrated: dict[str, str], tmp_path: Path) -> None:
    out = ok(
        migrated,
        "account",
        "create",
        "--name",
        "Acme",
        "--domain",
        "acme.example",
        "--domain",
        "ACME.example.org",
        "--user",
        "rep@acme.example",
        "--json",
    )
    created = one_json_object(out)
    assert set(created) == {"account_id", "user_id", "api_token"}
    assert isinstance(created["account_id"], int)
    assert isinstance(created["user_id"], int)

    app = create_app(Settings.from_env(migrated))
    try:
        client = app.test_client()
        auth = {"Authorization": f"Bearer {created['api_token']}"}
        contact = client.post(
            "/api/v1/contacts", json={"email": "ada@client.example"}, headers=auth
        )
        assert contact.status_code == 201
        assert (
            client.get("/api/v1/contacts", headers=auth).get_json()["results"][0]["id"]
            == (contact.get_json()["id"])
        )
        meeting = client.post(
            "/api/v1/meetings",
            headers=auth,
            json={
                "title": "Sync",
                "start": "2030-01-01T10:00:00Z",
                "end": "2030-01-01T11:00:00Z",
                "attendee_emails": ["someone@acme.example.org", "ada@client.example"],
            },
        )
        internal = {a["email"]: a["internal"] for a in meeting.get_json()["attendees"]}
        assert internal == {"someone@acme.example.org": True, "ada@client.example": False}
        wrong = client.get("/api/v1/contacts", headers={"Authorization": "Bearer ma_wrong"})
        assert wrong.status_code == 401
    finally:
        app.extensions["database"].dispose()

    # Without --json the token is still shown, once, for a human.
    text = ok(
        migrated,
        "account",
        "create",
        "--name",
        "B",
        "--domain",
        "b.example",
        "--user",
        "b@b.example",
    )
    assert "ma_" in text
    with pytest.raises(json.JSONDecodeError):
        json.loads(text)


def test_user_add(migrated: dict[str, str], cli_db: Database) -> None:
    account = one_json_object(
        ok(
            migrated,
            "account",
            "create",
            "--name",
            "Acme",
            "--domain",
            "acme.example",
            "--user",
            "rep@acme.example",
            "--json",
        )
    )
    added = one_json_object(
        ok(
            migrated,
            "user",
            "add",
            "--account",
            str(account["account_id"]),
            "--email",
            "Second@Acme.example",
            "--name",
            "Second Rep",
            "--json",
        )
    )
    assert added["account_id"] == account["account_id"]
    assert added["user_id"] != account["user_id"]
    assert added["email"] == "Second@Acme.example"
    with cli_db.transaction() as session:
        row = session.get(User, added["user_id"])
        assert row is not None
        assert (row.account_id, row.name) == (account["account_id"], "Second Rep")

    # The same address in another case is refused, with a message that says why.
    for email in ("second@acme.EXAMPLE", "rep@acme.example"):
        duplicate = run(
            migrated,
            "user",
            "add",
            "--account",
            str(account["account_id"]),
            "--email",
            email,
            "--json",
        )
        assert duplicate.returncode != 0
        assert "already exists" in duplicate.stderr
        assert duplicate.stdout == ""
    # So is a first user who already belongs to another account, and the account is not made.
    taken = run(
        migrated,
        "account",
        "create",
        "--name",
        "B",
        "--domain",
        "b.example",
        "--user",
        "REP@acme.example",
    )
    assert taken.returncode != 0
    assert "already exists" in taken.stderr

    unknown = run(migrated, "user", "add", "--account", "999", "--email", "x@acme.example")
    assert unknown.returncode != 0
    assert "999" in unknown.stderr
    bad = run(migrated, "user", "add", "--account", str(account["account_id"]), "--email", "nobody")
    assert bad.returncode != 0
    assert "email" in bad.stderr
    assert (count(cli_db, Account), count(cli_db, User)) == (1, 2)

    # The first user is the account's admin; --admin makes another one; others are not.
    admin = one_json_object(
        ok(
            migrated,
            "user",
            "add",
            "--account",
            str(account["account_id"]),
            "--email",
            "boss@acme.example",
            "--admin",
            "--json",
        )
    )
    assert admin["admin"] is True
    assert added["admin"] is False
    with cli_db.transaction() as session:
        admins = {
            u.email_normalized for u in session.scalars(select(User).where(User.is_admin.is_(True)))
        }
    assert admins == {"rep@acme.example", "boss@acme.example"}


def test_sync_run_prints_one_json_object(migrated: dict[str, str]) -> None:
    result = one_json_object(ok(migrated, "sync", "run", "--json"))
    assert isinstance(result["jobs"], dict)
    for name, outcome in result["jobs"].items():
        assert isinstance(name, str)
        assert isinstance(outcome, dict)


def test_secrets_are_generated_once_with_mode_0600(env: dict[str, str]) -> None:
    instance = Path(env["MEETING_ASSISTANT_INSTANCE"])
    assert not instance.exists()
    ok(env, "db", "upgrade")
    first = {}
    for name in ("secret_key", "fernet"):
        path = instance / name
        assert stat.S_IMODE(path.stat().st_mode) == 0o600, name
        first[name] = path.read_text()
        assert len(first[name].strip()) >= 32
    Fernet(first["fernet"].strip().encode())  # a usable key

    ok(env, "db", "upgrade")
    ok(env, "sync", "run", "--json")
    for name in ("secret_key", "fernet"):
        path = instance / name
        assert path.read_text() == first[name]
        assert stat.S_IMODE(path.stat().st_mode) == 0o600

    # Settings read in-process see the same secrets.
    settings = Settings.from_env(env)
    assert settings.secret_key == first["secret_key"].strip()
    assert settings.token_encryption_keys == (first["fernet"].strip(),)


@pytest.mark.parametrize(
    "missing",
    [
        ("ADDON_OAUTH_CLIENT_ID",),
        tuple(sorted(set(PRODUCTION) - {"MEETING_ASSISTANT_ENV"})),
    ],
    ids=["one", "all"],
)
def test_production_names_missing_settings(env: dict[str, str], missing: tuple[str, ...]) -> None:
    production = {k: v for k, v in {**env, **PRODUCTION}.items() if k not in missing}
    result = run(production, "db", "upgrade")
    assert result.returncode != 0
    assert result.stdout == ""
    named = {name for name in PRODUCTION if name in result.stderr}
    assert named == set(missing)
    # Nothing is generated in place of the missing secrets.
    instance = Path(env["MEETING_ASSISTANT_INSTANCE"])
    assert not (instance / "secret_key").exists()
    assert not (instance / "fernet").exists()


def test_production_with_every_setting_runs(env: dict[str, str]) -> None:
    production = {**env, **PRODUCTION}
    for name in ("DATABASE_URL", "QUEUE_URL"):
        without = {k: v for k, v in production.items() if k != name}
        result = run(without, "db", "upgrade")
        assert result.returncode != 0
        assert name in result.stderr
    ok(production, "db", "upgrade")
    one_json_object(ok(production, "sync", "run", "--json"))
    instance = Path(env["MEETING_ASSISTANT_INSTANCE"])
    assert not (instance / "secret_key").exists()
    assert not (instance / "fernet").exists()
