"""Property-based fuzzing of the REST API from its own OpenAPI document, with schemathesis:
every check, positive and negative data, stateful sequences along the document's links, a
fixed seed. The server runs on 127.0.0.1 with two accounts (the token is the first's; the
second has contacts, meetings and records of its own); a middleware counts every answer. Zero
5xx is the bar. ``FUZZ_EXAMPLES`` sets the examples per operation (CI keeps it small; the
counts land in ``test-artifacts/fuzz/summary.json``)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
from collections import Counter
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any
from wsgiref.types import StartResponse, WSGIEnvironment

import pytest
from flask import Flask
from werkzeug.serving import make_server

from server.calendars.models import CalendarConnection
from server.db import Database, utcnow

ROOT = Path(__file__).resolve().parents[2]
CONFIG = Path(__file__).with_name("schemathesis.toml")
EXAMPLES = int(os.environ.get("FUZZ_EXAMPLES", "40"))
SEED = 20261204


class Counting:
    """Counts the answers by status class."""

    def __init__(self, app: Flask) -> None:
        self.app = app
        self.counts: Counter[str] = Counter()
        self.lock = threading.Lock()

    def __call__(self, environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
        def counted(status: str, headers: Any, exc_info: Any = None) -> Any:
            with self.lock:
                self.counts["requests"] += 1
                self.counts[status[0] + "xx"] += 1
            return start_response(status, headers, exc_info)

        return self.app(environ, counted)


@pytest.fixture
def served(app: Flask) -> Iterator[tuple[str, Counting]]:
    counting = Counting(app)
    server = make_server("127.0.0.1", 0, counting, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}", counting
    server.shutdown()
    server.server_close()
    thread.join(timeout=5)


def _world(make_tenant: Any, database: Database, app: Flask) -> str:
    """Two accounts with data; returns the first's token."""
    mine, theirs = make_tenant("Acme", "acme.example"), make_tenant("Globex", "globex.example")
    for tenant in (mine, theirs):
        contact = tenant.call(
            "POST", "/contacts", json={"email": f"ada@client-{tenant.account_id}.example"}
        )
        company = tenant.call("POST", "/companies", json={"name": "Client"}).get_json()["id"]
        meeting = tenant.call(
            "POST",
            "/meetings",
            json={
                "title": "Review",
                "start": "2030-06-01T10:00:00Z",
                "end": "2030-06-01T11:00:00Z",
                "attendee_emails": [contact.get_json()["email"]],
                "associations": [{"type": "company", "id": company}],
            },
        ).get_json()["id"]
        tenant.call("POST", f"/meetings/{meeting}/notes", json={"body": "first"})
    with database.transaction() as session:
        session.add(
            CalendarConnection(
                account_id=mine.account_id,
                user_id=mine.user_id,
                provider="google",
                external_email=mine.user_email,
                refresh_token_encrypted=app.extensions["cipher"].encrypt("1//not-a-real-token"),
                connected_at=utcnow(),
            )
        )
    return str(mine.token)


def test_the_api_answers_every_generated_request_without_a_server_error(
    served: tuple[str, Counting], make_tenant: Any, database: Database, app: Flask, tmp_path: Path
) -> None:
    base, counting = served
    token = _world(make_tenant, database, app)
    command = [
        str(Path(sys.executable).with_name("schemathesis")),
        "--config-file", str(CONFIG),
        "--no-color",
        "run", f"{base}/api/v1/openapi.json",
        "--checks", "all",
        "--mode", "all",
        "--phases", "examples,coverage,fuzzing,stateful",
        "--max-examples", str(EXAMPLES),
        "--seed", str(SEED),
        "--generation-database", "none",
        "--header", f"Authorization: Bearer {token}",
        "--request-timeout", "30",
        "--report", "junit",
        "--report-dir", str(tmp_path / "report"),
        "--warnings", "off",
    ]  # fmt: skip
    result = subprocess.run(command, capture_output=True, text=True, timeout=900, check=False)
    summary = {"examples_per_operation": EXAMPLES, "seed": SEED, **counting.counts}
    folder = ROOT / "test-artifacts" / "fuzz"
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "summary.json").write_text(json.dumps(summary, indent=2) + "\n")
    (folder / "schemathesis.txt").write_text(result.stdout + result.stderr)
    assert counting.counts["5xx"] == 0, result.stdout[-8000:]
    assert result.returncode == 0, result.stdout[-8000:]
    assert counting.counts["requests"] > 20 * EXAMPLES
