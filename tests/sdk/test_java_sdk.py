"""The AWS SDK for Java v2 (`software.amazon.awssdk:kinesis`) against the server.

clients/java-sdk (the SDK's BOM pinned in its pom.xml) runs in two modes:
- ``sync``: KinesisClient (Apache HTTP client) over http, the data plane. The SDK speaks CBOR by
  default; with the `aws.cborEnabled=false` system property or CBOR_ENABLED=false in the
  environment (SdkSystemSetting.CBOR_ENABLED; AWS_CBOR_DISABLE is SDK v1's) it speaks JSON.
  The program records each operation's request and response Content-Type, each record's
  ApproximateArrivalTimestamp and the stream's creation time (CBOR tag-1 timestamps when CBOR is
  on), and reads with AT_TIMESTAMP iterators (a timestamp the SDK encodes).
- ``fanout``: KinesisAsyncClient with the Netty client over HTTP/2: HTTPS against `serve --tls`,
  trusting only DATA_DIR/tls/ca.pem (a truststore made from it), and h2c (prior knowledge)
  against plain `serve`. Two consumers: one subscribes to every shard at LATEST before the
  records are written (they are pushed to it), the other afterwards from TRIM_HORIZON.
"""

from __future__ import annotations

import re
import shlex
import subprocess
from pathlib import Path
from typing import Any

import pytest

from tests.sdk.support import (
    CLIENTS,
    build,
    check_consumer,
    check_refusals,
    check_round_trip,
    kinesis_for,
    program_env,
    run_program,
    stream_name,
    toolchain,
)
from tests.support import ServerProcess

JAVA_DIR = CLIENTS / "java-sdk"
RECORDS = 20
BUILD_TIMEOUT_S = 900
CBOR = "application/x-amz-cbor-1.1"
JSON = "application/x-amz-json-1.1"
DATA_PLANE = (
    "CreateStream",
    "DescribeStreamSummary",
    "PutRecord",
    "PutRecords",
    "ListShards",
    "GetShardIterator",
    "GetRecords",
)


@pytest.fixture(scope="session")
def java_command() -> list[str]:
    """`java -cp ... Main`, compiled once per run (Maven skips what is up to date)."""
    java, mvn = toolchain("java"), toolchain("mvn")
    build([mvn, "-B", "-q", "compile"], JAVA_DIR, BUILD_TIMEOUT_S)
    classpath = (JAVA_DIR / "target" / "classpath.txt").read_text().strip()
    return [java, "-cp", f"{JAVA_DIR / 'target' / 'classes'}:{classpath}"]


def _run(
    java_command: list[str],
    mode: str,
    server: ServerProcess,
    tmp_path: Path,
    props: tuple[str, ...] = (),
    **env: str,
) -> dict[str, Any]:
    cmd = [java_command[0], *props, *java_command[1:], "shardflow.sdkcheck.Main", mode]
    return run_program([*cmd, stream_name(f"java-{mode}")], program_env(server, tmp_path, **env))


def _check_arrival_times(summary: dict[str, Any], stored: dict[str, list[dict[str, Any]]]) -> None:
    """The timestamps the SDK decoded are the server's, to the millisecond."""
    for shard, records in stored.items():
        theirs = [r["arrival_ms"] for r in summary["get_records"][shard]]
        ours = [round(r["ApproximateArrivalTimestamp"].timestamp() * 1000) for r in records]
        assert theirs == ours, shard
        assert all(t >= summary["started_ms"] - 5_000 for t in theirs), "arrival before the run"


def _check_timestamps(summary: dict[str, Any], stored: dict[str, Any], kinesis: Any) -> None:
    """Timestamps both ways: the creation time the SDK decoded (DescribeStreamSummary and
    ListStreams) is boto3's, and AT_TIMESTAMP iterators it sent read all records from before the
    run and none from after the writes."""
    times = summary["timestamps"]
    described = kinesis.describe_stream_summary(StreamName=summary["stream"])
    created = described["StreamDescriptionSummary"]["StreamCreationTimestamp"]
    assert times["created_ms"] == times["listed_created_ms"] == round(created.timestamp() * 1000)
    assert times["at_timestamp_before_run"] == {shard: len(r) for shard, r in stored.items()}
    assert times["at_timestamp_after_writes"] == dict.fromkeys(stored, 0)


