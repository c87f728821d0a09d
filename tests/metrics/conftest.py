"""A server with fault injection for the metrics tests, and known traffic to drive through it."""

from __future__ import annotations

import json
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from prometheus_client.parser import text_string_to_metric_families

from tests.conftest import make_client
from tests.helpers import wait_active
from tests.support import ServerProcess

# Seeded, so a run is repeatable; rates high enough that a small run sees every kind of outcome.
FAULTS = {
    "seed": 11,
    "operations": {
        "PutRecords": {"entry_throttle": 0.25},
        "PutRecord": {"throttle": 0.2},
        "GetRecords": {"throttle": 0.3},
    },
}


@pytest.fixture(scope="package")
def faulty_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    proc = ServerProcess(tmp_path_factory.mktemp("metrics-data"), "--faults", json.dumps(FAULTS))
    with proc:
        yield proc


@pytest.fixture(scope="package")
def faulty_kinesis(faulty_server: ServerProcess) -> Any:
    return make_client(faulty_server.endpoint)


@dataclass
class Traffic:
    """What the client saw: the figures the server must report back."""

    stream: str
    records: int = 0  # stored
    bytes: int = 0  # data + partition keys of the stored records
    throttled_entries: int = 0  # PutRecords entries refused with ProvisionedThroughputExceeded
    throttled_puts: int = 0  # whole PutRecord calls refused
    put_record_ok: int = 0
    put_records_calls: int = 0
    entries: int = 0
    read_records: int = 0
    read_bytes: int = 0
    throttled_reads: int = 0
    reads_ok: int = 0
    by_shard: dict[str, int] | None = None

    @property
    def throttled(self) -> int:
        return self.throttled_entries + self.throttled_puts


def drive(kinesis: Any, stream: str, rounds: int = 6, shards: int = 2) -> Traffic:
    """PutRecord, PutRecords and GetRecords calls with known sizes; count every outcome."""
    seen = Traffic(stream, by_shard={})
    assert seen.by_shard is not None
    for r in range(rounds):
        for i in range(5):
            key, data = f"pk-{r}-{i}", b"x" * (10 + i)
            try:
                out = kinesis.put_record(StreamName=stream, PartitionKey=key, Data=data)
            except kinesis.exceptions.ProvisionedThroughputExceededException:
                seen.throttled_puts += 1
                continue
            seen.put_record_ok += 1
            seen.records += 1
            seen.bytes += len(key) + len(data)
            seen.by_shard[out["ShardId"]] = seen.by_shard.get(out["ShardId"], 0) + 1
        entries = [{"PartitionKey": f"k{r}-{i}", "Data": b"y" * (i % 7 + 1)} for i in range(40)]
        out = kinesis.put_records(StreamName=stream, Records=entries)
        seen.put_records_calls += 1
        seen.entries += len(entries)
        for entry, result in zip(entries, out["Records"], strict=True):
            if "SequenceNumber" in result:
                seen.records += 1
                seen.bytes += len(entry["PartitionKey"]) + len(entry["Data"])
                seen.by_shard[result["ShardId"]] = seen.by_shard.get(result["ShardId"], 0) + 1
            else:
                assert result["ErrorCode"] == "ProvisionedThroughputExceededException"
                seen.throttled_entries += 1
    for index in range(shards):
        shard = f"shardId-{index:012d}"
        it = kinesis.get_shard_iterator(
            StreamName=stream, ShardId=shard, ShardIteratorType="TRIM_HORIZON"
        )["ShardIterator"]
        for _ in range(12):
            try:
                page = kinesis.get_records(ShardIterator=it, Limit=25)
            except kinesis.exceptions.ProvisionedThroughputExceededException:
                seen.throttled_reads += 1
                continue
            seen.reads_ok += 1
            seen.read_records += len(page["Records"])
            seen.read_bytes += sum(len(x["Data"]) + len(x["PartitionKey"]) for x in page["Records"])
            it = page["NextShardIterator"]
    return seen


def create(kinesis: Any, stream: str, shards: int = 2) -> None:
    kinesis.create_stream(StreamName=stream, ShardCount=shards)
    wait_active(kinesis, stream)


def get_json(endpoint: str, path: str) -> Any:
    with urllib.request.urlopen(endpoint + path, timeout=10) as response:
        return json.loads(response.read())


def prometheus_samples(endpoint: str) -> list[tuple[str, dict[str, str], float]]:
    """Every sample of GET /metrics as (name, labels, value), parsed by prometheus-client."""
    with urllib.request.urlopen(endpoint + "/metrics", timeout=10) as response:
        assert response.headers["content-type"].startswith("text/plain; version=")
        text = response.read().decode()
    return [
        (sample.name, dict(sample.labels), sample.value)
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    ]


def prom_sum(samples: list[tuple[str, dict[str, str], float]], name: str, **labels: str) -> float:
    return sum(
        value
        for sample_name, sample_labels, value in samples
        if sample_name == name and all(sample_labels.get(k) == v for k, v in labels.items())
    )


@pytest.fixture
def data_dir(tmp_path: Path) -> Path:
    return tmp_path / "data"
