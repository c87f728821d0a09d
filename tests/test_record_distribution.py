"""RecordDistributionStrategy: AUTO spreads records over an ON_DEMAND stream's shards whatever their
keys; USER_PARTITION_KEY routes by the MD5 of the key (CreateStream,
UpdateStreamRecordDistributionStrategy, PutRecord, PutRecords, GetRecords, UpdateStreamMode)."""

from __future__ import annotations

import os
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import make_client
from tests.helpers import (
    StreamPool,
    client_error,
    iterator,
    md5_hash_key,
    read_all,
    shard_id,
    shard_index_for,
    stream_arn,
    stream_pool,
)
from tests.support import ServerProcess

ON_DEMAND = {"StreamMode": "ON_DEMAND"}
PROVISIONED = {"StreamMode": "PROVISIONED"}
SHARDS = 4  # an ON_DEMAND stream starts with 4
ORDERING_MESSAGE = (
    "Stream has SERVICE_DEFINED PartitionKey enabled. SequenceNumberForOrdering must not be"
    " provided."
)


def auto_message(name: str, mode: str = "PROVISIONED") -> str:
    return (
        "RecordDistributionStrategy=AUTO is only supported for on-demand streams."
        f" Stream {name} is using {mode} mode."
    )


@pytest.fixture
def streams(kinesis: Any) -> Iterator[StreamPool]:
    with stream_pool(kinesis) as pool:
        yield pool


def _summary(kinesis: Any, name: str) -> dict[str, Any]:
    result: dict[str, Any] = kinesis.describe_stream_summary(StreamName=name)
    return result["StreamDescriptionSummary"]


def _set(kinesis: Any, name: str, strategy: str) -> None:
    kinesis.update_stream_record_distribution_strategy(
        StreamARN=stream_arn(name), RecordDistributionStrategy=strategy
    )


def _put(kinesis: Any, name: str, records: list[dict[str, Any]]) -> list[str]:
    """PutRecords in batches of 500; the shard each record went to."""
    shards: list[str] = []
    for i in range(0, len(records), 500):
        out = kinesis.put_records(StreamName=name, Records=records[i : i + 500])
        assert out["FailedRecordCount"] == 0
        shards += [r["ShardId"] for r in out["Records"]]
    return shards


def _read(kinesis: Any, name: str) -> dict[str, list[dict[str, Any]]]:
    return {
        s["ShardId"]: read_all(kinesis, iterator(kinesis, name, s["ShardId"]))
        for s in kinesis.list_shards(StreamName=name)["Shards"]
    }


class TestAuto:
    def test_spreads_one_key_evenly_and_reads_back(self, kinesis: Any, streams: StreamPool) -> None:
        name = streams.create(StreamModeDetails=ON_DEMAND, RecordDistributionStrategy="AUTO")
        assert _summary(kinesis, name)["RecordDistributionStrategy"] == "AUTO"
        records = [{"Data": f"r{i}".encode(), "PartitionKey": "same"} for i in range(1000)]
        placed = _put(kinesis, name, records)
        counts = Counter(placed)
        assert set(counts) == {shard_id(i) for i in range(SHARDS)}
        assert max(counts.values()) - min(counts.values()) <= 2, counts
        stored = _read(kinesis, name)
        by_data = {r["Data"]: (shard, r) for shard, rs in stored.items() for r in rs}
        assert len(by_data) == 1000
        for record, shard in zip(records, placed, strict=True):
            got_shard, got = by_data[record["Data"]]
            assert got_shard == shard  # the answer named the shard actually used
            assert got["PartitionKey"] == "same"  # kept, though not used for routing

    def test_partition_key_optional_and_explicit_hash_key_ignored(
        self, kinesis: Any, streams: StreamPool
    ) -> None:
        name = streams.create(StreamModeDetails=ON_DEMAND, RecordDistributionStrategy="AUTO")
        placed = _put(kinesis, name, [{"Data": f"n{i}".encode()} for i in range(8)])
        placed += _put(
            kinesis,
            name,
            [{"Data": b"e", "PartitionKey": "k", "ExplicitHashKey": "0"} for _ in range(8)],
        )
        assert Counter(placed) == {shard_id(i): 4 for i in range(SHARDS)}
        one = kinesis.put_record(StreamName=name, Data=b"single")
        assert one["ShardId"].startswith("shardId-")
        records = [r for rs in _read(kinesis, name).values() for r in rs]
        keyless = [r for r in records if r["Data"] != b"e"]
        assert len(keyless) == 9 and all("PartitionKey" not in r for r in keyless)

    def test_sequence_number_for_ordering_refused(self, kinesis: Any, streams: StreamPool) -> None:
        name = streams.create(StreamModeDetails=ON_DEMAND, RecordDistributionStrategy="AUTO")
        first = kinesis.put_record(StreamName=name, Data=b"a", PartitionKey="k")
        with pytest.raises(kinesis.exceptions.InvalidArgumentException) as exc:
            kinesis.put_record(
                StreamName=name,
                Data=b"b",
                PartitionKey="k",
                SequenceNumberForOrdering=first["SequenceNumber"],
            )
        assert client_error(exc) == ("InvalidArgumentException", ORDERING_MESSAGE)

    def test_switch_back_routes_by_hash(self, kinesis: Any, streams: StreamPool) -> None:
        name = streams.create(StreamModeDetails=ON_DEMAND)
        assert _summary(kinesis, name)["RecordDistributionStrategy"] == "USER_PARTITION_KEY"
        _set(kinesis, name, "AUTO")
        spread = _put(kinesis, name, [{"Data": b"a", "PartitionKey": "k"} for _ in range(8)])
        assert len(set(spread)) == SHARDS
        _set(kinesis, name, "USER_PARTITION_KEY")
        assert _summary(kinesis, name)["RecordDistributionStrategy"] == "USER_PARTITION_KEY"
        home = shard_id(shard_index_for(md5_hash_key("k"), SHARDS))
        placed = _put(kinesis, name, [{"Data": b"b", "PartitionKey": "k"} for _ in range(8)])
        assert set(placed) == {home}
        with pytest.raises(kinesis.exceptions.ClientError) as exc:
            kinesis.put_record(StreamName=name, Data=b"no key")
        assert client_error(exc)[0] == "ValidationException"
        # the records written under AUTO stay where they were put
        stored = _read(kinesis, name)
        assert sum(1 for rs in stored.values() for r in rs if r["Data"] == b"a") == 8
        assert {s for s, rs in stored.items() if any(r["Data"] == b"a" for r in rs)} == set(spread)


