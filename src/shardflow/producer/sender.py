"""The sender: one loop that drains the accumulator into PutRecords calls and settles outcomes.

It keeps the calls in flight (at most ``max_inflight``), sends each, and handles the answer:
written entries settle their records, failed ones are retried before anything newer of their
shard when the error's class allows it (``_handle_failed``, the one place retries are decided),
and records that landed on an unexpected shard are reported to the shard-map refresher.
"""

from __future__ import annotations

import asyncio
import time
from typing import Any

from shardflow.producer.accumulator import ANY_SHARD, Accumulator
from shardflow.producer.batch import Entry
from shardflow.producer.buffer import RecordBuffer
from shardflow.producer.config import ProducerConfig
from shardflow.producer.errors import ProducerError, StreamNotFoundError, classify, from_code
from shardflow.producer.metrics import ProducerMetrics
from shardflow.producer.refresher import ShardMapRefresher
from shardflow.producer.request_body import EncodedRecords, encode_entries
from shardflow.producer.transport import Transport


class Sender:
    """Sends what the accumulator has ready; decides retries; wakes on new work or answers."""

    def __init__(
        self,
        config: ProducerConfig,
        stream_name: str,
        accumulator: Accumulator,
        transport: Transport,
        buffer: RecordBuffer,
        refresher: ShardMapRefresher,
    ) -> None:
        self.config = config
        self.stream_name = stream_name
        self.metrics: ProducerMetrics = buffer.metrics
        self._acc = accumulator
        self._transport = transport
        self._buffer = buffer
        self._refresher = refresher
        self._inflight = 0
        self._tasks: set[asyncio.Task[Any]] = set()
        self._waker: asyncio.Future[None] | None = None
        self._sleep_until = 0.0
        self._flushing = 0
        self._closing = False
        #: The stream is gone: nothing more can be written; put() raises this.
        self.fatal: ProducerError | None = None

    # -- control from the front -----------------------------------------------------------------

    def wake(self) -> None:
        waker = self._waker
        if waker is not None and not waker.done():
            waker.set_result(None)

    def wake_by(self, deadline: float) -> None:
        """Wake now if ``deadline`` (a new linger deadline) is before the planned wake-up."""
        if deadline < self._sleep_until:
            self.wake()

    def begin_flush(self) -> None:
        """Send everything buffered without waiting for linger, until ``end_flush``."""
        self._flushing += 1
        self.wake()

    def end_flush(self) -> None:
        self._flushing -= 1

    def close(self) -> None:
        """Send everything buffered, then let ``run`` return once nothing is in flight."""
        self._closing = True
        self.wake()

    async def wait_tasks(self) -> None:
        """Wait for the calls still running (after ``run`` returned, none should be)."""
        if self._tasks:
            await asyncio.gather(*self._tasks, return_exceptions=True)

    # -- the loop -------------------------------------------------------------------------------

    async def _sleep(self, until: float | None) -> None:
        loop = asyncio.get_running_loop()
        self._waker = loop.create_future()
        self._sleep_until = float("inf") if until is None else until
        handle = None
        if until is not None:
            handle = loop.call_at(loop.time() + max(0.0, until - time.monotonic()), self.wake)
        try:
            await self._waker
        finally:
            self._sleep_until = 0.0
            if handle is not None:
                handle.cancel()

    async def run(self) -> None:
        acc = self._acc
        buffer = self._buffer
        max_inflight = self.config.max_inflight
        loop = asyncio.get_running_loop()
        while True:
            now = time.monotonic()
            flushing = bool(self._flushing) or self._closing
            while self._inflight < max_inflight:
                entries, expired = acc.drain_ready(now, flushing)
                for e in expired:
                    e.expire()
                    buffer.failed(e, expired=True)
                if not entries:
                    break
                self._inflight += 1
                acc.begin_call(entries)
                task = loop.create_task(self._send(entries, now))
                self._tasks.add(task)
                task.add_done_callback(self._tasks.discard)
            if self._closing and not buffer.records and not self._inflight:
                return
            until = None if self._inflight >= max_inflight else acc.next_wake(now, flushing)
            await self._sleep(until)

    async def _send(self, entries: list[Entry], now: float) -> None:
        m = self.metrics
        for e in entries:
            if e.attempts == 0:
                m.buffering_time_sum += now - e.created
                m.buffering_time_count += 1
            else:
                m.retries += len(e.futures)
            e.attempts += 1
        if self._transport.encodes_records:
            records: list[Any] = EncodedRecords(encode_entries(entries))
        else:
            records = [e.request_entry() for e in entries]
        started = time.perf_counter()
        try:
            response = await self._transport.call(
                "put_records", StreamName=self.stream_name, Records=records
            )
        except Exception as exc:
            self._handle_call_error(entries, classify(exc))
        else:
            m.request_times.append(time.perf_counter() - started)
            self._handle_response(entries, response)
        finally:
            m.requests += 1
            self._inflight -= 1
            self._acc.end_call(entries)
            self._refresher.call_answered()
            self.wake()

    # -- outcomes -------------------------------------------------------------------------------

    def _handle_response(self, entries: list[Entry], response: dict[str, Any]) -> None:
        m = self.metrics
        acc = self._acc
        results = response.get("Records", [])
        failed: list[tuple[Entry, ProducerError]] = []
        unexpected = False
        for entry, result in zip(entries, results, strict=False):
            code = result.get("ErrorCode")
            if code:
                failed.append((entry, from_code(code, result.get("ErrorMessage", ""))))
                continue
            shard_id = result["ShardId"]
            m.kinesis_records_put += 1
            m.kinesis_records_data_put += entry.size
            if shard_id != entry.shard_id and entry.shard_id != ANY_SHARD:
                unexpected = True
                self._refresher.note_stray(entry, shard_id)
                if entry.aggregated:
                    # The stream was resharded: user records of keys outside that shard's
                    # range are in the wrong shard (a KCL-style reader drops them). Hold their
                    # shard's queue; the refresh resends them before anything newer.
                    self._refresher.note_misplaced(entry, shard_id, result["SequenceNumber"])
                    acc.hold(entry.shard_id)
                    continue
            entry.succeed(shard_id, result["SequenceNumber"])
            acc.succeeded(entry.shard_id)
            self._buffer.written(entry)
        if len(results) < len(entries):  # a malformed response: treat the rest as unknown
            for entry in entries[len(results) :]:
                failed.append((entry, from_code("InternalFailure", "missing in response", 500)))
        if failed:
            self._handle_failed(failed)
        if unexpected:
            self._refresher.schedule()

    def _handle_call_error(self, entries: list[Entry], err: ProducerError) -> None:
        if isinstance(err, StreamNotFoundError):
            self.fatal = err  # the stream is gone: nothing more can be written
        self._handle_failed([(e, err) for e in entries])

    def _handle_failed(self, failed: list[tuple[Entry, ProducerError]]) -> None:
        """Retry what the error's class allows, before anything newer; fail the rest."""
        acc = self._acc
        now = time.monotonic()
        retry: list[Entry] = []
        for entry, err in failed:
            self.metrics.errors_by_code[err.code] += 1
            entry.last_error = err
            if err.throttle:
                self.metrics.throttles += 1
            if err.retriable and self.fatal is None and not entry.expired(now):
                retry.append(entry)
                acc.back_off(entry.shard_id, now)
            elif entry.expired(now):
                entry.expire()
                self._buffer.failed(entry, expired=True)
            else:
                entry.fail(err)
                self._buffer.failed(entry)
        if retry:
            for orphan in acc.requeue_front(retry):
                acc.reroute(orphan)
            if any(not acc.has_queue(e.shard_id) for e in retry):
                self._refresher.schedule()
