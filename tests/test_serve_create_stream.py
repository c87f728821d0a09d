"""`shardflow serve --create-stream NAME[:SHARDS[:MODE]]` and SHARDFLOW_CREATE_STREAM."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import make_client
from tests.support import ServerProcess

pytestmark = pytest.mark.skipif(
    bool(os.environ.get("SHARDFLOW_TEST_ENDPOINT")), reason="starts servers of its own"
)


def _summary(client, name: str) -> dict:  # type: ignore[no-untyped-def, type-arg]
    return client.describe_stream_summary(StreamName=name)["StreamDescriptionSummary"]  # type: ignore[no-any-return]


@pytest.fixture
def env_var() -> Iterator[None]:
    os.environ["SHARDFLOW_CREATE_STREAM"] = "from-env:2,also-env"
    yield
    del os.environ["SHARDFLOW_CREATE_STREAM"]


def test_streams_are_active_when_the_server_first_answers(tmp_path: Path) -> None:
    # CREATING lasts a minute for streams made later; the start-up streams skip it.
    args = ["--create-stream-ms", "60000", "--create-stream", "orders:4"]
    args += ["--create-stream", "clicks::on_demand", "--create-stream", "a,b:2:PROVISIONED"]
    with ServerProcess(tmp_path / "data", *args) as server:  # returns at the first answer
        client = make_client(server.endpoint)
        assert client.list_streams()["StreamNames"] == ["a", "b", "clicks", "orders"]
        orders = _summary(client, "orders")
        assert (orders["StreamStatus"], orders["OpenShardCount"]) == ("ACTIVE", 4)
        clicks = _summary(client, "clicks")
        assert clicks["StreamStatus"] == "ACTIVE"
        assert clicks["StreamModeDetails"]["StreamMode"] == "ON_DEMAND"
        assert [_summary(client, n)["OpenShardCount"] for n in ("a", "b")] == [1, 2]
        client.put_record(StreamName="orders", Data=b"x", PartitionKey="k")
        client.create_stream(StreamName="later", ShardCount=1)
        assert _summary(client, "later")["StreamStatus"] == "CREATING"


def test_from_the_environment_and_kept_over_a_restart(tmp_path: Path, env_var: None) -> None:
    with ServerProcess(tmp_path / "data") as server:
        client = make_client(server.endpoint)
        assert client.list_streams()["StreamNames"] == ["also-env", "from-env"]
        assert _summary(client, "from-env")["OpenShardCount"] == 2
        client.put_record(StreamName="from-env", Data=b"kept", PartitionKey="k")
        client.update_shard_count(
            StreamName="also-env", TargetShardCount=2, ScalingType="UNIFORM_SCALING"
        )
    # A restart on the same data: the existing streams stay as they are, records and all.
    with ServerProcess(tmp_path / "data") as server:
        client = make_client(server.endpoint)
        assert client.list_streams()["StreamNames"] == ["also-env", "from-env"]
        assert _summary(client, "also-env")["OpenShardCount"] == 2
        shards = client.list_shards(StreamName="from-env")["Shards"]
        data = []
        for shard in shards:
            it = client.get_shard_iterator(
                StreamName="from-env", ShardId=shard["ShardId"], ShardIteratorType="TRIM_HORIZON"
            )["ShardIterator"]
            data += [r["Data"] for r in client.get_records(ShardIterator=it)["Records"]]
        assert data == [b"kept"]


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ("bad/name", "a stream name is 1 to 128 letters"),
        ("x:0", "the shard count is a whole number, 1 or more"),
        ("x:two", "the shard count is a whole number, 1 or more"),
        ("x:2:ON_DEMAND", "an ON_DEMAND stream takes no shard count"),
        ("x:1:FAST", "the mode is PROVISIONED or ON_DEMAND"),
        ("x:1:PROVISIONED:y", "expected NAME[:SHARDS[:MODE]]"),
        ("x,x:2", "stream x is named twice"),
        ("big:600", "cannot create stream big: This request would exceed the shard limit"),
    ],
)
def test_a_bad_stream_is_a_clear_error(spec: str, message: str) -> None:
    out = subprocess.run(
        [
            sys.executable,
            "-m",
            "shardflow",
            "serve",
            "--in-memory",
            "--port",
            "0",
            "--create-stream",
            spec,
        ],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert out.returncode != 0
    assert "Traceback" not in out.stderr
    assert message in out.stderr.replace("\n", " ")
