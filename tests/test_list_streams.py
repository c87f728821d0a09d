"""ListStreams: serialization, validation and functionality, with AWS's errors.

Other sessions share the server: every listing starts just below this test's own name prefix
(ExclusiveStartStreamName) or pages through everything and filters for its own names.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator
from typing import Any

import pytest

from tests.helpers import (
    StreamPool,
    assert_serialization,
    assert_validation,
    max_length,
    max_value,
    min_length,
    min_value,
    nested,
    pattern_constraint,
    raw_call,
    serialization_params,
    stream_arn,
    stream_pool,
    validation_message,
    wait_active,
    wait_deleted,
)

TARGET = "ListStreams"
PAGE_LIMIT = 100  # AWS returns at most 100 names per call, whatever Limit says


@pytest.fixture
def streams(kinesis: Any) -> Iterator[StreamPool]:
    with stream_pool(kinesis) as pool:
        yield pool


@pytest.fixture
def three(streams: StreamPool) -> tuple[str, list[str]]:
    """(prefix, names): three 1-shard streams whose names sort together, right after prefix."""
    prefix = f"ls-{uuid.uuid4().hex[:12]}"
    names = [streams.create(f"{prefix}-{i}", ShardCount=1, wait=False) for i in range(3)]
    for name in names:
        wait_active(streams.kinesis, name)
    return prefix, names


def all_stream_names(kinesis: Any) -> list[str]:
    """Every name, paged with ExclusiveStartStreamName (understood by old and new servers)."""
    names: list[str] = []
    start: dict[str, str] = {}
    for _ in range(10_000):
        page = kinesis.list_streams(Limit=PAGE_LIMIT, **start)
        names += page["StreamNames"]
        if not page["HasMoreStreams"] or not page["StreamNames"]:
            return names
        start = {"ExclusiveStartStreamName": names[-1]}
    raise AssertionError("ListStreams never ended")


class TestSerialization:
    @pytest.mark.parametrize(
        ("path", "value", "message"),
        serialization_params(
            {"Limit": "Integer", "ExclusiveStartStreamName": "String", "NextToken": "String"}
        ),
    )
    def test_wrong_json_type(self, endpoint: str, path: str, value: Any, message: str) -> None:
        assert_serialization(raw_call(endpoint, TARGET, nested(path, value)), message)


class TestValidation:
    def test_empty_values(self, endpoint: str) -> None:
        assert_validation(
            raw_call(endpoint, TARGET, {"ExclusiveStartStreamName": "", "Limit": 0}),
            [
                validation_message(0, "limit", min_value(1)),
                validation_message("", "exclusiveStartStreamName", pattern_constraint()),
                validation_message("", "exclusiveStartStreamName", min_length(1)),
            ],
        )

    def test_long_values(self, endpoint: str) -> None:
        name = "a" * 129
        body = {"ExclusiveStartStreamName": name, "Limit": 1000000}
        assert_validation(
            raw_call(endpoint, TARGET, body),
            [
                validation_message(1000000, "limit", max_value(10000)),
                validation_message(name, "exclusiveStartStreamName", max_length(128)),
            ],
        )

    def test_exclusive_start_pattern(self, endpoint: str) -> None:
        assert_validation(
            raw_call(endpoint, TARGET, {"ExclusiveStartStreamName": "x!"}),
            [validation_message("x!", "exclusiveStartStreamName", pattern_constraint())],
        )

    def test_empty_next_token(self, endpoint: str) -> None:
        assert_validation(
            raw_call(endpoint, TARGET, {"NextToken": ""}),
            [validation_message("", "nextToken", min_length(1))],
        )


class TestFunctionality:
    def test_response_shape(self, endpoint: str) -> None:
        status, _, body = raw_call(endpoint, TARGET, {"Limit": 1})
        assert status == 200
        assert isinstance(body["StreamNames"], list)
        assert isinstance(body["HasMoreStreams"], bool)

    def test_all_streams_include_ours_sorted(
        self, kinesis: Any, three: tuple[str, list[str]]
    ) -> None:
        _, names = three
        listed = all_stream_names(kinesis)
        assert listed == sorted(listed)
        assert len(listed) == len(set(listed))
        assert [n for n in listed if n in names] == names

    def test_limit(self, kinesis: Any, three: tuple[str, list[str]]) -> None:
        prefix, names = three
        page = kinesis.list_streams(ExclusiveStartStreamName=prefix, Limit=2)
        assert page["StreamNames"] == names[:2]
        assert page["HasMoreStreams"] is True

    def test_exclusive_start_stream_name(self, kinesis: Any, three: tuple[str, list[str]]) -> None:
        _, names = three
        page = kinesis.list_streams(ExclusiveStartStreamName=names[0], Limit=2)
        assert page["StreamNames"] == names[1:]

    def test_exclusive_start_need_not_exist(
        self, kinesis: Any, three: tuple[str, list[str]]
    ) -> None:
        prefix, names = three
        page = kinesis.list_streams(ExclusiveStartStreamName=prefix + "-0a", Limit=1)
        assert page["StreamNames"] == [names[1]]

    def test_next_token(self, kinesis: Any, three: tuple[str, list[str]]) -> None:
        prefix, names = three
        first = kinesis.list_streams(ExclusiveStartStreamName=prefix, Limit=1)
        assert first["StreamNames"] == names[:1]
        assert first["HasMoreStreams"] is True
        token = first["NextToken"]
        second = kinesis.list_streams(NextToken=token, Limit=1)
        assert second["StreamNames"] == names[1:2]
        third = kinesis.list_streams(NextToken=second["NextToken"], Limit=1)
        assert third["StreamNames"] == names[2:3]

    def test_no_next_token_on_last_page(self, kinesis: Any, three: tuple[str, list[str]]) -> None:
        _, names = three
        # the last page of everything: page until HasMoreStreams is false
        page = kinesis.list_streams(ExclusiveStartStreamName=names[-1], Limit=PAGE_LIMIT)
        while page["HasMoreStreams"]:
            page = kinesis.list_streams(NextToken=page["NextToken"], Limit=PAGE_LIMIT)
        assert "NextToken" not in page

    def test_stream_summaries(self, kinesis: Any, three: tuple[str, list[str]]) -> None:
        prefix, names = three
        before = time.time()
        page = kinesis.list_streams(ExclusiveStartStreamName=prefix, Limit=3)
        assert page["StreamNames"] == names
        summaries = page["StreamSummaries"]
        assert [s["StreamName"] for s in summaries] == names
        for summary in summaries:
            assert summary["StreamARN"] == stream_arn(summary["StreamName"])
            assert summary["StreamStatus"] == "ACTIVE"
            assert summary["StreamModeDetails"] == {"StreamMode": "PROVISIONED"}
            created = summary["StreamCreationTimestamp"].timestamp()
            assert before - 60 <= created <= time.time() + 5

    def test_on_demand_summary(self, kinesis: Any, streams: StreamPool) -> None:
        name = streams.create(
            f"ls-{uuid.uuid4().hex[:12]}", StreamModeDetails={"StreamMode": "ON_DEMAND"}
        )
        page = kinesis.list_streams(ExclusiveStartStreamName=name[:-1], Limit=1)
        assert page["StreamSummaries"][0]["StreamName"] == name
        assert page["StreamSummaries"][0]["StreamModeDetails"] == {"StreamMode": "ON_DEMAND"}

    def test_paginator(self, kinesis: Any, three: tuple[str, list[str]]) -> None:
        _, names = three
        seen: list[str] = []
        paginator = kinesis.get_paginator("list_streams")
        for page in paginator.paginate(PaginationConfig={"PageSize": 50}):
            seen += page["StreamNames"]
        assert [n for n in seen if n in names] == names

    def test_creating_stream_is_listed(self, kinesis: Any, streams: StreamPool) -> None:
        name = streams.create(f"ls-{uuid.uuid4().hex[:12]}", ShardCount=1, wait=False)
        page = kinesis.list_streams(ExclusiveStartStreamName=name[:-1], Limit=1)
        assert page["StreamNames"] == [name]

    def test_deleted_stream_is_not_listed(self, kinesis: Any, three: tuple[str, list[str]]) -> None:
        prefix, names = three
        kinesis.delete_stream(StreamName=names[1])
        wait_deleted(kinesis, names[1])
        page = kinesis.list_streams(ExclusiveStartStreamName=prefix, Limit=2)
        assert page["StreamNames"] == [names[0], names[2]]
