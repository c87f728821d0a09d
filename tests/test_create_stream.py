"""CreateStream: serialization, validation and functionality, with AWS's errors."""

from __future__ import annotations

import re
import time
from collections.abc import Iterator
from typing import Any

import pytest

from tests.conftest import make_client
from tests.helpers import (
    NOT_NULL,
    StreamPool,
    assert_enum_validation,
    assert_error,
    assert_sequence_number,
    assert_serialization,
    assert_validation,
    client_error,
    expected_hash_ranges,
    in_use_message,
    max_length,
    max_value,
    min_length,
    min_value,
    nested,
    pattern_constraint,
    raw_call,
    serialization_params,
    shard_id,
    stream_arn,
    stream_pool,
    unique_name,
    validation_message,
    wait_active,
    wait_deleted,
)
from tests.support import ServerProcess

TARGET = "CreateStream"
ON_DEMAND_INITIAL_SHARDS = 4  # AWS creates an on-demand stream with 4 shards
LIMIT_EXCEEDED_RE = re.compile(
    r"This request would exceed the shard limit for the account 000000000000 in us-east-1\. "
    r"Current shard count for the account: \d+\. Limit: \d+\. "
    r"Number of additional shards that would have resulted from this request: 100000\. "
    r"Refer to the AWS Service Limits page "
    r"\(http://docs\.aws\.amazon\.com/general/latest/gr/aws_service_limits\.html\) "
    r"for current limits and how to request higher limits\."
)


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
                "ShardCount": "Integer",
                "Tags": "Map",
                "StreamModeDetails": "Structure",
                "StreamModeDetails.StreamMode": "String",
                "MaxRecordSizeInKiB": "Integer",
                "WarmThroughputMiBps": "Integer",
                "RecordDistributionStrategy": "String",
            }
        ),
    )
    def test_wrong_json_type(
        self, endpoint: str, streams: StreamPool, path: str, value: Any, message: str
    ) -> None:
        body = nested(path, value, {"StreamName": streams.reserve(), "ShardCount": 1})
        assert_serialization(raw_call(endpoint, TARGET, body), message)


