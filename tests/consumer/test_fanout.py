"""The consumer with enhanced fan-out (``fan_out=NAME``): SubscribeToShard against a real server.

Most tests run on a server of their own whose subscriptions end after 0.5 s
(``--testing-subscription-max-s``) with AWS's limits on, so that resubscription with the
continuation sequence number, and the 1 call/s per consumer and shard, happen many times a test.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import subprocess
import sys
import threading
import time
import urllib.request
from collections import defaultdict
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from botocore.config import Config as BotoConfig
from click.testing import CliRunner

from shardflow.cli.main import main
from shardflow.consumer import AsyncConsumer, MemoryCheckpointStore, ReadError, Record, SyncConsumer
from shardflow.model.kpl import aggregate
from tests.conftest import REGION, make_client
from tests.consumer.support import REPO, create_stream, fill
from tests.support import ServerProcess, server_of_its_own

SUBSCRIPTION_S = 0.5


@pytest.fixture(scope="module")
def short(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    """Subscriptions of 0.5 s, AWS's limits on (1 SubscribeToShard call/s per shard)."""
    yield from server_of_its_own(
        tmp_path_factory.mktemp("fanout-server") / "data",
        "--testing-subscription-max-s",
        str(SUBSCRIPTION_S),
        limits=True,
    )


def _write(kinesis: Any, stream: str, keys: int, seqs: range, pause: float = 0.0) -> None:
    """One record per key and counter, counters in order per key (a round per counter)."""
    for seq in seqs:
        entries = [
            {
                "PartitionKey": f"k{k:03d}",
                "Data": json.dumps({"key": f"k{k:03d}", "seq": seq}).encode(),
            }
            for k in range(keys)
        ]
        assert kinesis.put_records(StreamName=stream, Records=entries)["FailedRecordCount"] == 0
        if pause:
            time.sleep(pause)


def _by_key(records: list[Record]) -> dict[str, list[int]]:
    out: dict[str, list[int]] = defaultdict(list)
    for r in records:
        event = json.loads(r.data)
        out[event["key"]].append(event["seq"])
    return out


def _check_exact(records: list[Record], keys: int, per_key: int) -> None:
    """Every key's counters 1..per_key, once each, in order."""
    seen = _by_key(records)
    assert len(seen) == keys
    for key, seqs in seen.items():
        assert seqs == list(range(1, per_key + 1)), key


async def _read(stream: str, expected: int, timeout: float, **options: Any) -> list[Record]:
    records: list[Record] = []
    options.setdefault("store", MemoryCheckpointStore())
    async with AsyncConsumer(stream, region=REGION, **options) as consumer:
        async with asyncio.timeout(timeout):
            async for batch in consumer:
                records += batch.records
                if len(records) >= expected:
                    break
    return records


def _subscribed(caplog: pytest.LogCaptureFixture) -> dict[str, list[str]]:
    """Shard -> the starting position of each subscription, from the consumer's debug log."""
    out: dict[str, list[str]] = defaultdict(list)
    for rec in caplog.records:
        if rec.name == "shardflow.consumer" and "subscribed at" in rec.getMessage():
            shard, _, position = rec.getMessage().partition(": subscribed at ")
            out[shard].append(position)
    return out


def test_reads_everything_in_order_across_resubscriptions(
    short: ServerProcess, stream_name: str, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG, logger="shardflow.consumer")
    kinesis = make_client(short.endpoint)
    create_stream(kinesis, stream_name, 4)
    keys, before, during = 12, 20, 30
    fill(kinesis, stream_name, keys=keys, per_key=before, aggregate_every=4)
    # More is written while reading, over many 0.5 s subscriptions.
    writer = threading.Thread(
        target=_write,
        args=(kinesis, stream_name, keys, range(before + 1, before + during + 1), 0.1),
    )
    writer.start()
    try:
        records = asyncio.run(
            _read(
                stream_name,
                keys * (before + during),
                60,
                endpoint_url=short.endpoint,
                fan_out="fo-order",
                start="trim-horizon",
            )
        )
    finally:
        writer.join()
    _check_exact(records, keys, before + during)  # no gap, no duplicate, in order
    assert any(r.aggregated for r in records)
    subscribed = _subscribed(caplog)
    assert len(subscribed) == 4
    for shard, positions in subscribed.items():
        # several subscriptions, each after the last one's continuation, none refused
        assert len(positions) >= 3, (shard, positions)
        assert "TRIM_HORIZON" in positions[0]
        assert all("AFTER_SEQUENCE_NUMBER" in p for p in positions[1:]), positions
    messages = " ".join(r.getMessage() for r in caplog.records)
    assert "LimitExceededException" not in messages  # paced to 1 call/s per shard
    assert "ResourceInUseException" not in messages


