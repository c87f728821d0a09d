"""DescribeChannel: unknown, malformed and other accounts' channel ARNs, and the channel
shapes on the Java SDK's CBOR wire."""

from __future__ import annotations

import time
import uuid

from tests.channels.conftest import ROLE, aws_error, s3_destination
from tests.test_cbor import assert_epoch_ms, cbor_call, java_ts, ok


def test_describe_unknown_and_malformed(kinesis) -> None:
    arn = "arn:aws:kinesis:us-east-1:000000000000:channel/ghost"
    assert aws_error(kinesis.describe_channel, ChannelARN=arn) == (
        "ResourceNotFoundException",
        "Channel ghost under account 000000000000 not found.",
    )
    code, message = aws_error(kinesis.describe_channel, ChannelARN="arn:aws:kinesis:x:1:stream/y")
    assert code == "ValidationException"
    assert "at 'channelARN' failed to satisfy constraint" in message
    other = "arn:aws:kinesis:us-east-1:111111111111:channel/theirs"
    assert aws_error(kinesis.describe_channel, ChannelARN=other)[0] == "AccessDeniedException"


def test_cbor_round_trip(channel_server, bucket, on_demand) -> None:
    """The Java SDK's wire (CBOR 1.1): timestamps as tag 1 epoch milliseconds both ways."""
    name = f"cbor-{uuid.uuid4().hex[:8]}"
    created = ok(
        cbor_call(
            channel_server.endpoint,
            "CreateChannel",
            {
                "ChannelName": name,
                "ServiceExecutionRoleARN": ROLE,
                "StreamConfigurationList": [
                    {
                        "StreamARN": on_demand["StreamARN"],
                        "RecordConfiguration": {"RecordFormatType": "STRING"},
                    }
                ],
                "S3DestinationConfiguration": s3_destination(bucket),
            },
        )
    )["ChannelDescription"]
    assert created["ChannelStatus"] == "CREATING"
    assert_epoch_ms(created["ChannelCreationTimestamp"], time.time())
    stream_created = on_demand["StreamCreationTimestamp"].timestamp()
    listed = ok(
        cbor_call(
            channel_server.endpoint,
            "ListChannels",
            {
                "StreamFilter": [
                    {
                        "StreamARN": on_demand["StreamARN"],
                        "StreamCreationTimestamp": java_ts(stream_created),
                    }
                ]
            },
        )
    )["ChannelSummaries"]
    assert [c["ChannelName"] for c in listed] == [name]
    source = listed[0]["Streams"][0]
    assert_epoch_ms(source["StreamCreationTimestamp"], stream_created, within_s=1)
