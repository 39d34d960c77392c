"""``meeting-assistant addon descriptor --base-url URL [--out FILE]``."""

from __future__ import annotations

import json
from pathlib import Path

from click.testing import CliRunner

from server.addon import descriptor
from server.cli import main

BASE = "https://assistant.example.com"


def test_prints_the_descriptor_for_the_base_url() -> None:
    result = CliRunner().invoke(main, ["addon", "descriptor", "--base-url", BASE])
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout) == descriptor.render(BASE)
    assert "PUBLIC_BASE_URL" not in result.stdout


def test_writes_the_descriptor_to_a_file(tmp_path: Path) -> None:
    out = tmp_path / "deployment.json"
    args = ["addon", "descriptor", "--base-url", BASE + "/", "--out", str(out)]
    result = CliRunner().invoke(main, args)
    assert result.exit_code == 0, result.output
    assert json.loads(out.read_text()) == descriptor.render(BASE)
    assert str(out) in result.stdout


def test_refuses_what_is_not_a_base_url() -> None:
    result = CliRunner().invoke(main, ["addon", "descriptor", "--base-url", "assistant.example"])
    assert result.exit_code == 2
    assert "not a base URL" in result.output


def test_warns_about_plain_http() -> None:
    result = CliRunner().invoke(
        main, ["addon", "descriptor", "--base-url", "http://127.0.0.1:8080"]
    )
    assert result.exit_code == 0
    assert "https" in result.stderr
    assert json.loads(result.stdout)["addOns"]["common"]["homepageTrigger"]["runFunction"] == (
        "http://127.0.0.1:8080/addon/home"
    )