class TestValidation:
    def test_no_stream_name(self, endpoint: str) -> None:
        # ShardCount is optional in the current model (ON_DEMAND needs none): only one error
        assert_validation(
            raw_call(endpoint, TARGET, {}), [validation_message(None, "streamName", NOT_NULL)]
        )

    def test_empty_stream_name_and_zero_shards(self, endpoint: str) -> None:
        assert_validation(
            raw_call(endpoint, TARGET, {"StreamName": "", "ShardCount": 0}),
            [
                validation_message(0, "shardCount", min_value(1)),
                validation_message("", "streamName", pattern_constraint()),
                validation_message("", "streamName", min_length(1)),
            ],
        )

    def test_long_stream_name(self, endpoint: str) -> None:
        name = "a" * 129
        assert_validation(
            raw_call(endpoint, TARGET, {"StreamName": name, "ShardCount": 1}),
            [validation_message(name, "streamName", max_length(128))],
        )

    def test_stream_name_pattern(self, endpoint: str) -> None:
        assert_error(
            raw_call(endpoint, TARGET, {"StreamName": "x!", "ShardCount": 1}),
            "ValidationException",
            "1 validation error detected: Value 'x!' at 'streamName' failed to satisfy "
            "constraint: Member must satisfy regular expression pattern: [a-zA-Z0-9_.-]+",
        )

    def test_negative_shard_count(self, endpoint: str, streams: StreamPool) -> None:
        assert_validation(
            raw_call(endpoint, TARGET, {"StreamName": streams.reserve(), "ShardCount": -1}),
            [validation_message(-1, "shardCount", min_value(1))],
        )

    def test_stream_mode_not_in_enum(self, endpoint: str, streams: StreamPool) -> None:
        body = {"StreamName": streams.reserve(), "StreamModeDetails": {"StreamMode": "BOGUS"}}
        assert_enum_validation(
            raw_call(endpoint, TARGET, body),
            "BOGUS",
            "streamModeDetails.streamMode",
            ["PROVISIONED", "ON_DEMAND"],
        )

    def test_stream_mode_missing(self, endpoint: str, streams: StreamPool) -> None:
        body = {"StreamName": streams.reserve(), "ShardCount": 1, "StreamModeDetails": {}}
        assert_validation(
            raw_call(endpoint, TARGET, body),
            [validation_message(None, "streamModeDetails.streamMode", NOT_NULL)],
        )

    def test_empty_tags(self, endpoint: str, streams: StreamPool) -> None:
        body = {"StreamName": streams.reserve(), "ShardCount": 1, "Tags": {}}
        assert_validation(
            raw_call(endpoint, TARGET, body), [validation_message("{}", "tags", min_length(1))]
        )

    @pytest.mark.parametrize(
        ("value", "constraint"), [(1023, min_value(1024)), (10241, max_value(10240))]
    )
    def test_max_record_size_out_of_range(
        self, endpoint: str, streams: StreamPool, value: int, constraint: str
    ) -> None:
        body = {"StreamName": streams.reserve(), "ShardCount": 1, "MaxRecordSizeInKiB": value}
        assert_validation(
            raw_call(endpoint, TARGET, body),
            [validation_message(value, "maxRecordSizeInKiB", constraint)],
        )

    def test_negative_warm_throughput(self, endpoint: str, streams: StreamPool) -> None:
        body = {"StreamName": streams.reserve(), "ShardCount": 1, "WarmThroughputMiBps": -1}
        assert_validation(
            raw_call(endpoint, TARGET, body),
            [validation_message(-1, "warmThroughputMiBps", min_value(0))],
        )

    def test_record_distribution_strategy_not_in_enum(
        self, endpoint: str, streams: StreamPool
    ) -> None:
        body = {"StreamName": streams.reserve(), "ShardCount": 1}
        body["RecordDistributionStrategy"] = "X"
        assert_enum_validation(
            raw_call(endpoint, TARGET, body),
            "X",
            "recordDistributionStrategy",
            ["AUTO", "USER_PARTITION_KEY"],
        )

    def test_shard_limit_exceeded(self, kinesis: Any, streams: StreamPool) -> None:
        # the server runs with the default shard limit, far below 100000
        with pytest.raises(kinesis.exceptions.LimitExceededException) as exc:
            kinesis.create_stream(StreamName=streams.reserve(), ShardCount=100000)
        code, message = client_error(exc)
        assert code == "LimitExceededException"
        assert LIMIT_EXCEEDED_RE.fullmatch(message), message

    def test_shard_limit_exceeded_creates_nothing(self, kinesis: Any, streams: StreamPool) -> None:
        name = streams.reserve()
        with pytest.raises(kinesis.exceptions.LimitExceededException):
            kinesis.create_stream(StreamName=name, ShardCount=100000)
        with pytest.raises(kinesis.exceptions.ResourceNotFoundException):
            kinesis.describe_stream_summary(StreamName=name)

    def test_existing_stream(self, kinesis: Any, stream: str) -> None:
        with pytest.raises(kinesis.exceptions.ResourceInUseException) as exc:
            kinesis.create_stream(StreamName=stream, ShardCount=1)
        assert client_error(exc) == ("ResourceInUseException", in_use_message(stream))

    def test_existing_stream_while_creating(self, kinesis: Any, streams: StreamPool) -> None:
        name = streams.create(ShardCount=1, wait=False)
        with pytest.raises(kinesis.exceptions.ResourceInUseException) as exc:
            kinesis.create_stream(StreamName=name, ShardCount=2)
        assert client_error(exc) == ("ResourceInUseException", in_use_message(name))