def test_resumes_inside_an_aggregate_after_a_checkpoint(
    short: ServerProcess, stream_name: str
) -> None:
    kinesis = make_client(short.endpoint)
    create_stream(kinesis, stream_name, 1)
    events = [("k", json.dumps({"key": "k", "seq": n}).encode()) for n in range(1, 6)]
    kinesis.put_record(StreamName=stream_name, PartitionKey="k", Data=aggregate(events))
    _write(kinesis, stream_name, 1, range(1, 4))  # key k000, plain records
    store = MemoryCheckpointStore()
    options: dict[str, Any] = {"endpoint_url": short.endpoint, "fan_out": "fo-resume"}

    async def first() -> None:
        async with AsyncConsumer(
            stream_name, store=store, region=REGION, auto_checkpoint=False, **options
        ) as consumer:
            batch = await anext(aiter(consumer))
            assert [r.subsequence_number for r in batch.records[:5]] == [0, 1, 2, 3, 4]
            await consumer.checkpoint(batch.records[2])  # inside the aggregate

    asyncio.run(first())
    rest = asyncio.run(_read(stream_name, 5, 30, store=store, stop_at_tip=True, **options))
    assert [(r.partition_key, r.subsequence_number) for r in rest] == [
        ("k", 3),
        ("k", 4),
        ("k000", 0),
        ("k000", 0),
        ("k000", 0),
    ]


def test_children_are_read_after_their_parent(short: ServerProcess, stream_name: str) -> None:
    kinesis = make_client(short.endpoint)
    create_stream(kinesis, stream_name, 1)
    keys = 8
    _write(kinesis, stream_name, keys, range(1, 21))
    kinesis.split_shard(
        StreamName=stream_name,
        ShardToSplit="shardId-000000000000",
        NewStartingHashKey=str(2**127),
    )
    kinesis.get_waiter("stream_exists").wait(
        StreamName=stream_name, WaiterConfig={"Delay": 0.1, "MaxAttempts": 100}
    )
    _write(kinesis, stream_name, keys, range(21, 31))  # the same keys go on in the children
    records = asyncio.run(
        _read(
            stream_name,
            keys * 30,
            60,
            endpoint_url=short.endpoint,
            fan_out="fo-split",
            stop_at_tip=True,
        )
    )
    _check_exact(records, keys, 30)
    shards = [r.shard_id for r in records]
    assert set(shards) == {f"shardId-00000000000{i}" for i in range(3)}
    last_parent = max(i for i, s in enumerate(shards) if s == "shardId-000000000000")
    assert last_parent == keys * 20 - 1  # every parent record came before any child's


