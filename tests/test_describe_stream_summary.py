"""DescribeStreamSummary: serialization, validation and functionality, with AWS's errors."""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import pytest

from tests.conftest import make_client
from tests.helpers import (
    STREAM_ARN_PATTERN,
    StreamPool,
    assert_serialization,
    assert_validation,
    client_error,
    max_length,
    min_length,
    nested,
    not_found_message,
    pattern_constraint,
    raw_call,
    serialization_params,
    shard_id,
    stream_arn,
    stream_pool,
    unique_name,
    validation_message,
    wait_active,
)
from tests.support import ServerProcess

TARGET = "DescribeStreamSummary"


@pytest.fixture
def streams(kinesis: Any) -> Iterator[StreamPool]:
    with stream_pool(kinesis) as pool:
        yield pool


class TestSerialization:
    @pytest.mark.parametrize(
        ("path", "value", "message"),
        serialization_params({"StreamName": "String", "StreamARN": "String"}),
    )
    def test_wrong_json_type(self, endpoint: str, path: str, value: Any, message: str) -> None:
        body = nested(path, value, {"StreamName": unique_name()})
        assert_serialization(raw_call(endpoint, TARGET, body), message)


class TestValidation:
    def test_no_stream_name_or_arn(self, endpoint: str) -> None:
        # see test_delete_stream: the type is pinned, the newer wording is not documented
        status, _, body = raw_call(endpoint, TARGET, {})
        assert status == 400
        assert body["__type"] in ("ValidationException", "InvalidArgumentException"), body

    def test_empty_stream_name(self, endpoint: str) -> None:
        assert_validation(
            raw_call(endpoint, TARGET, {"StreamName": ""}),
            [
                validation_message("", "streamName", pattern_constraint()),
                validation_message("", "streamName", min_length(1)),
            ],
        )

    def test_long_stream_name(self, endpoint: str) -> None:
        name = "a" * 129
        assert_validation(
            raw_call(endpoint, TARGET, {"StreamName": name}),
            [validation_message(name, "streamName", max_length(128))],
        )

    def test_stream_name_pattern(self, endpoint: str) -> None:
        assert_validation(
            raw_call(endpoint, TARGET, {"StreamName": "x!"}),
            [validation_message("x!", "streamName", pattern_constraint())],
        )

    def test_stream_arn_pattern(self, endpoint: str) -> None:
        arn = "arn:aws:sqs:us-east-1:000000000000:queue/x"
        assert_validation(
            raw_call(endpoint, TARGET, {"StreamARN": arn}),
            [validation_message(arn, "streamARN", pattern_constraint(STREAM_ARN_PATTERN))],
        )

    def test_long_stream_arn(self, endpoint: str) -> None:
        arn = stream_arn("a" * 2100)
        assert_validation(
            raw_call(endpoint, TARGET, {"StreamARN": arn}),
            [validation_message(arn, "streamARN", max_length(2048))],
        )

    def test_stream_not_found(self, kinesis: Any) -> None:
        name = unique_name()
        with pytest.raises(kinesis.exceptions.ResourceNotFoundException) as exc:
            kinesis.describe_stream_summary(StreamName=name)
        assert client_error(exc) == ("ResourceNotFoundException", not_found_message(name))

    def test_stream_not_found_by_arn(self, kinesis: Any) -> None:
        name = unique_name()
        with pytest.raises(kinesis.exceptions.ResourceNotFoundException) as exc:
            kinesis.describe_stream_summary(StreamARN=stream_arn(name))
        assert client_error(exc) == ("ResourceNotFoundException", not_found_message(name))


class TestFunctionality:
    def test_summary(self, kinesis: Any, streams: StreamPool) -> None:
        before = time.time()
        name = streams.create(ShardCount=3)
        summary = kinesis.describe_stream_summary(StreamName=name)["StreamDescriptionSummary"]
        created = summary.pop("StreamCreationTimestamp").timestamp()
        assert before - 5 <= created <= time.time() + 5
        # checked in their own tests, or newer optional members without a known default
        for optional in (
            "StreamModeDetails",
            "ConsumerCount",
            "StreamId",
            "MaxRecordSizeInKiB",
            "WarmThroughput",
            "ChannelCount",
            "RecordDistributionStrategy",
            "QueueCount",
        ):
            summary.pop(optional, None)
        assert summary == {
            "StreamName": name,
            "StreamARN": stream_arn(name),
            "StreamStatus": "ACTIVE",
            "RetentionPeriodHours": 24,
            "EncryptionType": "NONE",
            "EnhancedMonitoring": [{"ShardLevelMetrics": []}],
            "OpenShardCount": 3,
        }

    def test_same_timestamp_as_describe_stream(self, kinesis: Any, stream: str) -> None:
        summary = kinesis.describe_stream_summary(StreamName=stream)["StreamDescriptionSummary"]
        desc = kinesis.describe_stream(StreamName=stream)["StreamDescription"]
        assert summary["StreamCreationTimestamp"] == desc["StreamCreationTimestamp"]

    def test_stream_mode_details(self, kinesis: Any, stream: str) -> None:
        summary = kinesis.describe_stream_summary(StreamName=stream)["StreamDescriptionSummary"]
        assert summary["StreamModeDetails"] == {"StreamMode": "PROVISIONED"}

    def test_consumer_count(self, kinesis: Any, stream: str) -> None:
        summary = kinesis.describe_stream_summary(StreamName=stream)["StreamDescriptionSummary"]
        assert summary["ConsumerCount"] == 0
        kinesis.register_stream_consumer(StreamARN=stream_arn(stream), ConsumerName="c1")
        summary = kinesis.describe_stream_summary(StreamName=stream)["StreamDescriptionSummary"]
        assert summary["ConsumerCount"] == 1

    def test_by_arn(self, kinesis: Any, stream: str) -> None:
        by_name = kinesis.describe_stream_summary(StreamName=stream)["StreamDescriptionSummary"]
        by_arn = kinesis.describe_stream_summary(StreamARN=stream_arn(stream))
        assert by_arn["StreamDescriptionSummary"] == by_name

    def test_on_demand(self, kinesis: Any, streams: StreamPool) -> None:
        name = streams.create(StreamModeDetails={"StreamMode": "ON_DEMAND"})
        summary = kinesis.describe_stream_summary(StreamName=name)["StreamDescriptionSummary"]
        assert summary["StreamModeDetails"] == {"StreamMode": "ON_DEMAND"}
        assert summary["OpenShardCount"] == 4

    @pytest.mark.needs("SplitShard")
    def test_open_shard_count_after_split(self, kinesis: Any, streams: StreamPool) -> None:
        name = streams.create(ShardCount=2)
        kinesis.split_shard(
            StreamName=name, ShardToSplit=shard_id(0), NewStartingHashKey=str(2**126)
        )
        wait_active(kinesis, name)
        summary = kinesis.describe_stream_summary(StreamName=name)["StreamDescriptionSummary"]
        assert summary["OpenShardCount"] == 3  # the closed parent no longer counts

    def test_while_creating(self, creating_server: ServerProcess) -> None:
        kinesis: Any = make_client(creating_server.endpoint)
        with stream_pool(kinesis) as pool:
            name = pool.create(ShardCount=1, wait=False)
            summary = kinesis.describe_stream_summary(StreamName=name)
            assert summary["StreamDescriptionSummary"]["StreamStatus"] == "CREATING"
            assert summary["StreamDescriptionSummary"]["StreamName"] == name
