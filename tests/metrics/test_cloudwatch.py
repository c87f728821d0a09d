"""CloudWatch's API on the server's port: GetMetricStatistics, GetMetricData and ListMetrics for
AWS/Kinesis return exactly what was written, in every protocol botocore's model lists."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from botocore.exceptions import ClientError

from tests.conftest import make_client
from tests.helpers import wait_active
from tests.metrics.cloudwatch_clients import CBOR, JSON, QUERY, cloudwatch
from tests.support import ServerProcess, server_of_its_own

NAMESPACE = "AWS/Kinesis"
PROTOCOLS = (CBOR, JSON, QUERY)


@dataclass
class Written:
    stream: str
    records: int = 0
    bytes: int = 0
    by_shard: dict[str, int] = field(default_factory=dict)


@pytest.fixture(scope="module")
def cw_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    yield from server_of_its_own(tmp_path_factory.mktemp("cloudwatch") / "data")


@pytest.fixture(scope="module")
def written(cw_server: ServerProcess) -> Written:
    """A 2-shard stream with every shard-level metric on, and records put two ways."""
    kinesis: Any = make_client(cw_server.endpoint)
    seen = Written("cw-stream")
    kinesis.create_stream(StreamName=seen.stream, ShardCount=2)
    wait_active(kinesis, seen.stream)
    kinesis.enable_enhanced_monitoring(StreamName=seen.stream, ShardLevelMetrics=["ALL"])
    entries = [{"PartitionKey": f"key-{i}", "Data": b"d" * (i % 5 + 1)} for i in range(37)]
    for result, entry in zip(
        kinesis.put_records(StreamName=seen.stream, Records=entries)["Records"],
        entries,
        strict=True,
    ):
        seen.by_shard[result["ShardId"]] = seen.by_shard.get(result["ShardId"], 0) + 1
        seen.bytes += len(entry["PartitionKey"]) + len(entry["Data"])
    for i in range(5):
        out = kinesis.put_record(StreamName=seen.stream, PartitionKey=f"one-{i}", Data=b"xyz")
        seen.by_shard[out["ShardId"]] = seen.by_shard.get(out["ShardId"], 0) + 1
        seen.bytes += len(f"one-{i}") + 3
    seen.records = 42
    return seen


def _window() -> tuple[datetime, datetime]:
    now = datetime.now(UTC)
    return now - timedelta(minutes=20), now + timedelta(minutes=2)


def _stream_dims(written: Written) -> list[dict[str, str]]:
    return [{"Name": "StreamName", "Value": written.stream}]


def test_aws_cli_get_metric_statistics(
    cw_server: ServerProcess, written: Written, tmp_path: Path
) -> None:
    start, end = _window()
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    env.update(
        AWS_ACCESS_KEY_ID="AKIDTEST",
        AWS_SECRET_ACCESS_KEY="secret",
        AWS_DEFAULT_REGION="us-east-1",
        AWS_CONFIG_FILE=str(tmp_path / "none"),
        AWS_SHARED_CREDENTIALS_FILE=str(tmp_path / "none"),
    )
    command = [
        sys.executable, "-m", "awscli", "cloudwatch", "get-metric-statistics",
        "--namespace", NAMESPACE, "--metric-name", "IncomingRecords",
        "--dimensions", f"Name=StreamName,Value={written.stream}",
        "--start-time", start.isoformat(), "--end-time", end.isoformat(),
        "--period", "60", "--statistics", "Sum", "SampleCount",
        "--endpoint-url", cw_server.endpoint, "--output", "json", "--debug",
    ]  # fmt: skip
    proc = subprocess.run(command, env=env, capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr[-3000:]
    # the AWS CLI v1 in the dev extra speaks JSON 1.0 to CloudWatch
    assert "'Content-Type': 'application/x-amz-json-1.0'" in proc.stderr
    body = json.loads(proc.stdout)
    assert body["Label"] == "IncomingRecords"
    assert sum(p["Sum"] for p in body["Datapoints"]) == written.records
    assert all(p["Unit"] == "Count" for p in body["Datapoints"])
    assert all(p["Timestamp"] % 60 == 0 for p in body["Datapoints"])  # epoch s, on the minute


@pytest.mark.parametrize("protocol", [None, CBOR], ids=["boto3-default", "cbor"])
def test_boto3_get_metric_data(
    cw_server: ServerProcess, written: Written, tmp_path: Path, protocol: str | None
) -> None:
    client = cloudwatch(cw_server.endpoint, tmp_path, protocol)
    # botocore 1.44 lists ["smithy-rpc-v2-cbor", "json", "query"] for CloudWatch but prefers
    # json in its own priority order, so boto3's default is JSON 1.0 today; CBOR is forced here
    assert client.meta.service_model.resolved_protocol == (protocol or JSON)
    start, end = _window()

    def query(query_id: str, name: str, dims: list[dict[str, str]], stat: str) -> dict[str, Any]:
        metric = {"Namespace": NAMESPACE, "MetricName": name, "Dimensions": dims}
        return {"Id": query_id, "MetricStat": {"Metric": metric, "Period": 60, "Stat": stat}}

    shards = sorted(written.by_shard)
    queries = [
        query("records", "IncomingRecords", _stream_dims(written), "Sum"),
        query("bytes", "IncomingBytes", _stream_dims(written), "Sum"),
        query("put_ok", "PutRecord.Success", _stream_dims(written), "Average"),
    ]
    for i, shard in enumerate(shards):
        dims = [*_stream_dims(written), {"Name": "ShardId", "Value": shard}]
        queries.append(query(f"shard{i}", "IncomingRecords", dims, "Sum"))
    out = client.get_metric_data(MetricDataQueries=queries, StartTime=start, EndTime=end)
    results = {r["Id"]: r for r in out["MetricDataResults"]}
    assert sum(results["records"]["Values"]) == written.records
    assert sum(results["bytes"]["Values"]) == written.bytes
    assert results["put_ok"]["Values"] == [1.0]
    for i, shard in enumerate(shards):
        assert sum(results[f"shard{i}"]["Values"]) == written.by_shard[shard]
    stamps = results["records"]["Timestamps"]
    assert stamps == sorted(stamps, reverse=True)  # TimestampDescending, the default
    assert all(r["StatusCode"] == "Complete" for r in results.values())


@pytest.mark.parametrize("protocol", PROTOCOLS)
def test_each_protocol(
    cw_server: ServerProcess, written: Written, tmp_path: Path, protocol: str
) -> None:
    client = cloudwatch(cw_server.endpoint, tmp_path, protocol)
    assert client.meta.service_model.resolved_protocol == protocol
    start, end = _window()
    stats = client.get_metric_statistics(
        Namespace=NAMESPACE,
        MetricName="IncomingBytes",
        Dimensions=_stream_dims(written),
        StartTime=start,
        EndTime=end,
        Period=300,
        Statistics=["Sum", "SampleCount", "Minimum", "Maximum", "Average"],
    )
    points = stats["Datapoints"]
    assert sum(p["Sum"] for p in points) == written.bytes
    assert all(p["Timestamp"].tzinfo is not None and p["Unit"] == "Bytes" for p in points)
    listed = client.list_metrics(
        Namespace=NAMESPACE, Dimensions=[{"Name": "StreamName", "Value": written.stream}]
    )["Metrics"]
    dimension_sets = {tuple(d["Name"] for d in m["Dimensions"]) for m in listed}
    assert dimension_sets == {("StreamName",), ("StreamName", "ShardId")}
    shard_metrics = {
        (m["MetricName"], m["Dimensions"][1]["Value"]) for m in listed if len(m["Dimensions"]) == 2
    }
    assert shard_metrics == {
        (name, shard) for shard in written.by_shard for name in ("IncomingRecords", "IncomingBytes")
    }
    data = client.get_metric_data(
        MetricDataQueries=[
            {
                "Id": "r",
                "Label": "records",
                "MetricStat": {
                    "Metric": {
                        "Namespace": NAMESPACE,
                        "MetricName": "IncomingRecords",
                        "Dimensions": _stream_dims(written),
                    },
                    "Period": 60,
                    "Stat": "Sum",
                },
            }
        ],
        StartTime=start,
        EndTime=end,
        ScanBy="TimestampAscending",
    )["MetricDataResults"][0]
    assert data["Label"] == "records" and sum(data["Values"]) == written.records
    loose = cloudwatch(cw_server.endpoint, tmp_path / "loose", protocol, validate=False)
    with pytest.raises(loose.exceptions.InvalidParameterValueException) as caught:
        loose.get_metric_statistics(
            Namespace=NAMESPACE,
            MetricName="IncomingRecords",
            Dimensions=_stream_dims(written),
            StartTime=start,
            EndTime=end,
            Period=60,
            Statistics=["Median"],
        )
    assert caught.value.response["Error"]["Message"] == (
        "The parameter Statistics.member.1 must be a value in the set"
        " [SampleCount, Average, Sum, Minimum, Maximum]."
    )
    assert caught.value.response["ResponseMetadata"]["HTTPStatusCode"] == 400


def test_bad_input_gets_cloudwatch_errors(
    cw_server: ServerProcess, written: Written, tmp_path: Path
) -> None:
    client = cloudwatch(cw_server.endpoint, tmp_path)
    start, end = _window()
    args = {
        "Namespace": NAMESPACE,
        "MetricName": "IncomingRecords",
        "Dimensions": _stream_dims(written),
        "Statistics": ["Sum"],
    }
    with pytest.raises(client.exceptions.InvalidParameterValueException, match="must not equal"):
        client.get_metric_statistics(**args, StartTime=start, EndTime=start, Period=60)
    with pytest.raises(client.exceptions.InvalidParameterValueException, match="multiple of 60"):
        client.get_metric_statistics(**args, StartTime=start, EndTime=end, Period=90)
    with pytest.raises(
        client.exceptions.InvalidParameterCombinationException,
        match="You have requested up to 2,881 datapoints, which exceeds the limit of 1,440",
    ):
        client.get_metric_statistics(
            **args, StartTime=start - timedelta(days=2), EndTime=start, Period=60
        )
    with pytest.raises(ClientError) as caught:
        client.get_metric_data(
            MetricDataQueries=[{"Id": "e", "Expression": "SUM(METRICS())"}],
            StartTime=start,
            EndTime=end,
        )
    assert caught.value.response["Error"]["Code"] == "ValidationError"
    with pytest.raises(ClientError) as caught:
        client.put_metric_data(Namespace="Mine", MetricData=[{"MetricName": "m", "Value": 1}])
    assert caught.value.response["Error"]["Code"] == "InvalidAction"


def test_one_second_periods_and_unknown_streams(
    cw_server: ServerProcess, written: Written, tmp_path: Path
) -> None:
    client = cloudwatch(cw_server.endpoint, tmp_path)
    now = datetime.now(UTC)
    start, end = now - timedelta(minutes=10), now + timedelta(seconds=5)
    args = {"Namespace": NAMESPACE, "MetricName": "IncomingRecords", "Statistics": ["Sum"]}
    points = client.get_metric_statistics(
        **args, Dimensions=_stream_dims(written), StartTime=start, EndTime=end, Period=1
    )["Datapoints"]
    assert sum(p["Sum"] for p in points) == written.records
    assert all(p["Timestamp"].microsecond == 0 for p in points)
    # a stream that does not exist: no data, and asking leaves no metric behind
    ghost = [{"Name": "StreamName", "Value": "no-such-stream"}]
    empty = client.get_metric_statistics(
        **args, Dimensions=ghost, StartTime=start, EndTime=end, Period=60
    )
    assert empty["Datapoints"] == []
    assert client.list_metrics(Dimensions=ghost)["Metrics"] == []
    # other namespaces have nothing either
    assert client.list_metrics(Namespace="AWS/EC2")["Metrics"] == []


def test_consumer_metrics_under_stream_and_consumer_name(
    cw_server: ServerProcess, written: Written, tmp_path: Path
) -> None:
    kinesis: Any = make_client(cw_server.endpoint)
    arn = kinesis.describe_stream_summary(StreamName=written.stream)["StreamDescriptionSummary"][
        "StreamARN"
    ]
    consumer = kinesis.register_stream_consumer(StreamARN=arn, ConsumerName="cw-efo")["Consumer"]
    for _ in range(100):
        described = kinesis.describe_stream_consumer(ConsumerARN=consumer["ConsumerARN"])
        if described["ConsumerDescription"]["ConsumerStatus"] == "ACTIVE":
            break
    shard = sorted(written.by_shard)[0]
    response = kinesis.subscribe_to_shard(
        ConsumerARN=consumer["ConsumerARN"],
        ShardId=shard,
        StartingPosition={"Type": "TRIM_HORIZON"},
    )
    records = 0
    try:
        for event in response["EventStream"]:
            records += len(event["SubscribeToShardEvent"]["Records"])
            if records >= written.by_shard[shard]:
                break
    finally:
        response["EventStream"].close()
    client = cloudwatch(cw_server.endpoint, tmp_path)
    start, end = _window()
    dims = [*_stream_dims(written), {"Name": "ConsumerName", "Value": "cw-efo"}]
    args = {"Namespace": NAMESPACE, "Dimensions": dims, "StartTime": start, "EndTime": end}
    pushed = client.get_metric_statistics(
        **args, MetricName="SubscribeToShardEvent.Records", Period=60, Statistics=["Sum"]
    )["Datapoints"]
    assert sum(p["Sum"] for p in pushed) == written.by_shard[shard]
    calls = client.get_metric_statistics(
        **args, MetricName="SubscribeToShard.Success", Period=60, Statistics=["Average"]
    )["Datapoints"]
    assert [p["Average"] for p in calls] == [1.0]
    listed = client.list_metrics(Dimensions=[{"Name": "ConsumerName"}])["Metrics"]
    assert {m["MetricName"] for m in listed} >= {
        "SubscribeToShard.Success",
        "SubscribeToShardEvent.Records",
    }
    assert all(m["Dimensions"] == dims for m in listed)


def test_with_metrics_off_the_api_says_so(tmp_path: Path) -> None:
    for server in server_of_its_own(tmp_path / "data", "--no-metrics"):
        client = cloudwatch(server.endpoint, tmp_path)
        with pytest.raises(client.exceptions.InternalServiceFault) as caught:
            client.list_metrics(Namespace=NAMESPACE)
        assert "metrics are turned off" in caught.value.response["Error"]["Message"].lower()
