"""Warm throughput: an ON_DEMAND stream is scaled at once to one shard per MiB/s asked for
(CreateStream, UpdateStreamWarmThroughput, UpdateStreamMode), and releases the excess when asked
for the same or less. It needs the account's minimum throughput billing commitment.

A server of its own: the commitment is an account setting, shared by every test of a server.
"""

from __future__ import annotations

import itertools
import os
import threading
import time
from collections import Counter
from collections.abc import Iterator
from typing import Any

import pytest

from tests.conftest import make_client
from tests.helpers import (
    HASH_KEY_SPACE,
    StreamPool,
    client_error,
    expected_hash_ranges,
    iterator,
    read_all,
    stream_arn,
    stream_pool,
    unique_name,
    wait_active,
)
from tests.support import ServerProcess

ON_DEMAND = {"StreamMode": "ON_DEMAND"}
PROVISIONED = {"StreamMode": "PROVISIONED"}
SHARD_LIMIT = 64
UPDATE_MS = 200
NOT_ENABLED = (
    "Warm throughput is only supported in accounts that have MinimumThroughputBillingCommitment"
    " enabled. Account 000000000000 does not have it enabled."
)


@pytest.fixture(scope="module")
def client(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    if os.environ.get("SHARDFLOW_TEST_ENDPOINT"):
        pytest.skip("starts a server of its own")
    server = ServerProcess(
        tmp_path_factory.mktemp("warm") / "d",
        "--update-stream-ms",
        str(UPDATE_MS),
        "--shard-limit",
        str(SHARD_LIMIT),
    )
    server.start()
    try:
        kinesis: Any = make_client(server.endpoint)
        kinesis.update_account_settings(MinimumThroughputBillingCommitment={"Status": "ENABLED"})
        yield kinesis
    finally:
        server.stop()


@pytest.fixture
def streams(client: Any) -> Iterator[StreamPool]:
    with stream_pool(client) as pool:
        yield pool


def _summary(kinesis: Any, name: str) -> dict[str, Any]:
    result: dict[str, Any] = kinesis.describe_stream_summary(StreamName=name)
    return result["StreamDescriptionSummary"]


def _warm(kinesis: Any, name: str, mibps: int) -> dict[str, Any]:
    out: dict[str, Any] = kinesis.update_stream_warm_throughput(
        StreamARN=stream_arn(name), WarmThroughputMiBps=mibps
    )
    wait_active(kinesis, name)
    return out


def _open_ranges(kinesis: Any, name: str) -> list[tuple[int, int]]:
    shards = kinesis.list_shards(StreamName=name)["Shards"]
    return sorted(
        (int(s["HashKeyRange"]["StartingHashKey"]), int(s["HashKeyRange"]["EndingHashKey"]))
        for s in shards
        if "EndingSequenceNumber" not in s["SequenceNumberRange"]
    )


def _assert_partition(ranges: list[tuple[int, int]]) -> None:
    """The open shards cover every hash key exactly once."""
    assert ranges[0][0] == 0 and ranges[-1][1] == HASH_KEY_SPACE - 1
    for (_, end), (start, _) in itertools.pairwise(ranges):
        assert start == end + 1


class _Writer(threading.Thread):
    """PutRecords in a loop until stopped; remembers what was acknowledged."""

    def __init__(self, endpoint_client: Any, name: str) -> None:
        super().__init__(daemon=True)
        self.kinesis = make_client(endpoint_client.meta.endpoint_url)
        self.name_ = name
        self.acked: list[bytes] = []
        self.errors: list[BaseException] = []
        self.stop = threading.Event()

    def run(self) -> None:
        n = 0
        try:
            while not self.stop.is_set():
                batch = [f"r{n + i}".encode() for i in range(50)]
                n += len(batch)
                out = self.kinesis.put_records(
                    StreamName=self.name_,
                    Records=[{"Data": d, "PartitionKey": d.decode()} for d in batch],
                )
                assert out["FailedRecordCount"] == 0
                self.acked += batch
        except BaseException as exc:  # reported by the test
            self.errors.append(exc)


def test_warms_while_writes_continue(client: Any, streams: StreamPool) -> None:
    name = streams.create(StreamModeDetails=ON_DEMAND)
    summary = _summary(client, name)
    assert summary["WarmThroughput"] == {"TargetMiBps": 0, "CurrentMiBps": 4}
    writer = _Writer(client, name)
    writer.start()
    try:
        time.sleep(0.2)
        out = client.update_stream_warm_throughput(
            StreamARN=stream_arn(name), WarmThroughputMiBps=16
        )
        assert (out["StreamName"], out["StreamARN"]) == (name, stream_arn(name))
        assert out["WarmThroughput"] == {"TargetMiBps": 16, "CurrentMiBps": 16}
        assert _summary(client, name)["StreamStatus"] == "UPDATING"
        before = len(writer.acked)
        wait_active(client, name)
        time.sleep(0.2)
        assert len(writer.acked) > before  # writes went on while it was UPDATING
    finally:
        writer.stop.set()
        writer.join()
    assert not writer.errors, writer.errors
    ranges = _open_ranges(client, name)
    assert len(ranges) >= 16
    _assert_partition(ranges)
    assert _summary(client, name)["WarmThroughput"] == {"TargetMiBps": 16, "CurrentMiBps": 16}
    stored = [
        r["Data"]
        for s in client.list_shards(StreamName=name)["Shards"]
        for r in read_all(client, iterator(client, name, s["ShardId"]), max_calls=50)
    ]
    assert Counter(stored) == Counter(writer.acked)  # nothing lost, nothing twice


def test_create_warm_then_release(client: Any, streams: StreamPool) -> None:
    name = streams.create(StreamModeDetails=ON_DEMAND, WarmThroughputMiBps=12)
    shards = client.list_shards(StreamName=name)["Shards"]
    assert [
        (s["HashKeyRange"]["StartingHashKey"], s["HashKeyRange"]["EndingHashKey"]) for s in shards
    ] == expected_hash_ranges(12)  # created at that size: no parents
    assert _summary(client, name)["WarmThroughput"] == {"TargetMiBps": 12, "CurrentMiBps": 12}
    # lower: the excess is released, but never below the 4 shards an ON_DEMAND stream starts with
    assert _warm(client, name, 2)["WarmThroughput"] == {"TargetMiBps": 2, "CurrentMiBps": 4}
    assert len(_open_ranges(client, name)) == 4
    assert _warm(client, name, 6)["WarmThroughput"] == {"TargetMiBps": 6, "CurrentMiBps": 6}
    assert _warm(client, name, 5)["WarmThroughput"] == {"TargetMiBps": 5, "CurrentMiBps": 5}
    ranges = _open_ranges(client, name)
    assert len(ranges) == 5
    _assert_partition(ranges)


def test_limits(client: Any, streams: StreamPool) -> None:
    name = streams.create(StreamModeDetails=ON_DEMAND)
    arn = stream_arn(name)
    with pytest.raises(client.exceptions.LimitExceededException) as exc:
        client.update_stream_warm_throughput(StreamARN=arn, WarmThroughputMiBps=10_241)
    assert "10240 MiBps" in client_error(exc)[1]
    with pytest.raises(client.exceptions.LimitExceededException) as exc:
        client.update_stream_warm_throughput(StreamARN=arn, WarmThroughputMiBps=200)
    assert f"Limit: {SHARD_LIMIT}." in client_error(exc)[1]
    summary = _summary(client, name)  # nothing changed
    assert (summary["StreamStatus"], summary["OpenShardCount"]) == ("ACTIVE", 4)
    assert summary["WarmThroughput"] == {"TargetMiBps": 0, "CurrentMiBps": 4}
    with pytest.raises(client.exceptions.LimitExceededException):
        client.create_stream(
            StreamName=streams.reserve(), StreamModeDetails=ON_DEMAND, WarmThroughputMiBps=200
        )


def test_on_demand_only(client: Any, streams: StreamPool) -> None:
    name = streams.create(ShardCount=2)
    arn = stream_arn(name)
    with pytest.raises(client.exceptions.InvalidArgumentException):
        client.update_stream_warm_throughput(StreamARN=arn, WarmThroughputMiBps=8)
    with pytest.raises(client.exceptions.InvalidArgumentException):
        client.update_stream_mode(
            StreamARN=arn, StreamModeDetails=PROVISIONED, WarmThroughputMiBps=8
        )
    with pytest.raises(client.exceptions.InvalidArgumentException):
        client.create_stream(StreamName=streams.reserve(), ShardCount=1, WarmThroughputMiBps=8)
    assert "WarmThroughput" not in _summary(client, name)


def test_update_stream_mode_warms(client: Any, streams: StreamPool) -> None:
    name = streams.create(ShardCount=2)
    arn = stream_arn(name)
    client.update_stream_mode(StreamARN=arn, StreamModeDetails=ON_DEMAND, WarmThroughputMiBps=8)
    summary = wait_active(client, name)
    assert summary["OpenShardCount"] == 8
    assert summary["WarmThroughput"] == {"TargetMiBps": 8, "CurrentMiBps": 8}
    _assert_partition(_open_ranges(client, name))
    client.update_stream_mode(StreamARN=arn, StreamModeDetails=PROVISIONED)
    summary = wait_active(client, name)
    assert summary["OpenShardCount"] == 8  # the shards stay; the warm throughput goes
    assert "WarmThroughput" not in summary


def test_needs_the_commitment(kinesis: Any) -> None:
    """On the shared server, whose account never enabled the commitment."""
    with stream_pool(kinesis) as pool:
        name = pool.create(StreamModeDetails=ON_DEMAND)
        assert "WarmThroughput" not in _summary(kinesis, name)
        with pytest.raises(kinesis.exceptions.InvalidArgumentException) as exc:
            kinesis.update_stream_warm_throughput(StreamARN=stream_arn(name), WarmThroughputMiBps=8)
        assert client_error(exc) == ("InvalidArgumentException", NOT_ENABLED)
        with pytest.raises(kinesis.exceptions.InvalidArgumentException) as exc:
            kinesis.create_stream(
                StreamName=pool.reserve(unique_name()),
                StreamModeDetails=ON_DEMAND,
                WarmThroughputMiBps=8,
            )
        assert client_error(exc) == ("InvalidArgumentException", NOT_ENABLED)
