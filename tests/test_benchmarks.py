"""Every benchmark in bench/ runs at a tiny size and prints one JSON object, so none rots.
Nothing here is timed: the figures are for the README's performance table, not for CI."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent

CASES = {
    "sync_throughput": ["--events", "40", "--contacts", "10", "--rss-events", "60"],
    "sidebar_load": ["--reps", "3", "--seconds", "1", "--low", "2"],
    "scale": ["--contacts", "300", "--meetings", "300", "--samples", "5"],
    "push_lag": ["--trials", "2", "--gap", "0.1"],
    "push_lag:microsoft": ["--provider", "microsoft", "--trials", "2", "--gap", "0.1"],
    "salesforce_push": ["--activities", "40", "--contacts", "10"],
}


@pytest.mark.parametrize("name", sorted(CASES))
def test_benchmark_runs_at_a_small_size(name: str) -> None:
    done = subprocess.run(
        [sys.executable, "-m", f"bench.{name.partition(':')[0]}", *CASES[name]],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    lines = [line for line in done.stdout.splitlines() if line.strip()]
    assert len(lines) == 1, done.stdout[-2000:]
    report = json.loads(lines[0])
    assert isinstance(report, dict)
    if name == "sync_throughput":
        sqlite = report["sqlite"]
        assert sqlite["status"] == ["ok", "ok"]
        assert sqlite["events_full"] > 0
        assert sqlite["reference_bulk_insert_rows_per_second"] > 0
        assert report["memory_sqlite"]["pages"] >= 1
    if name == "sidebar_load":
        for level in ("concurrency_3", "concurrency_2"):
            for kind in ("bare_flask", "homepage", "meeting_card"):
                assert report[level][kind]["requests"] > 0
                assert report[level][kind]["errors"] == 0
    if name == "scale":
        assert report["sqlite"]["plans"]["lookup"]
    if name == "salesforce_push":
        assert report["tasks_created"] == 40
        assert report["tasks_per_second"] > 0
        assert report["api_calls"] > 0
        assert report["incremental"]["tasks_updated"] == 4
        assert report["reference_tasks_per_second"] > 0
