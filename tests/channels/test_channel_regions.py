"""Channels per account and region, as their streams: a channel of a us-west-2 stream has a
us-west-2 ARN, is listed only there, and delivers that region's stream."""

from __future__ import annotations

import uuid
from typing import Any

from tests.channels.conftest import create_s3_channel, eventually, wait_status
from tests.conftest import make_client
from tests.support import ServerProcess


def test_a_channel_lives_in_its_stream_s_region(
    channel_server: ServerProcess, kinesis: Any, s3: Any, bucket: str
) -> None:
    west = make_client(channel_server.endpoint, region="us-west-2")
    name = f"ch-west-{uuid.uuid4().hex[:8]}"
    west.create_stream(StreamName=name, StreamModeDetails={"StreamMode": "ON_DEMAND"})
    west.get_waiter("stream_exists").wait(StreamName=name, WaiterConfig={"Delay": 0.1})
    summary = west.describe_stream_summary(StreamName=name)["StreamDescriptionSummary"]
    channel = create_s3_channel(west, summary["StreamARN"], bucket)
    assert channel["ChannelARN"].startswith("arn:aws:kinesis:us-west-2:")
    wait_status(west, channel["ChannelARN"])
    listed = [c["ChannelARN"] for c in west.list_channels()["ChannelSummaries"]]
    assert listed == [channel["ChannelARN"]]
    assert channel["ChannelARN"] not in [
        c["ChannelARN"] for c in kinesis.list_channels()["ChannelSummaries"]
    ]
    west.put_record(StreamName=name, Data=b'{"region": "west"}', PartitionKey="k")

    def delivered() -> list[str]:
        pages = s3.get_paginator("list_objects_v2").paginate(Bucket=bucket)
        return [o["Key"] for page in pages for o in page.get("Contents", [])]

    assert eventually(delivered)
    west.delete_channel(ChannelARN=channel["ChannelARN"])
