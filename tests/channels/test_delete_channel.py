"""DeleteChannel, DeleteStream refused while a stream has channels, and the test reset."""

from __future__ import annotations

import uuid

from tests.channels.conftest import (
    aws_error,
    create_s3_channel,
)


def test_delete_stream_refused_while_channels_exist(kinesis, bucket, on_demand) -> None:
    channel = create_s3_channel(kinesis, on_demand["StreamARN"], bucket)
    code, message = aws_error(kinesis.delete_stream, StreamName=on_demand["StreamName"])
    assert code == "ResourceInUseException"
    assert channel["ChannelName"] in message
    assert (
        kinesis.delete_channel(ChannelARN=channel["ChannelARN"])["ResponseMetadata"][
            "HTTPStatusCode"
        ]
        == 200
    )
    assert aws_error(kinesis.describe_channel, ChannelARN=channel["ChannelARN"])[0] == (
        "ResourceNotFoundException"
    )
    assert aws_error(kinesis.delete_channel, ChannelARN=channel["ChannelARN"])[0] == (
        "ResourceNotFoundException"
    )
    summary = kinesis.describe_stream_summary(StreamName=on_demand["StreamName"])
    assert summary["StreamDescriptionSummary"]["ChannelCount"] == 0


def test_the_test_reset_forgets_channels(channel_server, kinesis, bucket) -> None:
    """POST /_shardflow/reset leaves a server as fresh: no stream, no channel."""
    import urllib.request

    name = f"reset-{uuid.uuid4().hex[:8]}"
    kinesis.create_stream(StreamName=name, StreamModeDetails={"StreamMode": "ON_DEMAND"})
    arn = kinesis.describe_stream_summary(StreamName=name)["StreamDescriptionSummary"]["StreamARN"]
    channel = create_s3_channel(kinesis, arn, bucket)
    request = urllib.request.Request(f"{channel_server.endpoint}/_shardflow/reset", method="POST")
    with urllib.request.urlopen(request, timeout=10) as response:
        assert response.status == 200
    assert aws_error(kinesis.describe_channel, ChannelARN=channel["ChannelARN"])[0] == (
        "ResourceNotFoundException"
    )
    assert kinesis.describe_limits()["ChannelCount"] == 0
