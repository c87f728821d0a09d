"""The README's first command stays true: `shardflow demo` runs the lab end to end."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest


@pytest.mark.skipif(
    bool(os.environ.get("SHARDFLOW_TEST_ENDPOINT")), reason="starts a server of its own"
)
def test_demo_runs_the_lab_end_to_end() -> None:
    out = subprocess.run(
        [sys.executable, "-m", "shardflow", "demo", "--seconds", "1", "--shards", "2"],
        capture_output=True,
        text=True,
        timeout=240,
    )
    assert out.returncode == 0, out.stdout[-3000:] + out.stderr[-3000:]
    assert "Traceback" not in out.stderr
    for api in ("put-record", "put-records", "producer"):
        assert f"--api {api}" in out.stdout
    assert out.stdout.count("OK: every key in order, nothing missing") == 3
    # the demo enables enhanced monitoring, so each metrics table has its shard-level part
    assert out.stdout.count("shards over 5m (enhanced monitoring)") == 3
