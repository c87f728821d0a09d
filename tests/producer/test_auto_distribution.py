"""The producer and the consumer on ON_DEMAND streams with RecordDistributionStrategy AUTO, over
HTTP: the producer learns the strategy (DescribeStreamSummary, or, when that fails, from where
records land), writes every record once wherever the stream puts it and notices a switch either
way; the consumer keeps every user record of an aggregate there; verify asks no per-key order.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections import Counter
from collections.abc import Iterator
from typing import Any

import pytest
from click.testing import CliRunner

from shardflow.cli.main import main as cli
from shardflow.consumer import AsyncConsumer, MemoryCheckpointStore
from shardflow.model.kpl import AggregateBuilder
from shardflow.producer import AsyncProducer, ProducerConfig, RecordResult
from shardflow.producer.direct import PutRecordWriter
from tests.conftest import make_client
from tests.helpers import (
    StreamPool,
    key_for_shard,
    md5_hash_key,
    shard_id,
    shard_index_for,
    stream_arn,
    stream_pool,
)
from tests.producer.conftest import REGION, FaultServer, read_user_records

ON_DEMAND = {"StreamMode": "ON_DEMAND"}
SHARDS = 4  # an ON_DEMAND stream starts with 4
KEYS = ["red", "green", "blue"]  # few keys: on AUTO they still reach every shard
ALL_SHARDS = {shard_id(i) for i in range(SHARDS)}


@pytest.fixture
def streams(kinesis: Any) -> Iterator[StreamPool]:
    with stream_pool(kinesis) as pool:
        yield pool


def _auto(streams: StreamPool) -> str:
    return streams.create(StreamModeDetails=ON_DEMAND, RecordDistributionStrategy="AUTO")


def _set(kinesis: Any, name: str, strategy: str) -> None:
    kinesis.update_stream_record_distribution_strategy(
        StreamARN=stream_arn(name), RecordDistributionStrategy=strategy
    )


def _home(key: str) -> str:
    return shard_id(shard_index_for(md5_hash_key(key), SHARDS))


def _event(batch: str, i: int, key: str) -> bytes:
    return json.dumps({"batch": batch, "k": key, "seq": i}).encode()


def _producer(name: str, endpoint: str, **config: Any) -> AsyncProducer:
    config = {"linger": 0.02, "shard_map_min_refresh": 0.0, **config}
    return AsyncProducer(
        name, endpoint_url=endpoint, region=REGION, config=ProducerConfig(**config)
    )


async def _put(
    producer: AsyncProducer, batch: str, count: int, keys: list[str]
) -> list[RecordResult]:
    futures = []
    for i in range(count):
        key = keys[i % len(keys)]
        futures.append(await producer.put(_event(batch, i, key), key))
    await producer.flush()
    return [await f for f in futures]


def _next_shard(kinesis: Any, name: str) -> str:
    """Where AUTO's round robin puts the next record: after the shard a probe lands on."""
    probe = kinesis.put_record(StreamName=name, Data=b"probe", PartitionKey="probe")
    return shard_id((int(probe["ShardId"].rsplit("-", 1)[1]) + 1) % SHARDS)


def _aggregates(count: int, per: int) -> tuple[list[dict[str, Any]], list[bytes]]:
    """Aggregates as a producer routing by key writes them (partition key "a", the explicit hash
    key of the first record), each holding keys of every shard's range: wherever one lands,
    most of its records are outside that shard's range."""
    keys = [key_for_shard(i, SHARDS, prefix="agg") for i in range(SHARDS)]
    entries, datas = [], []
    for a in range(count):
        builder = AggregateBuilder(1_000_000)
        for i in range(per):
            data = _event(f"agg{a}", i, keys[i % SHARDS])
            assert builder.try_add(keys[i % SHARDS], data, None)
            datas.append(data)
        ehk = str(md5_hash_key(keys[0]))
        entries.append({"Data": builder.encode(), "PartitionKey": "a", "ExplicitHashKey": ehk})
    return entries, datas


async def _read_all(name: str, endpoint: str) -> Counter[bytes]:
    consumer = AsyncConsumer(
        name,
        store=MemoryCheckpointStore(),
        endpoint_url=endpoint,
        region=REGION,
        stop_at_tip=True,
        read_limits=False,
    )
    async with consumer:
        assert consumer.record_distribution in ("AUTO", "USER_PARTITION_KEY")
        return Counter([r.data async for r in consumer.records()])


