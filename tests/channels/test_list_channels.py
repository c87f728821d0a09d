"""ListChannels: stream filters, pages and NextToken, the summary fields."""

from __future__ import annotations

from tests.channels.conftest import (
    aws_error,
    create_s3_channel,
    create_table_channel,
)


def test_list_filters_and_pages(kinesis, bucket, on_demand) -> None:
    s3_channel = create_s3_channel(kinesis, on_demand["StreamARN"], bucket)
    table_channel = create_table_channel(kinesis, on_demand["StreamARN"], bucket, "listed")
    wanted = [{"StreamARN": on_demand["StreamARN"]}]
    first = kinesis.list_channels(StreamFilter=wanted, MaxResults=1)
    assert len(first["ChannelSummaries"]) == 1 and "NextToken" in first
    second = kinesis.list_channels(StreamFilter=wanted, NextToken=first["NextToken"])
    assert "NextToken" not in second
    summaries = first["ChannelSummaries"] + second["ChannelSummaries"]
    assert [c["ChannelARN"] for c in summaries] == [
        s3_channel["ChannelARN"],
        table_channel["ChannelARN"],
    ]
    assert [c["ChannelDestinationType"] for c in summaries] == ["S3", "S3_TABLES"]
    assert summaries[0]["Streams"] == [
        {
            "StreamARN": on_demand["StreamARN"],
            "StreamCreationTimestamp": on_demand["StreamCreationTimestamp"],
        }
    ]
    stale = [{"StreamARN": on_demand["StreamARN"], "StreamCreationTimestamp": 1}]
    assert kinesis.list_channels(StreamFilter=stale)["ChannelSummaries"] == []
    assert aws_error(kinesis.list_channels, NextToken="garbage")[0] == "InvalidArgumentException"
