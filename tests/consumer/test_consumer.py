"""The consumer over HTTP against the real server: order, deaggregation, checkpoints, expiry."""

from __future__ import annotations

import asyncio
import json
import sqlite3
import time
from collections import defaultdict
from pathlib import Path
from typing import Any

import pytest

from shardflow.consumer import (
    AsyncConsumer,
    MemoryCheckpointStore,
    Record,
    SQLiteCheckpointStore,
    SyncConsumer,
)
from shardflow.model import iterators
from shardflow.model.kpl import aggregate
from shardflow.storage.sqlite import DB_FILENAME
from tests.conftest import REGION, make_client
from tests.consumer.support import create_stream, fill
from tests.support import ServerProcess


def _check_order(records: list[Record], keys: int, per_key: int) -> None:
    """Every key's counters 1..per_key exactly once, in order; shard positions increasing."""
    by_key: dict[str, list[int]] = defaultdict(list)
    last: dict[str, Any] = {}
    for r in records:
        event = json.loads(r.data)
        by_key[event["key"]].append(event["seq"])
        assert last.get(r.shard_id) is None or r.position > last[r.shard_id]
        last[r.shard_id] = r.position
    assert len(by_key) == keys
    for seqs in by_key.values():
        assert seqs == list(range(1, per_key + 1))


def test_reads_every_shard_in_order_with_deaggregation(kinesis, endpoint, stream_name) -> None:  # type: ignore[no-untyped-def]
    create_stream(kinesis, stream_name, 3)
    fill(kinesis, stream_name, keys=12, per_key=40, aggregate_every=3)

    async def run() -> tuple[list[Record], dict[str, int | None]]:
        consumer = AsyncConsumer(
            stream_name,
            store=MemoryCheckpointStore(),
            endpoint_url=endpoint,
            region=REGION,
            stop_at_tip=True,
            limit=50,
            read_limits=False,
        )
        async with consumer:
            got = [r async for r in consumer.records()]
            return got, consumer.millis_behind_latest

    records, behind = asyncio.run(run())
    _check_order(records, keys=12, per_key=40)
    assert any(r.aggregated and r.subsequence_number == 2 for r in records)
    assert sorted(behind) == [f"shardId-00000000000{i}" for i in range(3)]
    assert set(behind.values()) == {0}  # caught up


def test_sync_front_end(kinesis, endpoint, stream_name) -> None:  # type: ignore[no-untyped-def]
    create_stream(kinesis, stream_name, 2)
    fill(kinesis, stream_name, keys=4, per_key=10)
    with SyncConsumer(
        stream_name, store=MemoryCheckpointStore(), client=make_client(endpoint), stop_at_tip=True
    ) as consumer:
        records = list(consumer.records())
        assert len(consumer.owned_shards) == 2
    _check_order(records, keys=4, per_key=10)


def test_resume_inside_an_aggregate_from_a_checkpoint(
    kinesis, endpoint, stream_name, tmp_path: Path
) -> None:  # type: ignore[no-untyped-def]
    create_stream(kinesis, stream_name, 1)
    agg = aggregate([("k", f"a{i}".encode()) for i in range(5)])
    kinesis.put_record(StreamName=stream_name, PartitionKey="k", Data=b"p0")
    kinesis.put_record(StreamName=stream_name, PartitionKey="a", Data=agg)
    kinesis.put_record(StreamName=stream_name, PartitionKey="k", Data=b"p1")
    store_path = tmp_path / "leases.sqlite"

    async def first() -> list[bytes]:
        seen = []
        async with AsyncConsumer(
            stream_name,
            store=SQLiteCheckpointStore(store_path),
            client=make_client(endpoint),
            auto_checkpoint=False,
            stop_at_tip=True,
        ) as consumer:
            async for record in consumer.records():
                seen.append(record.data)
                if record.data == b"a2":  # subsequence 2 of the aggregate
                    await consumer.checkpoint(record)
                    break
        return seen

    async def second() -> list[tuple[bytes, int]]:
        async with AsyncConsumer(
            stream_name,
            store=SQLiteCheckpointStore(store_path),
            client=make_client(endpoint),
            stop_at_tip=True,
        ) as consumer:
            return [(r.data, r.subsequence_number) async for r in consumer.records()]

    assert asyncio.run(first()) == [b"p0", b"a0", b"a1", b"a2"]
    assert asyncio.run(second()) == [(b"a3", 3), (b"a4", 4), (b"p1", 0)]


def _server_key(server: ServerProcess) -> bytes:
    if server.data_dir is None:
        pytest.skip("needs the data directory of a server started by this suite")
    with sqlite3.connect(server.data_dir / DB_FILENAME) as db:
        (hex_key,) = db.execute("SELECT value FROM meta WHERE key='iterator_key'").fetchone()
    return bytes.fromhex(hex_key)


