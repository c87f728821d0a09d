"""Writing with the SDK directly, one call at a time: the lab's two APIs, done properly.

* ``PutRecordWriter``: one record per PutRecord call, each partition key chained with
  SequenceNumberForOrdering, on a client tuned for latency (``latency_client_config``); not on
  an AUTO stream, which refuses SequenceNumberForOrdering (it keeps no per-key order).
* ``PutRecordsWriter``: up to 500 records / 5 MiB per PutRecords call; failed entries are sent
  again before anything newer of their key, and a key appears at most once per call, so a failed
  entry is never overtaken by a later record of its key.
"""

from __future__ import annotations

import time
from collections import deque
from dataclasses import dataclass, field
from typing import Any

from botocore.config import Config as BotoConfig
from botocore.exceptions import ClientError

from shardflow.backoff import backoff_delay
from shardflow.model.distribution import AUTO, record_distribution
from shardflow.model.limits import MAX_REQUEST_BYTES, MAX_REQUEST_RECORDS, record_size
from shardflow.producer.errors import classify, from_code

# Latency tuning (docs/producer.md explains each): keep connections alive and probe them with TCP
# keep-alive, fail fast on a dead connection instead of the 60 s defaults, let botocore retry
# throttles with the standard mode's jittered backoff, and skip client-side parameter validation
# (the service validates the same constraints; on the client it costs CPU on every call).
LATENCY_CONNECT_TIMEOUT_S = 1.0
LATENCY_READ_TIMEOUT_S = 2.0
LATENCY_MAX_ATTEMPTS = 5
BATCH_BACKOFF_BASE_S = 0.05
BATCH_BACKOFF_MAX_S = 2.0
BATCH_MAX_ATTEMPTS = 20  # per record; then the writer gives up with the entry's error


def latency_client_config() -> BotoConfig:
    return BotoConfig(
        tcp_keepalive=True,
        connect_timeout=LATENCY_CONNECT_TIMEOUT_S,
        read_timeout=LATENCY_READ_TIMEOUT_S,
        retries={"mode": "standard", "max_attempts": LATENCY_MAX_ATTEMPTS},
        max_pool_connections=2,
        parameter_validation=False,
    )


def batch_client_config() -> BotoConfig:
    return BotoConfig(
        tcp_keepalive=True,
        connect_timeout=LATENCY_CONNECT_TIMEOUT_S,
        read_timeout=10.0,
        retries={"mode": "standard", "max_attempts": LATENCY_MAX_ATTEMPTS},
        max_pool_connections=2,
    )


@dataclass
class CallStats:
    """What a writer did, for the status line and the summary."""

    records: int = 0
    calls: int = 0
    retries: int = 0  # records or calls sent again
    throttles: int = 0
    latencies: deque[float] = field(default_factory=lambda: deque(maxlen=50_000))


def _count_retries(client: Any, stats: CallStats) -> None:
    """Count botocore's own retries (and which were throttles) through its event hooks."""

    def on_retry(attempts: int, response: Any = None, **_: Any) -> None:
        if response is None:
            return
        parsed = response[1] if isinstance(response, tuple) else {}
        code = (parsed or {}).get("Error", {}).get("Code", "")
        if code:
            stats.retries += 1
            if from_code(code).throttle:
                stats.throttles += 1

    client.meta.events.register_first("needs-retry.kinesis", on_retry)


def _places_by_key(client: Any, stream_name: str) -> bool:
    """False for an AUTO stream; True otherwise, and when DescribeStreamSummary fails."""
    try:
        summary = client.describe_stream_summary(StreamName=stream_name)
    except Exception:
        return True
    return record_distribution(summary["StreamDescriptionSummary"]) != AUTO


class PutRecordWriter:
    """One record per call, in order per partition key."""

    def __init__(self, client: Any, stream_name: str) -> None:
        self.client = client
        self.stream_name = stream_name
        self.stats = CallStats()
        self._last: dict[str, str] = {}
        self._chain = _places_by_key(client, stream_name)
        _count_retries(client, self.stats)

    def put(self, data: bytes, partition_key: str) -> dict[str, Any]:
        kwargs: dict[str, Any] = {
            "StreamName": self.stream_name,
            "Data": data,
            "PartitionKey": partition_key,
        }
        last = self._last.get(partition_key) if self._chain else None
        if last is not None:
            kwargs["SequenceNumberForOrdering"] = last
        started = time.perf_counter()
        try:
            response = self.client.put_record(**kwargs)
        except ClientError as exc:
            refused = classify(exc).code == "InvalidArgumentException"
            if last is None or not refused or _places_by_key(self.client, self.stream_name):
                raise
            self._chain = False  # switched to AUTO, which refuses SequenceNumberForOrdering
            del kwargs["SequenceNumberForOrdering"]
            response = self.client.put_record(**kwargs)
        self.stats.latencies.append(time.perf_counter() - started)
        self.stats.calls += 1
        self.stats.records += 1
        self._last[partition_key] = response["SequenceNumber"]
        return dict(response)


