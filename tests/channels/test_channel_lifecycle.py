"""States over time on a server whose changes take a while (``--update-stream-ms``,
``--delete-stream-ms``): UPDATING then ACTIVE, DELETING then gone; and channels survive a
restart with their id, state and tags."""

from __future__ import annotations

import uuid
from pathlib import Path
from typing import Any

from tests.channels.conftest import (
    aws_error,
    channel_server_args,
    create_s3_channel,
    eventually,
    wait_status,
)
from tests.conftest import make_client
from tests.consumer.dynamodb import DynamoDBServer
from tests.support import ServerProcess


def test_updating_deleting_and_restart(
    tmp_path: Path, s3_server: DynamoDBServer, s3: Any, aws_credentials: None
) -> None:
    bucket = f"life-{uuid.uuid4().hex[:10]}"
    s3.create_bucket(Bucket=bucket)
    args = [
        *channel_server_args(s3_server.endpoint, tmp_path / "lake"),
        "--update-stream-ms",
        "1500",
        "--delete-stream-ms",
        "1500",
    ]
    server = ServerProcess(tmp_path / "data", *args)
    server.start()
    try:
        kinesis = make_client(server.endpoint)
        kinesis.create_stream(StreamName="life", StreamModeDetails={"StreamMode": "ON_DEMAND"})
        arn = kinesis.describe_stream_summary(StreamName="life")["StreamDescriptionSummary"][
            "StreamARN"
        ]
        keep = create_s3_channel(kinesis, arn, bucket)
        wait_status(kinesis, keep["ChannelARN"])
        kinesis.tag_resource(ResourceARN=keep["ChannelARN"], Tags={"kept": "yes"})
        kinesis.update_channel(
            ChannelARN=keep["ChannelARN"],
            S3DestinationConfiguration={"DataFreshnessInSeconds": 450},
        )
        assert wait_status(kinesis, keep["ChannelARN"], "UPDATING", timeout=1)
        code, _ = aws_error(
            kinesis.update_channel,
            ChannelARN=keep["ChannelARN"],
            S3DestinationConfiguration={"DataFreshnessInSeconds": 500},
        )
        assert code == "ResourceInUseException"
        wait_status(kinesis, keep["ChannelARN"], "ACTIVE", timeout=10)

        server.stop()
        server.start()
        kinesis = make_client(server.endpoint)
        desc = kinesis.describe_channel(ChannelARN=keep["ChannelARN"])["ChannelDescription"]
        assert (desc["ChannelId"], desc["ChannelStatus"]) == (keep["ChannelId"], "ACTIVE")
        assert desc["S3DestinationConfiguration"]["DataFreshnessInSeconds"] == 450
        tags = kinesis.list_tags_for_resource(ResourceARN=keep["ChannelARN"])["Tags"]
        assert tags == [{"Key": "kept", "Value": "yes"}]

        kinesis.delete_channel(ChannelARN=keep["ChannelARN"])
        assert wait_status(kinesis, keep["ChannelARN"], "DELETING", timeout=1)

        def gone() -> bool:
            listed = kinesis.list_channels()["ChannelSummaries"]
            return all(c["ChannelARN"] != keep["ChannelARN"] for c in listed)

        eventually(gone, timeout=10)
        assert aws_error(kinesis.describe_channel, ChannelARN=keep["ChannelARN"])[0] == (
            "ResourceNotFoundException"
        )
        assert kinesis.describe_limits()["ChannelCount"] == 0
    finally:
        server.stop()
