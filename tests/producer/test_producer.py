"""The producer against a real server over HTTP: order under injected failures, aggregation
read back by aws-kinesis-agg, TTL, backpressure, flush/close, the shard map, the sync front-end."""

from __future__ import annotations

import asyncio
import json
import time
from typing import Any

import pytest

from shardflow.model.hashing import partition_hash
from shardflow.producer import (
    AsyncProducer,
    BufferFullError,
    ProducerClosedError,
    ProducerConfig,
    RecordExpiredError,
    StreamNotFoundError,
    SyncProducer,
)
from shardflow.producer.shardmap import ShardMap
from tests.producer.conftest import (
    REGION,
    FaultServer,
    check_order,
    new_stream,
    ordered_producer,
    read_user_records,
)

KEYS = 40


def _record(key: int, n: int) -> tuple[bytes, str]:
    k = f"taxi-{key:03d}"
    return json.dumps({"k": k, "n": n, "pad": "x" * 60}).encode(), k


async def _write(producer: AsyncProducer, count: int) -> list[Any]:
    counters = [0] * KEYS
    futures = []
    for i in range(count):
        key = (i * 7919) % KEYS
        counters[key] += 1
        data, k = _record(key, counters[key])
        futures.append(await producer.put(data, k))
    return futures


@pytest.mark.parametrize("aggregation", [True, False], ids=["aggregated", "plain"])
def test_ordered_mode_keeps_key_order_under_entry_and_call_failures(
    faults: FaultServer, aggregation: bool
) -> None:
    faults.set_faults(
        {
            "PutRecords": {
                "entry_throttle": 0.25,
                "entry_internal": 0.05,
                "internal": 0.05,
                "unavailable": 0.03,
            }
        }
    )
    client, stream = new_stream(faults.endpoint, 4)
    count = 3000 if aggregation else 1500
    # Small aggregates so that each shard has many entries waiting: the reordering case.
    producer = ordered_producer(
        stream,
        faults.endpoint,
        aggregation=aggregation,
        aggregation_max_bytes=1024,
        backoff_max=0.05,
    )

    async def main() -> list[Any]:
        async with producer:
            return await _write(producer, count)

    futures = asyncio.run(main())
    assert all(f.done() and f.exception() is None for f in futures)
    stats = producer.stats()
    assert stats["Throttles"] > 0 and stats["RetriesPerRecord"] > 0, stats
    assert stats["ErrorsByCode"].get("InternalFailure", 0) > 0
    faults.clear_faults()
    records = read_user_records(client, stream)
    per_key = check_order(records)
    assert sum(len(v) for v in per_key.values()) == count  # no loss, no duplicate
    for key, counters in per_key.items():
        assert counters == sorted(counters) and len(set(counters)) == len(counters), key
        assert counters == list(range(1, len(counters) + 1)), key
    if aggregation:
        assert any(r["aggregated"] for r in records)


def test_unordered_mode_delivers_everything_under_failures(faults: FaultServer) -> None:
    faults.set_faults({"PutRecords": {"entry_throttle": 0.2, "internal": 0.05}})
    client, stream = new_stream(faults.endpoint, 2)
    producer = ordered_producer(stream, faults.endpoint, ordered=False, backoff_max=0.05)

    async def main() -> None:
        async with producer:
            await _write(producer, 2000)

    asyncio.run(main())
    faults.clear_faults()
    per_key = check_order(read_user_records(client, stream))
    assert sorted(n for v in per_key.values() for n in v) == sorted(
        n
        for k in range(KEYS)
        for n in range(1, len([i for i in range(2000) if (i * 7919) % KEYS == k]) + 1)
    )


