"""Tags on channel ARNs, and the 5 calls per second of each channel operation."""

from __future__ import annotations

from tests.channels.conftest import (
    aws_error,
    create_s3_channel,
)


def test_channel_tags(kinesis, bucket, on_demand) -> None:
    arn = create_s3_channel(kinesis, on_demand["StreamARN"], bucket)["ChannelARN"]
    kinesis.tag_resource(ResourceARN=arn, Tags={"a": "1", "b": "2"})
    kinesis.untag_resource(ResourceARN=arn, TagKeys=["a"])
    assert kinesis.list_tags_for_resource(ResourceARN=arn)["Tags"] == [{"Key": "b", "Value": "2"}]
    code, message = aws_error(kinesis.tag_resource, ResourceARN=arn, Tags={"aws:x": "1"})
    assert code == "InvalidArgumentException" and "reserved for AWS use" in message


def test_five_calls_per_second(limited_server) -> None:
    """AWS: 5 transactions per second per account for each channel operation."""
    from tests.conftest import make_client

    kinesis = make_client(limited_server.endpoint)
    arn = "arn:aws:kinesis:us-east-1:000000000000:channel/none"
    codes = [aws_error(kinesis.describe_channel, ChannelARN=arn)[0] for _ in range(8)]
    assert codes[:5] == ["ResourceNotFoundException"] * 5
    assert "LimitExceededException" in codes[5:]
