"""SplitShard, MergeShards, UpdateShardCount: AWS semantics.

Resharding while records are written and read: tests/test_reshard_under_load.py.
"""

from __future__ import annotations

import itertools
import os
import time
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import make_client
from tests.helpers import ACCOUNT_ID, HASH_KEY_SPACE, client_error, stream_arn, stream_pool
from tests.support import ServerProcess

MAX_HASH = HASH_KEY_SPACE - 1


def _shards(kinesis: Any, stream: str) -> dict[str, dict[str, Any]]:
    return {s["ShardId"]: s for s in kinesis.list_shards(StreamName=stream)["Shards"]}


def _range(shard: dict[str, Any]) -> tuple[int, int]:
    r = shard["HashKeyRange"]
    return int(r["StartingHashKey"]), int(r["EndingHashKey"])


def _open(shards: dict[str, dict[str, Any]]) -> list[dict[str, Any]]:
    return sorted(
        (s for s in shards.values() if "EndingSequenceNumber" not in s["SequenceNumberRange"]),
        key=lambda s: _range(s)[0],
    )


def _assert_partition(shards: list[dict[str, Any]]) -> None:
    """Open shards cover the hash-key space exactly, without gap or overlap."""
    ranges = [_range(s) for s in shards]
    assert ranges[0][0] == 0 and ranges[-1][1] == MAX_HASH
    for (_, end), (start, _) in itertools.pairwise(ranges):
        assert start == end + 1


def _read_shard(kinesis: Any, stream: str, shard_id: str) -> tuple[list[dict], dict]:
    it = kinesis.get_shard_iterator(
        StreamName=stream, ShardId=shard_id, ShardIteratorType="TRIM_HORIZON"
    )["ShardIterator"]
    records: list[dict] = []
    for _ in range(100):
        page = kinesis.get_records(ShardIterator=it)
        records += page["Records"]
        if page.get("NextShardIterator") is None:
            return records, page
        if not page["Records"]:
            return records, page
        it = page["NextShardIterator"]
    raise AssertionError("shard never ended")


class TestSplitShard:
    def test_split_closes_parent_and_opens_children(self, kinesis: Any, stream: str) -> None:
        before = kinesis.put_record(StreamName=stream, Data=b"before", PartitionKey="a")
        parent = _shards(kinesis, stream)[before["ShardId"]]
        start, end = _range(parent)
        middle = (start + end) // 2
        kinesis.split_shard(
            StreamName=stream, ShardToSplit=before["ShardId"], NewStartingHashKey=str(middle)
        )
        shards = _shards(kinesis, stream)
        closed = shards[before["ShardId"]]
        assert "EndingSequenceNumber" in closed["SequenceNumberRange"]
        children = [s for s in shards.values() if s.get("ParentShardId") == before["ShardId"]]
        assert [c["ShardId"] for c in children] == ["shardId-000000000002", "shardId-000000000003"]
        assert [_range(c) for c in children] == [(start, middle - 1), (middle, end)]
        _assert_partition(_open(shards))
        ending = int(closed["SequenceNumberRange"]["EndingSequenceNumber"])
        for child in children:
            assert int(child["SequenceNumberRange"]["StartingSequenceNumber"]) > int(
                before["SequenceNumber"]
            )
        # Records written after the split go to the children, above the parent's end.
        after = kinesis.put_record(StreamName=stream, Data=b"after", PartitionKey="a")
        assert after["ShardId"] in {c["ShardId"] for c in children}
        assert int(after["SequenceNumber"]) > ending >= int(before["SequenceNumber"])
        # Reading the parent ends: no NextShardIterator, and the children are listed.
        records, last_page = _read_shard(kinesis, stream, before["ShardId"])
        assert [r["Data"] for r in records] == [b"before"]
        assert last_page.get("NextShardIterator") is None
        assert sorted(c["ShardId"] for c in last_page["ChildShards"]) == sorted(
            c["ShardId"] for c in children
        )
        for child in last_page["ChildShards"]:
            assert child["ParentShards"] == [before["ShardId"]]
        summary = kinesis.describe_stream_summary(StreamName=stream)
        assert summary["StreamDescriptionSummary"]["OpenShardCount"] == 3

    def test_hash_key_must_fall_inside(self, kinesis: Any, stream: str) -> None:
        with pytest.raises(kinesis.exceptions.InvalidArgumentException) as info:
            kinesis.split_shard(
                StreamName=stream, ShardToSplit="shardId-000000000000", NewStartingHashKey="1"
            )
        _, message = client_error(info)
        assert message == (
            f"NewStartingHashKey 1 used in SplitShard() on shard shardId-000000000000 in stream"
            f" {stream} under account 000000000000 is not both greater than one plus the"
            f" shard's StartingHashKey 0 and less than the shard's EndingHashKey"
            f" {HASH_KEY_SPACE // 2 - 1}."
        )

    def test_missing_and_closed_shards(self, kinesis: Any, stream: str) -> None:
        with pytest.raises(kinesis.exceptions.ResourceNotFoundException) as info:
            kinesis.split_shard(
                StreamName=stream, ShardToSplit="shardId-000000000009", NewStartingHashKey="99"
            )
        assert client_error(info)[1] == (
            f"Could not find shard shardId-000000000009 in stream {stream} under account"
            " 000000000000."
        )
        kinesis.split_shard(
            StreamName=stream, ShardToSplit="shardId-000000000000", NewStartingHashKey="99"
        )
        with pytest.raises(kinesis.exceptions.ResourceInUseException):
            kinesis.split_shard(
                StreamName=stream, ShardToSplit="shardId-000000000000", NewStartingHashKey="99"
            )


