"""Interoperability: the AWS CLI v1 (`awscli` from PyPI, a dev dependency) against the server.

The CLI runs as a subprocess (`python -m awscli`), never imported here: awscli 1.4x ships its own
copy of botocore and, once imported, aliases the top-level `botocore` package to it, which would
mix two botocore versions inside the test process.

Blob arguments in CLI v1: `--data TEXT` sends the UTF-8 bytes of TEXT (the CLI base64-encodes them
for the wire; `cli_binary_format` only matters to CLI v2 and v1's v2-migration warnings), and
`--data fileb://PATH` sends the file's raw bytes. `get-records --output json` prints `Data` as
base64 of the stored bytes.
"""

from __future__ import annotations

import base64
import importlib.util
import json
import os
import re
import subprocess
import sys
import time
import uuid
from pathlib import Path
from typing import Any

import pytest

CLI_TIMEOUT_S = 60
MAX_HASH_KEY = str(2**128 - 1)
TEXT = "héllo wörld ✓ — shardflow"
BINARY = bytes([0x00, 0xFF, 0xFE, 0x80, 0x0A, 0x0D, 0x7F]) + bytes(range(256))

SCRUBBED_ENV = (
    "AWS_PROFILE",
    "AWS_DEFAULT_PROFILE",
    "AWS_SESSION_TOKEN",
    "AWS_ENDPOINT_URL",
    "AWS_ENDPOINT_URL_KINESIS",
    "AWS_IGNORE_CONFIGURED_ENDPOINT_URLS",
    "AWS_USE_DUALSTACK_ENDPOINT",
    "AWS_USE_FIPS_ENDPOINT",
    "AWS_DEFAULT_OUTPUT",
    "AWS_CA_BUNDLE",
    "AWS_DATA_PATH",
)


@pytest.fixture(scope="module", autouse=True)
def _awscli_installed() -> None:
    # find_spec on a top-level package locates it without importing it.
    if importlib.util.find_spec("awscli") is None:
        msg = f"awscli is not installed for {sys.executable} (pip install -e '.[dev]')"
        if os.environ.get("CI"):
            pytest.fail(msg, pytrace=False)
        pytest.skip(msg)


class Cli:
    """Runs `aws kinesis ...` with test credentials, either `--endpoint-url` or the env var."""

    def __init__(self, endpoint: str, how: str, tmp_path: Path) -> None:
        self.endpoint = endpoint
        self.how = how
        env = {k: v for k, v in os.environ.items() if k not in SCRUBBED_ENV}
        env.update(
            AWS_ACCESS_KEY_ID="AKIDTEST",
            AWS_SECRET_ACCESS_KEY="secret",
            AWS_DEFAULT_REGION="us-east-1",
            AWS_CONFIG_FILE=str(tmp_path / "no-aws-config"),
            AWS_SHARED_CREDENTIALS_FILE=str(tmp_path / "no-aws-credentials"),
            AWS_MAX_ATTEMPTS="1",
            AWS_RETRY_MODE="standard",
            PYTHONIOENCODING="utf-8",
        )
        if how == "env":
            env["AWS_ENDPOINT_URL_KINESIS"] = endpoint
        self.env = env

    def run(self, *args: str) -> subprocess.CompletedProcess[str]:
        cmd = [sys.executable, "-m", "awscli", "kinesis", *args, "--output", "json"]
        if self.how == "flag":
            cmd += ["--endpoint-url", self.endpoint]
        return subprocess.run(
            cmd, env=self.env, capture_output=True, text=True, timeout=CLI_TIMEOUT_S
        )

    def __call__(self, *args: str) -> Any:
        proc = self.run(*args)
        assert proc.returncode == 0, (
            f"aws kinesis {' '.join(args)} ({self.how}) exit {proc.returncode}:\n"
            f"{proc.stderr[-3000:]}\n{proc.stdout[-1000:]}"
        )
        return json.loads(proc.stdout) if proc.stdout.strip() else None


@pytest.fixture(params=["flag", "env"], ids=["--endpoint-url", "AWS_ENDPOINT_URL_KINESIS"])
def cli(request: pytest.FixtureRequest, endpoint: str, tmp_path: Path) -> Cli:
    return Cli(endpoint, request.param, tmp_path)


