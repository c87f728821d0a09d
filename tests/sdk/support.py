"""Build an SDK program once, run it against a server here, and check its summary with boto3.

Each program under clients/ does the same round trip (CreateStream with two shards, PutRecord,
PutRecords, ListShards, GetShardIterator + GetRecords on every shard, and for some modes
RegisterStreamConsumer + SubscribeToShard on every shard) and prints one JSON summary. The test
then reads the stream itself with boto3: what the program says it wrote and read must be what the
server holds, record for record, in sequence order.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import uuid
from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore.config import Config as BotoConfig
from botocore.exceptions import ClientError

from tests.support import ServerProcess

ROOT = Path(__file__).resolve().parents[2]
CLIENTS = ROOT / "clients"
RUN_TIMEOUT_S = 300  # a program's whole round trip; each waits at most 60 s for any one thing

# An SDK must not pick up a developer's ~/.aws profile, endpoint overrides or session token.
SCRUBBED_PREFIXES = ("AWS_",)


def toolchain(name: str) -> str:
    """The path of a build tool; a missing one fails the test (`.ci/run` installs them)."""
    path = shutil.which(name)
    if path is None:
        pytest.fail(f"`{name}` is not on PATH: the SDK tests build their programs with it")
    return path


def build(cmd: list[str], cwd: Path, timeout_s: float) -> None:
    """Run a build command; its output is shown only when it fails."""
    proc = subprocess.run(cmd, cwd=cwd, capture_output=True, text=True, timeout=timeout_s)
    if proc.returncode != 0:
        pytest.fail(
            f"`{' '.join(cmd)}` in {cwd} failed (exit {proc.returncode}):\n"
            f"{proc.stdout[-4000:]}\n{proc.stderr[-4000:]}",
            pytrace=False,
        )


def program_env(server: ServerProcess, tmp_path: Path, **extra: str) -> dict[str, str]:
    """The environment of a program run: the endpoint, the CA for https, no AWS settings of
    the machine's."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(SCRUBBED_PREFIXES)}
    env.update(
        SHARDFLOW_ENDPOINT=server.endpoint,
        AWS_CONFIG_FILE=str(tmp_path / "no-aws-config"),
        AWS_SHARED_CREDENTIALS_FILE=str(tmp_path / "no-aws-credentials"),
        AWS_EC2_METADATA_DISABLED="true",
    )
    if server.tls:
        env["SHARDFLOW_CA_FILE"] = str(server.ca_file)
    env.update(extra)
    return env


def run_program(cmd: list[str], env: dict[str, str]) -> dict[str, Any]:
    """Run a program and return the JSON summary it printed last."""
    proc = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=RUN_TIMEOUT_S)
    assert proc.returncode == 0, (
        f"{cmd[0]} failed (exit {proc.returncode}):\n{proc.stdout[-3000:]}\n{proc.stderr[-6000:]}"
    )
    lines = [line for line in proc.stdout.splitlines() if line.startswith("{")]
    assert lines, f"no JSON summary on stdout:\n{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}"
    summary: dict[str, Any] = json.loads(lines[-1])
    return summary


def stream_name(sdk: str) -> str:
    return f"{sdk}-{uuid.uuid4().hex[:10]}"


def kinesis_for(server: ServerProcess) -> Any:
    """A boto3 client for the server (trusting its CA over https), to check from the outside.

    The servers run with AWS's limits on and the program has just read every shard, so the
    checker's own reads may be throttled: boto3's standard retries back off and try again."""
    return boto3.client(
        "kinesis",
        endpoint_url=server.endpoint,
        region_name="us-east-1",
        aws_access_key_id="AKIDTEST",
        aws_secret_access_key="secret",
        verify=str(server.ca_file) if server.tls else None,
        config=BotoConfig(retries={"total_max_attempts": 10, "mode": "standard"}),
    )


