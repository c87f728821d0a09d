"""Consumer processes: resume after SIGKILL with no gap, and two workers sharing shards.

Each worker (tests/consumer/worker.py) writes every record it is handed to a file before asking
for more, so after a kill the file holds at least everything the store has checkpointed.
"""

from __future__ import annotations

import json
import sqlite3
from collections import defaultdict
from pathlib import Path
from typing import Any

from shardflow.consumer.records import Position
from tests.consumer.support import create_stream, fill, read_lines, start_worker, wait_for


def _checkpoints(store: Path) -> dict[str, Position]:
    if not store.exists():
        return {}
    with sqlite3.connect(store) as db:
        rows = db.execute(
            "SELECT shard_id, checkpoint_sequence, checkpoint_subsequence FROM leases"
            " WHERE checkpoint_sequence IS NOT NULL"
        ).fetchall()
    return {shard: Position(int(seq), sub) for shard, seq, sub in rows}


def _owners(store: Path) -> dict[str, str | None]:
    """Shard -> worker whose name the lease row holds (None: free)."""
    if not store.exists():
        return {}
    with sqlite3.connect(store) as db:
        try:
            rows = db.execute("SELECT shard_id, owner FROM leases").fetchall()
        except sqlite3.OperationalError:  # the first worker is creating the table
            return {}
    return dict(rows)


def _position(line: dict[str, Any]) -> Position:
    return Position(int(line["seq"]), line["sub"])


def _assert_complete(lines: list[dict[str, Any]], keys: int, per_key: int) -> None:
    """Every key's counters 1..per_key arrived (duplicates allowed: at-least-once)."""
    seen: dict[str, set[int]] = defaultdict(set)
    for line in lines:
        event = json.loads(line["data"])
        seen[event["key"]].add(event["seq"])
    assert len(seen) == keys
    for key, counters in seen.items():
        assert counters == set(range(1, per_key + 1)), key


def test_resume_after_kill_has_no_gap(kinesis, endpoint, stream_name, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    create_stream(kinesis, stream_name, 2)
    keys, per_key = 8, 100
    total = fill(kinesis, stream_name, keys=keys, per_key=per_key, aggregate_every=5)
    store, out1, out2 = tmp_path / "leases.sqlite", tmp_path / "run1", tmp_path / "run2"
    # Slow on purpose (25 records a page, 5 pages/s per shard) so the kill lands mid-stream.
    first = start_worker(endpoint, stream_name, store, out1, "--limit", "25")
    try:
        wait_for(lambda: len(read_lines(out1)) >= total // 4, 30, "the first worker to read")
        wait_for(lambda: len(_checkpoints(store)) == 2, 10, "checkpoints of both shards")
    finally:
        first.kill()
        first.wait()
    checkpoints = _checkpoints(store)
    run1 = read_lines(out1)
    assert len(run1) < total, "the first worker finished before the kill"
    second = start_worker(endpoint, stream_name, store, out2, "--stop-at-tip", "--no-read-limits")
    assert second.wait(60) == 0, second.stderr.read() if second.stderr else ""
    run2 = read_lines(out2)
    _assert_complete(run1 + run2, keys, per_key)
    for shard, checkpoint in checkpoints.items():
        before = {_position(x) for x in run1 if x["shard"] == shard}
        after = [_position(x) for x in run2 if x["shard"] == shard]
        # Resumed strictly after the checkpoint, in order ...
        assert after and min(after) > checkpoint and after == sorted(after)
        # ... so, nothing being missing, everything up to it was delivered before the kill.
        assert max(before) >= checkpoint
        # Redelivered: only records after the checkpoint (at most one checkpoint interval's worth).
        assert all(p > checkpoint for p in set(after) & before)


def test_two_workers_share_shards_and_take_over(
    kinesis, endpoint, stream_name, tmp_path: Path
) -> None:  # type: ignore[no-untyped-def]
    create_stream(kinesis, stream_name, 4)
    keys, per_key = 16, 80
    fill(kinesis, stream_name, keys=keys, per_key=per_key)
    store, out_a, out_b = tmp_path / "leases.sqlite", tmp_path / "a", tmp_path / "b"
    slow = ("--limit", "10")  # 50 records/s per shard: both are still reading when A dies
    a = start_worker(endpoint, stream_name, store, out_a, "--worker-id", "A", *slow)
    b = start_worker(endpoint, stream_name, store, out_b, "--worker-id", "B", *slow)
    try:

        def split_evenly() -> bool:
            owners = list(_owners(store).values())
            return len(owners) == 4 and owners.count("A") == 2 and owners.count("B") == 2

        wait_for(split_evenly, 15, "A and B to hold two shards each")
        a_shards = {s for s, owner in _owners(store).items() if owner == "A"}
        wait_for(
            lambda: a_shards <= {x["shard"] for x in read_lines(out_a)},
            15,
            "A to read from both of its shards",
        )
        a.kill()
        a.wait()
        wait_for(lambda: set(_owners(store).values()) == {"B"}, 15, "B to take over A's shards")
        wait_for(
            lambda: (
                len(
                    {
                        (x["shard"], x["seq"], x["sub"])
                        for x in read_lines(out_a) + read_lines(out_b)
                    }
                )
                == keys * per_key
            ),
            30,
            "every record to be read",
        )
    finally:
        for proc in (a, b):
            proc.kill()
            proc.wait()
    lines_a, lines_b = read_lines(out_a), read_lines(out_b)
    _assert_complete(lines_a + lines_b, keys, per_key)
    assert a_shards <= {x["shard"] for x in lines_a}
    for shard in a_shards:  # B carried on where A stopped (completeness rules out a gap)
        a_last = max(_position(x) for x in lines_a if x["shard"] == shard)
        b_read = [_position(x) for x in lines_b if x["shard"] == shard]
        assert b_read and max(b_read) > a_last, (shard, len(b_read))