@pytest.mark.parametrize("ordered", [True, False], ids=["ordered", "unordered"])
@pytest.mark.parametrize("aggregation", [True, False], ids=["aggregation", "plain"])
def test_each_record_written_once_over_every_shard(
    endpoint: str,
    kinesis: Any,
    streams: StreamPool,
    caplog: pytest.LogCaptureFixture,
    aggregation: bool,
    ordered: bool,
) -> None:
    name = _auto(streams)
    count = 2000
    producer = _producer(name, endpoint, aggregation=aggregation, ordered=ordered)

    async def main() -> tuple[list[RecordResult], dict[str, Any]]:
        async with producer:
            assert producer.record_distribution == "AUTO"
            results = await _put(producer, "x", count, KEYS)
            return results, producer.stats()

    with caplog.at_level(logging.WARNING, logger="shardflow.producer"):
        results, stats = asyncio.run(main())
    warned = [r for r in caplog.records if "AUTO" in r.getMessage()]
    assert bool(warned) == ordered  # ordered mode says it cannot keep key order here
    # no prediction, so nothing "landed wrong": one attempt each, no resends, no errors
    assert all(r.attempts == 1 for r in results)
    assert stats["UserRecordsPut"] == count and stats["RetriesPerRecord"] == 0
    assert stats["AllErrors"] == 0 and stats["Requests"] <= count // 100
    assert stats["KinesisRecordsPut"] == count  # never aggregated on AUTO (AWS: not supported)
    placed = Counter(r.shard_id for r in results)
    assert set(placed) == ALL_SHARDS and max(placed.values()) - min(placed.values()) <= 1
    written = {_event("x", i, KEYS[i % 3]): r for i, r in enumerate(results)}
    stored = read_user_records(kinesis, name)
    assert len(stored) == count
    for rec in stored:
        result = written.pop(rec["data"])
        assert (rec["shard"], rec["seq"]) == (result.shard_id, result.sequence_number)
        assert rec["key"] == json.loads(rec["data"])["k"]  # the key is kept, though unused
    assert not written


def test_consumer_keeps_every_record_of_an_aggregate(
    endpoint: str, kinesis: Any, streams: StreamPool
) -> None:
    auto, by_key = _auto(streams), streams.create(StreamModeDetails=ON_DEMAND)
    entries, datas = _aggregates(count=8, per=40)
    for name in (auto, by_key):
        assert kinesis.put_records(StreamName=name, Records=entries)["FailedRecordCount"] == 0

    async def main() -> tuple[Counter[bytes], Counter[bytes]]:
        async with _producer(auto, endpoint, aggregation=True) as producer:
            await _put(producer, "p", 500, KEYS)
        return await _read_all(auto, endpoint), await _read_all(by_key, endpoint)

    on_auto, on_by_key = asyncio.run(main())
    plain = {_event("p", i, KEYS[i % 3]) for i in range(500)}
    assert on_auto == Counter(datas) + Counter(plain)  # all of them, once each
    # routed by key, the aggregates land on their first key's shard; the records of the other
    # shards' keys are dropped there, as the KCL drops them
    assert on_by_key == Counter(d for i, d in enumerate(datas) if i % SHARDS == 0)


def test_switch_to_auto_while_writing(endpoint: str, kinesis: Any, streams: StreamPool) -> None:
    name = streams.create(StreamModeDetails=ON_DEMAND)
    producer = _producer(name, endpoint, aggregation=True, ordered=True)
    key = ""

    async def main() -> tuple[list[RecordResult], ...]:
        nonlocal key
        async with producer:
            assert producer.record_distribution == "USER_PARTITION_KEY"
            before = await _put(producer, "a", 400, KEYS)
            _set(kinesis, name, "AUTO")
            # one aggregate of a key whose shard is not the next one AUTO picks: it lands
            # "wrong", the refresh that follows learns AUTO and writes its records again
            nxt = _next_shard(kinesis, name)
            key = next(k for k in KEYS if _home(k) != nxt)
            during = await _put(producer, "b", 50, [key])
            assert producer.record_distribution == "AUTO"
            assert producer.metrics.retries == 50
            after = await _put(producer, "c", 400, KEYS)
            assert producer.metrics.retries == 50  # nothing more was sent twice
            return before, during, after

    before, during, after = asyncio.run(main())
    assert all(r.shard_id == _home(KEYS[i % 3]) for i, r in enumerate(before))
    assert {r.shard_id for r in after} == ALL_SHARDS
    assert all(r.attempts == 1 for r in before + during + after)
    read = asyncio.run(_read_all(name, endpoint))
    del read[b"probe"]
    # The consumer keeps every record of an aggregate on an AUTO stream, so the records of the
    # one that landed wrong come twice: its copy and the one written again (at least once; a
    # KCL-style reader drops the copies outside the shard's range).
    once = [_event(b, i, KEYS[i % 3]) for b in "ac" for i in range(400)]
    twice = [_event("b", i, key) for i in range(50)]
    assert read == Counter(once) + Counter(twice * 2)