@dataclass
class _Pending:
    data: bytes
    key: str
    attempts: int = 0


class PutRecordsWriter:
    """Batches records into PutRecords calls without ever reordering a key."""

    def __init__(
        self,
        client: Any,
        stream_name: str,
        *,
        max_records: int = MAX_REQUEST_RECORDS,
        max_bytes: int = MAX_REQUEST_BYTES,
        linger: float = 0.1,
        backoff_base: float = BATCH_BACKOFF_BASE_S,
        backoff_max: float = BATCH_BACKOFF_MAX_S,
    ) -> None:
        self.client = client
        self.stream_name = stream_name
        self.max_records = max_records
        self.max_bytes = max_bytes
        self.linger = linger
        self.backoff_base, self.backoff_max = backoff_base, backoff_max
        self.stats = CallStats()
        self._pending: deque[_Pending] = deque()
        self._pending_bytes = 0
        self._oldest = 0.0
        self._failures = 0
        _count_retries(client, self.stats)

    def add(self, data: bytes, partition_key: str) -> list[tuple[_Pending, dict[str, Any]]]:
        """Queue a record; sends a call when a full one is queued or the oldest has lingered.

        Returns (record, result entry) for each record written by a call made now.
        """
        if not self._pending:
            self._oldest = time.monotonic()
        self._pending.append(_Pending(data, partition_key))
        self._pending_bytes += record_size(data, partition_key)
        if (
            len(self._pending) >= self.max_records
            or self._pending_bytes >= self.max_bytes
            or time.monotonic() - self._oldest >= self.linger
        ):
            return self.send()
        return []

    def due(self) -> bool:
        return bool(self._pending) and time.monotonic() - self._oldest >= self.linger

    def flush(self) -> list[tuple[_Pending, dict[str, Any]]]:
        """Send until nothing is pending."""
        written = []
        while self._pending:
            written.extend(self.send())
        return written

    def _take(self) -> list[_Pending]:
        """The next call's records: in order, each key once, within the limits.

        A key seen twice blocks: nothing after its first record is taken this call, so a
        record that fails is resent before any later record of its key.
        """
        taken: list[_Pending] = []
        keep: deque[_Pending] = deque()
        keys: set[str] = set()
        blocked: set[str] = set()
        size = 0
        pending = self._pending
        while pending and len(taken) < self.max_records:
            p = pending.popleft()
            p_size = record_size(p.data, p.key)
            if p.key in keys or p.key in blocked or size + p_size > self.max_bytes:
                blocked.add(p.key)
                keep.append(p)
                if len(keep) > 4 * self.max_records:
                    break
                continue
            keys.add(p.key)
            taken.append(p)
            size += p_size
        keep.extend(pending)
        self._pending = keep
        self._pending_bytes -= size
        return taken

    def send(self) -> list[tuple[_Pending, dict[str, Any]]]:
        """One PutRecords call; failed entries go back to the front, in order."""
        batch = self._take()
        if not batch:
            return []
        started = time.perf_counter()
        try:
            response = self.client.put_records(
                StreamName=self.stream_name,
                Records=[{"Data": p.data, "PartitionKey": p.key} for p in batch],
            )
        except KeyboardInterrupt:
            # Outcome unknown: keep the batch at the front so a flush sends it (maybe twice).
            self._pending.extendleft(reversed(batch))
            self._pending_bytes += sum(record_size(p.data, p.key) for p in batch)
            raise
        except Exception as exc:
            err = classify(exc)
            if not err.retriable:
                raise
            self._requeue(batch, throttle=err.throttle)
            return []
        self.stats.latencies.append(time.perf_counter() - started)
        self.stats.calls += 1
        written: list[tuple[_Pending, dict[str, Any]]] = []
        failed: list[_Pending] = []
        throttled = False
        for p, result in zip(batch, response["Records"], strict=True):
            code = result.get("ErrorCode")
            if code:
                err = from_code(code, result.get("ErrorMessage", ""))
                if not err.retriable or p.attempts + 1 >= BATCH_MAX_ATTEMPTS:
                    raise err
                throttled = throttled or err.throttle
                failed.append(p)
            else:
                written.append((p, {**result, "ResponseMetadata": response["ResponseMetadata"]}))
        self.stats.records += len(written)
        if written:
            self._failures = 0  # progress: back off only as far as the first step
        if failed:
            self._requeue(failed, throttle=throttled)
        if self._pending:
            self._oldest = time.monotonic() - self.linger if failed else time.monotonic()
        return written

    def _requeue(self, records: list[_Pending], throttle: bool) -> None:
        for p in records:
            p.attempts += 1
        self.stats.retries += len(records)
        if throttle:
            self.stats.throttles += len(records)
        self._pending.extendleft(reversed(records))
        self._pending_bytes += sum(record_size(p.data, p.key) for p in records)
        self._failures += 1
        time.sleep(backoff_delay(self._failures - 1, self.backoff_base, self.backoff_max))