def test_backs_off_while_another_subscription_holds_the_shard(
    endpoint: str, stream_name: str, caplog: pytest.LogCaptureFixture
) -> None:
    """AWS refuses a second subscription for 5 s (ResourceInUseException), then lets it take
    over; the consumer backs off until then (the session server keeps subscriptions 5 min)."""
    caplog.set_level(logging.INFO, logger="shardflow.consumer")
    kinesis = make_client(endpoint)
    create_stream(kinesis, stream_name, 1)
    _write(kinesis, stream_name, 4, range(1, 11))
    arn = kinesis.describe_stream_summary(StreamName=stream_name)["StreamDescriptionSummary"][
        "StreamARN"
    ]
    consumer_arn = kinesis.register_stream_consumer(StreamARN=arn, ConsumerName="fo-busy")[
        "Consumer"
    ]["ConsumerARN"]
    other = kinesis.subscribe_to_shard(
        ConsumerARN=consumer_arn,
        ShardId="shardId-000000000000",
        StartingPosition={"Type": "LATEST"},
    )["EventStream"]
    ended: list[str] = []

    def drain() -> None:
        try:
            for _ in other:
                pass
        except Exception as exc:  # the takeover ends this stream with an error event
            ended.append(str(exc))

    drainer = threading.Thread(target=drain)
    drainer.start()
    held_since = time.monotonic()
    try:
        records = asyncio.run(
            _read(stream_name, 40, 60, endpoint_url=endpoint, fan_out="fo-busy", stop_at_tip=True)
        )
        took = time.monotonic() - held_since
    finally:
        # the takeover ends the other stream with an error event: let the drainer read it
        # before closing (closing first raced it on a loaded machine: "'NoneType' ... 'read'")
        drainer.join(10)
        other.close()
    _check_exact(records, 4, 10)
    assert took >= 4.5  # not before AWS's 5 s
    messages = [r.getMessage() for r in caplog.records if r.name == "shardflow.consumer"]
    assert any("ResourceInUseException" in m and "subscribing again" in m for m in messages)
    assert ended and "ResourceInUseException" in ended[0]


def test_backs_off_on_limit_exceeded(
    short: ServerProcess, stream_name: str, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="shardflow.consumer")
    kinesis = make_client(short.endpoint)
    create_stream(kinesis, stream_name, 2)
    _write(kinesis, stream_name, 6, range(1, 21))
    plan = {"seed": 5, "operations": {"SubscribeToShard": {"limit": 0.8}}}
    _faults(short, "POST", plan)
    try:
        records = asyncio.run(
            _read(
                stream_name,
                120,
                60,
                endpoint_url=short.endpoint,
                fan_out="fo-limit",
                stop_at_tip=True,
            )
        )
    finally:
        _faults(short, "DELETE")
    _check_exact(records, 6, 20)
    messages = [r.getMessage() for r in caplog.records if r.name == "shardflow.consumer"]
    assert any("LimitExceededException" in m and "subscribing again" in m for m in messages)


def _faults(server: ServerProcess, method: str, plan: dict[str, Any] | None = None) -> None:
    body = json.dumps(plan).encode() if plan is not None else None
    request = urllib.request.Request(server.endpoint + "/_shardflow/faults", body, method=method)
    with urllib.request.urlopen(request, timeout=5) as response:
        assert response.status == 200


def test_close_is_prompt_and_deregisters_only_when_asked(endpoint: str, stream_name: str) -> None:
    kinesis = make_client(endpoint)
    create_stream(kinesis, stream_name, 2)
    arn = kinesis.describe_stream_summary(StreamName=stream_name)["StreamDescriptionSummary"][
        "StreamARN"
    ]

    async def run(**options: Any) -> float:
        consumer = AsyncConsumer(
            stream_name,
            store=MemoryCheckpointStore(),
            endpoint_url=endpoint,
            region=REGION,
            fan_out="fo-keep",
            start="latest",
            **options,
        )
        await consumer.start()
        await asyncio.sleep(1.0)  # both shards subscribed, waiting for records
        assert consumer.owned_shards == ["shardId-000000000000", "shardId-000000000001"]
        started = time.monotonic()
        await consumer.close()
        return time.monotonic() - started

    assert asyncio.run(run()) < 2.0  # not waiting for the next 5 s heartbeat
    described = kinesis.describe_stream_consumer(StreamARN=arn, ConsumerName="fo-keep")
    assert described["ConsumerDescription"]["ConsumerStatus"] == "ACTIVE"
    asyncio.run(run(deregister_on_close=True))
    with pytest.raises(kinesis.exceptions.ResourceNotFoundException):
        kinesis.describe_stream_consumer(StreamARN=arn, ConsumerName="fo-keep")


