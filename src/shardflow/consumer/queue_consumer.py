"""Consume a Kinesis queue: receive up to 10 records, process each, acknowledge the ones that
succeeded, and keep slow work hidden by extending its visibility timeout while it runs.

    consumer = QueueConsumer(queue_arn, endpoint_url="http://127.0.0.1:4567")
    consumer.run(handle_record)            # until stop() or max_records

A record whose processing raises is not acknowledged: the queue delivers it again after its
visibility timeout, and after MaxReceiveCount receives it becomes a dead letter (see
``receive_dead_letters``, ``restore`` and docs/queues.md). Delivery is at least once and
unordered, so ``process`` must be idempotent (``QueueRecord.record_id`` identifies a record
across deliveries and queues).
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from shardflow.aws import kinesis_client

BATCH = 10  # AWS: at most 10 records per receive and 10 entries per acknowledgement


@dataclass(frozen=True, slots=True)
class QueueRecord:
    record_id: str  # the same across deliveries and in every queue of the stream
    receipt_handle: str  # this delivery's handle
    data: bytes
    partition_key: str | None
    arrival: datetime
    first_receive: datetime
    receive_count: int

    @classmethod
    def from_wire(cls, r: dict[str, Any]) -> QueueRecord:
        return cls(
            r["RecordId"],
            r["ReceiptHandle"],
            r["Data"],
            r.get("PartitionKey"),
            r["ApproximateArrivalTimestamp"],
            r["FirstReceiveTimestamp"],
            r["ReceiveCount"],
        )


@dataclass(slots=True)
class Progress:
    received: int = 0
    acknowledged: int = 0
    failed: int = 0  # process raised: left for redelivery
    empty_receives: int = 0


class QueueConsumer:
    """A synchronous queue consumer; run several (threads, processes) for more throughput."""

    def __init__(
        self,
        queue_arn: str,
        *,
        client: Any = None,
        endpoint_url: str | None = None,
        region: str | None = None,
        wait_s: int = 9,
        visibility_s: int | None = None,
        extend_after_s: float | None = None,
    ) -> None:
        """``visibility_s``: per-receive visibility (default: the queue's). ``extend_after_s``:
        while a batch is still being processed after this long, its unfinished records get
        another ``visibility_s`` (or 30 s) of visibility, and again each time it passes."""
        self.queue_arn = queue_arn
        self.client = client or kinesis_client(endpoint_url=endpoint_url, region=region)
        self.wait_s = wait_s
        self.visibility_s = visibility_s
        self.extend_after_s = extend_after_s
        self.progress = Progress()
        self._stop = threading.Event()

    def stop(self) -> None:
        self._stop.set()

    def receive(self, limit: int = BATCH) -> list[QueueRecord]:
        params: dict[str, Any] = {
            "QueueARN": self.queue_arn,
            "Limit": limit,
            "WaitTimeSeconds": self.wait_s,
        }
        if self.visibility_s is not None:
            params["VisibilityTimeoutSeconds"] = self.visibility_s
        got = self.client.receive_queue_records(**params)["QueueRecords"]
        return [QueueRecord.from_wire(r) for r in got]

    def acknowledge(self, records: Iterable[QueueRecord]) -> list[QueueRecord]:
        """Acknowledge records; returns the ones the queue refused (stale handles)."""
        return self._entries(self.client.acknowledge_queue_records, records)

    def extend(self, records: Iterable[QueueRecord], seconds: int) -> list[QueueRecord]:
        """Hide records for ``seconds`` more, from now; returns the ones refused."""
        return self._entries(
            self.client.update_queue_records_visibility, records, VisibilityTimeoutSeconds=seconds
        )

    def run(
        self, process: Callable[[QueueRecord], None], *, max_records: int | None = None
    ) -> Progress:
        """Receive, process and acknowledge until ``stop()`` or ``max_records`` received."""
        while not self._stop.is_set():
            if max_records is not None and self.progress.received >= max_records:
                break
            records = self.receive()
            if not records:
                self.progress.empty_receives += 1
                continue
            self.progress.received += len(records)
            done = self._process(records, process)
            refused = self.acknowledge(done) if done else []
            self.progress.acknowledged += len(done) - len(refused)
        return self.progress

    def _process(
        self, records: list[QueueRecord], process: Callable[[QueueRecord], None]
    ) -> list[QueueRecord]:
        pending = {r.receipt_handle: r for r in records}
        lock = threading.Lock()
        finished = threading.Event()
        heartbeat = None
        if self.extend_after_s is not None:
            every = self.extend_after_s
            seconds = self.visibility_s or 30

            def beat() -> None:
                while not finished.wait(every):
                    with lock:
                        waiting = list(pending.values())
                    if waiting:
                        self.extend(waiting, seconds)

            heartbeat = threading.Thread(target=beat, daemon=True)
            heartbeat.start()
        done = []
        try:
            for record in records:
                try:
                    process(record)
                except Exception:
                    self.progress.failed += 1
                else:
                    done.append(record)
                with lock:
                    pending.pop(record.receipt_handle, None)
        finally:
            finished.set()
            if heartbeat is not None:
                heartbeat.join()
        return done

    # -- dead letters ----------------------------------------------------------------------

    def receive_dead_letters(self, limit: int = BATCH, wait_s: int = 1) -> list[QueueRecord]:
        got = self.client.receive_dead_letter_queue_records(
            QueueARN=self.queue_arn, Limit=limit, WaitTimeSeconds=wait_s
        )["QueueRecords"]
        return [QueueRecord.from_wire(r) for r in got]

    def restore(self, records: Iterable[QueueRecord]) -> list[QueueRecord]:
        """Put dead letters back on the receive path; returns the ones refused."""
        return self._entries(self.client.restore_dead_letter_queue_records, records)

    def discard(self, records: Iterable[QueueRecord]) -> list[QueueRecord]:
        """Acknowledge dead letters (the queue forgets them); returns the ones refused."""
        return self._entries(self.client.acknowledge_dead_letter_queue_records, records)

    def _entries(
        self, call: Callable[..., Any], records: Iterable[QueueRecord], **entry: Any
    ) -> list[QueueRecord]:
        items = list(records)
        by_handle = {r.receipt_handle: r for r in items}
        refused: list[QueueRecord] = []
        for start in range(0, len(items), BATCH):
            part = items[start : start + BATCH]
            out = call(
                QueueARN=self.queue_arn,
                Entries=[{"ReceiptHandle": r.receipt_handle, **entry} for r in part],
            )
            refused += [by_handle[f["ReceiptHandle"]] for f in out["Failed"]]
        return refused