class _ExpiringClient:
    """Passes calls through, but makes the second GetRecords call with a 5-minute-old iterator."""

    def __init__(self, client: Any, key: bytes) -> None:
        self._client, self._key = client, key
        self.get_records_calls = 0
        self.iterator_types: list[str] = []

    def __getattr__(self, name: str) -> Any:
        return getattr(self._client, name)

    def get_shard_iterator(self, **params: Any) -> Any:
        self.iterator_types.append(params["ShardIteratorType"])
        return self._client.get_shard_iterator(**params)

    def get_records(self, **params: Any) -> Any:
        self.get_records_calls += 1
        if self.get_records_calls == 2:
            token = iterators.decode(self._key, params["ShardIterator"])
            issued = int(time.time() * 1000) - iterators.ITERATOR_TTL_MS - 1000
            params["ShardIterator"] = iterators.encode(self._key, token._replace(issued_ms=issued))
        return self._client.get_records(**params)


def test_expired_iterator_is_renewed_after_the_last_record_read(
    server: ServerProcess,
    kinesis,  # type: ignore[no-untyped-def]
    endpoint: str,
    stream_name: str,
) -> None:
    client = _ExpiringClient(make_client(endpoint), _server_key(server))
    create_stream(kinesis, stream_name, 1)
    fill(kinesis, stream_name, keys=3, per_key=10)

    async def run() -> list[Record]:
        async with AsyncConsumer(
            stream_name, store=MemoryCheckpointStore(), client=client, limit=7, stop_at_tip=True
        ) as consumer:
            return [r async for r in consumer.records()]

    records = asyncio.run(run())
    _check_order(records, keys=3, per_key=10)  # nothing lost, nothing twice
    assert client.iterator_types == ["TRIM_HORIZON", "AFTER_SEQUENCE_NUMBER"]


def test_throttled_reads_are_retried(tmp_path: Path) -> None:
    faults = '{"seed": 3, "operations": {"GetRecords": {"throttle": 0.4}}}'
    server = ServerProcess(tmp_path / "data", "--faults", faults)
    server.start()
    try:
        kinesis = make_client(server.endpoint)
        create_stream(kinesis, "throttled", 2)
        fill(kinesis, "throttled", keys=4, per_key=30)

        async def run() -> list[Record]:
            async with AsyncConsumer(
                "throttled",
                store=MemoryCheckpointStore(),
                client=make_client(server.endpoint),
                limit=10,
                stop_at_tip=True,
                read_limits=False,
            ) as consumer:
                return [r async for r in consumer.records()]

        _check_order(asyncio.run(run()), keys=4, per_key=30)
    finally:
        server.stop()


@pytest.mark.needs("SplitShard")
def test_parent_shard_is_read_before_its_children(kinesis, endpoint, stream_name) -> None:  # type: ignore[no-untyped-def]
    create_stream(kinesis, stream_name, 1)
    fill(kinesis, stream_name, keys=8, per_key=20)
    kinesis.split_shard(
        StreamName=stream_name,
        ShardToSplit="shardId-000000000000",
        NewStartingHashKey=str(2**127),
    )
    kinesis.get_waiter("stream_exists").wait(
        StreamName=stream_name, WaiterConfig={"Delay": 0.1, "MaxAttempts": 100}
    )
    for key in range(8):  # the same keys continue in the children
        for seq in range(21, 31):
            kinesis.put_record(
                StreamName=stream_name,
                PartitionKey=f"k{key:03d}",
                Data=json.dumps({"key": f"k{key:03d}", "seq": seq}).encode(),
            )

    async def run() -> list[Record]:
        async with AsyncConsumer(
            stream_name,
            store=MemoryCheckpointStore(),
            client=make_client(endpoint),
            stop_at_tip=True,
        ) as consumer:
            return [r async for r in consumer.records()]

    records = asyncio.run(run())
    _check_order(records, keys=8, per_key=30)
    shards = [r.shard_id for r in records]
    last_parent = max(i for i, s in enumerate(shards) if s == "shardId-000000000000")
    assert all(s == "shardId-000000000000" for s in shards[: last_parent + 1])


@pytest.mark.needs("MergeShards")
def test_merged_child_waits_for_both_parents(kinesis, endpoint, stream_name) -> None:  # type: ignore[no-untyped-def]
    create_stream(kinesis, stream_name, 2)
    fill(kinesis, stream_name, keys=8, per_key=20)
    kinesis.merge_shards(
        StreamName=stream_name,
        ShardToMerge="shardId-000000000000",
        AdjacentShardToMerge="shardId-000000000001",
    )
    kinesis.get_waiter("stream_exists").wait(
        StreamName=stream_name, WaiterConfig={"Delay": 0.1, "MaxAttempts": 100}
    )
    for key in range(8):
        for seq in range(21, 26):
            kinesis.put_record(
                StreamName=stream_name,
                PartitionKey=f"k{key:03d}",
                Data=json.dumps({"key": f"k{key:03d}", "seq": seq}).encode(),
            )

    async def run() -> list[Record]:
        async with AsyncConsumer(
            stream_name,
            store=MemoryCheckpointStore(),
            client=make_client(endpoint),
            stop_at_tip=True,
        ) as consumer:
            return [r async for r in consumer.records()]

    records = asyncio.run(run())
    _check_order(records, keys=8, per_key=25)
    shards = [r.shard_id for r in records]
    first_child = shards.index("shardId-000000000002")
    assert set(shards[first_child:]) == {"shardId-000000000002"}
