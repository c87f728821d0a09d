"""Helpers for the consumer tests: streams with known contents, worker processes."""

from __future__ import annotations

import itertools
import json
import os
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from shardflow.model.kpl import aggregate

REPO = Path(__file__).resolve().parents[2]


def create_stream(kinesis: Any, name: str, shards: int) -> None:
    kinesis.create_stream(StreamName=name, ShardCount=shards)
    kinesis.get_waiter("stream_exists").wait(
        StreamName=name, WaiterConfig={"Delay": 0.1, "MaxAttempts": 100}
    )


def _event(key: str, seq: int) -> bytes:
    return json.dumps({"key": key, "seq": seq}).encode()


def fill(kinesis: Any, stream: str, keys: int, per_key: int, *, aggregate_every: int = 0) -> int:
    """Write ``per_key`` events for each of ``keys`` keys, with a per-key counter ``seq``.

    With ``aggregate_every`` = n, every n-th PutRecords entry is a KPL aggregate of 3 events of
    one key. Returns the number of user records written.
    """
    per_key_entries: list[list[dict[str, Any]]] = []
    written = 0
    for key in range(keys):
        name = f"k{key:03d}"
        mine: list[dict[str, Any]] = []
        seq, i = 1, 0
        while seq <= per_key:
            if aggregate_every and i % aggregate_every == aggregate_every - 1:
                take = min(3, per_key - seq + 1)
                events = [(name, _event(name, seq + j)) for j in range(take)]
                mine.append({"PartitionKey": name, "Data": aggregate(events)})
            else:
                take = 1
                mine.append({"PartitionKey": name, "Data": _event(name, seq)})
            seq += take
            written += take
            i += 1
        per_key_entries.append(mine)
    # Keys interleave so that every page holds several keys; each key's order is kept.
    entries = [e for row in itertools.zip_longest(*per_key_entries) for e in row if e]
    for start in range(0, len(entries), 500):
        out = kinesis.put_records(StreamName=stream, Records=entries[start : start + 500])
        assert out["FailedRecordCount"] == 0
    return written


def read_lines(path: Path) -> list[dict[str, Any]]:
    if not path.exists():
        return []
    out = []
    for line in path.read_text().splitlines():
        if line.endswith("}"):
            out.append(json.loads(line))
    return out


def start_worker(
    endpoint: str,
    stream: str,
    store: Path | str,
    output: Path,
    *args: str,
    env: dict[str, str] | None = None,
    cwd: Path | None = None,
    log: Path | None = None,
) -> subprocess.Popen[bytes]:
    """A tests/consumer/worker.py process; ``store`` is a SQLite path or ``dynamodb:TABLE``."""
    cmd = [
        sys.executable,
        "-m",
        "tests.consumer.worker",
        endpoint,
        stream,
        str(store),
        str(output),
        *args,
    ]
    if cwd is not None:  # a working directory of its own: the repository comes by PYTHONPATH
        env = {**(env or os.environ), "PYTHONPATH": str(REPO)}
    if log is None:
        return subprocess.Popen(cmd, cwd=cwd or REPO, stderr=subprocess.PIPE, env=env)
    with open(log, "ab") as err:  # the child keeps its own copy of the descriptor
        return subprocess.Popen([*cmd, "--verbose"], cwd=cwd or REPO, stderr=err, env=env)


def wait_for(condition: Callable[[], bool], timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(0.05)
    raise AssertionError(f"timed out after {timeout}s waiting for {what}")
