"""Producer tests: a server of their own whose fault plan each test sets, and read-back helpers."""

from __future__ import annotations

import base64
import json
import urllib.request
import uuid
from collections.abc import Iterator
from typing import Any

import pytest

from shardflow.producer import AsyncProducer, ProducerConfig
from tests.conftest import REGION, make_client
from tests.support import ServerProcess


class FaultServer:
    """A `shardflow serve` whose fault plan tests replace through POST /_shardflow/faults."""

    def __init__(self, proc: ServerProcess) -> None:
        self.proc = proc
        self.endpoint = proc.endpoint

    def set_faults(self, operations: dict[str, Any], seed: int = 7) -> None:
        body = json.dumps({"seed": seed, "operations": operations}).encode()
        req = urllib.request.Request(self.endpoint + "/_shardflow/faults", data=body, method="POST")
        with urllib.request.urlopen(req, timeout=5) as r:
            assert r.status == 200

    def clear_faults(self) -> None:
        req = urllib.request.Request(self.endpoint + "/_shardflow/faults", method="DELETE")
        with urllib.request.urlopen(req, timeout=5):
            pass


@pytest.fixture(scope="session")
def fault_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[FaultServer]:
    proc = ServerProcess(tmp_path_factory.mktemp("producer-faults"), "--durability", "memory")
    with proc:
        yield FaultServer(proc)


@pytest.fixture
def faults(fault_server: FaultServer) -> Iterator[FaultServer]:
    """The fault server, with its plan cleared after the test."""
    fault_server.clear_faults()
    yield fault_server
    fault_server.clear_faults()


def new_stream(endpoint: str, shards: int) -> tuple[Any, str]:
    client = make_client(endpoint)
    name = f"prod-{uuid.uuid4().hex[:10]}"
    client.create_stream(StreamName=name, ShardCount=shards)  # type: ignore[attr-defined]
    client.get_waiter("stream_exists").wait(  # type: ignore[attr-defined]
        StreamName=name, WaiterConfig={"Delay": 0.1, "MaxAttempts": 100}
    )
    return client, name


def read_user_records(client: Any, stream: str) -> list[dict[str, Any]]:
    """Every user record of every shard, deaggregated by aws-kinesis-agg (an independent reader).

    Each: shard, partition key (the inner one), data, sequence number, subsequence number.
    """
    from aws_kinesis_agg.deaggregator import iter_deaggregate_records

    out: list[dict[str, Any]] = []
    for shard in client.list_shards(StreamName=stream)["Shards"]:
        it = client.get_shard_iterator(
            StreamName=stream, ShardId=shard["ShardId"], ShardIteratorType="TRIM_HORIZON"
        )["ShardIterator"]
        while it:
            page = client.get_records(ShardIterator=it, Limit=10000)
            for rec in iter_deaggregate_records(page["Records"], data_format="Boto3"):
                k = rec["kinesis"]
                aggregated = "subSequenceNumber" in k
                data = k["data"]
                if aggregated or isinstance(data, str):  # aggregated user records come base64'd
                    data = base64.b64decode(data)
                out.append(
                    {
                        "shard": shard["ShardId"],
                        "key": k["partitionKey"],
                        "data": data,
                        "seq": k["sequenceNumber"],
                        "subseq": k.get("subSequenceNumber", 0),
                        "aggregated": aggregated,
                    }
                )
            if not page["Records"] and page.get("MillisBehindLatest", 0) == 0:
                break
            it = page.get("NextShardIterator")
    return out


def check_order(records: list[dict[str, Any]]) -> dict[str, list[int]]:
    """Counters per key in stream order (records are JSON with "k" and "n")."""
    per_key: dict[str, list[int]] = {}
    for r in records:
        body = json.loads(r["data"])
        assert body["k"] == r["key"], "inner partition key does not match the record"
        per_key.setdefault(r["key"], []).append(body["n"])
    return per_key


__all__ = ["REGION", "check_order", "new_stream", "read_user_records"]


def ordered_producer(stream: str, endpoint: str, **config: Any) -> AsyncProducer:
    """A producer that sends soon (20 ms linger) and never waits on its own rate limit."""
    return AsyncProducer(
        stream,
        endpoint_url=endpoint,
        region=REGION,
        config=ProducerConfig(**{"linger": 0.02, "rate_limit": None, **config}),
    )
