"""The five channel operations over HTTP with boto3: serialization (every field of the model
comes back), validation (AWS's error types and wording) and function (states, quotas, tags,
ChannelCount, DeleteStream refused while channels exist)."""

from __future__ import annotations

import uuid
from typing import Any

import pytest
from botocore.exceptions import ClientError, ParamValidationError

from tests.channels.conftest import (
    OWNER,
    ROLE,
    SCHEMA_ARN,
    create_s3_channel,
    create_table_channel,
    s3_destination,
    tables_destination,
    wait_status,
)


def _error(call: Any, **kwargs: Any) -> tuple[str, str]:
    with pytest.raises(ClientError) as info:
        call(**kwargs)
    err = info.value.response["Error"]
    return err["Code"], err["Message"]


def _request(stream_arn: str, bucket: str, **overrides: Any) -> dict[str, Any]:
    req: dict[str, Any] = {
        "ChannelName": f"c-{uuid.uuid4().hex[:10]}",
        "ServiceExecutionRoleARN": ROLE,
        "StreamConfigurationList": [
            {"StreamARN": stream_arn, "RecordConfiguration": {"RecordFormatType": "JSON"}}
        ],
        "S3DestinationConfiguration": s3_destination(bucket),
    }
    req.update(overrides)
    return {k: v for k, v in req.items() if v is not None}


# -- CreateChannel ---------------------------------------------------------------------------


def test_create_returns_every_field(kinesis, bucket, on_demand) -> None:
    req = _request(
        on_demand["StreamARN"],
        bucket,
        EncryptionConfiguration={"EncryptionType": "KMS", "KeyId": "alias/mine"},
        Tags={"team": "data"},
        LoggingConfiguration={
            "CloudWatchLogs": {"Enabled": True, "LogGroupName": "g", "LogStreamName": "s"}
        },
    )
    desc = kinesis.create_channel(**req)["ChannelDescription"]
    name = req["ChannelName"]
    assert desc["ChannelName"] == name
    assert desc["ChannelARN"] == f"arn:aws:kinesis:us-east-1:{OWNER}:channel/{name}"
    assert desc["ChannelStatus"] == "CREATING"
    assert len(desc["ChannelId"]) == 36
    assert desc["ServiceExecutionRoleARN"] == ROLE
    (source,) = desc["StreamConfigurationList"]
    assert source["StreamARN"] == on_demand["StreamARN"]
    assert source["StreamCreationTimestamp"] == on_demand["StreamCreationTimestamp"]
    assert source["RecordConfiguration"] == {"RecordFormatType": "JSON"}
    s3 = desc["S3DestinationConfiguration"]
    assert s3["DataFreshnessInSeconds"] == 300
    assert s3["StorageConfiguration"] == req["S3DestinationConfiguration"]["StorageConfiguration"]
    assert s3["DeadLetterQueueS3Configuration"] == {
        "BucketARN": f"arn:aws:s3:::{bucket}",
        "ExpectedBucketOwner": OWNER,
        "ErrorOutputPrefix": "error/",
    }
    assert desc["EncryptionConfiguration"] == {"EncryptionType": "KMS", "KeyId": "alias/mine"}
    assert desc["LoggingConfiguration"] == req["LoggingConfiguration"]
    assert "S3TablesDestinationConfiguration" not in desc
    active = wait_status(kinesis, desc["ChannelARN"])
    assert active["ChannelCreationTimestamp"] == desc["ChannelCreationTimestamp"]
    tags = kinesis.list_tags_for_resource(ResourceARN=desc["ChannelARN"])["Tags"]
    assert tags == [{"Key": "team", "Value": "data"}]


def test_create_table_channel_describes_its_table(kinesis, bucket, on_demand) -> None:
    desc = create_table_channel(kinesis, on_demand["StreamARN"], bucket, "t_describe")
    tables = desc["S3TablesDestinationConfiguration"]
    assert tables["S3TablesConfigurationList"][0]["TableName"] == "t_describe"
    assert tables["DataFreshnessInSeconds"] == 300
    assert desc["StreamConfigurationList"][0]["RecordConfiguration"]["GSRSchemaARN"] == SCHEMA_ARN
    assert wait_status(kinesis, desc["ChannelARN"])["ChannelStatus"] == "ACTIVE"


