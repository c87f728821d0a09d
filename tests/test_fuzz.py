"""Property: no request shape, however hostile, gets a 5xx (issue 14).

Every operation's input shape from botocore's Kinesis model, in JSON 1.1 and CBOR 1.1, with values
that are mostly well typed (names of a real stream, shard and consumer, so requests reach the
engine) and sometimes hostile (nulls, 1e308, bignums, foreign CBOR tags, forged tokens), sent over
real HTTP to a server of the test's own. The answer must be a 2xx or a 4xx with an error type.

Bounded in CI (``SHARDFLOW_FUZZ_EXAMPLES``, default 150 per protocol); raise it for a long run:
``SHARDFLOW_FUZZ_EXAMPLES=5000 .venv/bin/python -m pytest tests/test_fuzz.py``.
"""

from __future__ import annotations

import http.client
import os
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import cbor2
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from shardflow.api.registry import HANDLERS
from tests import fuzz_shapes
from tests.conftest import make_client
from tests.helpers import FAKE_AMZ_DATE, FAKE_AUTHORIZATION, TARGET_PREFIX
from tests.support import ServerProcess, server_of_its_own

EXAMPLES = int(os.environ.get("SHARDFLOW_FUZZ_EXAMPLES", "150"))
STREAM = "fuzz-stream"
CONSUMER = "fuzz-consumer"
# Mostly the operations Shardflow implements (the others answer UnknownOperationException early).
OPERATIONS = sorted(HANDLERS) * 4 + fuzz_shapes.ALL_OPERATIONS
CONTENT_TYPES = {False: "application/x-amz-json-1.1", True: "application/x-amz-cbor-1.1"}


@pytest.fixture(scope="module")
def fuzz_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    yield from server_of_its_own(tmp_path_factory.mktemp("fuzz") / "data")


class Target:
    """The server under test, with the stream and consumer the pools name (re-made if deleted)."""

    def __init__(self, server: ServerProcess) -> None:
        self.server = server
        self.client: Any = make_client(server.endpoint)
        self.conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=30)
        self.ensure()
        summary = self.client.describe_stream_summary(StreamName=STREAM)
        self.stream_arn = summary["StreamDescriptionSummary"]["StreamARN"]
        consumers = self.client.list_stream_consumers(StreamARN=self.stream_arn)["Consumers"]
        put = self.client.put_record(StreamName=STREAM, Data=b"x", PartitionKey="k")
        iterator = self.client.get_shard_iterator(
            StreamName=STREAM, ShardId=put["ShardId"], ShardIteratorType="TRIM_HORIZON"
        )["ShardIterator"]
        self.pools = fuzz_shapes.Pools(
            STREAM, self.stream_arn, consumers[0]["ConsumerARN"], iterator, put["SequenceNumber"]
        )

    def ensure(self) -> None:
        """The stream (2 shards) and its consumer exist and are ACTIVE."""
        names = self.client.list_streams()["StreamNames"]
        if STREAM not in names:
            self.client.create_stream(StreamName=STREAM, ShardCount=2)
        self.client.get_waiter("stream_exists").wait(
            StreamName=STREAM, WaiterConfig={"Delay": 0.1, "MaxAttempts": 100}
        )
        arn = self.client.describe_stream_summary(StreamName=STREAM)["StreamDescriptionSummary"][
            "StreamARN"
        ]
        consumers = self.client.list_stream_consumers(StreamARN=arn)["Consumers"]
        if not consumers:
            self.client.register_stream_consumer(StreamARN=arn, ConsumerName=CONSUMER)
            deadline = time.monotonic() + 10
            while time.monotonic() < deadline:
                c = self.client.describe_stream_consumer(StreamARN=arn, ConsumerName=CONSUMER)
                if c["ConsumerDescription"]["ConsumerStatus"] == "ACTIVE":
                    break
                time.sleep(0.05)

    def send(self, operation: str, body: bytes, cbor: bool) -> tuple[int, str]:
        """POST one request; returns (status, error type). A stream is abandoned at its head."""
        headers = {
            "Content-Type": CONTENT_TYPES[cbor],
            "X-Amz-Target": TARGET_PREFIX + operation,
            "X-Amz-Date": FAKE_AMZ_DATE,
            "Authorization": FAKE_AUTHORIZATION,
        }
        streaming = operation == "SubscribeToShard"
        conn = (
            http.client.HTTPConnection("127.0.0.1", self.server.port, timeout=30)
            if streaming
            else self.conn
        )
        try:
            conn.request("POST", "/", body=body, headers=headers)
            response = conn.getresponse()
            error_type = response.getheader("x-amzn-ErrorType") or ""
            if not streaming or response.status != 200:
                response.read()
            return response.status, error_type
        except (http.client.HTTPException, OSError):
            self.conn.close()  # a closed keep-alive connection: retried on a fresh one
            self.conn = http.client.HTTPConnection("127.0.0.1", self.server.port, timeout=30)
            raise
        finally:
            if streaming:
                conn.close()


