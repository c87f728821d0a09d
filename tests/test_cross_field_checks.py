"""The operations' cross-field checks (shardflow.api.validation.checks): their messages and where
they stand among a request's other errors, over HTTP."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from shardflow.api.registry import HANDLERS
from shardflow.api.validation import CHECKS, RequestSchema
from tests.helpers import ACCOUNT_ID, assert_error, raw_call, stream_arn, unique_name
from tests.support import ServerProcess, server_of_its_own

INVALID_CHARACTERS = (
    "Some tags contain invalid characters. Valid characters: Unicode letters, digits, white"
    " space, _ . / = + - % @."
)
AUTO_ON_PROVISIONED = (
    "RecordDistributionStrategy=AUTO is only supported for on-demand streams. Stream {} is using"
    " PROVISIONED mode."
)
WARM_NEEDS_ON_DEMAND = (
    "WarmThroughputMiBps can only be specified for streams with ON_DEMAND capacity mode."
)
CONSUMER_NAMING = "Either ConsumerARN or both ConsumerName and StreamARN must be provided."
CREATE_RATE = 5  # AWS: CreateStream calls per second per account


def test_every_check_belongs_to_an_implemented_operation() -> None:
    assert CHECKS, "no operation has a cross-field check"
    assert set(CHECKS) <= set(HANDLERS) & RequestSchema().operations()


class TestCreateStream:
    def test_tags_win_over_capacity_fields(self, endpoint: str) -> None:
        body = {
            "StreamName": unique_name(),
            "ShardCount": 1,
            "Tags": {"a#b": "x"},
            "RecordDistributionStrategy": "AUTO",
            "WarmThroughputMiBps": 10,
        }
        assert_error(
            raw_call(endpoint, "CreateStream", body), "InvalidArgumentException", INVALID_CHARACTERS
        )

    def test_auto_wins_over_warm_throughput(self, endpoint: str) -> None:
        name = unique_name()
        body = {
            "StreamName": name,
            "ShardCount": 1,
            "RecordDistributionStrategy": "AUTO",
            "WarmThroughputMiBps": 10,
        }
        assert_error(
            raw_call(endpoint, "CreateStream", body),
            "InvalidArgumentException",
            AUTO_ON_PROVISIONED.format(name),
        )

    def test_warm_throughput_needs_on_demand_before_the_commitment(self, endpoint: str) -> None:
        # The account has no billing commitment: the mode rule is the one reported.
        body = {"StreamName": unique_name(), "ShardCount": 1, "WarmThroughputMiBps": 10}
        assert_error(
            raw_call(endpoint, "CreateStream", body),
            "InvalidArgumentException",
            WARM_NEEDS_ON_DEMAND,
        )

    def test_checked_before_the_stream_exists_check(self, endpoint: str) -> None:
        name = unique_name()
        created = raw_call(endpoint, "CreateStream", {"StreamName": name, "ShardCount": 1})
        assert created[0] == 200, created
        body = {"StreamName": name, "ShardCount": 1, "RecordDistributionStrategy": "AUTO"}
        assert_error(
            raw_call(endpoint, "CreateStream", body),
            "InvalidArgumentException",
            AUTO_ON_PROVISIONED.format(name),
        )
        raw_call(endpoint, "DeleteStream", {"StreamName": name})


class TestStreamConsumer:
    @pytest.mark.parametrize("operation", ["DescribeStreamConsumer", "DeregisterStreamConsumer"])
    @pytest.mark.parametrize("named", [{}, {"ConsumerName": "c"}, {"StreamARN": "arn"}])
    def test_named_neither_way(self, endpoint: str, operation: str, named: dict[str, str]) -> None:
        body = {k: stream_arn(unique_name()) if k == "StreamARN" else v for k, v in named.items()}
        assert_error(
            raw_call(endpoint, operation, body), "InvalidArgumentException", CONSUMER_NAMING
        )

    def test_named_by_stream_and_name_is_looked_up(self, endpoint: str) -> None:
        name = unique_name()
        body = {"StreamARN": stream_arn(name), "ConsumerName": "c"}
        assert_error(
            raw_call(endpoint, "DescribeStreamConsumer", body),
            "ResourceNotFoundException",
            f"Stream {name} under account {ACCOUNT_ID} not found.",
        )


class TestListShards:
    def test_next_token_conflict_wins_over_a_missing_stream(self, endpoint: str) -> None:
        body = {"StreamName": unique_name(), "NextToken": "whatever"}
        assert_error(
            raw_call(endpoint, "ListShards", body),
            "InvalidArgumentException",
            "NextToken and StreamName cannot be provided together.",
        )

    def test_next_token_and_start_shard(self, endpoint: str) -> None:
        body = {"ExclusiveStartShardId": "shardId-000000000000", "NextToken": "whatever"}
        assert_error(
            raw_call(endpoint, "ListShards", body),
            "InvalidArgumentException",
            "NextToken and ExclusiveStartShardId cannot be provided together.",
        )


@pytest.fixture(scope="module")
def limited(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    """A server of its own with AWS's limits on: this module drains its CreateStream rate."""
    data: Path = tmp_path_factory.mktemp("cross-field-limited") / "data"
    yield from server_of_its_own(data, limits=True)


def test_control_plane_rate_wins_over_cross_field_rules(limited: ServerProcess) -> None:
    body = {"StreamName": unique_name(), "ShardCount": 1, "WarmThroughputMiBps": 10}
    kinds = []
    # Many more calls than the bucket holds and can refill while they run, even on a slow host.
    for _ in range(CREATE_RATE * 8):
        kinds.append(raw_call(limited.endpoint, "CreateStream", body)[2]["__type"].split("#")[-1])
    assert kinds[0] == "InvalidArgumentException"
    assert "LimitExceededException" in kinds
