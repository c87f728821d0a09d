"""``shardflow.testing.server()``: both isolations, streams at start, reset, env, clean stop."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import threading
import urllib.error
import urllib.request

import pytest
from botocore.config import Config

import shardflow.testing
from shardflow.testing.server import ShardflowServer

pytestmark = pytest.mark.skipif(
    bool(os.environ.get("SHARDFLOW_TEST_ENDPOINT")), reason="starts servers of its own"
)


def _consumer(client, stream: str) -> None:  # type: ignore[no-untyped-def]
    arn = client.describe_stream_summary(StreamName=stream)["StreamDescriptionSummary"]
    client.register_stream_consumer(StreamARN=arn["StreamARN"], ConsumerName="app")


@pytest.mark.parametrize("isolation", ["thread", "process"])
def test_server_streams_reset_and_stop(isolation: str) -> None:
    with shardflow.testing.server(
        isolation=isolation, streams=["orders:3", "clicks::ON_DEMAND"]
    ) as s:
        client = s.client()
        assert client.list_streams()["StreamNames"] == ["clicks", "orders"]
        summary = client.describe_stream_summary(StreamName="orders")["StreamDescriptionSummary"]
        assert (summary["StreamStatus"], summary["OpenShardCount"]) == ("ACTIVE", 3)
        client.put_record(StreamName="orders", Data=b"x", PartitionKey="k")
        client.add_tags_to_stream(StreamName="orders", Tags={"team": "a"})
        _consumer(client, "orders")
        assert s.reset() == 2  # consumers and tags do not stand in the way
        assert client.list_streams()["StreamNames"] == []
        assert s.reset() == 0
        # A stream of the same name afterwards is a new, empty one.
        client.create_stream(StreamName="orders", ShardCount=1)
        shard = client.list_shards(StreamName="orders")["Shards"][0]["ShardId"]
        it = client.get_shard_iterator(
            StreamName="orders", ShardId=shard, ShardIteratorType="TRIM_HORIZON"
        )["ShardIterator"]
        assert client.get_records(ShardIterator=it)["Records"] == []
        assert client.list_tags_for_stream(StreamName="orders")["Tags"] == []
        port = s.port
    with socket.socket() as probe:  # stopped: nothing listens
        assert probe.connect_ex(("127.0.0.1", port)) != 0
    with shardflow.testing.server(isolation=isolation, port=port) as again:  # the port is free
        assert again.client().list_streams()["StreamNames"] == []  # and nothing is kept


def test_thread_server_leaves_no_thread_or_socket() -> None:
    def sockets() -> int:
        return sum(
            1
            for fd in os.listdir("/proc/self/fd")
            if _link(f"/proc/self/fd/{fd}").startswith("socket:")
        )

    with shardflow.testing.server():
        pass  # imports done, pools warm
    before = sockets()
    for _ in range(5):
        with shardflow.testing.server() as s:
            s.reset()
    assert sockets() == before
    assert not [t for t in threading.enumerate() if t.name == "shardflow-server"]


def _link(path: str) -> str:
    try:
        return os.readlink(path)
    except OSError:
        return ""


def test_limits_option() -> None:
    entries = [{"Data": b"x", "PartitionKey": "k"} for _ in range(500)]
    with shardflow.testing.server(limits=True, streams=["s"]) as s:
        client = s.client(config=Config(retries={"total_max_attempts": 1}))
        failed = sum(
            client.put_records(StreamName="s", Records=entries)["FailedRecordCount"]
            for _ in range(6)
        )
        assert failed > 0  # 3,000 records at once: a shard takes 1,000 a second
        # The throttle reaches the caller: this client does not retry (docs/testing.md).
        # A shard takes 1 MiB a second: the second of two 1 MB records in a row is refused.
        with pytest.raises(client.exceptions.ProvisionedThroughputExceededException):
            for _ in range(3):
                client.put_record(StreamName="s", Data=b"x" * 1_000_000, PartitionKey="k")


def test_localstack_style_global_endpoint_variable() -> None:
    # LocalStack users set AWS_ENDPOINT_URL for every service: boto3 then finds Shardflow too.
    code = "import boto3; print(boto3.client('kinesis').list_streams()['StreamNames'])"
    with shardflow.testing.server(streams=["a"]) as s:
        env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
        env.update(s.env())
        env["AWS_ENDPOINT_URL"] = env.pop("AWS_ENDPOINT_URL_KINESIS")
        out = subprocess.run(
            [sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True
        )
        assert out.stdout.strip() == "['a']"


def test_env_drives_code_that_builds_its_own_client() -> None:
    code = (
        "import boto3; c = boto3.client('kinesis');"
        "c.put_record(StreamName='events', Data=b'hello', PartitionKey='k');"
        "print(c.meta.region_name, c.describe_stream_summary(StreamName='events')"
        "['StreamDescriptionSummary']['StreamARN'])"
    )
    with shardflow.testing.server(streams=["events"], region="eu-west-1") as s:
        env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
        env.update(s.env())
        out = subprocess.run(
            [sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True
        ).stdout.split()
        assert out == ["eu-west-1", "arn:aws:kinesis:eu-west-1:000000000000:stream/events"]
        assert (
            s.client().get_records(
                ShardIterator=s.client().get_shard_iterator(
                    StreamName="events",
                    ShardId="shardId-000000000000",
                    ShardIteratorType="TRIM_HORIZON",
                )["ShardIterator"]
            )["Records"][0]["Data"]
            == b"hello"
        )


def test_reset_route_takes_post_only() -> None:
    with shardflow.testing.server() as s:
        with pytest.raises(urllib.error.HTTPError) as refused:
            urllib.request.urlopen(s.endpoint_url + "/_shardflow/reset", timeout=10)
        assert refused.value.code == 405
        req = urllib.request.Request(s.endpoint_url + "/_shardflow/reset", method="POST")
        with urllib.request.urlopen(req, timeout=10) as response:
            assert response.read() == b'{"streams_dropped":0}'


def test_start_failure_is_reported() -> None:
    with shardflow.testing.server() as s:
        taken = s.port
        # claim_port refuses a port something listens on, before any thread starts
        with pytest.raises(OSError):
            ShardflowServer(port=taken)
    with pytest.raises(ValueError, match="shard count"):
        shardflow.testing.server(streams=["bad:0"])
    with pytest.raises(RuntimeError, match="cannot create stream big"):
        shardflow.testing.server(streams=["big:9"], shard_limit=4).start()
    with pytest.raises(RuntimeError, match="cannot create stream big"):
        shardflow.testing.server(streams=["big:9"], shard_limit=4, isolation="process").start()
