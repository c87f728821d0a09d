"""The queue operations in CBOR 1.1, as the AWS SDK for Java sends them by default: byte-string
data and tag-1 epoch-millisecond timestamps both ways."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from tests.queues.conftest import put
from tests.test_cbor import Tag1, cbor_call, ok


def test_receive_and_acknowledge_in_cbor(
    kinesis: Any, endpoint: str, od_stream: str, make_queue: Callable[..., str]
) -> None:
    queue = make_queue()
    put(kinesis, od_stream, 2)
    body = ok(cbor_call(endpoint, "ReceiveQueueRecords", {"QueueARN": queue, "WaitTimeSeconds": 2}))
    records = body["QueueRecords"]
    while len(records) < 2:
        more = cbor_call(endpoint, "ReceiveQueueRecords", {"QueueARN": queue, "WaitTimeSeconds": 2})
        records += ok(more)["QueueRecords"]
    assert sorted(r["Data"] for r in records) == [b"r-0", b"r-1"]
    assert all(isinstance(r["ApproximateArrivalTimestamp"], Tag1) for r in records)
    assert all(isinstance(r["FirstReceiveTimestamp"], Tag1) for r in records)
    entries = [{"ReceiptHandle": r["ReceiptHandle"]} for r in records]
    acked = ok(
        cbor_call(endpoint, "AcknowledgeQueueRecords", {"QueueARN": queue, "Entries": entries})
    )
    assert acked == {"Successful": entries, "Failed": []}
    described = ok(cbor_call(endpoint, "DescribeQueue", {"QueueARN": queue}))
    assert isinstance(described["QueueDescription"]["QueueCreationTimestamp"], Tag1)
