"""S3 delivery: objects in the channel's bucket under AWS's key layout, in the record format
and compression asked for; records that fail validation in the dead-letter prefix."""

from __future__ import annotations

import gzip
import re
import time
import uuid
from typing import Any

import orjson
import zstandard

from shardflow.model.kpl import aggregate
from tests.channels.conftest import (
    ROLE,
    create_s3_channel,
    eventually,
    s3_destination,
    wait_status,
)


def _objects(s3: Any, bucket: str, prefix: str = "") -> list[dict[str, Any]]:
    pages = s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix)
    return [o for page in pages for o in page.get("Contents", [])]


def _put(kinesis: Any, stream: str, payloads: list[bytes]) -> None:
    for start in range(0, len(payloads), 500):
        out = kinesis.put_records(
            StreamName=stream,
            Records=[
                {"Data": p, "PartitionKey": f"k{i % 7}"}
                for i, p in enumerate(payloads[start : start + 500])
            ],
        )
        assert out["FailedRecordCount"] == 0


def test_json_records_land_in_default_key_layout(kinesis, s3, bucket, on_demand) -> None:
    channel = create_s3_channel(kinesis, on_demand["StreamARN"], bucket)
    assert channel["ChannelStatus"] == "CREATING"
    wait_status(kinesis, channel["ChannelARN"])
    records = [orjson.dumps({"n": i, "text": "x" * (i % 5)}) for i in range(1200)]
    _put(kinesis, on_demand["StreamName"], records)

    def delivered() -> list[bytes]:
        lines = []
        for o in _objects(s3, bucket, "kinesis-channel/"):
            body = s3.get_object(Bucket=bucket, Key=o["Key"])["Body"].read()
            lines += body.splitlines()
        return lines if len(lines) >= len(records) else []

    lines = eventually(delivered)
    assert sorted(orjson.loads(line)["n"] for line in lines) == list(range(1200))
    name, cid = channel["ChannelName"], channel["ChannelId"]
    key = _objects(s3, bucket)[0]["Key"]
    pattern = (
        rf"kinesis-channel/{name}/{cid}/\d{{4}}/\d\d/\d\d/\d\d/"
        rf"{name}-{cid}-\d{{4}}-\d\d-\d\d-\d\d-\d\d-\d+-\d+\.json"
    )
    assert re.fullmatch(pattern, key), key


def test_gzip_and_template_and_storage_class(kinesis, s3, bucket, on_demand) -> None:
    channel = create_s3_channel(
        kinesis,
        on_demand["StreamARN"],
        bucket,
        fmt="STRING",
        CompressionType="GZIP",
        OutputKeyTemplate="logs/!{stream-name}/!{yyyy}!{MM}!{dd}/part!{extension}",
        StorageClass="INTELLIGENT_TIERING",
    )
    wait_status(kinesis, channel["ChannelARN"])
    _put(kinesis, on_demand["StreamName"], [f"line {i}".encode() for i in range(50)])
    objects = eventually(lambda: _objects(s3, bucket, "logs/"))
    key = objects[0]["Key"]
    assert re.fullmatch(rf"logs/{on_demand['StreamName']}/\d{{8}}/part-\d+-\d+\.txt\.gz", key)
    assert objects[0]["StorageClass"] == "INTELLIGENT_TIERING"
    text = gzip.decompress(s3.get_object(Bucket=bucket, Key=key)["Body"].read()).decode()
    assert sorted(text.splitlines()) == sorted(f"line {i}" for i in range(50))


def test_zstd_byte_array_concatenates_records(kinesis, s3, bucket, on_demand) -> None:
    channel = create_s3_channel(
        kinesis, on_demand["StreamARN"], bucket, fmt="BYTE_ARRAY", CompressionType="ZSTD"
    )
    wait_status(kinesis, channel["ChannelARN"])
    kinesis.put_record(StreamName=on_demand["StreamName"], Data=b"\x00\xff", PartitionKey="a")
    kinesis.put_record(StreamName=on_demand["StreamName"], Data=b"\x01\x02", PartitionKey="a")
    objects = eventually(lambda: _objects(s3, bucket, "kinesis-channel/"))
    key = objects[0]["Key"]
    assert key.endswith(".bin.zst")
    body = s3.get_object(Bucket=bucket, Key=key)["Body"].read()
    assert zstandard.ZstdDecompressor().decompress(body) == b"\x00\xff\x01\x02"


def test_bad_records_go_to_the_dead_letter_prefix(kinesis, s3, bucket, on_demand) -> None:
    channel = create_s3_channel(kinesis, on_demand["StreamARN"], bucket, fmt="JSON")
    wait_status(kinesis, channel["ChannelARN"])
    put = kinesis.put_record(
        StreamName=on_demand["StreamName"], Data=b"{not json", PartitionKey="p"
    )
    kinesis.put_record(StreamName=on_demand["StreamName"], Data=b'{"ok": 1}', PartitionKey="p")
    errors = eventually(lambda: _objects(s3, bucket, "error/"))
    body = s3.get_object(Bucket=bucket, Key=errors[0]["Key"])["Body"].read()
    (line,) = [orjson.loads(x) for x in body.splitlines()]
    assert line["sequenceNumber"] == put["SequenceNumber"]
    assert line["shardId"] == put["ShardId"]
    assert line["errorCode"] == "InvalidJsonRecord"
    assert line["channelArn"] == channel["ChannelARN"]
    good = eventually(lambda: _objects(s3, bucket, "kinesis-channel/"))
    assert s3.get_object(Bucket=bucket, Key=good[0]["Key"])["Body"].read() == b'{"ok": 1}\n'


