"""ListShards: serialization, validation and functionality, with AWS's errors."""

from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import pytest

from tests.helpers import (
    NOT_NULL,
    STREAM_ARN_PATTERN,
    StreamPool,
    assert_enum_validation,
    assert_error,
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

TARGET = "ListShards"
SHARD_FILTER_TYPES = [
    "AFTER_SHARD_ID",
    "AT_TRIM_HORIZON",
    "FROM_TRIM_HORIZON",
    "AT_LATEST",
    "AT_TIMESTAMP",
    "FROM_TIMESTAMP",
]
NEXT_TOKEN_AND_NAME = "NextToken and StreamName cannot be provided together."


@pytest.fixture
def streams(kinesis: Any) -> Iterator[StreamPool]:
    with stream_pool(kinesis) as pool:
        yield pool


@pytest.fixture(scope="module")
def resharded(kinesis: Any) -> Iterator[tuple[str, float]]:
    """(name, t_mid): a 2-shard stream whose shard 0 was split into 2 and 3 after t_mid.

    Shards: 0 closed [0, 2^127-1]; 1 open [2^127, 2^128-1]; 2 open [0, 2^126-1];
    3 open [2^126, 2^127-1]. t_mid lies between creation and the split, a second from each.
    """
    with stream_pool(kinesis) as pool:
        name = pool.create(ShardCount=2)
        time.sleep(1.0)
        t_mid = time.time()
        time.sleep(1.0)
        kinesis.split_shard(
            StreamName=name, ShardToSplit=shard_id(0), NewStartingHashKey=str(2**126)
        )
        wait_active(kinesis, name)
        yield name, t_mid


def ids(shards: list[dict[str, Any]]) -> list[str]:
    return [s["ShardId"] for s in shards]


def list_ids(kinesis: Any, **kwargs: Any) -> list[str]:
    return ids(kinesis.list_shards(**kwargs)["Shards"])


class TestSerialization:
    @pytest.mark.parametrize(
        ("path", "value", "message"),
        serialization_params(
            {
                "StreamName": "String",
                "NextToken": "String",
                "ExclusiveStartShardId": "String",
                "MaxResults": "Integer",
                "StreamCreationTimestamp": "Timestamp",
                "ShardFilter": "Structure",
                "ShardFilter.Type": "String",
                "ShardFilter.ShardId": "String",
                "ShardFilter.Timestamp": "Timestamp",
                "StreamARN": "String",
            }
        ),
    )
    def test_wrong_json_type(self, endpoint: str, path: str, value: Any, message: str) -> None:
        base: dict[str, Any] = {"StreamName": unique_name()}
        if path.startswith("ShardFilter."):
            base["ShardFilter"] = {"Type": "AT_LATEST"}
        if path == "NextToken":
            base = {}
        assert_serialization(raw_call(endpoint, TARGET, nested(path, value, base)), message)


class TestValidation:
    def test_no_stream_name_or_next_token(self, endpoint: str) -> None:
        # kinesalite recorded "Either NextToken or StreamName should be provided."; with StreamARN
        # in the model the exact wording changed and is not documented: pin the type only
        status, _, body = raw_call(endpoint, TARGET, {})
        assert status == 400
        assert body["__type"] == "InvalidArgumentException", body

    def test_empty_values(self, endpoint: str) -> None:
        body = {"StreamName": "", "MaxResults": 0, "ExclusiveStartShardId": ""}
        assert_validation(
            raw_call(endpoint, TARGET, body),
            [
                validation_message(0, "maxResults", min_value(1)),
                validation_message("", "exclusiveStartShardId", pattern_constraint()),
                validation_message("", "exclusiveStartShardId", min_length(1)),
                validation_message("", "streamName", pattern_constraint()),
                validation_message("", "streamName", min_length(1)),
            ],
        )

    def test_long_values(self, endpoint: str) -> None:
        name = "a" * 129
        body = {"StreamName": name, "MaxResults": 100000, "ExclusiveStartShardId": name}
        assert_validation(
            raw_call(endpoint, TARGET, body),
            [
                validation_message(100000, "maxResults", max_value(10000)),
                validation_message(name, "exclusiveStartShardId", max_length(128)),
                validation_message(name, "streamName", max_length(128)),
            ],
        )

    def test_empty_next_token(self, endpoint: str) -> None:
        assert_validation(
            raw_call(endpoint, TARGET, {"NextToken": ""}),
            [validation_message("", "nextToken", min_length(1))],
        )

    def test_stream_arn_pattern(self, endpoint: str) -> None:
        assert_validation(
            raw_call(endpoint, TARGET, {"StreamARN": "x"}),
            [validation_message("x", "streamARN", pattern_constraint(STREAM_ARN_PATTERN))],
        )

    def test_shard_filter_type_missing(self, endpoint: str, stream: str) -> None:
        assert_validation(
            raw_call(endpoint, TARGET, {"StreamName": stream, "ShardFilter": {}}),
            [validation_message(None, "shardFilter.type", NOT_NULL)],
        )

    def test_shard_filter_type_not_in_enum(self, endpoint: str, stream: str) -> None:
        body = {"StreamName": stream, "ShardFilter": {"Type": "LATEST"}}
        assert_enum_validation(
            raw_call(endpoint, TARGET, body), "LATEST", "shardFilter.type", SHARD_FILTER_TYPES
        )

    def test_shard_filter_shard_id_pattern(self, endpoint: str, stream: str) -> None:
        body = {"StreamName": stream, "ShardFilter": {"Type": "AFTER_SHARD_ID", "ShardId": "x!"}}
        assert_validation(
            raw_call(endpoint, TARGET, body),
            [validation_message("x!", "shardFilter.shardId", pattern_constraint())],
        )

    def test_next_token_and_stream_name(self, kinesis: Any, stream: str) -> None:
        with pytest.raises(kinesis.exceptions.InvalidArgumentException) as exc:
            kinesis.list_shards(StreamName=stream, NextToken="token")
        assert client_error(exc) == ("InvalidArgumentException", NEXT_TOKEN_AND_NAME)

    def test_next_token_and_stream_name_real_token(self, kinesis: Any, stream: str) -> None:
        token = kinesis.list_shards(StreamName=stream, MaxResults=1)["NextToken"]
        with pytest.raises(kinesis.exceptions.InvalidArgumentException) as exc:
            kinesis.list_shards(StreamName=stream, NextToken=token)
        assert client_error(exc) == ("InvalidArgumentException", NEXT_TOKEN_AND_NAME)

    def test_malformed_next_token(self, endpoint: str, kinesis: Any, stream: str) -> None:
        # a server that never hands out tokens cannot be asked to parse one (kinesalite crashes
        # on a lone NextToken): require pagination first
        assert "NextToken" in kinesis.list_shards(StreamName=stream, MaxResults=1)
        status, _, body = raw_call(endpoint, TARGET, {"NextToken": "not-a-token"})
        assert status == 400
        assert body["__type"] in ("InvalidArgumentException", "ExpiredNextTokenException"), body

    def test_after_shard_id_without_shard_id(self, endpoint: str, stream: str) -> None:
        body = {"StreamName": stream, "ShardFilter": {"Type": "AFTER_SHARD_ID"}}
        assert_error(raw_call(endpoint, TARGET, body), "InvalidArgumentException")

    @pytest.mark.parametrize("filter_type", ["AT_TIMESTAMP", "FROM_TIMESTAMP"])
    def test_timestamp_filter_without_timestamp(
        self, endpoint: str, stream: str, filter_type: str
    ) -> None:
        body = {"StreamName": stream, "ShardFilter": {"Type": filter_type}}
        assert_error(raw_call(endpoint, TARGET, body), "InvalidArgumentException")

    def test_stream_not_found(self, kinesis: Any) -> None:
        name = unique_name()
        with pytest.raises(kinesis.exceptions.ResourceNotFoundException) as exc:
            kinesis.list_shards(StreamName=name)
        assert client_error(exc) == ("ResourceNotFoundException", not_found_message(name))

    def test_stream_not_found_by_arn(self, kinesis: Any) -> None:
        name = unique_name()
        with pytest.raises(kinesis.exceptions.ResourceNotFoundException) as exc:
            kinesis.list_shards(StreamARN=stream_arn(name))
        assert client_error(exc) == ("ResourceNotFoundException", not_found_message(name))


class TestFunctionality:
    def test_list_of_shards(self, endpoint: str, stream: str) -> None:
        status, _, body = raw_call(endpoint, TARGET, {"StreamName": stream})
        assert status == 200
        shards = body["Shards"]
        assert "NextToken" not in body
        assert ids(shards) == [shard_id(0), shard_id(1)]
        for shard, (start, end) in zip(shards, expected_hash_ranges(2), strict=True):
            seq = shard["SequenceNumberRange"].pop("StartingSequenceNumber")
            assert_sequence_number(seq)
            assert shard["SequenceNumberRange"] == {}
            assert shard["HashKeyRange"] == {"StartingHashKey": start, "EndingHashKey": end}
            assert set(shard) == {"ShardId", "HashKeyRange", "SequenceNumberRange"}

    def test_same_shards_as_describe_stream(self, kinesis: Any, stream: str) -> None:
        listed = kinesis.list_shards(StreamName=stream)["Shards"]
        described = kinesis.describe_stream(StreamName=stream)["StreamDescription"]["Shards"]
        assert listed == described

    def test_by_arn(self, kinesis: Any, stream: str) -> None:
        assert list_ids(kinesis, StreamARN=stream_arn(stream)) == [shard_id(0), shard_id(1)]

    def test_exclusive_start_shard_id(self, kinesis: Any, stream: str) -> None:
        assert list_ids(kinesis, StreamName=stream, ExclusiveStartShardId=shard_id(0)) == [
            shard_id(1)
        ]
        assert list_ids(kinesis, StreamName=stream, ExclusiveStartShardId=shard_id(1)) == []

    def test_max_results_and_next_token(self, kinesis: Any, streams: StreamPool) -> None:
        name = streams.create(ShardCount=3)
        first = kinesis.list_shards(StreamName=name, MaxResults=2)
        assert ids(first["Shards"]) == [shard_id(0), shard_id(1)]
        second = kinesis.list_shards(NextToken=first["NextToken"], MaxResults=2)
        assert ids(second["Shards"]) == [shard_id(2)]
        assert "NextToken" not in second

    def test_next_token_keeps_max_results_optional(self, kinesis: Any, streams: StreamPool) -> None:
        name = streams.create(ShardCount=3)
        first = kinesis.list_shards(StreamName=name, MaxResults=1)
        rest = kinesis.list_shards(NextToken=first["NextToken"])
        assert ids(rest["Shards"]) == [shard_id(1), shard_id(2)]

    def test_no_next_token_when_everything_fits(self, kinesis: Any, stream: str) -> None:
        page = kinesis.list_shards(StreamName=stream, MaxResults=2)
        assert ids(page["Shards"]) == [shard_id(0), shard_id(1)]
        assert "NextToken" not in page

    def test_paging_through_five_shards(self, kinesis: Any, streams: StreamPool) -> None:
        # by hand: boto3's list_shards paginator resends StreamName with NextToken, which AWS
        # refuses (see test_next_token_and_stream_name_real_token)
        name = streams.create(ShardCount=5)
        page = kinesis.list_shards(StreamName=name, MaxResults=2)
        pages = [ids(page["Shards"])]
        while "NextToken" in page and len(pages) < 10:
            page = kinesis.list_shards(NextToken=page["NextToken"], MaxResults=2)
            pages.append(ids(page["Shards"]))
        assert pages == [
            [shard_id(0), shard_id(1)],
            [shard_id(2), shard_id(3)],
            [shard_id(4)],
        ]

    def test_stream_creation_timestamp(self, kinesis: Any, stream: str) -> None:
        created = kinesis.describe_stream_summary(StreamName=stream)["StreamDescriptionSummary"][
            "StreamCreationTimestamp"
        ]
        got = list_ids(kinesis, StreamName=stream, StreamCreationTimestamp=created)
        assert got == [shard_id(0), shard_id(1)]

    def test_filter_after_shard_id(self, kinesis: Any, stream: str) -> None:
        got = list_ids(
            kinesis,
            StreamName=stream,
            ShardFilter={"Type": "AFTER_SHARD_ID", "ShardId": shard_id(0)},
        )
        assert got == [shard_id(1)]

    @pytest.mark.parametrize("filter_type", ["AT_TRIM_HORIZON", "FROM_TRIM_HORIZON", "AT_LATEST"])
    def test_filters_on_unsplit_stream(self, kinesis: Any, stream: str, filter_type: str) -> None:
        got = list_ids(kinesis, StreamName=stream, ShardFilter={"Type": filter_type})
        assert got == [shard_id(0), shard_id(1)]

    @pytest.mark.parametrize("filter_type", ["AT_TIMESTAMP", "FROM_TIMESTAMP"])
    def test_timestamp_filters_on_unsplit_stream(
        self, kinesis: Any, stream: str, filter_type: str
    ) -> None:
        now = datetime.now(UTC)
        got = list_ids(
            kinesis, StreamName=stream, ShardFilter={"Type": filter_type, "Timestamp": now}
        )
        assert got == [shard_id(0), shard_id(1)]

    @pytest.mark.needs("SplitShard")
    def test_resharded_default_lists_all(self, kinesis: Any, resharded: tuple[str, float]) -> None:
        name, _ = resharded
        shards = kinesis.list_shards(StreamName=name)["Shards"]
        assert ids(shards) == [shard_id(i) for i in range(4)]
        parent = shards[0]
        assert_sequence_number(parent["SequenceNumberRange"]["EndingSequenceNumber"])
        assert shards[2]["ParentShardId"] == shards[3]["ParentShardId"] == shard_id(0)
        assert shards[2]["HashKeyRange"] == {
            "StartingHashKey": "0",
            "EndingHashKey": str(2**126 - 1),
        }
        assert shards[3]["HashKeyRange"] == {
            "StartingHashKey": str(2**126),
            "EndingHashKey": str(2**127 - 1),
        }

    @pytest.mark.parametrize(
        ("filter_type", "expected"),
        [
            ("AT_TRIM_HORIZON", [0, 1]),  # open at the trim horizon (the stream is new)
            ("FROM_TRIM_HORIZON", [0, 1, 2, 3]),  # everything within retention
            ("AT_LATEST", [1, 2, 3]),  # open now
        ],
    )
    @pytest.mark.needs("SplitShard")
    def test_resharded_filters(
        self, kinesis: Any, resharded: tuple[str, float], filter_type: str, expected: list[int]
    ) -> None:
        name, _ = resharded
        got = list_ids(kinesis, StreamName=name, ShardFilter={"Type": filter_type})
        assert got == [shard_id(i) for i in expected]

    @pytest.mark.needs("SplitShard")
    def test_resharded_after_shard_id(self, kinesis: Any, resharded: tuple[str, float]) -> None:
        name, _ = resharded
        got = list_ids(
            kinesis, StreamName=name, ShardFilter={"Type": "AFTER_SHARD_ID", "ShardId": shard_id(1)}
        )
        assert got == [shard_id(2), shard_id(3)]

    @pytest.mark.parametrize(
        ("filter_type", "expected"),
        [
            ("AT_TIMESTAMP", [0, 1]),  # open at t_mid
            ("FROM_TIMESTAMP", [0, 1, 2, 3]),  # closed after t_mid, and all open ones
        ],
    )
    @pytest.mark.needs("SplitShard")
    def test_resharded_timestamp_filters(
        self, kinesis: Any, resharded: tuple[str, float], filter_type: str, expected: list[int]
    ) -> None:
        name, t_mid = resharded
        ts = datetime.fromtimestamp(t_mid, UTC)
        got = list_ids(kinesis, StreamName=name, ShardFilter={"Type": filter_type, "Timestamp": ts})
        assert got == [shard_id(i) for i in expected]

    @pytest.mark.needs("SplitShard")
    def test_resharded_at_timestamp_now(self, kinesis: Any, resharded: tuple[str, float]) -> None:
        name, _ = resharded
        now = datetime.now(UTC)
        got = list_ids(
            kinesis, StreamName=name, ShardFilter={"Type": "AT_TIMESTAMP", "Timestamp": now}
        )
        assert got == [shard_id(1), shard_id(2), shard_id(3)]

    @pytest.mark.needs("SplitShard")
    def test_resharded_paging_with_filter(self, kinesis: Any, resharded: tuple[str, float]) -> None:
        name, _ = resharded
        first = kinesis.list_shards(
            StreamName=name, ShardFilter={"Type": "AT_LATEST"}, MaxResults=2
        )
        assert ids(first["Shards"]) == [shard_id(1), shard_id(2)]
        # the token carries the filter: the next page holds only the rest of the open shards
        second = kinesis.list_shards(NextToken=first["NextToken"])
        assert ids(second["Shards"]) == [shard_id(3)]
