"""Region per request, account per access key: one server, many tenants (as on AWS, the same
stream name in two regions or two accounts is two streams)."""

from __future__ import annotations

import subprocess
import sys
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import boto3
import pytest

from tests.conftest import make_client
from tests.metrics.conftest import prometheus_samples
from tests.support import ServerProcess, server_of_its_own

REGIONS = ("us-east-1", "us-west-2", "eu-west-1")
DEFAULT_ACCOUNT = "000000000000"


@pytest.fixture(scope="module")
def tenant_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    yield from server_of_its_own(tmp_path_factory.mktemp("tenants") / "data")


def client(endpoint: str, region: str, key: str = "AKIDTEST") -> Any:
    return make_client(endpoint, region=region, access_key=key)


def test_same_name_in_three_regions_is_three_streams(tenant_server: ServerProcess) -> None:
    clients = {region: client(tenant_server.endpoint, region) for region in REGIONS}
    for region, kinesis in clients.items():
        kinesis.create_stream(StreamName="s", ShardCount=1 if region != "eu-west-1" else 2)
    arns = set()
    for region, kinesis in clients.items():
        summary = kinesis.describe_stream_summary(StreamName="s")["StreamDescriptionSummary"]
        assert summary["StreamARN"] == f"arn:aws:kinesis:{region}:{DEFAULT_ACCOUNT}:stream/s"
        assert summary["OpenShardCount"] == (2 if region == "eu-west-1" else 1)
        arns.add(summary["StreamARN"])
        listed = kinesis.list_streams()
        assert listed["StreamNames"] == ["s"]
        assert [s["StreamARN"] for s in listed["StreamSummaries"]] == [summary["StreamARN"]]
    assert len(arns) == 3

    # Records stay in their region's stream.
    clients["us-west-2"].put_record(StreamName="s", Data=b"west", PartitionKey="k")
    for region, kinesis in clients.items():
        shard = kinesis.list_shards(StreamName="s")["Shards"][0]["ShardId"]
        iterator = kinesis.get_shard_iterator(
            StreamName="s", ShardId=shard, ShardIteratorType="TRIM_HORIZON"
        )["ShardIterator"]
        records = kinesis.get_records(ShardIterator=iterator)["Records"]
        assert [r["Data"] for r in records] == ([b"west"] if region == "us-west-2" else [])

    # Deleting one leaves the others; a name unknown in a region is AWS's not-found there.
    clients["us-east-1"].delete_stream(StreamName="s")
    with pytest.raises(clients["us-east-1"].exceptions.ResourceNotFoundException):
        clients["us-east-1"].describe_stream_summary(StreamName="s")
    assert clients["eu-west-1"].list_streams()["StreamNames"] == ["s"]


def test_a_twelve_digit_access_key_is_its_account(tenant_server: ServerProcess) -> None:
    mine = client(tenant_server.endpoint, "ap-south-1", key="111122223333")
    theirs = client(tenant_server.endpoint, "ap-south-1", key="444455556666")
    mine.create_stream(StreamName="acct", ShardCount=1)
    arn = mine.describe_stream_summary(StreamName="acct")["StreamDescriptionSummary"]["StreamARN"]
    assert arn == "arn:aws:kinesis:ap-south-1:111122223333:stream/acct"
    assert theirs.list_streams()["StreamNames"] == []
    with pytest.raises(theirs.exceptions.ResourceNotFoundException) as info:
        theirs.describe_stream_summary(StreamName="acct")
    assert info.value.response["Error"]["Message"] == (
        "Stream acct under account 444455556666 not found."
    )
    # Another account's stream by ARN, with no resource policy: AWS's AccessDeniedException.
    with pytest.raises(theirs.exceptions.AccessDeniedException) as denied:
        theirs.put_record(StreamARN=arn, Data=b"x", PartitionKey="k")
    assert denied.value.response["Error"]["Message"] == (
        "User: arn:aws:iam::444455556666:root is not authorized to perform: kinesis:PutRecord"
        f" on resource: {arn} because no resource-based policy allows the kinesis:PutRecord"
        " action"
    )


def test_metrics_of_same_named_streams_stay_apart(tenant_server: ServerProcess) -> None:
    east = client(tenant_server.endpoint, "us-east-1")
    west = client(tenant_server.endpoint, "us-west-2")
    for kinesis in (east, west):
        kinesis.create_stream(StreamName="m", ShardCount=1)
    for _ in range(3):
        west.put_record(StreamName="m", Data=b"x", PartitionKey="k")
    east.put_record(StreamName="m", Data=b"x", PartitionKey="k")
    text = _get(tenant_server.endpoint + "/metrics")
    east_line = _metric_line(text, "shardflow_incoming_records_total", 'stream="m"')
    west_line = _metric_line(
        text, "shardflow_incoming_records_total", f'stream="{DEFAULT_ACCOUNT}/us-west-2/m"'
    )
    assert east_line.split()[-1] in ("1", "1.0")
    assert west_line.split()[-1] in ("3", "3.0")
    # CloudWatch on the same port answers for the caller's region.
    now = datetime.now(UTC)
    for region, expected in (("us-east-1", 1), ("us-west-2", 3), ("eu-north-1", 0)):
        cloudwatch = boto3.client(
            "cloudwatch",
            endpoint_url=tenant_server.endpoint,
            region_name=region,
            aws_access_key_id="AKIDTEST",
            aws_secret_access_key="secret",
        )
        stats = cloudwatch.get_metric_statistics(
            Namespace="AWS/Kinesis",
            MetricName="IncomingRecords",
            Dimensions=[{"Name": "StreamName", "Value": "m"}],
            StartTime=now - timedelta(minutes=10),
            EndTime=now + timedelta(minutes=2),
            Period=60,
            Statistics=["Sum"],
        )
        assert sum(p["Sum"] for p in stats["Datapoints"]) == expected, region
        listed = cloudwatch.list_metrics(Namespace="AWS/Kinesis", MetricName="IncomingRecords")
        names = {d["Value"] for m in listed["Metrics"] for d in m["Dimensions"]}
        assert ("m" in names) == (expected > 0), (region, names)


