"""SubscribeToShard (enhanced fan-out) over AWS event-stream framing, with boto3 over HTTP/1.1.

AWS (API reference): the consumer must be ACTIVE; the response starts with an initial-response
event, then SubscribeToShardEvent events pushed as records arrive; one call per second per
consumer per shard (LimitExceededException), and a second call for the same consumer and shard
within 5 s fails with ResourceInUseException; at the end of a closed shard the last event carries
ChildShards and no ContinuationSequenceNumber. DryRun (developer guide): the checks without the
subscription, answered with DryRunOperationException (HTTP 400).
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
    DRY_RUN_MESSAGE,
    FAKE_AMZ_DATE,
    FAKE_AUTHORIZATION,
    TARGET_PREFIX,
    StreamPool,
    client_error,
    put_to_shard,
    raw_call,
    shard_id,
    stream_arn,
    stream_pool,
    unique_name,
)
from tests.metrics.conftest import get_json
from tests.support import ServerProcess, server_of_its_own

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


def _subscribe(
    kinesis: Any, arn: str, position: dict[str, Any], shard: str = "", **extra: Any
) -> Any:
    return kinesis.subscribe_to_shard(
        ConsumerARN=arn,
        ShardId=shard or "shardId-000000000000",
        StartingPosition=position,
        **extra,
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


# -- the starting position ---------------------------------------------------------------------


def test_malformed_sequence_number(kinesis: Any, streams: StreamPool) -> None:
    """Matches the model's pattern but no shard issued it. AWS's wording for SubscribeToShard is
    unverified: GetShardIterator's, naming the operation called."""
    stream = streams.create()
    arn = _consumer(kinesis, stream)
    seq = "26227199374822427428162556223570313216"
    position = {"Type": "AT_SEQUENCE_NUMBER", "SequenceNumber": seq}
    with pytest.raises(kinesis.exceptions.InvalidArgumentException) as excinfo:
        _subscribe(kinesis, arn, position)
    assert client_error(excinfo) == (
        "InvalidArgumentException",
        f"StartingSequenceNumber {seq} used in SubscribeToShard on shard {shard_id(0)}"
        f" in stream {stream} under account {ACCOUNT_ID} is invalid.",
    )


def test_sequence_number_of_another_shard(kinesis: Any, streams: StreamPool) -> None:
    """Wording as a KCL user saw it from SubscribeToShard (amazon-kinesis-client issue 391)."""
    stream = streams.create(ShardCount=2)
    arn = _consumer(kinesis, stream)
    seq = put_to_shard(kinesis, stream, 1, b"elsewhere")["SequenceNumber"]
    position = {"Type": "AFTER_SEQUENCE_NUMBER", "SequenceNumber": seq}
    with pytest.raises(kinesis.exceptions.InvalidArgumentException) as excinfo:
        _subscribe(kinesis, arn, position)
    assert client_error(excinfo) == (
        "InvalidArgumentException",
        f"Invalid StartingSequenceNumber. It encodes {shard_id(1)}, while it was used in a call"
        f" to a shard with {shard_id(0)}",
    )


# -- DryRun and StreamId -----------------------------------------------------------------------


def test_dry_run_checks_without_subscribing(kinesis: Any, streams: StreamPool) -> None:
    stream = streams.create()
    arn = _consumer(kinesis, stream)
    with pytest.raises(kinesis.exceptions.DryRunOperationException) as excinfo:
        _subscribe(kinesis, arn, {"Type": "LATEST"}, DryRun=True)
    assert excinfo.value.response["ResponseMetadata"]["HTTPStatusCode"] == 400
    assert client_error(excinfo) == ("DryRunOperationException", DRY_RUN_MESSAGE)
    # Nothing was subscribed: a real call right after is not refused by the 5-second rule.
    response = _subscribe(kinesis, arn, {"Type": "LATEST"}, DryRun=False)
    try:
        # A dry run checks the request, not whether a subscription is active.
        with pytest.raises(kinesis.exceptions.DryRunOperationException):
            _subscribe(kinesis, arn, {"Type": "LATEST"}, DryRun=True)
    finally:
        response["EventStream"].close()


