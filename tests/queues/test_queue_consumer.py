"""shardflow.consumer.QueueConsumer and the `shardflow queue` commands against the server."""

from __future__ import annotations

import asyncio
import json
import threading
import time
from collections.abc import Callable
from typing import Any

from click.testing import CliRunner

from shardflow.cli.main import main
from shardflow.consumer import AsyncQueueConsumer, QueueConsumer, QueueRecord
from tests.helpers import stream_arn, unique_name
from tests.queues.conftest import put


def test_consumer_acknowledges_and_leaves_failures(
    kinesis: Any, od_stream: str, make_queue: Callable[..., str]
) -> None:
    queue = make_queue(
        VisibilityTimeoutSeconds=1,
        DeadLetterConfiguration={"TargetType": "BUILT_IN", "MaxReceiveCount": 2},
    )
    put(kinesis, od_stream, 30)
    seen: list[bytes] = []

    def process(record: QueueRecord) -> None:
        seen.append(record.data)
        if record.data == b"r-7":
            raise ValueError("poison")

    consumer = QueueConsumer(queue, client=kinesis, wait_s=1)
    progress = consumer.run(process, max_records=31)  # 30, then r-7 once more
    assert progress.acknowledged == 29
    assert progress.failed == 2
    assert seen.count(b"r-7") == 2 and len(set(seen)) == 30
    time.sleep(1.2)  # r-7's second timeout: now a dead letter
    dead = consumer.receive_dead_letters(wait_s=2)
    assert [r.data for r in dead] == [b"r-7"] and dead[0].receive_count == 2
    assert consumer.restore(dead) == []
    again = consumer.receive()
    assert [(r.data, r.receive_count) for r in again] == [(b"r-7", 1)]
    assert consumer.acknowledge(again) == []


def test_slow_work_is_extended(
    kinesis: Any, od_stream: str, make_queue: Callable[..., str]
) -> None:
    queue = make_queue(VisibilityTimeoutSeconds=1)
    put(kinesis, od_stream, 1)
    other = QueueConsumer(queue, client=kinesis, wait_s=1)
    stolen: list[QueueRecord] = []
    processing = threading.Event()

    def slow(record: QueueRecord) -> None:
        processing.set()
        time.sleep(2.5)  # longer than the 1 s visibility: the heartbeat keeps it hidden

    def watch() -> None:
        processing.wait(10)
        stolen.extend(other.receive())

    watcher = threading.Thread(target=watch)
    watcher.start()
    consumer = QueueConsumer(queue, client=kinesis, wait_s=2, visibility_s=1, extend_after_s=0.3)
    progress = consumer.run(slow, max_records=1)
    watcher.join()
    assert stolen == []
    assert progress.acknowledged == 1


def test_cli(endpoint: str, kinesis: Any, od_stream: str) -> None:
    runner = CliRunner()
    name = unique_name("cliq")
    common = ["--endpoint-url", endpoint, "--region", "us-east-1"]
    created = runner.invoke(
        main,
        [
            "queue",
            "create",
            name,
            "--stream",
            stream_arn(od_stream),
            "--start",
            "TRIM_HORIZON",
            "--visibility",
            "0",
            "--max-receive-count",
            "1",
            *common,
        ],
    )
    assert created.exit_code == 0, created.output
    arn = created.output.strip()
    assert ":queue/" in arn
    listed = runner.invoke(main, ["queue", "list", *common])
    assert name in listed.output and arn in listed.output
    put(kinesis, od_stream, 3)
    got = runner.invoke(main, ["queue", "receive", name, "--max-records", "2", *common])
    assert got.exit_code == 0, got.output
    lines = [json.loads(line) for line in got.output.splitlines()]
    assert len(lines) == 2 and all(line["Data"].startswith("r-") for line in lines)
    acked = runner.invoke(main, ["queue", "ack", name, lines[0]["ReceiptHandle"], *common])
    assert acked.exit_code == 0, acked.output
    # the other received record had MaxReceiveCount 1 and visibility 0: now a dead letter
    dead = runner.invoke(main, ["queue", "dead-letters", name, "--discard", *common])
    assert dead.exit_code == 0, dead.output
    assert [json.loads(line)["Data"] for line in dead.output.splitlines()] == [lines[1]["Data"]]
    rest = runner.invoke(main, ["queue", "receive", name, "--ack", *common])
    remaining = {"r-0", "r-1", "r-2"} - {line["Data"] for line in lines}
    assert {json.loads(line)["Data"] for line in rest.output.splitlines()} == remaining
    stale = runner.invoke(main, ["queue", "ack", name, lines[0]["ReceiptHandle"], *common])
    assert stale.exit_code == 1 and "ResourceNotFoundException" in stale.output
    deleted = runner.invoke(main, ["queue", "delete", name, *common])
    assert deleted.exit_code == 0, deleted.output
    assert name not in runner.invoke(main, ["queue", "list", *common]).output


def test_async_consumer(kinesis: Any, od_stream: str, make_queue: Callable[..., str]) -> None:
    queue = make_queue(VisibilityTimeoutSeconds=1)
    put(kinesis, od_stream, 40)
    seen: set[bytes] = set()

    async def process(record: QueueRecord) -> None:
        if record.data == b"r-3" and record.receive_count == 1:
            await asyncio.sleep(1.6)  # slower than the timeout: the heartbeat extends it
        seen.add(record.data)

    async def main() -> Any:
        async with AsyncQueueConsumer(
            queue, client=kinesis, wait_s=1, visibility_s=1, extend_after_s=0.3
        ) as consumer:
            return await consumer.run(process, concurrency=4, max_records=40)

    progress = asyncio.run(main())
    assert len(seen) == 40
    assert progress.acknowledged == progress.received == 40  # r-3 was not delivered twice
