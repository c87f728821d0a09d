"""SubscribeToShard (enhanced fan-out) over AWS event-stream framing, with boto3 over HTTP/1.1.

AWS (API reference): the consumer must be ACTIVE; the response starts with an initial-response
event, then SubscribeToShardEvent events pushed as records arrive; a second call for the same
consumer and shard within 5 s fails with ResourceInUseException; at the end of a closed shard
the last event carries ChildShards and no ContinuationSequenceNumber.
"""

from __future__ import annotations

import http.client
import threading
import time
from collections.abc import Iterator
from typing import Any
from urllib.parse import urlsplit

import cbor2
import pytest

from shardflow.wire import cbor_codec, eventstream
from tests.conftest import make_client
from tests.helpers import (
    ACCOUNT_ID,
    FAKE_AMZ_DATE,
    FAKE_AUTHORIZATION,
    TARGET_PREFIX,
    StreamPool,
    client_error,
    stream_arn,
    unique_name,
)

pytestmark = pytest.mark.timeout(60)


@pytest.fixture
def streams(kinesis: Any) -> Iterator[StreamPool]:
    pool = StreamPool(kinesis)
    yield pool
    pool.close()


def _consumer(kinesis: Any, stream: str) -> str:
    name = unique_name("efo")
    arn: str = kinesis.register_stream_consumer(StreamARN=stream_arn(stream), ConsumerName=name)[
        "Consumer"
    ]["ConsumerARN"]
    for _ in range(100):
        status = kinesis.describe_stream_consumer(ConsumerARN=arn)["ConsumerDescription"]
        if status["ConsumerStatus"] == "ACTIVE":
            return arn
        time.sleep(0.05)
    raise AssertionError("consumer not ACTIVE")


def _subscribe(kinesis: Any, arn: str, position: dict[str, Any], shard: str = "") -> Any:
    return kinesis.subscribe_to_shard(
        ConsumerARN=arn, ShardId=shard or "shardId-000000000000", StartingPosition=position
    )


def test_records_pushed_in_order(kinesis: Any, endpoint: str, streams: StreamPool) -> None:
    stream = streams.create()
    arn = _consumer(kinesis, stream)
    early = [
        kinesis.put_record(StreamName=stream, Data=f"early-{i}".encode(), PartitionKey="k")
        for i in range(3)
    ]
    response = _subscribe(kinesis, arn, {"Type": "TRIM_HORIZON"})
    assert response["ResponseMetadata"]["HTTPStatusCode"] == 200
    assert response["ResponseMetadata"]["HTTPHeaders"]["content-type"] == eventstream.CONTENT_TYPE
    producer: Any = make_client(endpoint)
    late: list[tuple[float, str]] = []

    def produce() -> None:
        for i in range(5):
            time.sleep(0.1)
            seq = producer.put_record(
                StreamName=stream, Data=f"late-{i}".encode(), PartitionKey="k"
            )
            late.append((time.monotonic(), seq["SequenceNumber"]))

    received: list[tuple[float, dict[str, Any]]] = []
    events: list[dict[str, Any]] = []
    thread = threading.Thread(target=produce)
    stream_events = response["EventStream"]
    try:
        for raw in stream_events:
            event = raw["SubscribeToShardEvent"]
            events.append(event)
            now = time.monotonic()
            received.extend((now, r) for r in event["Records"])
            if len(received) == 3 and not thread.is_alive() and not late:
                thread.start()
            if len(received) >= 8:
                break
    finally:
        stream_events.close()
    thread.join()
    data = [r["Data"] for _, r in received]
    assert data == [f"early-{i}".encode() for i in range(3)] + [
        f"late-{i}".encode() for i in range(5)
    ]
    seqs = [r["SequenceNumber"] for _, r in received]
    assert seqs == [e["SequenceNumber"] for e in early] + [s for _, s in late]
    assert all(r["PartitionKey"] == "k" for _, r in received)
    assert all("ApproximateArrivalTimestamp" in r for _, r in received)
    # pushed as they arrive, not at the next heartbeat
    for (sent_at, _), (got_at, _) in zip(late, received[3:], strict=True):
        assert got_at - sent_at < 1.0
    last_with_records = [e for e in events if e["Records"]][-1]
    assert last_with_records["ContinuationSequenceNumber"] == seqs[-1]
    assert all(isinstance(e["MillisBehindLatest"], int) for e in events)


def test_latest_first_event_and_resume(kinesis: Any, streams: StreamPool) -> None:
    stream = streams.create()
    arn = _consumer(kinesis, stream)
    first = kinesis.put_record(StreamName=stream, Data=b"one", PartitionKey="k")
    kinesis.put_record(StreamName=stream, Data=b"two", PartitionKey="k")
    response = _subscribe(kinesis, arn, {"Type": "LATEST"})
    events = response["EventStream"]
    try:
        started = time.monotonic()
        event = next(iter(events))["SubscribeToShardEvent"]
        assert time.monotonic() - started < 2
        assert event["Records"] == []
        assert event["MillisBehindLatest"] == 0
        continuation = event["ContinuationSequenceNumber"]
        assert len(continuation) == 56
    finally:
        events.close()
    # A different consumer resumes after the first record.
    other = _consumer(kinesis, stream)
    response = _subscribe(
        kinesis, other, {"Type": "AFTER_SEQUENCE_NUMBER", "SequenceNumber": first["SequenceNumber"]}
    )
    events = response["EventStream"]
    try:
        event = next(iter(events))["SubscribeToShardEvent"]
        assert [r["Data"] for r in event["Records"]] == [b"two"]
    finally:
        events.close()


