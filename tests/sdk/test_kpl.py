"""The Kinesis Producer Library against Shardflow: 100,000 aggregated taxi events over TLS.

clients/kpl hands every event to the KPL, whose native daemon (shipped in the KPL jar) packs
them into KPL aggregated records and sends them with PutRecords over HTTPS to
``shardflow serve --tls``, trusting the server's local CA (KPL settings KinesisEndpoint,
KinesisPort, VerifyCertificate, CaCertFile; metrics off). Shardflow's own consumer then reads the
stream back, deaggregating: every event must be there, once, where the KPL was told it went, each
shard in the order it was stored. (The KPL itself does not keep a key's order: see below.)
"""

from __future__ import annotations

import asyncio
import base64
import datetime as dt
import itertools
import json
import uuid
from collections import Counter, defaultdict
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest
from aws_kinesis_agg.deaggregator import deaggregate_records
from botocore.config import Config as BotoConfig

from shardflow.consumer import AsyncConsumer, MemoryCheckpointStore, Record
from shardflow.workloads.taxi import TaxiTrips
from tests.sdk.kcl_java import CLIENTS, JavaProcess, build
from tests.support import ServerProcess, server_of_its_own

pytestmark = [pytest.mark.sdk, pytest.mark.timeout(600)]

EVENTS = 100_000
SHARDS = 4
KPL_TIMEOUT_S = 300.0  # the KPL sends in seconds; a loaded CI machine gets room
READ_TIMEOUT_S = 180.0
REGION = "us-east-1"
CREDENTIALS = {"aws_access_key_id": "AKIDKPLTEST", "aws_secret_access_key": "secret"}


@pytest.fixture(scope="module")
def kpl_classpath() -> list[str]:
    return build("kpl")


@pytest.fixture(scope="module")
def tls_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    # AWS's per-shard limits on: 40 MB into 4 shards takes the KPL its rate limiting and its
    # retries of throttled records, as against AWS.
    yield from server_of_its_own(tmp_path_factory.mktemp("kpl-tls") / "data", "--tls", limits=True)