def stored_records(kinesis: Any, stream: str) -> dict[str, list[dict[str, Any]]]:
    """Every record of every shard as boto3 reads it, in sequence order per shard."""
    shards = kinesis.list_shards(StreamName=stream)["Shards"]
    stored: dict[str, list[dict[str, Any]]] = {}
    for shard in shards:
        iterator = kinesis.get_shard_iterator(
            StreamName=stream, ShardId=shard["ShardId"], ShardIteratorType="TRIM_HORIZON"
        )["ShardIterator"]
        records: list[dict[str, Any]] = []
        while True:
            page = kinesis.get_records(ShardIterator=iterator)
            if not page["Records"]:
                break
            records += page["Records"]
            iterator = page["NextShardIterator"]
        stored[shard["ShardId"]] = records
    return stored


def check_round_trip(
    summary: dict[str, Any], kinesis: Any, records: int
) -> dict[str, list[dict[str, Any]]]:
    """What the program wrote and read is what the server holds, per shard, in order; returns
    what the server holds (stored_records)."""
    stream = summary["stream"]
    stored = stored_records(kinesis, stream)
    assert summary["shards"] == sorted(stored), summary["shards"]
    put = summary["put"]
    assert len(put) == records
    assert len({w["seq"] for w in put}) == records, "sequence numbers must be unique"
    for shard, held in stored.items():
        mine = sorted((w for w in put if w["shard"] == shard), key=lambda w: int(w["seq"]))
        assert [(r["SequenceNumber"], r["PartitionKey"], r["Data"].decode()) for r in held] == [
            (w["seq"], w["key"], w["data"]) for w in mine
        ], f"{shard}: the server holds other records than the program wrote"
        data = [r["Data"].decode() for r in held]
        if "get_records" in summary:
            got = summary["get_records"][shard]
            got_data = [g["data"] if isinstance(g, dict) else g for g in got]
            assert got_data == data, f"{shard}: GetRecords through the SDK read {got_data}"
        for key in ("subscribe", "subscribe_live"):  # from TRIM_HORIZON; at LATEST, then written
            if key in summary:
                assert summary[key][shard] == data, (
                    f"{shard}: SubscribeToShard ({key}) through the SDK read {summary[key][shard]}"
                )
    assert sum(len(v) for v in stored.values()) == records
    return stored


def check_consumer(summary: dict[str, Any], kinesis: Any) -> None:
    """The consumer the program registered is there, ACTIVE, on its stream."""
    described = kinesis.describe_stream_consumer(ConsumerARN=summary["consumer_arn"])
    consumer = described["ConsumerDescription"]
    assert consumer["ConsumerStatus"] == "ACTIVE"
    assert f":stream/{summary['stream']}" in consumer["StreamARN"]


# The refusals each program provokes (clients/*: "errors"), as boto3 makes them.
REFUSALS = {
    "missing_shard": {"ShardId": "shardId-000000000009", "ShardIteratorType": "TRIM_HORIZON"},
    "bad_sequence": {
        "ShardId": "shardId-000000000000",
        "ShardIteratorType": "AT_SEQUENCE_NUMBER",
        "StartingSequenceNumber": "1",
    },
}


def check_refusals(summary: dict[str, Any], kinesis: Any) -> None:
    """The SDK surfaced each refusal as its modeled exception, with AWS's code and the message
    boto3 gets for the same call."""
    assert set(summary["errors"]) == set(REFUSALS)
    for name, params in REFUSALS.items():
        with pytest.raises(ClientError) as refused:
            kinesis.get_shard_iterator(StreamName=summary["stream"], **params)
        error = refused.value.response["Error"]
        theirs = summary["errors"][name]
        assert theirs["code"] == error["Code"], name
        assert theirs["message"] == error["Message"], name
        assert theirs["status"] == 400, name
        assert theirs["type"].endswith(error["Code"]), f"{name}: surfaced as {theirs['type']}"
