"""`shardflow serve` itself: options, env vars, state delays, restart and shutdown."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import make_client
from tests.support import ServerProcess, free_port

pytestmark = pytest.mark.skipif(
    bool(os.environ.get("SHARDFLOW_TEST_ENDPOINT")), reason="starts servers of its own"
)


@pytest.fixture
def start(tmp_path: Path) -> Iterator:  # type: ignore[type-arg]
    started: list[ServerProcess] = []

    def _start(*args: str, data_dir: Path | None = None) -> ServerProcess:
        server = ServerProcess(data_dir or tmp_path / f"data{len(started)}", *args)
        server.start()
        started.append(server)
        return server

    yield _start
    for server in started:
        server.stop()


def test_state_delays(start) -> None:  # type: ignore[no-untyped-def]
    server = start("--create-stream-ms", "600", "--delete-stream-ms", "600")
    client = make_client(server.endpoint)
    client.create_stream(StreamName="slow", ShardCount=1)
    summary = client.describe_stream_summary(StreamName="slow")["StreamDescriptionSummary"]
    assert summary["StreamStatus"] == "CREATING"
    with pytest.raises(client.exceptions.ResourceNotFoundException):
        client.put_record(StreamName="slow", Data=b"x", PartitionKey="k")
    time.sleep(0.7)
    summary = client.describe_stream_summary(StreamName="slow")["StreamDescriptionSummary"]
    assert summary["StreamStatus"] == "ACTIVE"
    client.put_record(StreamName="slow", Data=b"x", PartitionKey="k")
    client.delete_stream(StreamName="slow")
    summary = client.describe_stream_summary(StreamName="slow")["StreamDescriptionSummary"]
    assert summary["StreamStatus"] == "DELETING"
    time.sleep(0.7)
    with pytest.raises(client.exceptions.ResourceNotFoundException):
        client.describe_stream_summary(StreamName="slow")


def test_shard_limit_option_and_account_id(start) -> None:  # type: ignore[no-untyped-def]
    server = start("--shard-limit", "3", "--account-id", "123456789012", "--region", "eu-west-1")
    # --region is only the default: the request's credential scope (eu-west-1 here) names it.
    client = make_client(server.endpoint, region="eu-west-1")
    client.create_stream(StreamName="a", ShardCount=2)
    with pytest.raises(client.exceptions.LimitExceededException) as info:
        client.create_stream(StreamName="b", ShardCount=2)
    message = info.value.response["Error"]["Message"]
    assert "account 123456789012 in eu-west-1" in message and "Limit: 3." in message
    limits = client.describe_limits()
    assert (limits["ShardLimit"], limits["OpenShardCount"]) == (3, 2)
    arn = client.describe_stream_summary(StreamName="a")["StreamDescriptionSummary"]["StreamARN"]
    assert arn == "arn:aws:kinesis:eu-west-1:123456789012:stream/a"


def test_everything_survives_a_restart(start, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    data_dir = tmp_path / "kept"
    first = start(data_dir=data_dir)
    client = make_client(first.endpoint)
    client.create_stream(StreamName="kept", ShardCount=2)
    put = client.put_record(StreamName="kept", Data=b"one", PartitionKey="k")
    iterator = client.get_shard_iterator(
        StreamName="kept", ShardId=put["ShardId"], ShardIteratorType="TRIM_HORIZON"
    )["ShardIterator"]
    assert first.stop() == 0, "SIGTERM must shut the server down cleanly"

    second = start(data_dir=data_dir)
    client = make_client(second.endpoint)
    page = client.get_records(ShardIterator=iterator)  # an iterator outlives the restart
    assert [(r["Data"], r["SequenceNumber"]) for r in page["Records"]] == [
        (b"one", put["SequenceNumber"])
    ]
    again = client.put_record(StreamName="kept", Data=b"two", PartitionKey="k")
    assert int(again["SequenceNumber"]) > int(put["SequenceNumber"])
    assert client.list_streams()["StreamNames"] == ["kept"]


def test_in_memory_keeps_nothing(start, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    data_dir = tmp_path / "unused"
    server = start("--in-memory", data_dir=data_dir)
    make_client(server.endpoint).create_stream(StreamName="gone", ShardCount=1)
    server.stop()
    assert not data_dir.exists()


def test_options_from_environment(tmp_path: Path) -> None:
    port = free_port()
    env = dict(os.environ, SHARDFLOW_PORT=str(port), SHARDFLOW_DATA_DIR=str(tmp_path / "env"))
    env.pop("SHARDFLOW_TEST_ENDPOINT", None)
    proc = subprocess.Popen(
        [sys.executable, "-m", "shardflow", "serve"],
        env=env,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        server = ServerProcess.external(f"http://127.0.0.1:{port}")
        deadline = time.monotonic() + 30
        while not server.healthy():
            assert proc.poll() is None and time.monotonic() < deadline
            time.sleep(0.05)
        proc.send_signal(signal.SIGINT)
        assert proc.wait(10) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
    log = proc.stderr.read() if proc.stderr else ""
    assert f"listening on http://127.0.0.1:{port}" in log
    assert str(tmp_path / "env") in log
    assert (tmp_path / "env").is_dir()


def test_port_in_use_is_a_clear_error(start) -> None:  # type: ignore[no-untyped-def]
    server = start()
    out = subprocess.run(
        [sys.executable, "-m", "shardflow", "serve", "--port", str(server.port), "--in-memory"],
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert out.returncode != 0
    assert "Traceback" not in out.stderr
    assert f"cannot serve on 127.0.0.1:{server.port}" in out.stderr
