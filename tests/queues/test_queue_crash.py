"""4 queue consumers under load, poison records, and a kill -9 of the server mid-run
(tests/queues/workload.py says what is checked; the 100,000-record run is in docs/queues.md)."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import make_client
from tests.helpers import stream_arn, unique_name
from tests.integrity.damage import assert_one_line_refusal, run_sql, start_expecting_refusal
from tests.queues.conftest import put, receive_all
from tests.queues.workload import run
from tests.support import ServerProcess, server_of_its_own

RECORDS = 3000  # the suite's size; `python -m tests.queues.workload` runs 100,000


@pytest.fixture
def own_server(tmp_path: Path) -> Iterator[ServerProcess]:
    yield from server_of_its_own(tmp_path / "data")


def test_consumers_crash_and_kill_9(own_server: ServerProcess) -> None:
    out = run(own_server, RECORDS, kill_at=0.5)
    assert out.kills == 1
    assert out.problems == [], out.problems
    assert out.restored == len(out.dead) > 0
    assert out.redeliveries > 0  # the poison records came back after their timeout


def test_restart_resumes_visibility_timers(own_server: ServerProcess) -> None:
    """After kill -9: the queue, its tags and settings are back; in-flight records stay hidden
    until their timeout (not reset), then come back; an acknowledged record never does."""
    kinesis = make_client(own_server.endpoint)
    name = unique_name("durable")
    kinesis.create_stream(StreamName=name, StreamModeDetails={"StreamMode": "ON_DEMAND"})
    kinesis.get_waiter("stream_exists").wait(StreamName=name, WaiterConfig={"Delay": 0.1})
    arn = kinesis.create_queue(
        QueueName=name,
        StreamConfigurationList=[
            {"StreamARN": stream_arn(name), "StartingPosition": {"Type": "TRIM_HORIZON"}}
        ],
        QueueAttributes={"VisibilityTimeoutSeconds": 4},
        Tags={"team": "q"},
    )["QueueDescription"]["QueueARN"]
    put(kinesis, name, 3)
    got = receive_all(kinesis, arn, 3)
    acked = got[0]
    assert (
        kinesis.acknowledge_queue_records(
            QueueARN=arn, Entries=[{"ReceiptHandle": acked["ReceiptHandle"]}]
        )["Failed"]
        == []
    )
    received_at = time.monotonic()
    own_server.kill()
    own_server.start()
    kinesis = make_client(own_server.endpoint)
    described = kinesis.describe_queue(QueueARN=arn)["QueueDescription"]
    assert described["QueueAttributes"]["VisibilityTimeoutSeconds"] == 4
    assert kinesis.list_tags_for_resource(ResourceARN=arn)["Tags"] == [
        {"Key": "team", "Value": "q"}
    ]
    summary = kinesis.describe_stream_summary(StreamName=name)["StreamDescriptionSummary"]
    assert summary["QueueCount"] == 1
    back: list[dict[str, Any]] = []
    if time.monotonic() - received_at < 3:  # still inside the 4 s timeout: nothing visible
        back = kinesis.receive_queue_records(QueueARN=arn, WaitTimeSeconds=1)["QueueRecords"]
        assert time.monotonic() - received_at >= 4 or back == []
    deadline = time.monotonic() + 20
    while len(back) < 2 and time.monotonic() < deadline:
        back += kinesis.receive_queue_records(QueueARN=arn, WaitTimeSeconds=2)["QueueRecords"]
    assert time.monotonic() - received_at >= 3  # not before the 4 s timeout set before the kill
    assert sorted(r["RecordId"] for r in back) == sorted(r["RecordId"] for r in got[1:])
    assert all(r["ReceiveCount"] == 2 for r in back)
    # an old handle from before the restart is stale now (the record was received again)
    stale = kinesis.acknowledge_queue_records(
        QueueARN=arn, Entries=[{"ReceiptHandle": got[1]["ReceiptHandle"]}]
    )
    assert stale["Failed"][0]["ErrorCode"] == "InvalidArgumentException"
    assert (
        kinesis.acknowledge_queue_records(
            QueueARN=arn, Entries=[{"ReceiptHandle": r["ReceiptHandle"]} for r in back]
        )["Failed"]
        == []
    )
    assert kinesis.receive_queue_records(QueueARN=arn, WaitTimeSeconds=5)["QueueRecords"] == []


def test_damaged_queue_document_is_refused(own_server: ServerProcess) -> None:
    kinesis = make_client(own_server.endpoint)
    kinesis.create_stream(StreamName="dmg", StreamModeDetails={"StreamMode": "ON_DEMAND"})
    kinesis.get_waiter("stream_exists").wait(StreamName="dmg", WaiterConfig={"Delay": 0.1})
    kinesis.create_queue(
        QueueName="dmg", StreamConfigurationList=[{"StreamARN": stream_arn("dmg")}]
    )
    own_server.stop()
    assert own_server.data_dir is not None
    run_sql(own_server.data_dir, "UPDATE queues SET doc = '{\"name\": 1}'")
    refusal = start_expecting_refusal(own_server.data_dir)
    assert_one_line_refusal(refusal, "queue tables are damaged")
