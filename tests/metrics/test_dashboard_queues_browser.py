"""The dashboard's queue and consumer panels in a real browser (headless Chromium, Playwright):
an ON_DEMAND stream read by two Kinesis queues and an enhanced fan-out consumer draws every queue
chart with non-zero points, one line per queue; before the queues exist the panel says how to
create one. With SHARDFLOW_DASHBOARD_SCREENSHOT set, the traffic runs for a minute and the page
is saved there (docs/dashboard.png)."""

from __future__ import annotations

import contextlib
import os
import threading
import time
import uuid
from pathlib import Path
from typing import Any

from tests.helpers import stream_arn
from tests.metrics.test_dashboard_browser import _playwright, dashboard_page
from tests.support import ServerProcess

QUEUE_CHARTS = [
    "queue:ReceivedQueueRecords",
    "queue:AcknowledgedQueueRecords",
    "queue:EmptyReceives",
    "queue:VisibleQueueRecords",
    "queue:InFlightQueueRecords",
    "queue:VisibleDeadLetterQueueRecords",
]
MUST_HAVE_POINTS = [
    *QUEUE_CHARTS,
    "consumer:SubscribeToShardEvent.Records",
    "stream:Incoming records",
]
SCREENSHOT_ENV = "SHARDFLOW_DASHBOARD_SCREENSHOT"  # also save the page there (docs/dashboard.png)
SCREENSHOT_TRAFFIC_S = 60  # for the docs' picture only: lines that read as lines


def _create_queue(kinesis: Any, name: str, stream: str, **attributes: Any) -> str:
    return str(
        kinesis.create_queue(
            QueueName=name,
            StreamConfigurationList=[
                {"StreamARN": stream_arn(stream), "StartingPosition": {"Type": "TRIM_HORIZON"}}
            ],
            QueueAttributes=attributes,
        )["QueueDescription"]["QueueARN"]
    )


def _writer(kinesis: Any, stream: str, stop: threading.Event) -> None:
    """PutRecords batches and GetRecords reads of one shard until ``stop`` (some throttled by the
    injected faults)."""
    iterator = kinesis.get_shard_iterator(
        StreamName=stream, ShardId="shardId-000000000001", ShardIteratorType="TRIM_HORIZON"
    )["ShardIterator"]
    n = 0
    while not stop.is_set():
        n += 1
        kinesis.put_records(
            StreamName=stream,
            Records=[{"PartitionKey": f"order-{n}-{i}", "Data": b"{}" * 20} for i in range(20)],
        )
        with contextlib.suppress(kinesis.exceptions.ProvisionedThroughputExceededException):
            iterator = kinesis.get_records(ShardIterator=iterator)["NextShardIterator"]
        stop.wait(0.1)


def _queue_readers(kinesis: Any, billing: str, audit: str, stop: threading.Event) -> None:
    """billing: receive 10, acknowledge all but one (the rest stay in flight); audit: receive 5
    with no visibility timeout and never acknowledge, so each becomes a dead letter at once
    (MaxReceiveCount 1) while the records it does not receive stay visible."""
    while not stop.is_set():
        got = kinesis.receive_queue_records(QueueARN=billing, Limit=10, WaitTimeSeconds=1)
        entries = [{"ReceiptHandle": r["ReceiptHandle"]} for r in got["QueueRecords"][1:]]
        if entries:
            kinesis.acknowledge_queue_records(QueueARN=billing, Entries=entries)
        kinesis.receive_queue_records(
            QueueARN=audit, Limit=5, WaitTimeSeconds=1, VisibilityTimeoutSeconds=0
        )
        stop.wait(0.2)


def _subscriber(kinesis: Any, consumer: str, stop: threading.Event) -> None:
    """One SubscribeToShard on the first shard, read until ``stop``."""
    response = kinesis.subscribe_to_shard(
        ConsumerARN=consumer,
        ShardId="shardId-000000000000",
        StartingPosition={"Type": "TRIM_HORIZON"},
    )
    try:
        for _event in response["EventStream"]:
            if stop.is_set():
                break
    finally:
        response["EventStream"].close()


