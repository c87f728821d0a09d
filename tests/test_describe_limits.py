"""DescribeLimits: serialization and functionality (the operation has no input members, so
nothing to validate).

Other sessions share the server and create and delete streams at the same time: counts are
compared before and after this test's own change, and an experiment disturbed by someone else
(the two readings around it differ by anything but the expected amount) is run again.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from tests.helpers import (
    StreamPool,
    raw_call,
    shard_id,
    stream_pool,
    wait_active,
    wait_deleted,
)

TARGET = "DescribeLimits"
ATTEMPTS = 5  # reruns of a counting experiment disturbed by a parallel session
COUNT_KEYS = ("ShardLimit", "OpenShardCount", "OnDemandStreamCount", "OnDemandStreamCountLimit")


@pytest.fixture
def streams(kinesis: Any) -> Iterator[StreamPool]:
    with stream_pool(kinesis) as pool:
        yield pool


def limits(kinesis: Any) -> dict[str, int]:
    got = kinesis.describe_limits()
    return {k: got[k] for k in COUNT_KEYS}


def assert_delta(
    kinesis: Any,
    change: Callable[[Any], object],
    expected: dict[str, int],
    prepare: Callable[[], Any] = lambda: None,
) -> None:
    """Until the counters move by ``expected`` across ``change(prepare())``: each attempt
    prepares afresh (outside the measurement), then reads, changes, reads."""
    seen = []
    for _ in range(ATTEMPTS):
        ctx = prepare()
        before = limits(kinesis)
        change(ctx)
        after = limits(kinesis)
        delta = {k: after[k] - before[k] for k in expected}
        if delta == expected:
            return
        seen.append(delta)
    raise AssertionError(f"expected {expected}, saw {seen}")


class TestSerialization:
    def test_empty_object(self, endpoint: str) -> None:
        status, _, body = raw_call(endpoint, TARGET, {})
        assert status == 200
        assert set(COUNT_KEYS) <= set(body), body

    def test_unknown_members_are_ignored(self, endpoint: str) -> None:
        status, _, body = raw_call(endpoint, TARGET, {"StreamName": "x", "Limit": "y"})
        assert status == 200, body
        assert set(COUNT_KEYS) <= set(body), body


class TestFunctionality:
    def test_shape(self, kinesis: Any) -> None:
        got = limits(kinesis)
        assert all(isinstance(v, int) and v >= 0 for v in got.values()), got
        assert got["OpenShardCount"] <= got["ShardLimit"]
        assert got["OnDemandStreamCount"] <= got["OnDemandStreamCountLimit"]
        assert got["ShardLimit"] > 0
        assert got["OnDemandStreamCountLimit"] > 0

    def test_shard_limit_matches_limit_exceeded_message(self, kinesis: Any) -> None:
        with (
            stream_pool(kinesis) as pool,
            pytest.raises(kinesis.exceptions.LimitExceededException) as exc,
        ):
            kinesis.create_stream(StreamName=pool.reserve(), ShardCount=100000)
        message = exc.value.response["Error"]["Message"]
        match = re.search(r"Current shard count for the account: (\d+)\. Limit: (\d+)\.", message)
        assert match, message
        got = limits(kinesis)
        assert int(match.group(2)) == got["ShardLimit"]

    def test_create_counts_open_shards(self, kinesis: Any, streams: StreamPool) -> None:
        assert_delta(
            kinesis,
            lambda _: streams.create(ShardCount=3),
            {"OpenShardCount": 3, "OnDemandStreamCount": 0},
        )

    def test_creating_stream_counts(self, kinesis: Any, streams: StreamPool) -> None:
        # a CREATING stream already holds its shards against the limit
        assert_delta(
            kinesis, lambda _: streams.create(ShardCount=2, wait=False), {"OpenShardCount": 2}
        )

    def test_delete_releases_open_shards(self, kinesis: Any, streams: StreamPool) -> None:
        def delete(name: str) -> None:
            kinesis.delete_stream(StreamName=name)
            wait_deleted(kinesis, name)

        assert_delta(
            kinesis, delete, {"OpenShardCount": -3}, prepare=lambda: streams.create(ShardCount=3)
        )

    def test_on_demand_stream_counts(self, kinesis: Any, streams: StreamPool) -> None:
        assert_delta(
            kinesis,
            lambda _: streams.create(StreamModeDetails={"StreamMode": "ON_DEMAND"}),
            {"OnDemandStreamCount": 1, "OpenShardCount": 4},
        )

    @pytest.mark.needs("SplitShard")
    def test_split_counts_only_open_shards(self, kinesis: Any, streams: StreamPool) -> None:
        # the parent closes and two children open: one more open shard
        def split(name: str) -> None:
            kinesis.split_shard(
                StreamName=name, ShardToSplit=shard_id(0), NewStartingHashKey=str(2**127)
            )
            wait_active(kinesis, name)

        assert_delta(
            kinesis, split, {"OpenShardCount": 1}, prepare=lambda: streams.create(ShardCount=1)
        )
