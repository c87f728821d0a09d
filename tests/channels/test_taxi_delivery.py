"""The issue's demonstration: one ON_DEMAND stream with an S3 channel and an Iceberg channel,
taxi events produced, and every one of them in the S3 objects and in the table (counted by
DuckDB, each taxi's trips once and in order); then ``kill -9`` mid-delivery and a restart,
and the table still holds each event exactly once.

``SHARDFLOW_CHANNEL_TAXI_EVENTS`` sets how many events (default 5,000; 50,000 was run once
for docs/channels.md)."""

from __future__ import annotations

import os
import time
import uuid
from collections import Counter
from pathlib import Path
from typing import Any

import pytest

from shardflow.workloads.taxi import TaxiTrips
from tests.channels.conftest import (
    channel_server_args,
    create_s3_channel,
    create_table_channel,
    eventually,
    wait_status,
)
from tests.channels.lake import check_taxis, load_table, table_count
from tests.conftest import make_client
from tests.consumer.dynamodb import DynamoDBServer
from tests.support import ServerProcess

EVENTS = int(os.environ.get("SHARDFLOW_CHANNEL_TAXI_EVENTS", "5000"))


def produce(kinesis: Any, stream: str, count: int, seed: int) -> Counter[str]:
    """``count`` taxi events by PutRecords; the number of trips per taxi."""
    trips = TaxiTrips(seed=seed, taxis=200).take(count)
    for start in range(0, count, 500):
        batch = trips[start : start + 500]
        pending = [{"Data": t.data, "PartitionKey": t.partition_key} for t in batch]
        out = kinesis.put_records(StreamName=stream, Records=pending)
        assert out["FailedRecordCount"] == 0
    return Counter(t.taxi_id for t in trips)


def s3_lines(s3: Any, bucket: str) -> int:
    pages = s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix="kinesis-channel/")
    keys = [o["Key"] for page in pages for o in page.get("Contents", [])]
    return sum(s3.get_object(Bucket=bucket, Key=k)["Body"].read().count(b"\n") for k in keys)


def test_both_channels_hold_every_taxi_event(
    kinesis: Any, s3: Any, bucket: str, on_demand: dict[str, Any], warehouse: Path
) -> None:
    table = f"trips_{uuid.uuid4().hex[:8]}"
    s3_channel = create_s3_channel(kinesis, on_demand["StreamARN"], bucket, CompressionType="NONE")
    iceberg = create_table_channel(kinesis, on_demand["StreamARN"], bucket, table)
    wait_status(kinesis, s3_channel["ChannelARN"])
    wait_status(kinesis, iceberg["ChannelARN"])
    summary = kinesis.describe_stream_summary(StreamName=on_demand["StreamName"])
    assert summary["StreamDescriptionSummary"]["ChannelCount"] == 2

    started = time.monotonic()
    per_taxi = produce(kinesis, on_demand["StreamName"], EVENTS, seed=7)
    eventually(lambda: table_count(warehouse, "lake", "kinesis", table) >= EVENTS, timeout=120)
    eventually(lambda: s3_lines(s3, bucket) >= EVENTS, timeout=120)
    print(f"{EVENTS} taxi events produced and delivered in {time.monotonic() - started:.1f}s")

    assert s3_lines(s3, bucket) == EVENTS
    loaded = load_table(warehouse, "lake", "kinesis", table)
    assert loaded is not None
    assert loaded.scan().to_arrow().num_rows == EVENTS  # pyiceberg agrees with DuckDB
    check_taxis(loaded, dict(per_taxi))


def test_kill_9_mid_delivery_delivers_each_event_once(
    tmp_path: Path, s3_server: DynamoDBServer, s3: Any, aws_credentials: None
) -> None:
    bucket = f"dlq-{uuid.uuid4().hex[:10]}"
    s3.create_bucket(Bucket=bucket)
    warehouse = tmp_path / "warehouse"
    server = ServerProcess(tmp_path / "data", *channel_server_args(s3_server.endpoint, warehouse))
    trips = TaxiTrips(seed=1, taxis=200)
    batches = [trips.take(EVENTS // 20) for _ in range(20)]
    server.start()
    try:
        kinesis = make_client(server.endpoint)
        kinesis.create_stream(StreamName="rides", StreamModeDetails={"StreamMode": "ON_DEMAND"})
        summary = kinesis.describe_stream_summary(StreamName="rides")
        arn = summary["StreamDescriptionSummary"]["StreamARN"]
        channel = create_table_channel(kinesis, arn, bucket, "rides")
        objects = create_s3_channel(kinesis, arn, bucket)
        wait_status(kinesis, channel["ChannelARN"])
        wait_status(kinesis, objects["ChannelARN"])
        sent = 0
        # Batches keep coming while the table catches up; kill -9 once it holds some of them
        # (between two acknowledged batches, so every sent record is acknowledged).
        while table_count(warehouse, "lake", "kinesis", "rides") == 0:
            _put(kinesis, batches[sent])
            sent += 1
            time.sleep(0.15)
        server.kill()
        in_table = table_count(warehouse, "lake", "kinesis", "rides")
        produced = sum(len(b) for b in batches[:sent])
        print(f"killed with {in_table} of {produced} acknowledged events in the table")
        server.start()
        kinesis = make_client(server.endpoint)
        for batch in batches[sent:]:
            _put(kinesis, batch)
        eventually(lambda: table_count(warehouse, "lake", "kinesis", "rides") >= EVENTS, 120)
        time.sleep(2 * 1.2)  # two more delivery cycles: nothing may be added twice
        loaded = load_table(warehouse, "lake", "kinesis", "rides")
        assert loaded is not None
        check_taxis(loaded, dict(Counter(t.taxi_id for b in batches for t in b)))
        # S3: a range cut short by the kill was written again into the same keys.
        eventually(lambda: s3_lines(s3, bucket) >= EVENTS, 120)
        assert s3_lines(s3, bucket) == EVENTS
    finally:
        server.stop()


def _put(kinesis: Any, batch: list[Any]) -> None:
    for start in range(0, len(batch), 500):
        out = kinesis.put_records(
            StreamName="rides",
            Records=[
                {"Data": t.data, "PartitionKey": t.partition_key}
                for t in batch[start : start + 500]
            ],
        )
        assert out["FailedRecordCount"] == 0


pytestmark = pytest.mark.timeout(600)