class TestProvisioned:
    def test_auto_refused(self, kinesis: Any, streams: StreamPool) -> None:
        name = streams.create(ShardCount=2)
        with pytest.raises(kinesis.exceptions.InvalidArgumentException) as exc:
            _set(kinesis, name, "AUTO")
        assert client_error(exc) == ("InvalidArgumentException", auto_message(name))
        _set(kinesis, name, "USER_PARTITION_KEY")  # what a provisioned stream does anyway
        assert "RecordDistributionStrategy" not in _summary(kinesis, name)

    def test_create_with_auto_refused(self, kinesis: Any, streams: StreamPool) -> None:
        name = streams.reserve()
        with pytest.raises(kinesis.exceptions.InvalidArgumentException) as exc:
            kinesis.create_stream(StreamName=name, ShardCount=1, RecordDistributionStrategy="AUTO")
        assert client_error(exc) == ("InvalidArgumentException", auto_message(name))
        with pytest.raises(kinesis.exceptions.ResourceNotFoundException):
            kinesis.describe_stream_summary(StreamName=name)

    def test_mode_switch_needs_user_partition_key(self, kinesis: Any, streams: StreamPool) -> None:
        name = streams.create(StreamModeDetails=ON_DEMAND, RecordDistributionStrategy="AUTO")
        arn = stream_arn(name)
        with pytest.raises(kinesis.exceptions.InvalidArgumentException) as exc:
            kinesis.update_stream_mode(StreamARN=arn, StreamModeDetails=PROVISIONED)
        assert "USER_PARTITION_KEY" in client_error(exc)[1]
        assert _summary(kinesis, name)["StreamModeDetails"] == ON_DEMAND
        _set(kinesis, name, "USER_PARTITION_KEY")
        # the refused call did not use up one of the two switches a day
        kinesis.update_stream_mode(StreamARN=arn, StreamModeDetails=PROVISIONED)
        kinesis.update_stream_mode(StreamARN=arn, StreamModeDetails=ON_DEMAND)
        summary = _summary(kinesis, name)
        assert summary["StreamModeDetails"] == ON_DEMAND
        assert summary["RecordDistributionStrategy"] == "USER_PARTITION_KEY"


@pytest.mark.skipif(
    bool(os.environ.get("SHARDFLOW_TEST_ENDPOINT")), reason="starts a server of its own"
)
def test_strategy_survives_restart(tmp_path: Path) -> None:
    server = ServerProcess(tmp_path / "d")
    server.start()
    try:
        client: Any = make_client(server.endpoint)
        client.create_stream(StreamName="s", StreamModeDetails=ON_DEMAND)
        _set(client, "s", "AUTO")
        server.stop()
        server.start()
        client = make_client(server.endpoint)
        assert _summary(client, "s")["RecordDistributionStrategy"] == "AUTO"
        placed = _put(client, "s", [{"Data": b"x", "PartitionKey": "k"} for _ in range(8)])
        assert Counter(placed) == {shard_id(i): 2 for i in range(SHARDS)}
    finally:
        server.stop()