class TestMergeShards:
    def test_merge_adjacent(self, kinesis: Any, stream: str) -> None:
        kinesis.merge_shards(
            StreamName=stream,
            ShardToMerge="shardId-000000000001",
            AdjacentShardToMerge="shardId-000000000000",
        )
        shards = _shards(kinesis, stream)
        (child,) = _open(shards)
        assert child["ShardId"] == "shardId-000000000002"
        assert child["ParentShardId"] == "shardId-000000000001"
        assert child["AdjacentParentShardId"] == "shardId-000000000000"
        assert _range(child) == (0, MAX_HASH)

    def test_not_adjacent(self, kinesis: Any, stream_name: str) -> None:
        kinesis.create_stream(StreamName=stream_name, ShardCount=3)
        try:
            with pytest.raises(kinesis.exceptions.InvalidArgumentException) as info:
                kinesis.merge_shards(
                    StreamName=stream_name,
                    ShardToMerge="shardId-000000000000",
                    AdjacentShardToMerge="shardId-000000000002",
                )
            assert client_error(info)[1] == (
                f"Shards shardId-000000000000 and shardId-000000000002 in stream {stream_name}"
                " under account 000000000000 are not an adjacent pair of shards eligible for"
                " merging"
            )
        finally:
            kinesis.delete_stream(StreamName=stream_name)


class TestUpdateShardCount:
    @pytest.mark.parametrize(("start", "target"), [(2, 4), (4, 2), (3, 5), (5, 3), (3, 4)])
    def test_uniform_scaling(self, kinesis: Any, stream_name: str, start: int, target: int) -> None:
        kinesis.create_stream(StreamName=stream_name, ShardCount=start)
        try:
            out = kinesis.update_shard_count(
                StreamName=stream_name, TargetShardCount=target, ScalingType="UNIFORM_SCALING"
            )
            assert (out["CurrentShardCount"], out["TargetShardCount"]) == (start, target)
            shards = _shards(kinesis, stream_name)
            opened = _open(shards)
            step = HASH_KEY_SPACE // target
            assert [_range(s) for s in opened] == [
                (i * step, MAX_HASH if i == target - 1 else (i + 1) * step - 1)
                for i in range(target)
            ]
            # Lineage: every shard has at most a parent and an adjacent parent, and every
            # parent named exists and is closed.
            for shard in shards.values():
                for key in ("ParentShardId", "AdjacentParentShardId"):
                    if key in shard:
                        parent = shards[shard[key]]
                        assert "EndingSequenceNumber" in parent["SequenceNumberRange"]
        finally:
            kinesis.delete_stream(StreamName=stream_name)

    def test_limits(self, kinesis: Any, stream: str) -> None:
        def scale(target: int) -> None:
            kinesis.update_shard_count(
                StreamName=stream, TargetShardCount=target, ScalingType="UNIFORM_SCALING"
            )

        with pytest.raises(kinesis.exceptions.LimitExceededException) as info:
            scale(5)  # more than double the 2 open shards
        assert "double" in client_error(info)[1]
        scale(4)
        with pytest.raises(kinesis.exceptions.LimitExceededException) as info:
            scale(1)  # less than half of 4
        assert "half" in client_error(info)[1]
        for target in (3, 4, 3, 4, 3, 4, 3, 4, 3):  # ten scalings in all
            scale(target)
        with pytest.raises(kinesis.exceptions.LimitExceededException) as info:
            scale(4)
        assert "10 times in the last 24 hours" in client_error(info)[1]