def _get(url: str) -> str:
    import urllib.request

    with urllib.request.urlopen(url, timeout=10) as response:
        return str(response.read().decode())


def _metric_line(text: str, name: str, label: str) -> str:
    for line in text.splitlines():
        if line.startswith(name) and label in line:
            return line
    raise AssertionError(f"no {name}{{{label}}} in:\n{text}")


def test_old_data_directory_keeps_its_streams(tmp_path: Path) -> None:
    """A data directory written before tenancy (streams of the default account and region)
    loads unchanged: the stored ARN already names each stream's account and region."""
    data = tmp_path / "data"
    with ServerProcess(data) as first:
        client(first.endpoint, "us-east-1").create_stream(StreamName="old", ShardCount=1)
        client(first.endpoint, "us-west-2").create_stream(StreamName="old", ShardCount=1)
    with ServerProcess(data) as second:
        for region in ("us-east-1", "us-west-2"):
            kinesis = client(second.endpoint, region)
            summary = kinesis.describe_stream_summary(StreamName="old")
            arn = summary["StreamDescriptionSummary"]["StreamARN"]
            assert arn == f"arn:aws:kinesis:{region}:{DEFAULT_ACCOUNT}:stream/old"
    checked = subprocess.run(
        [sys.executable, "-m", "shardflow", "check-data", "--data-dir", str(data)],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert checked.returncode == 0, checked.stdout + checked.stderr


def test_queues_live_in_their_stream_s_region(tenant_server: ServerProcess) -> None:
    """A queue's ARN, its name's uniqueness and ListQueues are per account and region, as its
    stream's; its records are its own region's stream's."""
    east, west = (client(tenant_server.endpoint, r) for r in ("us-east-1", "us-west-2"))
    arns = {}
    for region, kinesis in (("us-east-1", east), ("us-west-2", west)):
        kinesis.create_stream(StreamName="qs", StreamModeDetails={"StreamMode": "ON_DEMAND"})
        kinesis.get_waiter("stream_exists").wait(StreamName="qs", WaiterConfig={"Delay": 0.1})
        stream_arn = kinesis.describe_stream_summary(StreamName="qs")["StreamDescriptionSummary"][
            "StreamARN"
        ]
        arns[region] = kinesis.create_queue(
            QueueName="q",
            StreamConfigurationList=[
                {"StreamARN": stream_arn, "StartingPosition": {"Type": "TRIM_HORIZON"}}
            ],
        )["QueueDescription"]["QueueARN"]
        assert arns[region].startswith(f"arn:aws:kinesis:{region}:{DEFAULT_ACCOUNT}:queue/")
    for region, kinesis in (("us-east-1", east), ("us-west-2", west)):
        listed = kinesis.list_queues()["QueueSummaries"]
        assert [q["QueueARN"] for q in listed] == [arns[region]]
    west.put_record(StreamName="qs", Data=b"west", PartitionKey="k")
    received: list[bytes] = []
    for _ in range(100):
        answer = west.receive_queue_records(QueueARN=arns["us-west-2"], WaitTimeSeconds=1)
        received += [r["Data"] for r in answer["QueueRecords"]]
        if received:
            break
    assert received == [b"west"]
    east_answer = east.receive_queue_records(QueueARN=arns["us-east-1"], WaitTimeSeconds=1)
    assert east_answer["QueueRecords"] == []
    # the metrics name each queue's stream as its tenant does (the west one prefixed), both the
    # counts of calls and the depths sampled in the background
    west_key = f"{DEFAULT_ACCOUNT}/us-west-2/qs"
    wanted = {"shardflow_queue_received_records_total", "shardflow_queue_in_flight_records"}
    deadline = time.monotonic() + 15
    while True:
        figures = {
            (metric, labels["stream"]): value
            for metric, labels, value in prometheus_samples(tenant_server.endpoint)
            if metric in wanted
        }
        if all(figures.get((m, west_key)) == 1 for m in wanted) or time.monotonic() > deadline:
            break
        time.sleep(0.2)  # events are applied, and depths sampled, once a second
    assert {m: figures.get((m, west_key)) for m in wanted} == dict.fromkeys(wanted, 1)
    assert figures.get(("shardflow_queue_in_flight_records", "qs")) == 0

    # another account may not use the queue (queues take no resource policy)
    stranger = client(tenant_server.endpoint, "us-west-2", key="111122223333")
    with pytest.raises(stranger.exceptions.AccessDeniedException):
        stranger.receive_queue_records(QueueARN=arns["us-west-2"], WaitTimeSeconds=1)
    for region, kinesis in (("us-east-1", east), ("us-west-2", west)):
        kinesis.delete_queue(QueueARN=arns[region])