def test_kpl_aggregated_taxi_events_all_read_back(
    kpl_classpath: list[str],
    tls_server: ServerProcess,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("AWS_CA_BUNDLE", str(tls_server.ca_file))
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", CREDENTIALS["aws_access_key_id"])
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", CREDENTIALS["aws_secret_access_key"])
    kinesis = boto3.client(
        "kinesis",
        endpoint_url=tls_server.endpoint,
        region_name=REGION,
        config=BotoConfig(retries={"mode": "standard", "total_max_attempts": 20}),
    )
    stream = f"kpl-{uuid.uuid4().hex[:8]}"
    kinesis.create_stream(StreamName=stream, ShardCount=SHARDS)
    kinesis.get_waiter("stream_exists").wait(StreamName=stream, WaiterConfig={"Delay": 0.2})

    # The lab's taxi events, keyed by taxi: a taxi's taxiSeq counts 1, 2, 3 … in write order.
    trips = TaxiTrips(seed=13, start=dt.datetime(2026, 1, 1))
    events = trips.take(EVENTS)
    events_file = tmp_path / "events.tsv"
    with events_file.open("w") as f:
        for e in events:
            f.write(f"{e.partition_key}\t{e.data.decode()}\n")

    results_file = tmp_path / "results.tsv"
    native = CLIENTS / "kpl" / "target" / "kpl-native"  # the daemon is unpacked once, then reused
    native.mkdir(parents=True, exist_ok=True)
    kpl = JavaProcess(
        kpl_classpath,
        "dev.shardflow.kpl.KplApp",
        [
            *("--stream", stream, "--host", "127.0.0.1", "--port", str(tls_server.port)),
            *("--ca", str(tls_server.ca_file), "--events", str(events_file)),
            *("--out", str(results_file), "--temp", str(native)),
        ],
        tmp_path / "kpl.log",
    ).start()
    try:
        status = kpl.wait(KPL_TIMEOUT_S)
    finally:
        kpl.kill()
    assert status == 0, kpl.log_tail()

    # Every event acknowledged, each as part of a KPL record (several events per Kinesis record).
    acked = [line.split("\t") for line in results_file.read_text().splitlines()]
    assert len(acked) == EVENTS
    assert all(row[1] != "FAILED" for row in acked), [r for r in acked if r[1] == "FAILED"][:5]
    kinesis_records = {(row[1], row[2]) for row in acked}
    assert len(kinesis_records) < EVENTS / 10, "the KPL did not aggregate"

    # Read back by Shardflow's consumer, deaggregated.
    records = asyncio.run(asyncio.wait_for(read_all(stream, tls_server.endpoint), READ_TIMEOUT_S))
    assert len(records) == EVENTS
    # The KPL sends a lone record plainly, not as an aggregate of one; nearly all were packed.
    plain = [r for r in records if not r.aggregated]
    assert len(plain) < EVENTS / 100, f"{len(plain)} events arrived unaggregated"
    assert Counter(r.data for r in records) == Counter(e.data for e in events)
    in_write_order = records_in_write_order(records, events)
    for r, (shard, seq) in zip(in_write_order, acked_positions(acked), strict=True):
        assert (r.shard_id, r.sequence_number) == (shard, seq)

    # Order. Each shard reads back exactly as stored: the same user records, in the same order,
    # as an independent reader finds them (boto3's GetRecords unpacked by aws-kinesis-agg).
    read_order: dict[str, list[bytes]] = defaultdict(list)
    shards_of_key: dict[str, set[str]] = defaultdict(set)
    for r in records:
        assert r.partition_key == json.loads(r.data)["taxiId"]
        read_order[r.shard_id].append(r.data)
        shards_of_key[r.partition_key].add(r.shard_id)
    assert read_order == stored_order(kinesis, stream)
    assert all(len(shards) == 1 for shards in shards_of_key.values())
    # The KPL does not keep a key's order (awslabs/amazon-kinesis-producer#135, #23): its daemon
    # aggregates records taken from its queue by several threads, so a taxi's later trip may sit
    # before an earlier one even inside one aggregated record. Shardflow stores and returns the
    # order the KPL chose, which is what the check above pins; the count says how far it is off.
    late = sum(
        1
        for trips in per_key(read_order).values()
        for earlier, later in itertools.pairwise(trips)
        if later < earlier
    )
    retried = sum(int(row[3]) > 1 for row in acked)
    print(f"KPL: {retried} events retried after throttling; {late} stored after a later trip")


def stored_order(kinesis: Any, stream: str) -> dict[str, list[bytes]]:
    """Shard -> its user records' data, read with boto3 and unpacked by aws-kinesis-agg."""
    order: dict[str, list[bytes]] = {}
    for shard in kinesis.list_shards(StreamName=stream)["Shards"]:
        shard_id = shard["ShardId"]
        iterator = kinesis.get_shard_iterator(
            StreamName=stream, ShardId=shard_id, ShardIteratorType="TRIM_HORIZON"
        )["ShardIterator"]
        data: list[bytes] = []
        while iterator:
            page = kinesis.get_records(ShardIterator=iterator, Limit=1000)
            events = [
                {
                    "kinesis": {
                        "kinesisSchemaVersion": "1.0",
                        "partitionKey": r["PartitionKey"],
                        "sequenceNumber": r["SequenceNumber"],
                        "data": base64.b64encode(r["Data"]).decode(),
                        "approximateArrivalTimestamp": 1.0,
                    }
                }
                for r in page["Records"]
            ]
            data += [base64.b64decode(u["kinesis"]["data"]) for u in deaggregate_records(events)]
            if not page["Records"] and page.get("MillisBehindLatest", 0) == 0:
                break
            iterator = page.get("NextShardIterator")
        order[shard_id] = data
    return order


def per_key(read_order: dict[str, list[bytes]]) -> dict[str, list[int]]:
    """taxiId -> its trips' taxiSeq, in stored order."""
    trips: dict[str, list[int]] = defaultdict(list)
    for data in read_order.values():
        for blob in data:
            body = json.loads(blob)
            trips[body["taxiId"]].append(body["taxiSeq"])
    return trips


async def read_all(stream: str, endpoint: str) -> list[Record]:
    """Every user record in the stream, from the trim horizon to the tip."""
    records: list[Record] = []
    consumer = AsyncConsumer(
        stream,
        store=MemoryCheckpointStore(),
        endpoint_url=endpoint,
        region=REGION,
        start="trim-horizon",
        stop_at_tip=True,
    )
    async with consumer:
        async for batch in consumer:
            records.extend(batch.records)
    return records


def records_in_write_order(records: list[Record], events: list[Any]) -> list[Record]:
    """The records read, reordered like the events written (each event's data is unique)."""
    by_data = {r.data: r for r in records}
    return [by_data[e.data] for e in events]


def acked_positions(acked: list[list[str]]) -> Iterator[tuple[str, str]]:
    for row in acked:
        yield row[1], row[2]
