"""``shardflow metrics STREAM``: the table from a Shardflow server; a clear refusal otherwise."""

from __future__ import annotations

import json
import uuid
from typing import Any

import pytest
from click.testing import CliRunner

from shardflow.aws import cloudwatch_client
from shardflow.cli.main import main
from shardflow.cli.metrics import render
from shardflow.cli.metrics_reader import read
from tests.metrics.conftest import create, drive, get_json
from tests.support import ServerProcess, free_port


def test_table_shows_the_stream_figures(faulty_server: ServerProcess, faulty_kinesis: Any) -> None:
    stream = f"cli-{uuid.uuid4().hex[:10]}"
    create(faulty_kinesis, stream)
    faulty_kinesis.enable_enhanced_monitoring(
        StreamName=stream, ShardLevelMetrics=["IncomingRecords", "OutgoingRecords"]
    )
    seen = drive(faulty_kinesis, stream, rounds=2)
    assert seen.by_shard is not None
    runner = CliRunner()
    result = runner.invoke(
        main, ["metrics", stream, "--endpoint-url", faulty_server.endpoint], env={}
    )
    assert result.exit_code == 0, result.output
    lines = {line.split()[0]: line.split() for line in result.output.splitlines() if line}
    assert lines["IncomingRecords"][-1] == f"{seen.records:,}"
    assert lines["PutRecords.ThrottledRecords"][-1] == f"{seen.throttled_entries:,}"
    assert lines["WriteProvisionedThroughputExceeded"][-1] == f"{seen.throttled:,}"
    # the shard table has the two enabled shard-level metrics, and says how to enable the rest
    assert lines["shard"] == ["shard", "in", "rec", "out", "rec"]
    for shard, count in seen.by_shard.items():
        assert lines[shard][1] == f"{count:,}"
    assert "shard-level metrics enabled: IncomingRecords, OutgoingRecords" in result.output
    command = (
        f"aws kinesis enable-enhanced-monitoring --stream-name {stream}"
        f" --shard-level-metrics ALL --endpoint-url {faulty_server.endpoint}"
    )
    assert command in result.output
    # the endpoint from the standard setting, and the raw JSON
    result = runner.invoke(
        main,
        ["metrics", stream, "--json", "--range", "1h"],
        env={"AWS_ENDPOINT_URL_KINESIS": faulty_server.endpoint},
    )
    assert result.exit_code == 0, result.output
    body = json.loads(result.output)
    assert body["range"] == "1h" and body["metrics"]["IncomingBytes"]["total"] == seen.bytes
    assert body["shard_level_metrics"] == ["IncomingRecords", "OutgoingRecords"]


def test_without_enhanced_monitoring_no_shard_table(
    faulty_server: ServerProcess, faulty_kinesis: Any
) -> None:
    stream = f"cli-{uuid.uuid4().hex[:10]}"
    create(faulty_kinesis, stream, shards=1)
    faulty_kinesis.put_records(StreamName=stream, Records=[{"PartitionKey": "k", "Data": b"x"}])
    result = CliRunner().invoke(main, ["metrics", stream, "--endpoint-url", faulty_server.endpoint])
    assert result.exit_code == 0, result.output
    assert "shardId-" not in result.output and "(enhanced monitoring)" in result.output
    assert "no shard-level metrics are enabled" in result.output
    assert f"enable-enhanced-monitoring --stream-name {stream} --shard-level-metrics ALL" in (
        result.output
    )


def test_reads_cloudwatch_where_the_settings_say(
    faulty_server: ServerProcess, faulty_kinesis: Any
) -> None:
    stream = f"cli-{uuid.uuid4().hex[:10]}"
    create(faulty_kinesis, stream, shards=1)
    entries = [{"PartitionKey": f"k{i}", "Data": b"x"} for i in range(8)]
    out = faulty_kinesis.put_records(StreamName=stream, Records=entries)
    stored = len(entries) - out["FailedRecordCount"]  # the fault plan throttles some
    runner = CliRunner()
    closed = f"http://127.0.0.1:{free_port()}"
    # AWS_ENDPOINT_URL_CLOUDWATCH wins over --endpoint-url for CloudWatch (here: nothing there)
    result = runner.invoke(
        main,
        ["metrics", stream, "--endpoint-url", faulty_server.endpoint],
        env={"AWS_ENDPOINT_URL_CLOUDWATCH": closed},
    )
    assert result.exit_code == 1 and "cannot read the metrics" in result.output
    assert closed in result.output and "Traceback" not in result.output
    # and reads there when it is set to the server
    result = runner.invoke(
        main,
        ["metrics", stream, "--endpoint-url", closed],
        env={"AWS_ENDPOINT_URL_CLOUDWATCH": faulty_server.endpoint},
    )
    assert result.exit_code == 1 and "cannot read the metrics" in result.output  # Kinesis: closed
    result = runner.invoke(
        main,
        ["metrics", stream],
        env={
            "AWS_ENDPOINT_URL_KINESIS": faulty_server.endpoint,
            "AWS_ENDPOINT_URL_CLOUDWATCH": faulty_server.endpoint,
        },
    )
    assert result.exit_code == 0, result.output
    assert [
        line.split()[-1]
        for line in result.output.splitlines()
        if line.startswith("IncomingRecords")
    ] == [str(stored)]
    result = runner.invoke(main, ["metrics", "missing", "--endpoint-url", faulty_server.endpoint])
    assert result.exit_code == 1 and "no stream named missing" in result.output


def test_watch_redraws_until_interrupted(
    faulty_server: ServerProcess, faulty_kinesis: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    stream = f"watch-{uuid.uuid4().hex[:10]}"
    create(faulty_kinesis, stream, shards=1)
    sleeps: list[float] = []

    def sleep(seconds: float) -> None:
        sleeps.append(seconds)
        if len(sleeps) == 2:
            raise KeyboardInterrupt

    monkeypatch.setattr("shardflow.cli.metrics.time.sleep", sleep)
    result = CliRunner().invoke(
        main, ["metrics", stream, "--watch", "--endpoint-url", faulty_server.endpoint]
    )
    assert result.exit_code == 0, result.output
    assert result.output.count("(Ctrl-C to stop)") == 2 and sleeps == [1.0, 1.0]


def test_cloudwatch_table_is_the_dashboards(
    faulty_server: ServerProcess, faulty_kinesis: Any
) -> None:
    """The table from CloudWatch's API is the one the dashboard's JSON gave, line for line."""
    stream = f"cli-{uuid.uuid4().hex[:10]}"
    create(faulty_kinesis, stream)
    faulty_kinesis.enable_enhanced_monitoring(StreamName=stream, ShardLevelMetrics=["ALL"])
    drive(faulty_kinesis, stream, rounds=2)
    cloudwatch = cloudwatch_client(endpoint_url=faulty_server.endpoint)
    for range_name in ("5m", "1d"):
        for _ in range(5):  # both reads in the same second (the windows end there)
            old = get_json(
                faulty_server.endpoint, f"/dashboard/api/metrics?stream={stream}&range={range_name}"
            )
            new = read(faulty_kinesis, cloudwatch, stream, range_name)
            if old["end"] == new["end"]:
                break
        assert old["end"] == new["end"]
        assert render(new, faulty_server.endpoint) == render(old, faulty_server.endpoint)
        assert new["metrics"] == old["metrics"]
