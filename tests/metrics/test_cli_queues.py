"""``shardflow metrics STREAM`` on an ON_DEMAND stream with a Kinesis queue: the queue table's
figures are the traffic's, read through CloudWatch's API (by QueueId and QueueName), and the
table is the one the dashboard's JSON gives."""

from __future__ import annotations

import time
import uuid
from typing import Any

from click.testing import CliRunner

from shardflow.aws import cloudwatch_client
from shardflow.cli.main import main
from shardflow.cli.metrics import render
from shardflow.cli.metrics_reader import read
from tests.helpers import stream_arn
from tests.metrics.conftest import get_json
from tests.support import ServerProcess


def test_queue_table(faulty_server: ServerProcess, faulty_kinesis: Any) -> None:
    kinesis = faulty_kinesis
    stream = f"cli-q-{uuid.uuid4().hex[:8]}"
    kinesis.create_stream(StreamName=stream, StreamModeDetails={"StreamMode": "ON_DEMAND"})
    kinesis.get_waiter("stream_exists").wait(
        StreamName=stream, WaiterConfig={"Delay": 0.1, "MaxAttempts": 100}
    )
    name = f"billing-{uuid.uuid4().hex[:6]}"
    queue = kinesis.create_queue(
        QueueName=name,
        StreamConfigurationList=[
            {"StreamARN": stream_arn(stream), "StartingPosition": {"Type": "TRIM_HORIZON"}}
        ],
    )["QueueDescription"]["QueueARN"]
    try:
        entries = [{"PartitionKey": f"k{i}", "Data": b"x"} for i in range(8)]
        stored = (
            len(entries)
            - kinesis.put_records(StreamName=stream, Records=entries)["FailedRecordCount"]
        )  # the fault plan throttles some
        got: list[dict[str, Any]] = []
        while len(got) < stored:
            got += kinesis.receive_queue_records(QueueARN=queue, WaitTimeSeconds=2)["QueueRecords"]
        kinesis.acknowledge_queue_records(
            QueueARN=queue, Entries=[{"ReceiptHandle": r["ReceiptHandle"]} for r in got[:3]]
        )
        empty = kinesis.receive_queue_records(QueueARN=queue, WaitTimeSeconds=1)
        assert empty["QueueRecords"] == []
        cloudwatch = cloudwatch_client(endpoint_url=faulty_server.endpoint)
        key = f"{queue.rpartition('/')[2]}/{name}"
        deadline = time.monotonic() + 15
        while True:  # the depths are sampled once a second: until a closed second has them
            body = read(kinesis, cloudwatch, stream, "5m")
            in_flight = [v for v in body["queues"][key]["InFlightQueueRecords"]["values"] if v]
            if (in_flight and in_flight[-1] == stored - 3) or time.monotonic() > deadline:
                break
            time.sleep(0.2)
        result = CliRunner().invoke(
            main, ["metrics", stream, "--endpoint-url", faulty_server.endpoint], env={}
        )
        assert result.exit_code == 0, result.output
        lines = [line.split() for line in result.output.splitlines()]
        assert ["queue", "received", "acked", "empty", "visible", "in", "flight", "dead"] in lines
        row = [cells for cells in lines if cells and cells[0] == name]
        assert row == [[name, str(stored), "3", "1", "0", str(stored - 3), "0"]], result.output
        # the same table as the dashboard's JSON gives (both read in the same second)
        for _ in range(5):
            old = get_json(faulty_server.endpoint, f"/dashboard/api/metrics?stream={stream}")
            new = read(kinesis, cloudwatch, stream, "5m")
            if old["end"] == new["end"]:
                break
        assert render(new) == render(old)
        assert (
            new["queues"][key]["ReceivedQueueRecords"] == old["queues"][key]["ReceivedQueueRecords"]
        )
    finally:
        kinesis.delete_queue(QueueARN=queue)
        kinesis.delete_stream(StreamName=stream)