class TestFunctionality:
    def test_response_is_empty(self, endpoint: str, kinesis: Any, streams: StreamPool) -> None:
        name = streams.reserve()
        status, _, body = raw_call(endpoint, TARGET, {"StreamName": name, "ShardCount": 1})
        assert status == 200
        assert body in (None, {}), body

    # kinesalite's suite, recorded against AWS, describes a CREATING stream with no shards.
    # Shardflow lists them already: found when this assertion stopped being dead code (it sat
    # in a CREATING branch the session server never reached). The fix belongs in the DescribeStream
    # action; strict, so the test says so once it passes.
    def test_creating_stream_has_no_shards_yet(self, creating_server: ServerProcess) -> None:
        kinesis: Any = make_client(creating_server.endpoint)
        with stream_pool(kinesis) as pool:
            name = pool.create(ShardCount=3, wait=False)
            desc = kinesis.describe_stream(StreamName=name)["StreamDescription"]
            assert desc["StreamStatus"] == "CREATING"
            assert desc["StreamARN"] == stream_arn(name)
            assert desc["Shards"] == []
            assert desc["HasMoreShards"] is False

    def test_three_shard_stream(self, kinesis: Any, streams: StreamPool) -> None:
        before = time.time()
        name = streams.create(ShardCount=3, wait=False)
        desc = kinesis.describe_stream(StreamName=name)["StreamDescription"]
        assert desc["StreamName"] == name
        assert desc["StreamARN"] == stream_arn(name)
        wait_active(kinesis, name)
        desc = kinesis.describe_stream(StreamName=name)["StreamDescription"]
        assert desc["StreamStatus"] == "ACTIVE"
        assert desc["HasMoreShards"] is False
        assert desc["RetentionPeriodHours"] == 24
        assert desc["EncryptionType"] == "NONE"
        assert desc["EnhancedMonitoring"] == [{"ShardLevelMetrics": []}]
        # whole seconds on some servers: allow the floor, and clock skew of a few seconds
        created = desc["StreamCreationTimestamp"].timestamp()
        assert before - 5 <= created <= time.time() + 5
        assert [s["ShardId"] for s in desc["Shards"]] == [shard_id(i) for i in range(3)]
        assert [
            (s["HashKeyRange"]["StartingHashKey"], s["HashKeyRange"]["EndingHashKey"])
            for s in desc["Shards"]
        ] == [
            ("0", "113427455640312821154458202477256070484"),
            ("113427455640312821154458202477256070485", "226854911280625642308916404954512140969"),
            ("226854911280625642308916404954512140970", "340282366920938463463374607431768211455"),
        ]
        for shard in desc["Shards"]:
            assert set(shard) == {"ShardId", "HashKeyRange", "SequenceNumberRange"}
            assert set(shard["SequenceNumberRange"]) == {"StartingSequenceNumber"}
            assert_sequence_number(shard["SequenceNumberRange"]["StartingSequenceNumber"])

    @pytest.mark.parametrize("shard_count", [1, 2, 5, 7])
    def test_hash_key_ranges(self, kinesis: Any, streams: StreamPool, shard_count: int) -> None:
        name = streams.create(ShardCount=shard_count)
        shards = kinesis.describe_stream(StreamName=name)["StreamDescription"]["Shards"]
        assert [
            (s["HashKeyRange"]["StartingHashKey"], s["HashKeyRange"]["EndingHashKey"])
            for s in shards
        ] == expected_hash_ranges(shard_count)
        assert [s["ShardId"] for s in shards] == [shard_id(i) for i in range(shard_count)]

    def test_provisioned_mode_explicit(self, kinesis: Any, streams: StreamPool) -> None:
        name = streams.create(ShardCount=1, StreamModeDetails={"StreamMode": "PROVISIONED"})
        summary = kinesis.describe_stream_summary(StreamName=name)["StreamDescriptionSummary"]
        assert summary["StreamModeDetails"] == {"StreamMode": "PROVISIONED"}
        assert summary["OpenShardCount"] == 1

    def test_provisioned_is_the_default_mode(self, kinesis: Any, streams: StreamPool) -> None:
        name = streams.create(ShardCount=2)
        summary = kinesis.describe_stream_summary(StreamName=name)["StreamDescriptionSummary"]
        assert summary["StreamModeDetails"] == {"StreamMode": "PROVISIONED"}

    def test_on_demand_starts_with_four_shards(self, kinesis: Any, streams: StreamPool) -> None:
        name = streams.create(StreamModeDetails={"StreamMode": "ON_DEMAND"})
        summary = kinesis.describe_stream_summary(StreamName=name)["StreamDescriptionSummary"]
        assert summary["StreamModeDetails"] == {"StreamMode": "ON_DEMAND"}
        assert summary["OpenShardCount"] == ON_DEMAND_INITIAL_SHARDS
        shards = kinesis.list_shards(StreamName=name)["Shards"]
        assert [
            (s["HashKeyRange"]["StartingHashKey"], s["HashKeyRange"]["EndingHashKey"])
            for s in shards
        ] == expected_hash_ranges(ON_DEMAND_INITIAL_SHARDS)

    def test_tags(self, kinesis: Any, streams: StreamPool) -> None:
        tags = {"team": "data", "empty": ""}
        name = streams.create(ShardCount=1, Tags=tags)
        got = kinesis.list_tags_for_stream(StreamName=name)
        assert {t["Key"]: t.get("Value", "") for t in got["Tags"]} == tags
        assert got["HasMoreTags"] is False

    def test_max_record_size(self, kinesis: Any, streams: StreamPool) -> None:
        name = streams.create(ShardCount=1, MaxRecordSizeInKiB=2048)
        summary = kinesis.describe_stream_summary(StreamName=name)["StreamDescriptionSummary"]
        assert summary["MaxRecordSizeInKiB"] == 2048

    def test_longest_name_and_every_allowed_character(
        self, kinesis: Any, streams: StreamPool
    ) -> None:
        suffix = unique_name("Az09_.-")
        name = suffix + "x" * (128 - len(suffix))
        streams.create(name, ShardCount=1)
        desc = kinesis.describe_stream(StreamName=name)["StreamDescription"]
        assert desc["StreamName"] == name
        assert desc["StreamARN"] == stream_arn(name)

    def test_name_is_reusable_after_delete(self, kinesis: Any, streams: StreamPool) -> None:
        name = streams.create(ShardCount=1)
        kinesis.delete_stream(StreamName=name)
        wait_deleted(kinesis, name)
        streams.create(name, ShardCount=2)
        shards = kinesis.describe_stream(StreamName=name)["StreamDescription"]["Shards"]
        assert len(shards) == 2
