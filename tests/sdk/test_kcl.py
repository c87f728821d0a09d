"""The Kinesis Client Library 3.x against Shardflow: two workers, a split, a ``kill -9``.

clients/kcl is a KCL record processor app (leases in moto's DynamoDB, metrics off), run against
servers with AWS's per-shard limits on. For each retrieval mode, polling (GetRecords over
HTTP/1.1) and enhanced fan-out (SubscribeToShard over HTTP/2 and TLS, which is how the AWS SDK
for Java speaks it), this test writes keyed, counted records into 8 shards while two workers
read them, splits a shard mid-run, kills one worker with SIGKILL, and then checks what the KCL
promises: every acknowledged record processed, each key's records in order within a shard,
checkpoints that only advance, parents before children.
"""

from __future__ import annotations

import json
import random
import ssl
import threading
import time
import urllib.request
import uuid
from collections import defaultdict
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore.config import Config as BotoConfig
from prometheus_client.parser import text_string_to_metric_families

from tests.consumer.dynamodb import DynamoDBServer
from tests.sdk import kcl_log
from tests.sdk.kcl_java import JavaProcess, build, wait_for
from tests.support import ServerProcess, server_of_its_own

pytestmark = [pytest.mark.sdk, pytest.mark.timeout(600)]

REGION = "us-east-1"
SHARDS = 8
KEYS = 64
FAILOVER_MS = 4000  # KCL's default is 10 s; lowered so the takeover fits the test
BATCH = 40  # records per PutRecords call
WRITE_PAUSE_S = 0.1  # between calls: a few hundred records a second
START_TIMEOUT_S = 120.0  # a new lease table: the KCL waits 1-30 s before the first shard sync
PHASE_TIMEOUT_S = 90.0
# The one error AWS answers this KCL run with too: fan-out looks its consumer up by name before
# registering it, and the first lookup finds none.
EXPECTED_ERRORS = {("DescribeStreamConsumer", "ResourceNotFoundException")}
CREDENTIALS = {"aws_access_key_id": "AKIDKCLTEST", "aws_secret_access_key": "secret"}


@pytest.fixture(scope="module")
def kcl_classpath() -> list[str]:
    return build("kcl")


@pytest.fixture(scope="module")
def dynamodb(tmp_path_factory: pytest.TempPathFactory) -> Iterator[DynamoDBServer]:
    with DynamoDBServer(tmp_path_factory.mktemp("moto")) as moto:
        yield moto


@pytest.fixture(scope="module")
def tls_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    yield from server_of_its_own(tmp_path_factory.mktemp("kcl-tls") / "data", "--tls", limits=True)


@pytest.fixture(scope="module")
def http_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    yield from server_of_its_own(tmp_path_factory.mktemp("kcl-http") / "data", limits=True)


@dataclass
class Writer:
    """Writes keyed, counted records (``{"k": key, "n": counter}``) until stopped, and keeps
    every acknowledged one: (shard, sequence number) -> data."""

    client: Any
    stream: str
    acked: dict[tuple[str, str], bytes] = field(default_factory=dict)
    errors: list[str] = field(default_factory=list)
    _stop: threading.Event = field(default_factory=threading.Event)
    _thread: threading.Thread | None = None

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        assert self._thread is not None
        self._thread.join(30)

    def _run(self) -> None:
        rng = random.Random(13)
        counters = [0] * KEYS
        while not self._stop.is_set():
            batch = []
            for _ in range(BATCH):
                k = rng.randrange(KEYS)
                body = json.dumps({"k": f"key-{k:02d}", "n": counters[k]}).encode()
                counters[k] += 1
                batch.append({"Data": body, "PartitionKey": f"key-{k:02d}"})
            try:
                put = self.client.put_records(StreamName=self.stream, Records=batch)
            except Exception as e:  # the test fails on it below; keep the thread's story
                self.errors.append(repr(e))
                return
            for sent, result in zip(batch, put["Records"], strict=True):
                if "ErrorCode" in result:  # a gap in a key's counter would break the check
                    self.errors.append(f"{result['ErrorCode']}: {result['ErrorMessage']}")
                    return
                self.acked[(result["ShardId"], result["SequenceNumber"])] = sent["Data"]
            self._stop.wait(WRITE_PAUSE_S)


def kinesis_client(server: ServerProcess) -> Any:
    return boto3.client(
        "kinesis",
        endpoint_url=server.endpoint,
        region_name=REGION,
        verify=str(server.ca_file) if server.tls else None,
        config=BotoConfig(retries={"mode": "standard", "total_max_attempts": 5}),
        **CREDENTIALS,
    )