def test_aggregates_deaggregate_with_aws_kinesis_agg_and_inner_keys(endpoint: str) -> None:
    client, stream = new_stream(endpoint, 3)
    producer = ordered_producer(stream, endpoint, linger=0.05)

    async def main() -> list[Any]:
        async with producer:
            futures = await _write(producer, 1200)
        return [await f for f in futures]

    results = asyncio.run(main())
    records = read_user_records(client, stream)
    assert len(records) == 1200 and all(r["aggregated"] for r in records)
    shards = {s["ShardId"]: s for s in client.list_shards(StreamName=stream)["Shards"]}
    for r in records:
        rng = shards[r["shard"]]["HashKeyRange"]
        # every inner key belongs to the shard the aggregate landed on (else the KCL drops it)
        assert int(rng["StartingHashKey"]) <= partition_hash(r["key"]) <= int(rng["EndingHashKey"])
    # the futures tell where each record went, matching what a reader sees
    by_position = {(r["seq"], r["subseq"]): r for r in records}
    for res in results[:50]:
        assert (res.sequence_number, res.subsequence_number) in by_position
        assert by_position[(res.sequence_number, res.subsequence_number)]["shard"] == res.shard_id
    assert producer.stats()["UserRecordsPerKinesisRecord"] > 10


def test_record_ttl_expires_records_that_cannot_be_written(faults: FaultServer) -> None:
    faults.set_faults({"PutRecords": {"entry_throttle": 1.0}})
    _, stream = new_stream(faults.endpoint, 1)
    producer = ordered_producer(stream, faults.endpoint, record_ttl=0.3, backoff_max=0.05)

    async def main() -> list[Any]:
        async with producer:
            futures = [await producer.put(b"x", f"k{i}") for i in range(20)]
            started = time.monotonic()
            await producer.flush()
            assert time.monotonic() - started < 3
            return futures

    futures = asyncio.run(main())
    for f in futures:
        exc = f.exception()
        assert isinstance(exc, RecordExpiredError)
        assert exc.last_error is not None and exc.last_error.throttle
    stats = producer.stats()
    assert stats["UserRecordExpired"] == 20 and stats["UserRecordsPending"] == 0


def test_backpressure_waits_then_raises_buffer_full(faults: FaultServer) -> None:
    faults.set_faults({"PutRecords": {"latency_ms": 300}})
    _, stream = new_stream(faults.endpoint, 1)
    producer = ordered_producer(
        stream, faults.endpoint, max_buffered_records=10, put_timeout=0.1, aggregation=False
    )

    async def main() -> None:
        async with producer:
            for i in range(10):
                producer.put_nowait(b"x", f"k{i}")
            with pytest.raises(BufferFullError):
                producer.put_nowait(b"x", "k-over")
            started = time.monotonic()
            with pytest.raises(BufferFullError, match="still full"):
                await producer.put(b"x", "k-over")
            assert time.monotonic() - started >= 0.1
            # with a longer timeout put() waits for room instead of failing
            producer.config = ProducerConfig(**{**_cfg(producer), "put_timeout": 5.0})
            fut = await producer.put(b"x", "k-late")
            assert producer.buffered_records <= 10
            await fut

    asyncio.run(main())
    assert producer.stats()["UserRecordsPut"] == 11


def _cfg(producer: AsyncProducer) -> dict[str, Any]:
    c = producer.config
    return {f: getattr(c, f) for f in c.__dataclass_fields__}


def test_close_flushes_everything_even_with_long_linger(endpoint: str) -> None:
    client, stream = new_stream(endpoint, 2)
    producer = ordered_producer(stream, endpoint, linger=30.0)

    async def main() -> list[Any]:
        await producer.start()
        futures = await _write(producer, 500)
        assert not any(f.done() for f in futures)
        await producer.close()
        with pytest.raises(ProducerClosedError):
            await producer.put(b"x", "k")
        return futures

    futures = asyncio.run(main())
    assert all(f.done() and f.exception() is None for f in futures)
    assert len(read_user_records(client, stream)) == 500