def test_java_sdk_cbor_by_default(
    java_command: list[str], sdk_server: ServerProcess, tmp_path: Path
) -> None:
    summary = _run(java_command, "sync", sdk_server, tmp_path)
    kinesis = kinesis_for(sdk_server)
    stored = check_round_trip(summary, kinesis, RECORDS)
    _check_arrival_times(summary, stored)
    _check_timestamps(summary, stored, kinesis)
    check_refusals(summary, kinesis)
    for op in DATA_PLANE:
        assert summary["content_types"][op] == f"{CBOR} -> {CBOR}", op


@pytest.mark.parametrize(
    ("props", "env"),
    [(("-Daws.cborEnabled=false",), {}), ((), {"CBOR_ENABLED": "false"})],
    ids=["system-property", "environment"],
)
def test_java_sdk_cbor_disabled(
    java_command: list[str],
    sdk_server: ServerProcess,
    tmp_path: Path,
    props: tuple[str, ...],
    env: dict[str, str],
) -> None:
    summary = _run(java_command, "sync", sdk_server, tmp_path, props, **env)
    kinesis = kinesis_for(sdk_server)
    stored = check_round_trip(summary, kinesis, RECORDS)
    _check_arrival_times(summary, stored)
    _check_timestamps(summary, stored, kinesis)
    check_refusals(summary, kinesis)
    for op in DATA_PLANE:
        assert summary["content_types"][op] == f"{JSON} -> {JSON}", op


@pytest.mark.parametrize("server_fixture", ["sdk_tls_server", "sdk_server"], ids=["https", "h2c"])
def test_java_sdk_subscribe_to_shard_netty_http2(
    java_command: list[str], server_fixture: str, request: pytest.FixtureRequest, tmp_path: Path
) -> None:
    server: ServerProcess = request.getfixturevalue(server_fixture)
    summary = _run(java_command, "fanout", server, tmp_path)
    kinesis = kinesis_for(server)
    check_round_trip(summary, kinesis, RECORDS)
    check_consumer(summary, kinesis)
    assert summary["content_types"]["PutRecords"] == f"{CBOR} -> {CBOR}"
    # The SDK sends the event-stream operation as JSON, and the answer is an event stream.
    assert summary["content_types"]["SubscribeToShard"] == (
        f"{JSON} -> application/vnd.amazon.eventstream"
    )


def test_java_sdk_https_with_the_truststore_serve_prints(
    java_command: list[str], sdk_tls_server: ServerProcess, tmp_path: Path
) -> None:
    """`serve --tls` prints how a Java program trusts its CA; done as printed, the sync client
    (Apache, default JSSE trust) works over https. The recipe once lacked the store password:
    keytool then prompted for one, and a JVM that reads a PKCS12 truststore without its
    password finds no certificate in it ('the trustAnchors parameter must be non-empty')."""
    assert sdk_tls_server.log_path is not None
    printed = sdk_tls_server.log_path.read_text()
    keytool_line = re.search(r"^\s*Java:\s+(keytool .*)$", printed, re.MULTILINE)
    assert keytool_line, printed[:2000]
    keytool = shlex.split(keytool_line.group(1))
    keytool[0] = toolchain("keytool")
    done = subprocess.run(keytool, stdin=subprocess.DEVNULL, capture_output=True, text=True)
    assert done.returncode == 0, done.stdout + done.stderr
    flags = tuple(re.findall(r"-Djavax\.net\.ssl\.\S+", printed))
    assert len(flags) == 2, flags

    summary = _run(java_command, "sync", sdk_tls_server, tmp_path, flags)
    assert summary["endpoint"].startswith("https://")
    check_round_trip(summary, kinesis_for(sdk_tls_server), RECORDS)