def test_create_model_validation(kinesis, bucket, on_demand) -> None:
    code, message = _error(
        kinesis.create_channel, **_request(on_demand["StreamARN"], bucket, ChannelName="bad name!")
    )
    assert code == "ValidationException"
    assert message == (
        "1 validation error detected: Value 'bad name!' at 'channelName' failed to satisfy"
        " constraint: Member must satisfy regular expression pattern: [a-zA-Z0-9_.-]+"
    )
    with pytest.raises(ParamValidationError):  # boto3's own check: the required role
        kinesis.create_channel(
            **_request(on_demand["StreamARN"], bucket, ServiceExecutionRoleARN=None)
        )


@pytest.mark.parametrize(
    ("overrides", "expected"),
    [
        (
            {"S3DestinationConfiguration": None},
            "Exactly one of S3DestinationConfiguration and S3TablesDestinationConfiguration"
            " must be specified.",
        ),
        (
            {"DataFreshnessInSeconds": 299},
            "1 validation error detected: Value '299' at"
            " 's3DestinationConfiguration.dataFreshnessInSeconds' failed to satisfy constraint:"
            " Member must have value greater than or equal to 300",
        ),
        (
            {"DataFreshnessInSeconds": 901},
            "1 validation error detected: Value '901' at"
            " 's3DestinationConfiguration.dataFreshnessInSeconds' failed to satisfy constraint:"
            " Member must have value less than or equal to 900",
        ),
        ({"RecordFormatType": "GSR_JSON"}, "RecordFormatType GSR_JSON is supported only"),
        ({"OutputKeyTemplate": "!{nope}/x"}, "OutputKeyTemplate uses unknown variable(s) nope"),
        ({"KeyId": "alias/aws/kinesis"}, "EncryptionConfiguration.KeyId must be a customer"),
    ],
)
def test_create_refusals(kinesis, bucket, on_demand, overrides, expected) -> None:
    req = _request(on_demand["StreamARN"], bucket)
    if "DataFreshnessInSeconds" in overrides:
        req["S3DestinationConfiguration"]["DataFreshnessInSeconds"] = overrides.pop(
            "DataFreshnessInSeconds"
        )
    if "RecordFormatType" in overrides:
        req["StreamConfigurationList"][0]["RecordConfiguration"]["RecordFormatType"] = (
            overrides.pop("RecordFormatType")
        )
    if "OutputKeyTemplate" in overrides:
        req["S3DestinationConfiguration"]["StorageConfiguration"]["OutputKeyTemplate"] = (
            overrides.pop("OutputKeyTemplate")
        )
    if "KeyId" in overrides:
        req["EncryptionConfiguration"] = {"EncryptionType": "KMS", "KeyId": overrides.pop("KeyId")}
    req.update(overrides)
    req = {k: v for k, v in req.items() if v is not None}
    code, message = _error(kinesis.create_channel, **req)
    assert code == "ValidationException"
    assert message.startswith(expected)


def test_create_table_refusals(kinesis, bucket, on_demand) -> None:
    def tables(fmt: str, schema: str | None) -> dict[str, Any]:
        record: dict[str, Any] = {"RecordFormatType": fmt}
        if schema:
            record["GSRSchemaARN"] = schema
        return _request(
            on_demand["StreamARN"],
            bucket,
            S3DestinationConfiguration=None,
            S3TablesDestinationConfiguration=tables_destination(bucket, "t"),
            StreamConfigurationList=[
                {"StreamARN": on_demand["StreamARN"], "RecordConfiguration": record}
            ],
        )

    assert _error(kinesis.create_channel, **tables("STRING", None)) == (
        "ValidationException",
        "RecordFormatType STRING is supported only for general purpose Amazon S3 destinations;"
        " streaming table destinations take JSON or GSR_JSON.",
    )
    code, message = _error(kinesis.create_channel, **tables("GSR_JSON", SCHEMA_ARN))
    assert code == "ValidationException" and "no schema registry" in message
    code, message = _error(kinesis.create_channel, **tables("JSON", None))
    assert code == "ValidationException" and "GSRSchemaARN is required" in message