def test_sync_producer_blocks_and_flushes(endpoint: str) -> None:
    client, stream = new_stream(endpoint, 2)
    with SyncProducer(
        stream, endpoint_url=endpoint, region=REGION, config=ProducerConfig(linger=0.01)
    ) as producer:
        futures = [producer.put(*_record(i % KEYS, i)) for i in range(300)]
        first = futures[0].result(timeout=5)
        producer.flush()
        assert all(f.done() for f in futures)
    assert first.shard_id.startswith("shardId-")
    assert len(read_user_records(client, stream)) == 300


def test_unexpected_shard_refreshes_the_shard_map(endpoint: str) -> None:
    _, stream = new_stream(endpoint, 2)
    producer = ordered_producer(stream, endpoint, aggregation=False, shard_map_min_refresh=0.0)

    async def main() -> None:
        async with producer:
            acc = producer._acc
            assert acc is not None
            real = acc.shard_map
            # a stale map: both shards swapped, as after resharding
            stale = ShardMap(
                [
                    (real.ids[1], real.starts[0], real.ends[0]),
                    (real.ids[0], real.starts[1], real.ends[1]),
                ]
            )
            acc.remap(stale, time.monotonic())
            futures = [await producer.put(b"x", f"k{i}") for i in range(50)]
            await producer.flush()
            for _ in range(50):
                if acc.shard_map.version > 0:
                    break
                await asyncio.sleep(0.02)
            assert acc.shard_map.ids == real.ids and acc.shard_map.version > 0
            for i, f in enumerate(futures):
                assert (await f).shard_id == real.shard_id(partition_hash(f"k{i}"))

    asyncio.run(main())


def test_missing_stream_fails_at_start(endpoint: str) -> None:
    producer = ordered_producer("no-such-stream", endpoint)
    with pytest.raises(StreamNotFoundError):
        asyncio.run(producer.start())


def test_sync_put_blocks_while_full_then_raises(faults: FaultServer) -> None:
    faults.set_faults({"PutRecords": {"latency_ms": 400}})
    _, stream = new_stream(faults.endpoint, 1)
    config = ProducerConfig(
        linger=0.0, max_buffered_records=5, put_timeout=0.15, aggregation=False, rate_limit=None
    )
    with SyncProducer(stream, endpoint_url=faults.endpoint, region=REGION, config=config) as p:
        futures = [p.put(b"x", f"k{i}") for i in range(5)]
        started = time.monotonic()
        with pytest.raises(BufferFullError):
            p.put(b"x", "k-over")
        assert time.monotonic() - started >= 0.15
        p.flush()
        assert all(f.result(timeout=0).attempts == 1 for f in futures)


def test_resharding_refreshes_the_map_and_loses_nothing(endpoint: str) -> None:
    client, stream = new_stream(endpoint, 2)
    producer = ordered_producer(stream, endpoint, aggregation=False, shard_map_min_refresh=0.0)

    async def main() -> None:
        async with producer:
            await _write(producer, 200)
            await producer.flush()
            client.update_shard_count(
                StreamName=stream, TargetShardCount=4, ScalingType="UNIFORM_SCALING"
            )
            client.get_waiter("stream_exists").wait(
                StreamName=stream, WaiterConfig={"Delay": 0.1, "MaxAttempts": 100}
            )
            futures = [await producer.put(*_record(k, 1000 + k)) for k in range(KEYS)]
            await producer.flush()
            for _ in range(100):  # the first results name unexpected shards: a refresh follows
                if producer._acc is not None and len(producer._acc.shard_map) == 4:
                    break
                await asyncio.sleep(0.02)
            assert all(f.exception() is None for f in futures)
            acc = producer._acc
            assert acc is not None and len(acc.shard_map) == 4 and acc.shard_map.version > 0
            late = [await producer.put(*_record(k, 2000 + k)) for k in range(KEYS)]
            await producer.flush()
            for k, f in enumerate(late):  # after the refresh, routing predicts the child shard
                res = await f
                assert res.shard_id == acc.shard_map.shard_id(partition_hash(_record(k, 0)[1]))

    asyncio.run(main())
    records = read_user_records(client, stream)
    assert len(records) == 200 + 2 * KEYS