def test_dry_run_of_an_invalid_request_gets_its_error(kinesis: Any, streams: StreamPool) -> None:
    stream = streams.create()
    arn = _consumer(kinesis, stream)
    with pytest.raises(kinesis.exceptions.ResourceNotFoundException):
        _subscribe(kinesis, arn, {"Type": "LATEST"}, shard=shard_id(7), DryRun=True)
    position = {"Type": "AT_SEQUENCE_NUMBER", "SequenceNumber": "26227199374822427428162"}
    with pytest.raises(kinesis.exceptions.InvalidArgumentException):
        _subscribe(kinesis, arn, position, DryRun=True)
    gone = f"{stream_arn(stream)}/consumer/nobody:1700000000"
    with pytest.raises(kinesis.exceptions.ResourceNotFoundException):
        _subscribe(kinesis, gone, {"Type": "LATEST"}, DryRun=True)


def test_stream_id_validated_then_ignored(kinesis: Any, endpoint: str, streams: StreamPool) -> None:
    """AWS's model: "Not Implemented. Reserved for future use." Its pattern still applies.

    Sent raw: botocore's endpoint rules route a request with StreamId to
    ``{StreamId}.data-kinesis.<region>.amazonaws.com``, whatever ``endpoint_url`` says. A dry
    run answers without opening a subscription, so the response ends.
    """
    stream = streams.create()
    arn = _consumer(kinesis, stream)
    request = {
        "ConsumerARN": arn,
        "ShardId": shard_id(0),
        "StartingPosition": {"Type": "LATEST"},
        "DryRun": True,
    }
    status, _, body = raw_call(
        endpoint, "SubscribeToShard", {**request, "StreamId": "a" * 20 + "-b12"}
    )
    assert (status, body["__type"]) == (400, "DryRunOperationException")
    status, _, body = raw_call(endpoint, "SubscribeToShard", {**request, "StreamId": "Not-An-Id"})
    assert (status, body["__type"]) == (400, "ValidationException")
    assert "'streamId' failed to satisfy constraint" in body["message"]


# -- rates, with AWS's limits on (a server of its own) -----------------------------------------


@pytest.fixture(scope="module")
def limited(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    yield from server_of_its_own(tmp_path_factory.mktemp("subscribe-limits"), limits=True)


def test_one_call_per_second_then_in_use(limited: ServerProcess) -> None:
    """Within 1 s: LimitExceededException (the rate is checked first); after 1 s but within
    5 s of the successful call: ResourceInUseException. The rate is per consumer and shard."""
    client: Any = make_client(limited.endpoint)
    with stream_pool(client) as pool:
        stream = pool.create(ShardCount=2)
        arn = _consumer(client, stream)
        name = client.describe_stream_consumer(ConsumerARN=arn)["ConsumerDescription"][
            "ConsumerName"
        ]
        first = _subscribe(client, arn, {"Type": "LATEST"})
        started = time.monotonic()
        try:
            with pytest.raises(client.exceptions.LimitExceededException) as excinfo:
                _subscribe(client, arn, {"Type": "LATEST"})
            assert time.monotonic() - started < 1.0, "too slow to test a 1-second window"
            assert client_error(excinfo) == (
                "LimitExceededException",
                f"Rate exceeded for consumer {name} and shard {shard_id(0)} in stream {stream}"
                f" under account {ACCOUNT_ID}.",
            )
            _subscribe(client, arn, {"Type": "LATEST"}, shard=shard_id(1))["EventStream"].close()
            time.sleep(max(0.0, started + 1.1 - time.monotonic()))
            with pytest.raises(client.exceptions.ResourceInUseException) as excinfo:
                _subscribe(client, arn, {"Type": "LATEST"})
            assert "Another active subscription exists" in client_error(excinfo)[1]
        finally:
            first["EventStream"].close()
        body = get_json(limited.endpoint, f"/dashboard/api/metrics?stream={stream}&range=5m")
        figures = body["consumers"][name]
        assert figures["SubscribeToShard.RateExceeded"]["total"] == 2
        assert figures["SubscribeToShard.Success"]["total"] == 0.5  # 2 of 4 calls


def test_dry_runs_have_their_own_rate(limited: ServerProcess) -> None:
    """1 dry run per second per stream (developer guide); over it, ThrottlingException."""
    client: Any = make_client(limited.endpoint)
    with stream_pool(client) as pool:
        stream = pool.create()
        arn = _consumer(client, stream)
        with pytest.raises(client.exceptions.DryRunOperationException):
            _subscribe(client, arn, {"Type": "LATEST"}, DryRun=True)
        with pytest.raises(client.exceptions.ClientError) as excinfo:
            _subscribe(client, arn, {"Type": "LATEST"}, DryRun=True)
        assert client_error(excinfo)[0] == "ThrottlingException"
        # dry runs take nothing from the subscription's own rate
        _subscribe(client, arn, {"Type": "LATEST"})["EventStream"].close()