def test_tail_and_verify_take_fan_out(endpoint: str, stream_name: str) -> None:
    kinesis = make_client(endpoint)
    create_stream(kinesis, stream_name, 2)
    fill(kinesis, stream_name, keys=5, per_key=12, aggregate_every=3)
    common = ["--endpoint-url", endpoint, "--region", REGION, "--fan-out", "fo-cli"]
    result = CliRunner().invoke(main, ["verify", stream_name, *common])
    assert result.exit_code == 0, result.output
    assert "60 records" in result.output and "OK: every key in order" in result.output
    result = CliRunner().invoke(
        main, ["tail", stream_name, "--from", "trim-horizon", "--max-records", "60", *common]
    )
    assert result.exit_code == 0, result.output
    lines = [json.loads(line) for line in result.output.splitlines()]
    assert len(lines) == 60 and {line["partitionKey"] for line in lines} == {
        f"k{k:03d}" for k in range(5)
    }
    result = CliRunner().invoke(main, ["verify", stream_name, "--deregister", *common[:4]])
    assert result.exit_code == 2 and "--deregister goes with --fan-out" in result.output


def test_fan_out_over_https(tls_server: ServerProcess, stream_name: str) -> None:
    """boto3 over HTTPS (HTTP/1.1) to `serve --tls`: the library and the CLI."""
    ca = str(tls_server.ca_file)
    client = boto3.client(
        "kinesis",
        endpoint_url=tls_server.endpoint,
        region_name=REGION,
        aws_access_key_id="AKIDTEST",
        aws_secret_access_key="secret",
        verify=ca,
        config=BotoConfig(retries={"total_max_attempts": 1, "mode": "standard"}),
    )
    create_stream(client, stream_name, 2)
    fill(client, stream_name, keys=6, per_key=15, aggregate_every=5)
    records = asyncio.run(_read(stream_name, 90, 30, client=client, fan_out="fo-tls"))
    _check_exact(records, 6, 15)
    env = {**os.environ, "AWS_CA_BUNDLE": ca}
    done = subprocess.run(
        [
            *(sys.executable, "-m", "shardflow", "verify", stream_name, "--fan-out", "fo-tls"),
            *("--endpoint-url", tls_server.endpoint, "--region", REGION, "--json"),
        ],
        cwd=REPO,
        env=env,
        capture_output=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr.decode()
    report = json.loads(done.stdout)
    assert report["records"] == 90 and report["missing"] == 0 and report["order_violations"] == 0


def test_fan_out_settings_are_checked() -> None:
    with pytest.raises(ValueError, match="deregister_on_close applies to fan_out only"):
        AsyncConsumer("s", deregister_on_close=True)
    with pytest.raises(ValueError, match="fan_out must name"):
        AsyncConsumer("s", fan_out="")


def test_blocking_consumer_reads_with_fan_out_and_deregisters(
    endpoint: str, stream_name: str
) -> None:
    kinesis = make_client(endpoint)
    create_stream(kinesis, stream_name, 2)
    fill(kinesis, stream_name, keys=4, per_key=10)
    with SyncConsumer(
        stream_name,
        store=MemoryCheckpointStore(),
        endpoint_url=endpoint,
        region=REGION,
        fan_out="fo-sync",
        stop_at_tip=True,
    ) as consumer:
        records = list(consumer.records())
        arn = consumer.consumer_arn
        assert arn is not None and "/consumer/fo-sync:" in arn
        consumer.deregister_stream_consumer()
    _check_exact(records, 4, 10)
    with pytest.raises(kinesis.exceptions.ResourceNotFoundException):
        kinesis.describe_stream_consumer(ConsumerARN=arn)


def test_a_deregistered_stream_consumer_stops_the_reading(endpoint: str, stream_name: str) -> None:
    kinesis = make_client(endpoint)
    create_stream(kinesis, stream_name, 1)

    async def run() -> None:
        async with AsyncConsumer(
            stream_name,
            store=MemoryCheckpointStore(),
            endpoint_url=endpoint,
            region=REGION,
            fan_out="fo-gone",
            start="latest",
        ) as consumer:
            assert consumer.consumer_arn is not None
            kinesis.deregister_stream_consumer(ConsumerARN=consumer.consumer_arn)
            async with asyncio.timeout(30):
                async for _ in consumer:
                    pass

    # not StreamNotFound ("create the stream first"): the stream is there, its consumer is not
    with pytest.raises(ReadError, match="ResourceNotFoundException"):
        asyncio.run(run())