def test_unknown_consumer(kinesis: Any, streams: StreamPool) -> None:
    stream = streams.create()
    arn = f"{stream_arn(stream)}/consumer/nobody:1700000000"
    with pytest.raises(kinesis.exceptions.ResourceNotFoundException) as excinfo:
        _subscribe(kinesis, arn, {"Type": "TRIM_HORIZON"})
    assert client_error(excinfo) == (
        "ResourceNotFoundException",
        f"Consumer nobody under stream {stream} under account {ACCOUNT_ID} not found.",
    )


def test_unknown_shard(kinesis: Any, streams: StreamPool) -> None:
    stream = streams.create()
    arn = _consumer(kinesis, stream)
    with pytest.raises(kinesis.exceptions.ResourceNotFoundException):
        _subscribe(kinesis, arn, {"Type": "TRIM_HORIZON"}, shard="shardId-000000000007")


def test_second_subscription_within_5s_refused(kinesis: Any, streams: StreamPool) -> None:
    stream = streams.create()
    arn = _consumer(kinesis, stream)
    response = _subscribe(kinesis, arn, {"Type": "LATEST"})
    try:
        with pytest.raises(kinesis.exceptions.ResourceInUseException) as excinfo:
            _subscribe(kinesis, arn, {"Type": "LATEST"})
        assert "Another active subscription exists for this consumer" in client_error(excinfo)[1]
    finally:
        response["EventStream"].close()


def test_closed_shard_ends_with_child_shards(kinesis: Any, streams: StreamPool) -> None:
    stream = streams.create()
    arn = _consumer(kinesis, stream)
    put = kinesis.put_record(StreamName=stream, Data=b"parent", PartitionKey="a")
    kinesis.split_shard(
        StreamName=stream, ShardToSplit="shardId-000000000000", NewStartingHashKey=str(2**127)
    )
    response = _subscribe(kinesis, arn, {"Type": "TRIM_HORIZON"})
    events = [e["SubscribeToShardEvent"] for e in response["EventStream"]]  # the stream ends
    records = [r for e in events for r in e["Records"]]
    assert [(r["Data"], r["SequenceNumber"]) for r in records] == [
        (b"parent", put["SequenceNumber"])
    ]
    last = events[-1]
    assert "ContinuationSequenceNumber" not in last
    assert [c["ShardId"] for c in last["ChildShards"]] == [
        "shardId-000000000001",
        "shardId-000000000002",
    ]
    assert all(c["ParentShards"] == ["shardId-000000000000"] for c in last["ChildShards"])


def test_cbor_payloads(kinesis: Any, endpoint: str, streams: StreamPool) -> None:
    """A CBOR request gets CBOR event payloads (the AWS SDK for Java's protocol)."""
    stream = streams.create()
    arn = _consumer(kinesis, stream)
    put = kinesis.put_record(StreamName=stream, Data=b"\x00bin", PartitionKey="k")
    body = cbor2.dumps(
        {
            "ConsumerARN": arn,
            "ShardId": "shardId-000000000000",
            "StartingPosition": {"Type": "TRIM_HORIZON"},
        }
    )
    url = urlsplit(endpoint)
    conn = http.client.HTTPConnection(url.hostname or "127.0.0.1", url.port or 80, timeout=10)
    try:
        conn.request(
            "POST",
            "/",
            body=body,
            headers={
                "Content-Type": "application/x-amz-cbor-1.1",
                "X-Amz-Target": TARGET_PREFIX + "SubscribeToShard",
                "X-Amz-Date": FAKE_AMZ_DATE,
                "Authorization": FAKE_AUTHORIZATION,
            },
        )
        resp = conn.getresponse()
        assert resp.status == 200
        assert resp.getheader("content-type") == eventstream.CONTENT_TYPE
        buffer = b""
        messages: list[tuple[dict[str, str], bytes]] = []
        while len(messages) < 2:
            chunk = resp.read1(65536)
            assert chunk, "stream ended early"
            buffer += chunk
            while True:
                try:
                    headers, payload, used = eventstream.decode_message(buffer)
                except eventstream.FrameError:
                    break
                messages.append((headers, payload))
                buffer = buffer[used:]
    finally:
        conn.close()
    (h0, p0), (h1, p1) = messages[:2]
    assert h0[":event-type"] == "initial-response"
    assert h0[":message-type"] == "event"
    assert cbor2.loads(p0) == {}
    assert h1[":event-type"] == "SubscribeToShardEvent"
    assert h1[":content-type"] == "application/x-amz-cbor-1.1"
    event = cbor_codec.decode(p1)  # tag 1 (epoch milliseconds) comes back as Millis
    [record] = event["Records"]
    assert record["Data"] == b"\x00bin"
    assert record["SequenceNumber"] == put["SequenceNumber"]
    arrival = record["ApproximateArrivalTimestamp"]
    assert isinstance(arrival, cbor_codec.Millis)
    assert isinstance(arrival.value, int)
    assert abs(arrival.value / 1000 - time.time()) < 60
    assert event["ContinuationSequenceNumber"] == put["SequenceNumber"]
