"""Fixtures for the queue tests: an ON_DEMAND stream and a queue on it, on the session server."""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from tests.helpers import stream_arn, unique_name


@pytest.fixture
def od_stream(kinesis: Any) -> Iterator[str]:
    """An ACTIVE ON_DEMAND stream; its queues and the stream are deleted after the test."""
    name = unique_name("q")
    kinesis.create_stream(StreamName=name, StreamModeDetails={"StreamMode": "ON_DEMAND"})
    kinesis.get_waiter("stream_exists").wait(
        StreamName=name, WaiterConfig={"Delay": 0.1, "MaxAttempts": 100}
    )
    yield name
    arn = stream_arn(name)
    for queue in kinesis.list_queues(StreamFilter=[{"StreamARN": arn}])["QueueSummaries"]:
        kinesis.delete_queue(QueueARN=queue["QueueARN"])
    with contextlib.suppress(kinesis.exceptions.ResourceNotFoundException):
        kinesis.delete_stream(StreamName=name, EnforceConsumerDeletion=True)


@pytest.fixture
def make_queue(kinesis: Any, od_stream: str) -> Callable[..., str]:
    """``make_queue(**QueueAttributes)`` -> the ARN of a new TRIM_HORIZON queue on od_stream."""

    def make(start: str = "TRIM_HORIZON", **attributes: Any) -> str:
        response = kinesis.create_queue(
            QueueName=unique_name("queue"),
            StreamConfigurationList=[
                {"StreamARN": stream_arn(od_stream), "StartingPosition": {"Type": start}}
            ],
            QueueAttributes=attributes,
        )
        return str(response["QueueDescription"]["QueueARN"])

    return make


def put(kinesis: Any, stream: str, count: int, prefix: str = "r") -> list[bytes]:
    """Write ``count`` records (data ``prefix-i``) with PutRecords; returns their data."""
    data = [f"{prefix}-{i}".encode() for i in range(count)]
    for start in range(0, count, 500):
        chunk = data[start : start + 500]
        out = kinesis.put_records(
            StreamName=stream,
            Records=[{"Data": d, "PartitionKey": d.decode()} for d in chunk],
        )
        assert out["FailedRecordCount"] == 0
    return data


def receive_all(kinesis: Any, queue: str, expected: int, **kwargs: Any) -> list[dict[str, Any]]:
    """Receive until ``expected`` records came back (or a receive comes back empty)."""
    got: list[dict[str, Any]] = []
    while len(got) < expected:
        records = kinesis.receive_queue_records(QueueARN=queue, WaitTimeSeconds=2, **kwargs)[
            "QueueRecords"
        ]
        if not records:
            break
        got += records
    return got