def _wait_active(cli: Cli, name: str) -> dict[str, Any]:
    deadline = time.monotonic() + 30
    status = None
    while time.monotonic() < deadline:
        out = cli("describe-stream-summary", "--stream-name", name)
        summary: dict[str, Any] = out["StreamDescriptionSummary"]
        status = summary["StreamStatus"]
        if status == "ACTIVE":
            return summary
        time.sleep(0.1)
    raise AssertionError(f"stream {name} not ACTIVE after 30 s (last status {status})")


def _read_shard(cli: Cli, name: str, shard_id: str, want: int) -> list[dict[str, Any]]:
    it = cli(
        "get-shard-iterator",
        "--stream-name",
        name,
        "--shard-id",
        shard_id,
        "--shard-iterator-type",
        "TRIM_HORIZON",
    )["ShardIterator"]
    records: list[dict[str, Any]] = []
    for _ in range(20):
        out = cli("get-records", "--shard-iterator", it, "--limit", "1000")
        assert "MillisBehindLatest" in out, out
        records += out["Records"]
        it = out["NextShardIterator"]
        if len(records) >= want and not out["Records"]:
            break
    return records


def test_cli_round_trip(cli: Cli, tmp_path: Path) -> None:
    name = f"cli-{cli.how}-{uuid.uuid4().hex[:12]}"
    assert cli("create-stream", "--stream-name", name, "--shard-count", "2") is None
    try:
        summary = _wait_active(cli, name)
        assert summary["StreamName"] == name
        assert summary["OpenShardCount"] == 2

        shards = cli("list-shards", "--stream-name", name)["Shards"]
        assert len(shards) == 2
        shard_ids = {s["ShardId"] for s in shards}
        by_end = {s["HashKeyRange"]["EndingHashKey"]: s["ShardId"] for s in shards}
        assert MAX_HASH_KEY in by_end, shards

        blob = tmp_path / "payload.bin"
        blob.write_bytes(BINARY)
        sent: dict[str, list[tuple[str, str, bytes]]] = {sid: [] for sid in shard_ids}

        # CLI v1: --data TEXT is sent as the UTF-8 bytes of TEXT.
        out = cli("put-record", "--stream-name", name, "--partition-key", "pk-text", "--data", TEXT)
        assert out["ShardId"] in shard_ids, out
        sent[out["ShardId"]].append((out["SequenceNumber"], "pk-text", TEXT.encode()))
        prev = out["SequenceNumber"]

        # fileb:// sends raw bytes (not valid UTF-8), chained with --sequence-number-for-ordering.
        out = cli(
            "put-record",
            "--stream-name",
            name,
            "--partition-key",
            "pk-text",
            "--data",
            f"fileb://{blob}",
            "--sequence-number-for-ordering",
            prev,
        )
        assert out["ShardId"] in shard_ids, out
        sent[out["ShardId"]].append((out["SequenceNumber"], "pk-text", BINARY))

        # --explicit-hash-key routes to the shard owning the top of the hash key space.
        out = cli(
            "put-record",
            "--stream-name",
            name,
            "--partition-key",
            "pk-ëxplicit",
            "--explicit-hash-key",
            MAX_HASH_KEY,
            "--data",
            "last shard",
        )
        assert out["ShardId"] == by_end[MAX_HASH_KEY], out
        sent[out["ShardId"]].append((out["SequenceNumber"], "pk-ëxplicit", b"last shard"))

        for shard_id in sorted(shard_ids):
            want = sent[shard_id]
            got = _read_shard(cli, name, shard_id, len(want))
            assert [
                (r["SequenceNumber"], r["PartitionKey"], base64.b64decode(r["Data"])) for r in got
            ] == want, f"{shard_id}: {got}"
            for r in got:
                assert "ApproximateArrivalTimestamp" in r, r
    finally:
        cli.run("delete-stream", "--stream-name", name)


def test_cli_missing_stream_error(cli: Cli) -> None:
    name = f"cli-missing-{uuid.uuid4().hex[:12]}"
    proc = cli.run("describe-stream", "--stream-name", name)
    assert proc.returncode == 255, proc  # CLI v1: 255 for a service error
    # botocore adds "(reached max retries: N)" after the operation name when retries are set.
    pattern = (
        r"An error occurred \(ResourceNotFoundException\) when calling the DescribeStream "
        r"operation(?: \(reached max retries: \d+\))?: "
        rf"Stream {re.escape(name)} under account 000000000000 not found\.\n"
    )
    assert re.search(pattern, proc.stderr), proc.stderr