def test_create_needs_an_active_on_demand_stream(kinesis, bucket) -> None:
    missing = "arn:aws:kinesis:us-east-1:000000000000:stream/nope-" + uuid.uuid4().hex[:6]
    assert _error(kinesis.create_channel, **_request(missing, bucket)) == (
        "ResourceNotFoundException",
        f"Stream {missing.rsplit('/', 1)[1]} under account 000000000000 not found.",
    )
    name = f"prov-{uuid.uuid4().hex[:8]}"
    kinesis.create_stream(StreamName=name, ShardCount=1)
    try:
        arn = kinesis.describe_stream_summary(StreamName=name)["StreamDescriptionSummary"][
            "StreamARN"
        ]
        code, message = _error(kinesis.create_channel, **_request(arn, bucket))
        assert code == "ValidationException"
        assert "supported only for streams with the ON_DEMAND capacity mode" in message
    finally:
        kinesis.delete_stream(StreamName=name)


def test_quotas_and_duplicate_names(kinesis, bucket, on_demand) -> None:
    req = _request(on_demand["StreamARN"], bucket)
    kinesis.create_channel(**req)
    assert _error(kinesis.create_channel, **req) == (
        "ResourceInUseException",
        f"Channel {req['ChannelName']} under account 000000000000 already exists.",
    )
    code, message = _error(kinesis.create_channel, **_request(on_demand["StreamARN"], bucket))
    assert code == "LimitExceededException"
    assert "at most one channel per destination type" in message
    create_table_channel(kinesis, on_demand["StreamARN"], bucket, "second_type")  # allowed
    summary = kinesis.describe_stream_summary(StreamName=on_demand["StreamName"])
    assert summary["StreamDescriptionSummary"]["ChannelCount"] == 2
    limits = kinesis.describe_limits()
    assert limits["ChannelCount"] >= 2
    assert limits["ChannelCountLimit"] == 50


def test_one_channel_per_table(kinesis, bucket, on_demand) -> None:
    first = create_table_channel(kinesis, on_demand["StreamARN"], bucket, "shared_table")
    name = f"other-{uuid.uuid4().hex[:8]}"
    kinesis.create_stream(StreamName=name, StreamModeDetails={"StreamMode": "ON_DEMAND"})
    try:
        arn = kinesis.describe_stream_summary(StreamName=name)["StreamDescriptionSummary"][
            "StreamARN"
        ]
        assert _error(lambda: create_table_channel(kinesis, arn, bucket, "shared_table")) == (
            "ResourceInUseException",
            "Table kinesis.shared_table of table bucket lake is already the destination of"
            f" channel {first['ChannelName']}.",
        )
    finally:
        kinesis.delete_stream(StreamName=name)


# -- DescribeChannel -------------------------------------------------------------------------


def test_describe_unknown_and_malformed(kinesis) -> None:
    arn = "arn:aws:kinesis:us-east-1:000000000000:channel/ghost"
    assert _error(kinesis.describe_channel, ChannelARN=arn) == (
        "ResourceNotFoundException",
        "Channel ghost under account 000000000000 not found.",
    )
    code, message = _error(kinesis.describe_channel, ChannelARN="arn:aws:kinesis:x:1:stream/y")
    assert code == "ValidationException"
    assert "at 'channelARN' failed to satisfy constraint" in message
    other = "arn:aws:kinesis:us-east-1:111111111111:channel/theirs"
    assert _error(kinesis.describe_channel, ChannelARN=other)[0] == "AccessDeniedException"


# -- ListChannels ----------------------------------------------------------------------------


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
    assert _error(kinesis.list_channels, NextToken="garbage")[0] == "InvalidArgumentException"


# -- UpdateChannel ---------------------------------------------------------------------------


