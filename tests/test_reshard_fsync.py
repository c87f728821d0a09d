"""Resharding with the threaded writer (``--durability fsync``): the positions a change fixes
when it commits are applied to the shards on the event loop and stored, so DescribeStream shows
the same sequence ranges before and after a restart, and they bound the records around them."""

from __future__ import annotations

import os
import uuid
from pathlib import Path
from typing import Any

import pytest

from shardflow.model import sequence
from tests.conftest import make_client
from tests.support import ServerProcess


def _ranges(client: Any, stream: str) -> dict[str, dict[str, str]]:
    return {
        s["ShardId"]: s["SequenceNumberRange"]
        for s in client.list_shards(StreamName=stream)["Shards"]
    }


def _position(text: str) -> int:
    decoded = sequence.decode(text)
    assert decoded is not None
    return decoded.position


def test_update_shard_count_fixes_positions_and_keeps_them_across_a_restart(
    tmp_path: Path,
) -> None:
    if os.environ.get("SHARDFLOW_TEST_ENDPOINT"):
        pytest.skip("needs a server this test can restart")
    data_dir = tmp_path / "data"
    stream = f"fsync-reshard-{uuid.uuid4().hex[:8]}"
    with ServerProcess(data_dir, "--durability", "fsync") as server:
        client = make_client(server.endpoint)
        client.create_stream(StreamName=stream, ShardCount=2)
        client.get_waiter("stream_exists").wait(StreamName=stream)
        before = [
            client.put_record(StreamName=stream, Data=b"x", PartitionKey=f"k{i}") for i in range(20)
        ]
        # 2 -> 3 splits, merges, and opens and closes an intermediate shard in one change.
        client.update_shard_count(
            StreamName=stream, TargetShardCount=3, ScalingType="UNIFORM_SCALING"
        )
        client.get_waiter("stream_exists").wait(StreamName=stream)
        after = [
            client.put_record(StreamName=stream, Data=b"y", PartitionKey=f"k{i}") for i in range(20)
        ]
        ranges = _ranges(client, stream)
    closed = {k: r for k, r in ranges.items() if "EndingSequenceNumber" in r}
    opened = {k: r for k, r in ranges.items() if "EndingSequenceNumber" not in r}
    assert len(opened) == 3
    assert {"shardId-000000000000", "shardId-000000000001"} <= closed.keys()
    ends = {_position(r["EndingSequenceNumber"]) for r in closed.values()}
    assert len(ends) == 1  # one change: every parent ends where it committed
    end = ends.pop()
    assert max(_position(p["SequenceNumber"]) for p in before) <= end
    for r in opened.values():
        assert _position(r["StartingSequenceNumber"]) == end
    assert min(_position(p["SequenceNumber"]) for p in after) > end
    assert {p["ShardId"] for p in after} <= opened.keys()

    with ServerProcess(data_dir, "--durability", "fsync") as server:
        assert _ranges(make_client(server.endpoint), stream) == ranges
