"""DescribeStream: serialization, validation and functionality, with AWS's errors."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from tests.helpers import (
    NOT_NULL,
    STREAM_ARN_PATTERN,
    StreamPool,
    assert_sequence_number,
    assert_serialization,
    assert_validation,
    client_error,
    expected_hash_ranges,
    max_length,
    max_value,
    min_length,
    min_value,
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

TARGET = "DescribeStream"


@pytest.fixture
def streams(kinesis: Any) -> Iterator[StreamPool]:
    with stream_pool(kinesis) as pool:
        yield pool


class TestSerialization:
    @pytest.mark.parametrize(
        ("path", "value", "message"),
        serialization_params(
            {
                "StreamName": "String",
                "Limit": "Integer",
                "ExclusiveStartShardId": "String",
                "StreamARN": "String",
            }
        ),
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
        if body["__type"] == "ValidationException":
            assert body["message"] == (
                "1 validation error detected: " + validation_message(None, "streamName", NOT_NULL)
            )

    def test_empty_values(self, endpoint: str) -> None:
        body = {"StreamName": "", "Limit": 0, "ExclusiveStartShardId": ""}
        assert_validation(
            raw_call(endpoint, TARGET, body),
            [
                validation_message(0, "limit", min_value(1)),
                validation_message("", "exclusiveStartShardId", pattern_constraint()),
                validation_message("", "exclusiveStartShardId", min_length(1)),
                validation_message("", "streamName", pattern_constraint()),
                validation_message("", "streamName", min_length(1)),
            ],
        )

    def test_long_values(self, endpoint: str) -> None:
        name = "a" * 129
        body = {"StreamName": name, "Limit": 100000, "ExclusiveStartShardId": name}
        assert_validation(
            raw_call(endpoint, TARGET, body),
            [
                validation_message(100000, "limit", max_value(10000)),
                validation_message(name, "exclusiveStartShardId", max_length(128)),
                validation_message(name, "streamName", max_length(128)),
            ],
        )

    def test_stream_name_pattern(self, endpoint: str) -> None:
        assert_validation(
            raw_call(endpoint, TARGET, {"StreamName": "x!"}),
            [validation_message("x!", "streamName", pattern_constraint())],
        )

    def test_stream_arn_pattern(self, endpoint: str) -> None:
        arn = "arn:aws:kinesis:us-east-1:123:stream/x"  # account id is not 12 digits
        assert_validation(
            raw_call(endpoint, TARGET, {"StreamARN": arn}),
            [validation_message(arn, "streamARN", pattern_constraint(STREAM_ARN_PATTERN))],
        )

    def test_stream_not_found(self, kinesis: Any) -> None:
        name = unique_name()
        with pytest.raises(kinesis.exceptions.ResourceNotFoundException) as exc:
            kinesis.describe_stream(StreamName=name)
        assert client_error(exc) == ("ResourceNotFoundException", not_found_message(name))

    def test_stream_not_found_by_arn(self, kinesis: Any) -> None:
        name = unique_name()
        with pytest.raises(kinesis.exceptions.ResourceNotFoundException) as exc:
            kinesis.describe_stream(StreamARN=stream_arn(name))
        assert client_error(exc) == ("ResourceNotFoundException", not_found_message(name))


class TestFunctionality:
    def test_stream_description(self, kinesis: Any, stream: str) -> None:
        desc = kinesis.describe_stream(StreamName=stream)["StreamDescription"]
        assert desc["StreamName"] == stream
        assert desc["StreamARN"] == stream_arn(stream)
        assert desc["StreamStatus"] == "ACTIVE"
        assert desc["HasMoreShards"] is False
        assert desc["RetentionPeriodHours"] == 24
        assert desc["EnhancedMonitoring"] == [{"ShardLevelMetrics": []}]
        assert desc["EncryptionType"] == "NONE"
        assert "StreamCreationTimestamp" in desc
        assert [s["ShardId"] for s in desc["Shards"]] == [shard_id(0), shard_id(1)]
        for shard, (start, end) in zip(desc["Shards"], expected_hash_ranges(2), strict=True):
            assert shard["HashKeyRange"] == {"StartingHashKey": start, "EndingHashKey": end}
            assert_sequence_number(shard["SequenceNumberRange"]["StartingSequenceNumber"])
            assert "EndingSequenceNumber" not in shard["SequenceNumberRange"]
            assert "ParentShardId" not in shard

    def test_hash_ranges_of_two_shards(self, kinesis: Any, stream: str) -> None:
        shards = kinesis.describe_stream(StreamName=stream)["StreamDescription"]["Shards"]
        assert shards[0]["HashKeyRange"] == {
            "StartingHashKey": "0",
            "EndingHashKey": "170141183460469231731687303715884105727",
        }
        assert shards[1]["HashKeyRange"] == {
            "StartingHashKey": "170141183460469231731687303715884105728",
            "EndingHashKey": "340282366920938463463374607431768211455",
        }

    def test_stream_mode_details(self, kinesis: Any, stream: str) -> None:
        desc = kinesis.describe_stream(StreamName=stream)["StreamDescription"]
        assert desc["StreamModeDetails"] == {"StreamMode": "PROVISIONED"}

    def test_by_arn(self, kinesis: Any, stream: str) -> None:
        by_name = kinesis.describe_stream(StreamName=stream)["StreamDescription"]
        by_arn = kinesis.describe_stream(StreamARN=stream_arn(stream))["StreamDescription"]
        assert by_arn == by_name

    def test_by_name_and_arn(self, kinesis: Any, stream: str) -> None:
        desc = kinesis.describe_stream(StreamName=stream, StreamARN=stream_arn(stream))
        assert desc["StreamDescription"]["StreamName"] == stream

    def test_limit(self, kinesis: Any, stream: str) -> None:
        desc = kinesis.describe_stream(StreamName=stream, Limit=1)["StreamDescription"]
        assert [s["ShardId"] for s in desc["Shards"]] == [shard_id(0)]
        assert desc["HasMoreShards"] is True

    def test_limit_equal_to_shard_count(self, kinesis: Any, stream: str) -> None:
        desc = kinesis.describe_stream(StreamName=stream, Limit=2)["StreamDescription"]
        assert len(desc["Shards"]) == 2
        assert desc["HasMoreShards"] is False

    def test_exclusive_start_shard_id(self, kinesis: Any, stream: str) -> None:
        desc = kinesis.describe_stream(StreamName=stream, ExclusiveStartShardId=shard_id(0))
        desc = desc["StreamDescription"]
        assert [s["ShardId"] for s in desc["Shards"]] == [shard_id(1)]
        assert desc["HasMoreShards"] is False

    def test_exclusive_start_at_last_shard(self, kinesis: Any, stream: str) -> None:
        desc = kinesis.describe_stream(StreamName=stream, ExclusiveStartShardId=shard_id(1))
        desc = desc["StreamDescription"]
        assert desc["Shards"] == []
        assert desc["HasMoreShards"] is False

    def test_paging_with_limit_and_exclusive_start(self, kinesis: Any, streams: StreamPool) -> None:
        name = streams.create(ShardCount=5)
        seen: list[str] = []
        start: dict[str, str] = {}
        for _ in range(10):
            desc = kinesis.describe_stream(StreamName=name, Limit=2, **start)["StreamDescription"]
            assert len(desc["Shards"]) <= 2
            seen += [s["ShardId"] for s in desc["Shards"]]
            if not desc["HasMoreShards"]:
                break
            start = {"ExclusiveStartShardId": seen[-1]}
        assert seen == [shard_id(i) for i in range(5)]

    def test_creation_timestamp_is_stable(self, kinesis: Any, stream: str) -> None:
        first = kinesis.describe_stream(StreamName=stream)["StreamDescription"]
        second = kinesis.describe_stream(StreamName=stream)["StreamDescription"]
        assert first["StreamCreationTimestamp"] == second["StreamCreationTimestamp"]
        assert first["Shards"] == second["Shards"]

    @pytest.mark.needs("SplitShard")
    def test_closed_parent_after_split(self, kinesis: Any, streams: StreamPool) -> None:
        name = streams.create(ShardCount=1)
        kinesis.split_shard(
            StreamName=name, ShardToSplit=shard_id(0), NewStartingHashKey=str(2**127)
        )
        wait_active(kinesis, name)
        shards = kinesis.describe_stream(StreamName=name)["StreamDescription"]["Shards"]
        assert [s["ShardId"] for s in shards] == [shard_id(0), shard_id(1), shard_id(2)]
        parent, left, right = shards
        assert_sequence_number(parent["SequenceNumberRange"]["EndingSequenceNumber"])
        assert left["ParentShardId"] == right["ParentShardId"] == shard_id(0)
        assert left["HashKeyRange"] == {
            "StartingHashKey": "0",
            "EndingHashKey": str(2**127 - 1),
        }
        assert right["HashKeyRange"] == {
            "StartingHashKey": str(2**127),
            "EndingHashKey": str(2**128 - 1),
        }