def test_dashboard_draws_queue_charts(
    faulty_server: ServerProcess, faulty_kinesis: Any, tmp_path: Path
) -> None:
    sync_playwright = _playwright()
    kinesis = faulty_kinesis
    suffix = uuid.uuid4().hex[:4]
    stream = f"orders-{suffix}"
    kinesis.create_stream(StreamName=stream, StreamModeDetails={"StreamMode": "ON_DEMAND"})
    kinesis.get_waiter("stream_exists").wait(
        StreamName=stream, WaiterConfig={"Delay": 0.1, "MaxAttempts": 100}
    )
    stop = threading.Event()
    threads: list[threading.Thread] = []
    queues: list[str] = []
    errors: list[str] = []
    screenshot_to = os.environ.get(SCREENSHOT_ENV)
    try:
        with dashboard_page(sync_playwright, errors) as page:
            page.goto(f"{faulty_server.endpoint}/dashboard#stream={stream}&range=5m")
            # no queue yet: the panel says so and gives the command that creates one
            note = page.locator("#queue-note")
            note.wait_for(state="visible")
            assert "No queue reads this stream" in note.inner_text()
            assert (
                f"shardflow queue create NAME --stream {stream_arn(stream)}"
                f" --endpoint-url {faulty_server.endpoint}"
            ) == note.locator("code").inner_text()
            assert page.locator("#queue-charts .chart").count() == 0

            billing = _create_queue(kinesis, f"billing-{suffix}", stream)
            audit = _create_queue(
                kinesis,
                f"audit-{suffix}",
                stream,
                DeadLetterConfiguration={"TargetType": "BUILT_IN", "MaxReceiveCount": 1},
            )
            queues += [billing, audit]
            # the stream is still empty: an empty receive
            empty = kinesis.receive_queue_records(QueueARN=billing, WaitTimeSeconds=1)
            assert empty["QueueRecords"] == []
            consumer = kinesis.register_stream_consumer(
                StreamARN=stream_arn(stream), ConsumerName=f"fan-out-{suffix}"
            )["Consumer"]["ConsumerARN"]
            for target, args in (
                (_writer, (kinesis, stream, stop)),
                (_queue_readers, (kinesis, billing, audit, stop)),
                (_subscriber, (kinesis, consumer, stop)),
            ):
                threads.append(threading.Thread(target=target, args=args, daemon=True))
                threads[-1].start()
            page.wait_for_function(
                """(names) => {
                    const d = window.shardflowDashboard;
                    return d && names.every((n) => d.charts.has(n) &&
                        d.charts.get(n).data.slice(1).some((s) => s.some((v) => v > 0)));
                }""",
                arg=MUST_HAVE_POINTS,
                timeout=20_000,
            )
            assert note.is_hidden()
            drawn = page.evaluate(
                """() => Object.fromEntries([...window.shardflowDashboard.charts]
                    .filter(([name]) => name.startsWith('queue:')).map(([name, u]) =>
                    [name, {labels: u.series.slice(1).map((s) => s.label),
                            points: u.data.slice(1).map((s) => s.filter((v) => v > 0).length),
                            width: u.ctx.canvas.width}]))"""
            )
            assert sorted(drawn) == sorted(QUEUE_CHARTS)
            for name, chart in drawn.items():
                # one line per queue, labelled by the queue's name
                assert chart["labels"] == [f"audit-{suffix}", f"billing-{suffix}"], name
                assert max(chart["points"]) > 0 and chart["width"] > 200, (name, chart)
            # both queues received records; only billing acknowledges, only audit has dead
            # letters
            assert all(n > 0 for n in drawn["queue:ReceivedQueueRecords"]["points"])
            assert drawn["queue:AcknowledgedQueueRecords"]["points"][0] == 0
            assert drawn["queue:VisibleDeadLetterQueueRecords"]["points"][1] == 0
            sums = page.locator("#queue-charts .chart .sum").all_inner_texts()
            assert sums[0].startswith("Σ ") and sums[3].startswith("now "), sums
            if screenshot_to:
                time.sleep(SCREENSHOT_TRAFFIC_S)  # only for the docs' picture
                shot = tmp_path / "dashboard.png"
                page.screenshot(path=str(shot), full_page=True)
                Path(screenshot_to).write_bytes(shot.read_bytes())
            # a range change keeps the panel, at the range's resolution
            page.click("button[data-range='1h']")
            page.wait_for_function(
                """() => window.shardflowDashboard.charts.get('queue:ReceivedQueueRecords')
                    .data[0].length === 3600"""
            )
    finally:
        stop.set()
        for thread in threads[:2]:
            thread.join(10)
        for queue in queues:
            kinesis.delete_queue(QueueARN=queue)
        with contextlib.suppress(kinesis.exceptions.ResourceInUseException):
            kinesis.delete_stream(StreamName=stream, EnforceConsumerDeletion=True)
        for thread in threads[2:]:
            thread.join(10)  # the subscription ends with its consumer (or a heartbeat)
    assert not errors, errors
