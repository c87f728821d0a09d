"""CreateChannel over HTTP with boto3: every field of the model back in the description,
the model's and the channel rules' refusals in AWS's wording, the stream's requirements and the
quotas (one channel per destination type per stream, one per table, ChannelCount)."""

from __future__ import annotations

import uuid
from typing import Any

import pytest
from botocore.exceptions import ParamValidationError

from tests.channels.conftest import (
    OWNER,
    ROLE,
    SCHEMA_ARN,
    aws_error,
    create_table_channel,
    s3_destination,
    tables_destination,
    wait_status,
)


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
    code, message = aws_error(
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
    code, message = aws_error(kinesis.create_channel, **req)
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

    assert aws_error(kinesis.create_channel, **tables("STRING", None)) == (
        "ValidationException",
        "RecordFormatType STRING is supported only for general purpose Amazon S3 destinations;"
        " streaming table destinations take JSON or GSR_JSON.",
    )
    code, message = aws_error(kinesis.create_channel, **tables("GSR_JSON", SCHEMA_ARN))
    assert code == "ValidationException" and "no schema registry" in message
    code, message = aws_error(kinesis.create_channel, **tables("JSON", None))
    assert code == "ValidationException" and "GSRSchemaARN is required" in message


def test_create_needs_an_active_on_demand_stream(kinesis, bucket) -> None:
    missing = "arn:aws:kinesis:us-east-1:000000000000:stream/nope-" + uuid.uuid4().hex[:6]
    assert aws_error(kinesis.create_channel, **_request(missing, bucket)) == (
        "ResourceNotFoundException",
        f"Stream {missing.rsplit('/', 1)[1]} under account 000000000000 not found.",
    )
    name = f"prov-{uuid.uuid4().hex[:8]}"
    kinesis.create_stream(StreamName=name, ShardCount=1)
    try:
        arn = kinesis.describe_stream_summary(StreamName=name)["StreamDescriptionSummary"][
            "StreamARN"
        ]
        code, message = aws_error(kinesis.create_channel, **_request(arn, bucket))
        assert code == "ValidationException"
        assert "supported only for streams with the ON_DEMAND capacity mode" in message
    finally:
        kinesis.delete_stream(StreamName=name)


def test_quotas_and_duplicate_names(kinesis, bucket, on_demand) -> None:
    req = _request(on_demand["StreamARN"], bucket)
    kinesis.create_channel(**req)
    assert aws_error(kinesis.create_channel, **req) == (
        "ResourceInUseException",
        f"Channel {req['ChannelName']} under account 000000000000 already exists.",
    )
    code, message = aws_error(kinesis.create_channel, **_request(on_demand["StreamARN"], bucket))
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
        assert aws_error(lambda: create_table_channel(kinesis, arn, bucket, "shared_table")) == (
            "ResourceInUseException",
            "Table kinesis.shared_table of table bucket lake is already the destination of"
            f" channel {first['ChannelName']}.",
        )
    finally:
        kinesis.delete_stream(StreamName=name)
