"""Queue metrics: known traffic in, exactly those figures out of /metrics, the dashboard's JSON
and CloudWatch's API (dimensions QueueId and QueueName, as AWS publishes them)."""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from tests.metrics.cloudwatch_clients import cloudwatch
from tests.metrics.conftest import get_json, prometheus_samples
from tests.queues.conftest import put, receive_all


def test_queue_figures(
    kinesis: Any, endpoint: str, od_stream: str, make_queue: Callable[..., str], tmp_path: Path
) -> None:
    arn = make_queue()
    description = kinesis.describe_queue(QueueARN=arn)["QueueDescription"]
    queue_id, name = arn.rpartition("/")[2], description["QueueName"]
    put(kinesis, od_stream, 5)
    got = receive_all(kinesis, arn, 5)
    kinesis.acknowledge_queue_records(
        QueueARN=arn, Entries=[{"ReceiptHandle": r["ReceiptHandle"]} for r in got[:3]]
    )
    assert kinesis.receive_queue_records(QueueARN=arn, WaitTimeSeconds=1)["QueueRecords"] == []
    labels = {"stream": od_stream, "queue_id": queue_id, "queue": name}

    def scraped() -> dict[str, float]:
        return {
            metric: value
            for metric, sample_labels, value in prometheus_samples(endpoint)
            if metric.startswith("shardflow_queue_") and sample_labels == labels
        }

    deadline = time.monotonic() + 15
    figures = scraped()
    while figures.get("shardflow_queue_in_flight_records") != 2 and time.monotonic() < deadline:
        time.sleep(0.2)  # the counts are sampled once a second
        figures = scraped()
    assert figures == {
        "shardflow_queue_received_records_total": 5,
        "shardflow_queue_acknowledged_records_total": 3,
        "shardflow_queue_empty_receives_total": 1,
        "shardflow_queue_visible_records": 0,
        "shardflow_queue_in_flight_records": 2,
        "shardflow_queue_visible_dead_letter_records": 0,
    }
    body = get_json(endpoint, f"/dashboard/api/metrics?stream={od_stream}&range=5m")
    totals = {m: v["total"] for m, v in body["queues"][f"{queue_id}/{name}"].items()}
    assert totals["ReceivedQueueRecords"] == 5
    assert totals["AcknowledgedQueueRecords"] == 3
    assert totals["EmptyReceives"] == 1
    client = cloudwatch(endpoint, tmp_path)
    now = datetime.now(UTC)
    stats = client.get_metric_statistics(
        Namespace="AWS/Kinesis",
        MetricName="ReceivedQueueRecords",
        Dimensions=[{"Name": "QueueId", "Value": queue_id}, {"Name": "QueueName", "Value": name}],
        StartTime=now - timedelta(minutes=5),
        EndTime=now + timedelta(minutes=1),
        Period=300,
        Statistics=["Sum"],
    )
    # periods align on the start rounded down to the minute, so the second begins at the current
    # minute: a test that crosses a minute also gets that minute's zero (seen: [5.0, 0.0])
    sums = sorted(p["Sum"] for p in stats["Datapoints"])
    assert sums[-1] == 5.0 and sum(sums) == 5.0, sums
    listed = client.list_metrics(
        Namespace="AWS/Kinesis", Dimensions=[{"Name": "QueueId", "Value": queue_id}]
    )["Metrics"]
    assert {m["MetricName"] for m in listed} >= {"ReceivedQueueRecords", "InFlightQueueRecords"}
    assert all(
        m["Dimensions"]
        == [{"Name": "QueueId", "Value": queue_id}, {"Name": "QueueName", "Value": name}]
        for m in listed
    )