def test_switch_back_to_keys_is_noticed(endpoint: str, kinesis: Any, streams: StreamPool) -> None:
    name = _auto(streams)
    producer = _producer(name, endpoint, aggregation=True, strategy_refresh=0.1)

    async def main() -> list[RecordResult]:
        async with producer:
            await _put(producer, "a", 100, KEYS)
            assert producer.record_distribution == "AUTO"
            _set(kinesis, name, "USER_PARTITION_KEY")
            for _ in range(100):  # nothing lands wrong on AUTO: the periodic check finds it
                if producer.record_distribution == "USER_PARTITION_KEY":
                    break
                await asyncio.sleep(0.05)
            assert producer.record_distribution == "USER_PARTITION_KEY"
            sent = producer.metrics.kinesis_records_put
            results = await _put(producer, "b", 300, KEYS)
            assert producer.metrics.kinesis_records_put - sent <= 2 * len(KEYS)  # aggregated
            assert producer.metrics.retries == 0
            return results

    results = asyncio.run(main())
    assert all(r.shard_id == _home(KEYS[i % 3]) for i, r in enumerate(results))


def test_strategy_inferred_when_describe_fails(faults: FaultServer) -> None:
    """Without DescribeStreamSummary (on AWS: no kinesis:DescribeStreamSummary permission) the
    producer routes by key until a record lands on a shard whose range lacks its hash key,
    which only a stream placing records itself does: then it stops predicting."""
    kinesis = make_client(faults.endpoint)
    with stream_pool(kinesis) as pool:
        name = _auto(pool)
        faults.set_faults({"DescribeStreamSummary": {"internal": 1.0}})
        producer = _producer(name, faults.endpoint, aggregation=True)

        async def main() -> None:
            async with producer:
                assert producer.record_distribution == "USER_PARTITION_KEY"
                nxt = _next_shard(kinesis, name)
                key = next(k for k in KEYS if _home(k) != nxt)
                await _put(producer, "b", 50, [key])
                assert producer.record_distribution == "AUTO"
                results = await _put(producer, "c", 400, KEYS)
                assert producer.metrics.retries == 50  # the lost aggregate's records only
                assert {r.shard_id for r in results} == ALL_SHARDS

        asyncio.run(main())


def test_consumer_notices_a_switch_to_auto(
    endpoint: str, kinesis: Any, streams: StreamPool
) -> None:
    name = streams.create(StreamModeDetails=ON_DEMAND)
    entries, datas = _aggregates(count=4, per=20)

    async def main() -> Counter[bytes]:
        consumer = AsyncConsumer(
            name,
            store=MemoryCheckpointStore(),
            endpoint_url=endpoint,
            region=REGION,
            read_limits=False,
            idle_interval=0.05,
            lease_duration=0.6,  # a coordination round every 0.2 s
            strategy_refresh=0.1,
        )
        seen: Counter[bytes] = Counter()
        async with consumer:
            assert consumer.record_distribution == "USER_PARTITION_KEY"
            await asyncio.to_thread(_set, kinesis, name, "AUTO")
            for _ in range(100):
                if consumer.record_distribution == "AUTO":
                    break
                await asyncio.sleep(0.05)
            assert consumer.record_distribution == "AUTO"
            await asyncio.to_thread(kinesis.put_records, StreamName=name, Records=entries)
            async with asyncio.timeout(10):
                async for record in consumer.records():
                    seen[record.data] += 1
                    if sum(seen.values()) == len(datas):
                        break
        return seen

    assert asyncio.run(main()) == Counter(datas)


def test_verify_does_not_ask_key_order_of_an_auto_stream(
    endpoint: str, kinesis: Any, streams: StreamPool
) -> None:
    name = _auto(streams)
    records = [
        {"Data": json.dumps({"taxiId": "t1", "taxiSeq": n}).encode(), "PartitionKey": "t1"}
        for n in range(1, 41)
    ]
    kinesis.put_records(StreamName=name, Records=records)  # spread: shard 0 has 1, 5, 9 ...
    args = ["verify", name, "--endpoint-url", endpoint, "--region", REGION]
    result = CliRunner().invoke(cli, args)
    assert result.exit_code == 0, result.output
    assert "(not an error: AUTO record distribution keeps no key order)" in result.output
    assert "missing (gaps)   0" in result.output
    assert result.output.rstrip().endswith("OK: nothing missing")
    result = CliRunner().invoke(cli, [*args, "--json"])
    report = json.loads(result.output)
    assert report["order_violations"] > 0 and report["key_order"] is False and report["ok"]


def test_put_record_writer_stops_chaining_on_auto(kinesis: Any, streams: StreamPool) -> None:
    """AUTO refuses SequenceNumberForOrdering: the writer leaves it out there, from the start
    or from the call that finds the stream switched."""
    name = _auto(streams)
    writer = PutRecordWriter(kinesis, name)
    assert {writer.put(b"x", "k")["ShardId"] for _ in range(8)} == ALL_SHARDS
    name = streams.create(StreamModeDetails=ON_DEMAND)
    writer = PutRecordWriter(kinesis, name)
    assert {writer.put(b"x", "k")["ShardId"] for _ in range(3)} == {_home("k")}  # chained
    _set(kinesis, name, "AUTO")
    assert {writer.put(b"y", "k")["ShardId"] for _ in range(8)} == ALL_SHARDS
    assert writer.stats.records == 11