def test_no_backfill(kinesis, s3, bucket, on_demand) -> None:
    kinesis.put_record(StreamName=on_demand["StreamName"], Data=b'{"old": 1}', PartitionKey="p")
    channel = create_s3_channel(kinesis, on_demand["StreamARN"], bucket)
    wait_status(kinesis, channel["ChannelARN"])
    kinesis.put_record(StreamName=on_demand["StreamName"], Data=b'{"new": 1}', PartitionKey="p")
    objects = eventually(lambda: _objects(s3, bucket, "kinesis-channel/"))
    bodies = b"".join(s3.get_object(Bucket=bucket, Key=o["Key"])["Body"].read() for o in objects)
    assert bodies == b'{"new": 1}\n'


def test_missing_bucket_fails_the_channel(kinesis, on_demand) -> None:
    channel = create_s3_channel(kinesis, on_demand["StreamARN"], "no-such-bucket-here")
    desc = wait_status(kinesis, channel["ChannelARN"], "FAILED")
    assert "no-such-bucket-here" in desc["ChannelStatusReason"]
    listed = kinesis.list_channels()["ChannelSummaries"]
    (summary,) = [c for c in listed if c["ChannelARN"] == channel["ChannelARN"]]
    assert summary["ChannelStatus"] == "FAILED"
    assert summary["ChannelStatusReason"] == desc["ChannelStatusReason"]


def test_kpl_aggregates_are_delivered_as_their_user_records(kinesis, s3, bucket, on_demand) -> None:
    channel = create_s3_channel(kinesis, on_demand["StreamARN"], bucket)
    wait_status(kinesis, channel["ChannelARN"])
    users = [(f"k{i}", orjson.dumps({"user": i})) for i in range(5)]
    kinesis.put_record(StreamName=on_demand["StreamName"], Data=aggregate(users), PartitionKey="a")
    objects = eventually(lambda: _objects(s3, bucket, "kinesis-channel/"))
    body = s3.get_object(Bucket=bucket, Key=objects[0]["Key"])["Body"].read()
    assert [orjson.loads(line)["user"] for line in body.splitlines()] == list(range(5))


def test_data_freshness_sets_how_often_objects_are_written(kinesis, s3, on_demand) -> None:
    """Records written for 10 s: a channel at 300 s of freshness (1.2 s here) writes about
    eight objects, one at 900 s (3.6 s here) about three."""
    second = f"fresh-{uuid.uuid4().hex[:8]}"
    kinesis.create_stream(StreamName=second, StreamModeDetails={"StreamMode": "ON_DEMAND"})
    try:
        summary = kinesis.describe_stream_summary(StreamName=second)["StreamDescriptionSummary"]
        buckets = {}
        for name, arn, freshness in (
            (on_demand["StreamName"], on_demand["StreamARN"], 300),
            (second, summary["StreamARN"], 900),
        ):
            buckets[name] = f"fresh-{uuid.uuid4().hex[:10]}"
            s3.create_bucket(Bucket=buckets[name])
            channel = kinesis.create_channel(
                ChannelName=f"fresh-{uuid.uuid4().hex[:8]}",
                ServiceExecutionRoleARN=ROLE,
                StreamConfigurationList=[
                    {"StreamARN": arn, "RecordConfiguration": {"RecordFormatType": "STRING"}}
                ],
                S3DestinationConfiguration={
                    **s3_destination(buckets[name]),
                    "DataFreshnessInSeconds": freshness,
                },
            )["ChannelDescription"]
            wait_status(kinesis, channel["ChannelARN"])
        deadline = time.monotonic() + 10
        sent = 0
        while time.monotonic() < deadline:
            for name in buckets:
                kinesis.put_record(StreamName=name, Data=f"r{sent}".encode(), PartitionKey="p")
            sent += 1
            time.sleep(0.1)

        def lines(bucket: str) -> int:
            objects = _objects(s3, bucket, "kinesis-channel/")
            return sum(
                s3.get_object(Bucket=bucket, Key=o["Key"])["Body"].read().count(b"\n")
                for o in objects
            )

        for bucket in buckets.values():
            eventually(lambda b=bucket: lines(b) == sent)
        fast = len(_objects(s3, buckets[on_demand["StreamName"]], "kinesis-channel/"))
        slow = len(_objects(s3, buckets[second], "kinesis-channel/"))
        assert fast >= 6, (fast, slow)
        assert 2 <= slow <= 4, (fast, slow)
    finally:
        for c in kinesis.list_channels()["ChannelSummaries"]:
            if c["Streams"][0]["StreamARN"].endswith(f"/{second}"):
                kinesis.delete_channel(ChannelARN=c["ChannelARN"])
        kinesis.delete_stream(StreamName=second)