class TestProvisionedOnly:
    """AWS's model, for each of the three: "This API is only supported for the data streams with
    the provisioned capacity mode." The error type is the model's ValidationException ("the
    operation is not supported for the stream's capacity mode"); AWS's message is not published.
    The stream's own on-demand scaling: tests/test_on_demand.py, tests/test_warm_throughput.py."""

    def test_on_demand_stream_refuses_all_three(self, kinesis: Any) -> None:
        with stream_pool(kinesis) as pool:
            name = pool.create(StreamModeDetails={"StreamMode": "ON_DEMAND"})
            before = _shards(kinesis, name)
            assert len(before) == 4  # an ON_DEMAND stream starts with 4 shards
            calls = {
                "SplitShard": lambda: kinesis.split_shard(
                    StreamName=name,
                    ShardToSplit="shardId-000000000000",
                    NewStartingHashKey=str(HASH_KEY_SPACE // 8),
                ),
                "MergeShards": lambda: kinesis.merge_shards(
                    StreamARN=stream_arn(name),
                    ShardToMerge="shardId-000000000002",
                    AdjacentShardToMerge="shardId-000000000003",
                ),
                "UpdateShardCount": lambda: kinesis.update_shard_count(
                    StreamName=name, TargetShardCount=8, ScalingType="UNIFORM_SCALING"
                ),
            }
            for operation, call in calls.items():
                with pytest.raises(kinesis.exceptions.ValidationException) as info:
                    call()
                assert client_error(info) == (
                    "ValidationException",
                    f"{operation} is only supported for streams with PROVISIONED capacity mode."
                    f" Stream {name} under account {ACCOUNT_ID} is ON_DEMAND.",
                )
            assert _shards(kinesis, name) == before
            # the same calls once the stream is PROVISIONED
            kinesis.update_stream_mode(
                StreamARN=stream_arn(name), StreamModeDetails={"StreamMode": "PROVISIONED"}
            )
            for call in calls.values():
                call()
            assert len(_open(_shards(kinesis, name))) == 8


@pytest.mark.skipif(
    bool(os.environ.get("SHARDFLOW_TEST_ENDPOINT")), reason="starts a server of its own"
)
def test_updating_state_refuses_a_second_change(tmp_path: Path) -> None:
    server = ServerProcess(tmp_path / "d", "--update-stream-ms", "500")
    server.start()
    try:
        client = make_client(server.endpoint)
        client.create_stream(StreamName="busy", ShardCount=2)
        client.update_shard_count(
            StreamName="busy", TargetShardCount=4, ScalingType="UNIFORM_SCALING"
        )
        status = client.describe_stream_summary(StreamName="busy")["StreamDescriptionSummary"]
        assert status["StreamStatus"] == "UPDATING"
        with pytest.raises(client.exceptions.ResourceInUseException) as info:
            client.merge_shards(
                StreamName="busy",
                ShardToMerge="shardId-000000000002",
                AdjacentShardToMerge="shardId-000000000003",
            )
        assert client_error(info)[1] == (
            "Stream busy under account 000000000000 not ACTIVE, instead in state UPDATING"
        )
        time.sleep(0.6)
        status = client.describe_stream_summary(StreamName="busy")["StreamDescriptionSummary"]
        assert status["StreamStatus"] == "ACTIVE"
        # The change is stored: a restart shows the same shards.
        before = client.list_shards(StreamName="busy")["Shards"]
        server.stop()
        server.start()
        assert make_client(server.endpoint).list_shards(StreamName="busy")["Shards"] == before
    finally:
        server.stop()


def test_every_parent_of_a_merge_ends(kinesis: Any, stream: str) -> None:
    """Both parents end (null NextShardIterator) though only one holds the newest record."""
    for i in range(20):
        kinesis.put_record(StreamName=stream, Data=b"%d" % i, PartitionKey=f"k{i}")
    kinesis.merge_shards(
        StreamName=stream,
        ShardToMerge="shardId-000000000000",
        AdjacentShardToMerge="shardId-000000000001",
    )
    for parent in ("shardId-000000000000", "shardId-000000000001"):
        _, last_page = _read_shard(kinesis, stream, parent)
        assert last_page.get("NextShardIterator") is None, parent
        assert [c["ShardId"] for c in last_page["ChildShards"]] == ["shardId-000000000002"]
