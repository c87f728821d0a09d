"""Fault injection: configured error rates, per-entry PutRecords failures, latency, admin API."""

from __future__ import annotations

import json
import math
import os
import time
import urllib.request
from pathlib import Path

import pytest

from tests.conftest import make_client
from tests.support import ServerProcess

pytestmark = pytest.mark.skipif(
    bool(os.environ.get("SHARDFLOW_TEST_ENDPOINT")), reason="configures a server of its own"
)


def _admin(endpoint: str, method: str, plan: object | None = None) -> tuple[int, dict]:
    data = None if plan is None else json.dumps(plan).encode()
    req = urllib.request.Request(endpoint + "/_shardflow/faults", data=data, method=method)
    try:
        with urllib.request.urlopen(req, timeout=5) as r:
            return r.status, json.loads(r.read())
    except urllib.error.HTTPError as err:
        return err.code, json.loads(err.read())


@pytest.fixture(scope="module")
def faulty(tmp_path_factory: pytest.TempPathFactory):  # type: ignore[no-untyped-def]
    server = ServerProcess(tmp_path_factory.mktemp("faults"))
    server.start()
    yield server
    server.stop()


def _within(observed: int, n: int, p: float) -> bool:
    """Observed count within 4 standard deviations of n*p (binomial)."""
    return abs(observed - n * p) <= 4 * math.sqrt(n * p * (1 - p)) + 1


def test_put_records_entries_fail_at_the_configured_rate(faulty: ServerProcess) -> None:
    client = make_client(faulty.endpoint)
    client.create_stream(StreamName="entries", ShardCount=2)
    plan = {"seed": 1, "operations": {"PutRecords": {"entry_throttle": 0.3, "entry_internal": 0.1}}}
    assert _admin(faulty.endpoint, "POST", plan)[0] == 200
    try:
        codes: list[str | None] = []
        stored = 0
        for batch in range(10):
            out = client.put_records(
                StreamName="entries",
                Records=[{"Data": b"%d" % i, "PartitionKey": f"{batch}-{i}"} for i in range(500)],
            )
            assert out["FailedRecordCount"] == sum(1 for r in out["Records"] if "ErrorCode" in r)
            for r in out["Records"]:
                codes.append(r.get("ErrorCode"))
                if "ErrorCode" in r:
                    assert "SequenceNumber" not in r
                    if r["ErrorCode"] == "ProvisionedThroughputExceededException":
                        assert r["ErrorMessage"].startswith("Rate exceeded for shard shardId-")
                        assert "in stream entries under account 000000000000." in r["ErrorMessage"]
                    else:
                        assert r["ErrorMessage"] == "Internal service failure."
                else:
                    stored += 1
    finally:
        _admin(faulty.endpoint, "DELETE")
    n = len(codes)
    assert _within(codes.count("ProvisionedThroughputExceededException"), n, 0.3)
    assert _within(codes.count("InternalFailure"), n, 0.1)
    # Only the successful entries were stored.
    total = 0
    for shard in client.list_shards(StreamName="entries")["Shards"]:
        it = client.get_shard_iterator(
            StreamName="entries", ShardId=shard["ShardId"], ShardIteratorType="TRIM_HORIZON"
        )["ShardIterator"]
        total += len(client.get_records(ShardIterator=it)["Records"])
    assert total == stored


def test_call_level_errors_and_latency(faulty: ServerProcess) -> None:
    client = make_client(faulty.endpoint)
    client.create_stream(StreamName="calls", ShardCount=1)
    plan = {"seed": 2, "operations": {"PutRecord": {"throttle": 0.2, "internal": 0.1}}}
    _admin(faulty.endpoint, "POST", plan)
    outcomes: dict[str, int] = {}
    try:
        for i in range(600):
            try:
                client.put_record(StreamName="calls", Data=b"x", PartitionKey=str(i))
                code = "ok"
            except client.exceptions.ProvisionedThroughputExceededException:
                code = "throttle"
            except client.exceptions.ClientError as err:
                code = err.response["Error"]["Code"]
                assert err.response["ResponseMetadata"]["HTTPStatusCode"] == 500
            outcomes[code] = outcomes.get(code, 0) + 1
        assert _within(outcomes.get("throttle", 0), 600, 0.2)
        assert _within(outcomes.get("InternalFailure", 0), 600, 0.1)
        _admin(faulty.endpoint, "POST", {"operations": {"*": {"latency_ms": 150}}})
        started = time.perf_counter()
        client.list_streams()
        assert time.perf_counter() - started >= 0.15
    finally:
        _admin(faulty.endpoint, "DELETE")
    assert _admin(faulty.endpoint, "GET")[1]["operations"] == {}


def test_bad_plans_are_refused_with_a_reason(faulty: ServerProcess) -> None:
    status, body = _admin(faulty.endpoint, "POST", {"operations": {"PutRecord": {"throttle": 2}}})
    assert status == 400 and "at most 1" in body["error"]
    status, body = _admin(faulty.endpoint, "POST", {"operations": {"PutRecord": {"oops": 0.1}}})
    assert status == 400 and "unknown setting 'oops'" in body["error"]


def test_faults_flag_at_start(tmp_path: Path) -> None:
    plan = {"operations": {"ListStreams": {"unavailable": 1}}}
    server = ServerProcess(tmp_path / "d", "--faults", json.dumps(plan))
    server.start()
    try:
        client = make_client(server.endpoint)
        with pytest.raises(client.exceptions.ClientError) as info:
            client.list_streams()
        assert info.value.response["Error"]["Code"] == "ServiceUnavailable"
        assert info.value.response["ResponseMetadata"]["HTTPStatusCode"] == 503
    finally:
        server.stop()
