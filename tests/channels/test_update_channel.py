"""UpdateChannel: DataFreshnessInSeconds and logging, UPDATING then ACTIVE; refusals."""

from __future__ import annotations

from tests.channels.conftest import (
    aws_error,
    create_s3_channel,
    wait_status,
)


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
    code, message = aws_error(
        kinesis.update_channel,
        ChannelARN=arn,
        S3TablesDestinationConfiguration={"DataFreshnessInSeconds": 600},
    )
    assert code == "ValidationException" and "cannot be changed to S3_TABLES" in message
    code, message = aws_error(
        kinesis.update_channel,
        ChannelARN=arn,
        S3DestinationConfiguration={"DataFreshnessInSeconds": 1000},
    )
    assert code == "ValidationException" and "less than or equal to 900" in message


def test_update_a_failed_channel_is_refused(kinesis, on_demand) -> None:
    arn = create_s3_channel(kinesis, on_demand["StreamARN"], "missing-bucket-x")["ChannelARN"]
    wait_status(kinesis, arn, "FAILED")
    assert aws_error(
        kinesis.update_channel,
        ChannelARN=arn,
        S3DestinationConfiguration={"DataFreshnessInSeconds": 400},
    ) == (
        "ResourceInUseException",
        f"Channel {arn.rsplit('/', 1)[1]} under account 000000000000 not ACTIVE, instead in"
        " state FAILED",
    )
