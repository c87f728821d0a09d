"""ReceiveQueueRecords, AcknowledgeQueueRecords, UpdateQueueRecordsVisibility and the four
dead-letter operations, against the real server with boto3."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Any

import pytest

from tests.helpers import client_error, stream_arn
from tests.queues.conftest import put, receive_all


def ack(kinesis: Any, queue: str, records: list[dict[str, Any]]) -> dict[str, Any]:
    entries = [{"ReceiptHandle": r["ReceiptHandle"]} for r in records]
    out: dict[str, Any] = {"Successful": [], "Failed": []}
    for start in range(0, len(entries), 10):
        part = kinesis.acknowledge_queue_records(
            QueueARN=queue, Entries=entries[start : start + 10]
        )
        out["Successful"] += part["Successful"]
        out["Failed"] += part["Failed"]
    return out


class TestReceive:
    def test_records_and_fields(
        self, kinesis: Any, od_stream: str, make_queue: Callable[..., str]
    ) -> None:
        queue = make_queue()
        data = put(kinesis, od_stream, 25)
        got = receive_all(kinesis, queue, 25)
        assert sorted(r["Data"] for r in got) == sorted(data)
        assert len({r["RecordId"] for r in got}) == 25
        first = got[0]
        assert first["ReceiveCount"] == 1
        assert first["PartitionKey"] == first["Data"].decode()
        assert abs(first["ApproximateArrivalTimestamp"].timestamp() - time.time()) < 60
        assert abs(first["FirstReceiveTimestamp"].timestamp() - time.time()) < 60
        assert all(len(r["ReceiptHandle"]) <= 1024 for r in got)
        assert max(len(r) for r in [got[i : i + 10] for i in range(0, 25, 10)]) <= 10

    def test_limit(self, kinesis: Any, od_stream: str, make_queue: Callable[..., str]) -> None:
        queue = make_queue()
        put(kinesis, od_stream, 5)
        got = kinesis.receive_queue_records(QueueARN=queue, Limit=3, WaitTimeSeconds=1)
        assert len(got["QueueRecords"]) == 3

    def test_latest_skips_earlier_records(
        self, kinesis: Any, od_stream: str, make_queue: Callable[..., str]
    ) -> None:
        put(kinesis, od_stream, 3, "old")
        queue = make_queue("LATEST")
        put(kinesis, od_stream, 2, "new")
        got = receive_all(kinesis, queue, 2)
        assert sorted(r["Data"] for r in got) == [b"new-0", b"new-1"]

    def test_at_timestamp_skips_earlier_records(self, kinesis: Any, od_stream: str) -> None:
        put(kinesis, od_stream, 3, "old")
        time.sleep(0.05)
        at = time.time()
        time.sleep(0.05)
        put(kinesis, od_stream, 2, "new")
        queue = kinesis.create_queue(
            QueueName=f"at-{int(at * 1000)}",
            StreamConfigurationList=[
                {
                    "StreamARN": stream_arn(od_stream),
                    "StartingPosition": {"Type": "AT_TIMESTAMP", "Timestamp": at},
                }
            ],
        )["QueueDescription"]["QueueARN"]
        got = receive_all(kinesis, queue, 2)
        assert sorted(r["Data"] for r in got) == [b"new-0", b"new-1"]

    def test_record_id_same_in_every_queue(
        self, kinesis: Any, od_stream: str, make_queue: Callable[..., str]
    ) -> None:
        first, second = make_queue(), make_queue()
        put(kinesis, od_stream, 5)
        ids_a = {r["Data"]: r["RecordId"] for r in receive_all(kinesis, first, 5)}
        ids_b = {r["Data"]: r["RecordId"] for r in receive_all(kinesis, second, 5)}
        assert ids_a == ids_b and len(set(ids_a.values())) == 5

    def test_long_poll_answers_when_records_arrive(
        self, kinesis: Any, od_stream: str, make_queue: Callable[..., str]
    ) -> None:
        queue = make_queue()
        timer = threading.Timer(0.5, put, (kinesis, od_stream, 1, "late"))
        started = time.monotonic()
        timer.start()
        try:
            got = kinesis.receive_queue_records(QueueARN=queue, WaitTimeSeconds=20)
        finally:
            timer.join()
        elapsed = time.monotonic() - started
        assert [r["Data"] for r in got["QueueRecords"]] == [b"late-0"]
        assert elapsed < 10, elapsed  # well before the 20 s wait

    def test_empty_after_wait(self, kinesis: Any, make_queue: Callable[..., str]) -> None:
        queue = make_queue()
        started = time.monotonic()
        got = kinesis.receive_queue_records(QueueARN=queue, WaitTimeSeconds=1)
        assert got["QueueRecords"] == []
        assert time.monotonic() - started >= 0.9


class TestAcknowledgeAndVisibility:
    def test_acknowledged_not_redelivered(
        self, kinesis: Any, od_stream: str, make_queue: Callable[..., str]
    ) -> None:
        queue = make_queue(VisibilityTimeoutSeconds=1)
        put(kinesis, od_stream, 4)
        got = receive_all(kinesis, queue, 4)
        out = ack(kinesis, queue, got[:2])
        assert out == {
            "Successful": [{"ReceiptHandle": r["ReceiptHandle"]} for r in got[:2]],
            "Failed": [],
        }
        again = receive_all(kinesis, queue, 2)  # the other two, after their 1 s timeout
        assert sorted(r["RecordId"] for r in again) == sorted(r["RecordId"] for r in got[2:])
        assert all(r["ReceiveCount"] == 2 for r in again)
        assert all(r["ReceiptHandle"] not in {g["ReceiptHandle"] for g in got} for r in again)
        first_times = {r["RecordId"]: r["FirstReceiveTimestamp"] for r in got}
        assert all(first_times[r["RecordId"]] == r["FirstReceiveTimestamp"] for r in again)

    def test_stale_and_bad_handles_fail_per_entry(
        self, kinesis: Any, od_stream: str, make_queue: Callable[..., str]
    ) -> None:
        queue = make_queue(VisibilityTimeoutSeconds=0)
        put(kinesis, od_stream, 1)
        first = kinesis.receive_queue_records(QueueARN=queue, WaitTimeSeconds=2)["QueueRecords"]
        second = kinesis.receive_queue_records(QueueARN=queue, WaitTimeSeconds=2)["QueueRecords"]
        assert first[0]["RecordId"] == second[0]["RecordId"]
        old, new = first[0]["ReceiptHandle"], second[0]["ReceiptHandle"]
        out = kinesis.acknowledge_queue_records(
            QueueARN=queue,
            Entries=[{"ReceiptHandle": old}, {"ReceiptHandle": "garbage"}, {"ReceiptHandle": new}],
        )
        assert out["Successful"] == [{"ReceiptHandle": new}]
        codes = {f["ReceiptHandle"]: f["ErrorCode"] for f in out["Failed"]}
        assert codes == {old: "InvalidArgumentException", "garbage": "InvalidArgumentException"}
        assert all(f["ErrorMessage"] for f in out["Failed"])
        repeat = kinesis.acknowledge_queue_records(QueueARN=queue, Entries=[{"ReceiptHandle": new}])
        assert repeat["Failed"][0]["ErrorCode"] == "ResourceNotFoundException"

    def test_handle_of_another_queue(
        self, kinesis: Any, od_stream: str, make_queue: Callable[..., str]
    ) -> None:
        first, second = make_queue(), make_queue()
        put(kinesis, od_stream, 1)
        handle = receive_all(kinesis, first, 1)[0]["ReceiptHandle"]
        out = kinesis.acknowledge_queue_records(
            QueueARN=second, Entries=[{"ReceiptHandle": handle}]
        )
        assert out["Failed"][0]["ErrorCode"] == "InvalidArgumentException"
        assert "not issued by queue" in out["Failed"][0]["ErrorMessage"]

    def test_visibility_zero_and_extension(
        self, kinesis: Any, od_stream: str, make_queue: Callable[..., str]
    ) -> None:
        queue = make_queue(VisibilityTimeoutSeconds=1)
        put(kinesis, od_stream, 2)
        a, b = receive_all(kinesis, queue, 2)
        out = kinesis.update_queue_records_visibility(
            QueueARN=queue,
            Entries=[
                {"ReceiptHandle": a["ReceiptHandle"], "VisibilityTimeoutSeconds": 0},
                {"ReceiptHandle": b["ReceiptHandle"], "VisibilityTimeoutSeconds": 600},
            ],
        )
        assert len(out["Successful"]) == 2 and out["Failed"] == []
        again = kinesis.receive_queue_records(QueueARN=queue, WaitTimeSeconds=1)["QueueRecords"]
        assert [r["RecordId"] for r in again] == [a["RecordId"]]
        time.sleep(1.5)  # b's original 1 s timeout has passed; its extension has not
        later = kinesis.receive_queue_records(QueueARN=queue, WaitTimeSeconds=1)["QueueRecords"]
        assert b["RecordId"] not in [r["RecordId"] for r in later]
        # b's handle still works after the extension
        assert ack(kinesis, queue, [b])["Successful"] == [{"ReceiptHandle": b["ReceiptHandle"]}]

    def test_per_call_visibility(
        self, kinesis: Any, od_stream: str, make_queue: Callable[..., str]
    ) -> None:
        queue = make_queue(VisibilityTimeoutSeconds=600)
        put(kinesis, od_stream, 1)
        got = kinesis.receive_queue_records(
            QueueARN=queue, WaitTimeSeconds=2, VisibilityTimeoutSeconds=1
        )["QueueRecords"]
        again = kinesis.receive_queue_records(QueueARN=queue, WaitTimeSeconds=5)["QueueRecords"]
        assert [r["RecordId"] for r in again] == [got[0]["RecordId"]]

    def test_delete_invalidates_handles(
        self, kinesis: Any, od_stream: str, make_queue: Callable[..., str]
    ) -> None:
        queue = make_queue()
        put(kinesis, od_stream, 1)
        handle = receive_all(kinesis, queue, 1)[0]["ReceiptHandle"]
        kinesis.delete_queue(QueueARN=queue)
        with pytest.raises(kinesis.exceptions.ResourceNotFoundException):
            kinesis.acknowledge_queue_records(QueueARN=queue, Entries=[{"ReceiptHandle": handle}])


class TestDeadLetters:
    def test_dead_letter_cycle(
        self, kinesis: Any, od_stream: str, make_queue: Callable[..., str]
    ) -> None:
        queue = make_queue(
            VisibilityTimeoutSeconds=0,
            DeadLetterConfiguration={"TargetType": "BUILT_IN", "MaxReceiveCount": 2},
        )
        put(kinesis, od_stream, 1)
        counts = []
        for _ in range(2):
            got = kinesis.receive_queue_records(QueueARN=queue, WaitTimeSeconds=2)["QueueRecords"]
            counts.append(got[0]["ReceiveCount"])
        assert counts == [1, 2]
        last_handle = got[0]["ReceiptHandle"]
        # received twice without acknowledgement: a dead letter, gone from the receive path
        assert (
            kinesis.receive_queue_records(QueueARN=queue, WaitTimeSeconds=1)["QueueRecords"] == []
        )
        out = kinesis.acknowledge_queue_records(
            QueueARN=queue, Entries=[{"ReceiptHandle": last_handle}]
        )
        assert out["Failed"][0]["ErrorCode"] == "InvalidArgumentException"
        dead = kinesis.receive_dead_letter_queue_records(QueueARN=queue, WaitTimeSeconds=1)
        dead_records = dead["QueueRecords"]
        assert [r["Data"] for r in dead_records] == [b"r-0"]
        assert dead_records[0]["ReceiveCount"] == 2
        handle = dead_records[0]["ReceiptHandle"]
        moved = kinesis.update_dead_letter_queue_records_visibility(
            QueueARN=queue, Entries=[{"ReceiptHandle": handle, "VisibilityTimeoutSeconds": 0}]
        )
        assert moved["Successful"] == [{"ReceiptHandle": handle}]
        dead = kinesis.receive_dead_letter_queue_records(QueueARN=queue, WaitTimeSeconds=1)
        handle = dead["QueueRecords"][0]["ReceiptHandle"]
        restored = kinesis.restore_dead_letter_queue_records(
            QueueARN=queue, Entries=[{"ReceiptHandle": handle}]
        )
        assert restored == {
            "Successful": [{"ReceiptHandle": handle}],
            "Failed": [],
            "ResponseMetadata": restored["ResponseMetadata"],
        }
        back = kinesis.receive_queue_records(QueueARN=queue, WaitTimeSeconds=2)["QueueRecords"]
        assert [(r["Data"], r["ReceiveCount"]) for r in back] == [(b"r-0", 1)]
        assert ack(kinesis, queue, back)["Failed"] == []
        assert (
            kinesis.receive_dead_letter_queue_records(QueueARN=queue, WaitTimeSeconds=1)[
                "QueueRecords"
            ]
            == []
        )

    def test_acknowledge_dead_letter(
        self, kinesis: Any, od_stream: str, make_queue: Callable[..., str]
    ) -> None:
        queue = make_queue(
            VisibilityTimeoutSeconds=0,
            DeadLetterConfiguration={"TargetType": "BUILT_IN", "MaxReceiveCount": 1},
        )
        put(kinesis, od_stream, 1)
        normal = receive_all(kinesis, queue, 1)[0]["ReceiptHandle"]
        dead = kinesis.receive_dead_letter_queue_records(QueueARN=queue, WaitTimeSeconds=2)
        handle = dead["QueueRecords"][0]["ReceiptHandle"]
        wrong = kinesis.acknowledge_dead_letter_queue_records(
            QueueARN=queue, Entries=[{"ReceiptHandle": normal}]
        )
        assert wrong["Failed"][0]["ErrorCode"] == "InvalidArgumentException"
        not_dead = kinesis.restore_dead_letter_queue_records(
            QueueARN=queue, Entries=[{"ReceiptHandle": normal}]
        )
        assert not_dead["Failed"][0]["ErrorCode"] == "InvalidArgumentException"
        out = kinesis.acknowledge_dead_letter_queue_records(
            QueueARN=queue, Entries=[{"ReceiptHandle": handle}]
        )
        assert out["Successful"] == [{"ReceiptHandle": handle}]
        time.sleep(0.1)
        assert receive_all(kinesis, queue, 1) == []

    def test_none_keeps_redelivering(
        self, kinesis: Any, od_stream: str, make_queue: Callable[..., str]
    ) -> None:
        queue = make_queue(
            VisibilityTimeoutSeconds=0, DeadLetterConfiguration={"TargetType": "NONE"}
        )
        put(kinesis, od_stream, 1)
        for expected in range(1, 9):
            got = kinesis.receive_queue_records(QueueARN=queue, WaitTimeSeconds=2)["QueueRecords"]
            assert got[0]["ReceiveCount"] == expected


class TestQueueStates:
    def test_receive_on_missing_queue(self, kinesis: Any, od_stream: str) -> None:
        arn = "arn:aws:kinesis:us-east-1:000000000000:queue/missing"
        with pytest.raises(kinesis.exceptions.ResourceNotFoundException) as exc:
            kinesis.receive_queue_records(QueueARN=arn, WaitTimeSeconds=1)
        assert client_error(exc)[1] == f"Queue {arn} under account 000000000000 not found."
        assert stream_arn(od_stream)  # the stream exists; only the queue does not


def test_dead_letter_long_poll_answers_when_a_record_turns_dead(
    kinesis: Any, od_stream: str, make_queue: Callable[..., str]
) -> None:
    queue = make_queue(
        VisibilityTimeoutSeconds=2,
        DeadLetterConfiguration={"TargetType": "BUILT_IN", "MaxReceiveCount": 1},
    )
    put(kinesis, od_stream, 1)
    assert len(receive_all(kinesis, queue, 1)) == 1
    started = time.monotonic()
    dead = kinesis.receive_dead_letter_queue_records(QueueARN=queue, WaitTimeSeconds=20)
    assert [r["Data"] for r in dead["QueueRecords"]] == [b"r-0"]
    assert time.monotonic() - started < 10  # at the 2 s timeout, not the 20 s wait