@pytest.mark.parametrize("retrieval", ["polling", "fanout"])
def test_two_workers_split_and_kill(
    retrieval: str,
    request: pytest.FixtureRequest,
    kcl_classpath: list[str],
    dynamodb: DynamoDBServer,
    tmp_path: Path,
) -> None:
    # Fan-out needs HTTP/2, which the SDK's Netty client speaks only over TLS.
    server: ServerProcess = request.getfixturevalue(
        "tls_server" if retrieval == "fanout" else "http_server"
    )
    kinesis = kinesis_client(server)
    stream = f"kcl-{retrieval}-{uuid.uuid4().hex[:6]}"
    app = f"app-{stream}"
    kinesis.create_stream(StreamName=stream, ShardCount=SHARDS)
    kinesis.get_waiter("stream_exists").wait(StreamName=stream, WaiterConfig={"Delay": 0.2})

    outs = {w: tmp_path / f"{w}.jsonl" for w in ("worker-a", "worker-b")}
    workers = {
        w: JavaProcess(
            kcl_classpath,
            "dev.shardflow.kcl.KclApp",
            [
                *("--stream", stream, "--app", app, "--worker", w, "--out", str(out)),
                *("--kinesis", server.endpoint, "--dynamodb", dynamodb.endpoint),
                *("--retrieval", retrieval, "--failover-ms", str(FAILOVER_MS)),
                *(("--ca", str(server.ca_file)) if server.tls else ()),
            ],
            tmp_path / f"{w}.log",
        )
        for w, out in outs.items()
    }

    def events() -> list[dict[str, Any]]:
        return kcl_log.read_events(outs.values())

    def why(what: str) -> str:
        logs = "\n".join(f"--- {w}\n{p.log_tail(3000)}" for w, p in workers.items())
        return f"{what}; holders {kcl_log.holders(events())}\n{logs}"

    writer = Writer(kinesis, stream)
    writer.start()
    try:
        # One worker first, the second once the first has made the lease table's index: two
        # workers adding it at once get a 500 from moto, and KCL 3.5.1's retry of its start-up
        # then skips the worker-metrics reporter, so the second worker never gets a lease
        # (KCL issue: awslabs/amazon-kinesis-client#1804, fixed after 3.5.1).
        workers["worker-a"].start()
        assert wait_for(lambda: lease_index_ready(dynamodb.endpoint, app), START_TIMEOUT_S), why(
            "worker-a made no lease table"
        )
        workers["worker-b"].start()
        # 1. Both workers up, every shard leased and reading.
        assert wait_for(
            lambda: (
                len(kcl_log.holders(events())) == SHARDS
                and {e["worker"] for e in events() if e["ev"] == "rec"} == set(workers)
            ),
            START_TIMEOUT_S,
        ), why("the two workers did not share the 8 shards")

        # 2. A split mid-run: the parent is read to its end, then its children.
        held = kcl_log.holders(events())
        parent = sorted(held)[0]
        shard = kinesis.describe_stream(StreamName=stream)["StreamDescription"]["Shards"][0]
        assert shard["ShardId"] == parent
        hash_range = shard["HashKeyRange"]
        low, high = int(hash_range["StartingHashKey"]), int(hash_range["EndingHashKey"])
        kinesis.split_shard(
            StreamName=stream, ShardToSplit=parent, NewStartingHashKey=str((low + high) // 2 + 1)
        )
        kinesis.get_waiter("stream_exists").wait(StreamName=stream, WaiterConfig={"Delay": 0.2})
        children = [
            s["ShardId"]
            for s in kinesis.list_shards(StreamName=stream)["Shards"]
            if s.get("ParentShardId") == parent
        ]
        assert len(children) == 2
        assert wait_for(
            lambda: all(kcl_log.first_time(events(), "rec", c) for c in children),
            PHASE_TIMEOUT_S,
        ), why("the split's children were not read")

        # 3. kill -9 of the worker holding the most leases; the other takes them over.
        held = kcl_log.holders(events())
        counts = defaultdict(int)
        for w in held.values():
            counts[w] += 1
        victim = max(workers, key=lambda w: counts[w])
        survivor = next(w for w in workers if w != victim)
        victim_shards = {s for s, w in held.items() if w == victim}
        assert victim_shards, why("the victim holds no lease")
        workers[victim].kill()
        killed_ms = time.time() * 1000  # the app's log lines carry wall-clock milliseconds
        open_shards = set(held)
        assert wait_for(
            lambda: kcl_log.holders(kcl_log.read_events([outs[survivor]])).keys() >= open_shards,
            PHASE_TIMEOUT_S,
        ), why(f"{survivor} did not take over {sorted(victim_shards)}")
    except BaseException:
        for process in workers.values():
            process.kill()
        raise
    finally:
        writer.stop()
    assert not writer.errors, writer.errors

    # 4. Everything acknowledged gets processed, and each open shard is checkpointed at its end.
    last_acked: dict[str, int] = {}
    for shard_id, seq in writer.acked:
        last_acked[shard_id] = max(last_acked.get(shard_id, -1), int(seq))

    def caught_up() -> bool:
        done = events()
        checkpointed: dict[str, int] = {}
        for e in done:
            if e["ev"] == "ckpt":
                checkpointed[e["shard"]] = max(checkpointed.get(e["shard"], -1), int(e["seq"]))
        return writer.acked.keys() <= kcl_log.processed(done).keys() and all(
            checkpointed.get(s) == last_acked[s] for s in open_shards if s in last_acked
        )

    try:
        assert wait_for(caught_up, PHASE_TIMEOUT_S), why("records were not all processed")
    finally:
        workers[survivor].stop()
    done = events()

    processed = kcl_log.processed(done)
    missing = writer.acked.keys() - processed.keys()
    assert not missing, f"{len(missing)} acknowledged records never processed"
    wrong = [k for k, data in writer.acked.items() if processed[k] != data]
    assert not wrong, f"records processed with other data: {wrong[:5]}"
    assert len(writer.acked) > 2000  # the run wrote through every phase
    assert {e["worker"] for e in done if e["ev"] == "rec"} == set(workers)

    assert kcl_log.order_problems(kcl_log.sessions(done)) == []
    assert kcl_log.checkpoint_problems(done) == []

    # The victim's shards were resumed by the survivor from a checkpoint, not from the start.
    inits = [e for e in done if e["ev"] == "init" and e["worker"] == survivor]
    inits = [e for e in inits if e["ms"] > killed_ms]
    resumed = [e for e in inits if e["shard"] in victim_shards]
    assert {e["shard"] for e in resumed} == victim_shards
    assert all(e["seq"].isdigit() for e in resumed), resumed

    # Parents before children: the parent's SHARD_END checkpoint precedes any child record.
    parent_end = kcl_log.first_time(done, "end", parent)
    assert parent_end is not None, "the split parent never reached SHARD_END"
    for child in children:
        first = kcl_log.first_time(done, "rec", child)
        assert first is not None and first >= parent_end

    # The retrieval asked for is the one used, and the server refused nothing but what AWS does.
    calls = requests_by_outcome(server, stream)
    reads = "SubscribeToShard" if retrieval == "fanout" else "GetRecords"
    other = "GetRecords" if retrieval == "fanout" else "SubscribeToShard"
    assert calls.get((reads, "success"), 0) > 0 and (other, "success") not in calls, calls
    errors = {k: n for k, n in calls.items() if k[1] != "success"}
    assert set(errors) <= EXPECTED_ERRORS, errors

    # The lease table agrees: the parent at SHARD_END, each open shard at its last record.
    table = lease_checkpoints(dynamodb.endpoint, app)
    # (the KCL deletes a finished parent's lease once its children have progressed: minutes)
    assert table.get(parent, kcl_log.SHARD_END) == kcl_log.SHARD_END
    for s in open_shards - {parent}:
        if s in last_acked:
            assert int(table[s]) == last_acked[s], (s, table[s])


def requests_by_outcome(server: ServerProcess, stream: str) -> dict[tuple[str, str], float]:
    """(operation, outcome) -> calls on ``stream``, from the server's Prometheus ``/metrics``."""
    context = ssl.create_default_context(cafile=str(server.ca_file)) if server.tls else None
    with urllib.request.urlopen(server.endpoint + "/metrics", timeout=10, context=context) as r:
        text = r.read().decode()
    calls: dict[tuple[str, str], float] = {}
    for family in text_string_to_metric_families(text):
        if family.name != "shardflow_requests":
            continue
        for sample in family.samples:
            if sample.name.endswith("_total") and sample.labels["stream"] == stream:
                key = (sample.labels["operation"], sample.labels["outcome"])
                calls[key] = sample.value
    return calls


def dynamodb_client(endpoint: str) -> Any:
    return boto3.client("dynamodb", endpoint_url=endpoint, region_name=REGION, **CREDENTIALS)


def lease_index_ready(endpoint: str, table: str) -> bool:
    """Whether the KCL's lease table has its lease-owner index (KCL 3.x adds it at start-up)."""
    try:
        described = dynamodb_client(endpoint).describe_table(TableName=table)["Table"]
    except dynamodb_client(endpoint).exceptions.ResourceNotFoundException:
        return False
    indexes = described.get("GlobalSecondaryIndexes", [])
    return any(i["IndexName"] == "LeaseOwnerToLeaseKeyIndex" for i in indexes)


def lease_checkpoints(endpoint: str, table: str) -> dict[str, str]:
    """leaseKey -> checkpoint, from the KCL's lease table (its other entities skipped)."""
    ddb = dynamodb_client(endpoint)
    items: list[dict[str, Any]] = []
    kwargs: dict[str, Any] = {"TableName": table}
    while True:
        page = ddb.scan(**kwargs)
        items += page["Items"]
        if "LastEvaluatedKey" not in page:
            break
        kwargs["ExclusiveStartKey"] = page["LastEvaluatedKey"]
    return {
        i["leaseKey"]["S"]: i["checkpoint"]["S"]
        for i in items
        if i.get("leaseKey", {}).get("S", "").startswith("shardId-") and "checkpoint" in i
    }