def test_update_freshness_and_logging(kinesis, bucket, on_demand) -> None:
    arn = create_s3_channel(kinesis, on_demand["StreamARN"], bucket)["ChannelARN"]
    wait_status(kinesis, arn)
    out = kinesis.update_channel(
        ChannelARN=arn,
        S3DestinationConfiguration={"DataFreshnessInSeconds": 600},
        LoggingConfiguration={"CloudWatchLogs": {"Enabled": True, "LogGroupName": "grp"}},
    )["ChannelDescription"]
    assert out["ChannelStatus"] == "UPDATING"
    assert out["S3DestinationConfiguration"]["DataFreshnessInSeconds"] == 600
    desc = wait_status(kinesis, arn)
    assert desc["LoggingConfiguration"]["CloudWatchLogs"] == {
        "Enabled": True,
        "LogGroupName": "grp",
    }
    code, message = _error(
        kinesis.update_channel,
        ChannelARN=arn,
        S3TablesDestinationConfiguration={"DataFreshnessInSeconds": 600},
    )
    assert code == "ValidationException" and "cannot be changed to S3_TABLES" in message
    code, message = _error(
        kinesis.update_channel,
        ChannelARN=arn,
        S3DestinationConfiguration={"DataFreshnessInSeconds": 1000},
    )
    assert code == "ValidationException" and "less than or equal to 900" in message


def test_update_a_failed_channel_is_refused(kinesis, on_demand) -> None:
    arn = create_s3_channel(kinesis, on_demand["StreamARN"], "missing-bucket-x")["ChannelARN"]
    wait_status(kinesis, arn, "FAILED")
    assert _error(
        kinesis.update_channel,
        ChannelARN=arn,
        S3DestinationConfiguration={"DataFreshnessInSeconds": 400},
    ) == (
        "ResourceInUseException",
        f"Channel {arn.rsplit('/', 1)[1]} under account 000000000000 not ACTIVE, instead in"
        " state FAILED",
    )


# -- DeleteChannel and DeleteStream ----------------------------------------------------------


def test_delete_stream_refused_while_channels_exist(kinesis, bucket, on_demand) -> None:
    channel = create_s3_channel(kinesis, on_demand["StreamARN"], bucket)
    code, message = _error(kinesis.delete_stream, StreamName=on_demand["StreamName"])
    assert code == "ResourceInUseException"
    assert channel["ChannelName"] in message
    assert (
        kinesis.delete_channel(ChannelARN=channel["ChannelARN"])["ResponseMetadata"][
            "HTTPStatusCode"
        ]
        == 200
    )
    assert _error(kinesis.describe_channel, ChannelARN=channel["ChannelARN"])[0] == (
        "ResourceNotFoundException"
    )
    assert _error(kinesis.delete_channel, ChannelARN=channel["ChannelARN"])[0] == (
        "ResourceNotFoundException"
    )
    summary = kinesis.describe_stream_summary(StreamName=on_demand["StreamName"])
    assert summary["StreamDescriptionSummary"]["ChannelCount"] == 0


def test_channel_tags(kinesis, bucket, on_demand) -> None:
    arn = create_s3_channel(kinesis, on_demand["StreamARN"], bucket)["ChannelARN"]
    kinesis.tag_resource(ResourceARN=arn, Tags={"a": "1", "b": "2"})
    kinesis.untag_resource(ResourceARN=arn, TagKeys=["a"])
    assert kinesis.list_tags_for_resource(ResourceARN=arn)["Tags"] == [{"Key": "b", "Value": "2"}]
    code, message = _error(kinesis.tag_resource, ResourceARN=arn, Tags={"aws:x": "1"})
    assert code == "InvalidArgumentException" and "reserved for AWS use" in message


def test_five_calls_per_second(limited_server) -> None:
    """AWS: 5 transactions per second per account for each channel operation."""
    from tests.conftest import make_client

    kinesis = make_client(limited_server.endpoint)
    arn = "arn:aws:kinesis:us-east-1:000000000000:channel/none"
    codes = [_error(kinesis.describe_channel, ChannelARN=arn)[0] for _ in range(8)]
    assert codes[:5] == ["ResourceNotFoundException"] * 5
    assert "LimitExceededException" in codes[5:]


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
    assert _error(kinesis.describe_channel, ChannelARN=channel["ChannelARN"])[0] == (
        "ResourceNotFoundException"
    )
    assert kinesis.describe_limits()["ChannelCount"] == 0