@pytest.fixture(scope="module")
def target(fuzz_server: ServerProcess) -> Target:
    return Target(fuzz_server)


def _check(target: Target, operation: str, body: Any, cbor: bool) -> None:
    encoded = fuzz_shapes.encode_cbor(body) if cbor else fuzz_shapes.encode_json(body)
    status, error_type = target.send(operation, encoded, cbor)
    assert status < 500, (
        f"{operation} {CONTENT_TYPES[cbor]} {body!r}: HTTP {status} {error_type}\n"
        + target.server.log()[-2000:]
    )
    if status >= 400:
        assert error_type or status in (403, 404, 413), f"{operation}: {status} with no error type"
    if status == 200 and operation in ("DeleteStream", "DeregisterStreamConsumer"):
        target.ensure()


def _requests(cbor: bool, pools_of: Target) -> st.SearchStrategy[tuple[str, Any]]:
    return st.sampled_from(OPERATIONS).flatmap(
        lambda op: fuzz_shapes.request(op, pools_of.pools, cbor).map(lambda body: (op, body))
    )


FUZZ_SETTINGS = settings(
    max_examples=EXAMPLES,
    deadline=None,
    derandomize=os.environ.get("SHARDFLOW_FUZZ_RANDOM") is None,  # CI: the same cases each run
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
    database=None,
)


@pytest.mark.timeout(600)
@pytest.mark.parametrize("cbor", [False, True], ids=["json", "cbor"])
def test_no_request_gets_a_5xx(target: Target, cbor: bool, tmp_path: Path) -> None:
    @FUZZ_SETTINGS
    @given(st.data())
    def run(data: st.DataObject) -> None:
        operation, body = data.draw(_requests(cbor, target))
        _check(target, operation, body, cbor)

    run()


# The cases issue 14 found, kept as plain regression tests (each answered 500 before).
TS_FAR = {"ShardId": "shardId-000000000000", "ShardIteratorType": "AT_TIMESTAMP"}
GSI = {"StreamName": STREAM, **TS_FAR}
AT_TS = {"Type": "AT_TIMESTAMP"}
KNOWN_CASES: list[tuple[str, dict[str, Any], bool]] = [
    ("ListShards", {"StreamName": STREAM, "ShardFilter": {**AT_TS, "Timestamp": 1e308}}, False),
    ("ListShards", {"StreamName": STREAM, "ShardFilter": {**AT_TS, "Timestamp": -1e308}}, False),
    ("GetShardIterator", {**GSI, "Timestamp": 1e308}, False),
    ("GetShardIterator", {**GSI, "Timestamp": -1e308}, False),
    ("GetShardIterator", {**GSI, "Timestamp": cbor2.CBORTag(1, 2**2000)}, True),
    ("GetShardIterator", {**GSI, "Timestamp": 2**2000}, True),
    ("GetShardIterator", {**GSI, "Timestamp": float("nan")}, True),
    ("CreateStream", {"StreamName": "fuzz-tags", "ShardCount": 1, "Tags": {"k": None}}, False),
    ("RemoveTagsFromStream", {"StreamName": STREAM, "TagKeys": [None]}, False),
    ("ListShards", {"NextToken": "eyJhZnRlciI6ICJ4IiwgInQiOiAxfQ=="}, False),
]  # fmt: skip


@pytest.mark.parametrize("operation,body,cbor", KNOWN_CASES)
def test_known_hostile_inputs_get_no_5xx(
    target: Target, operation: str, body: dict[str, Any], cbor: bool
) -> None:
    """Out-of-range timestamps are held at the far past or future (Java's saturating cast):
    an answer, not an error; a null map value and a forged token are 400s."""
    _check(target, operation, body, cbor)
