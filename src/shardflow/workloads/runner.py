"""run_producer: stream taxi trips into a stream with one of the three APIs (``produce taxi``).

Used by the CLI and by ``shardflow demo``. Pacing (``rate``), stopping (``count``, ``duration``,
``stop``), a live status line and the lab's per-record line are here; writing is in
``shardflow.producer``.
"""

from __future__ import annotations

import asyncio
import dataclasses
import itertools
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from typing import Any

from shardflow.aws import kinesis_client
from shardflow.producer import AsyncProducer, BufferFullError, ProducerConfig
from shardflow.producer.direct import (
    PutRecordsWriter,
    PutRecordWriter,
    batch_client_config,
    latency_client_config,
)
from shardflow.producer.metrics import percentile
from shardflow.producer.producer import YIELD_EVERY, client_config
from shardflow.producer.shardmap import ShardMap, list_shards
from shardflow.workloads.taxi import TaxiEvent, TaxiTrips

APIS = ("put-record", "put-records", "producer")
STATUS_INTERVAL_S = 1.0
BURST = 64  # unpaced records between two checks of count, duration, stop and the status line
BUFFERED_SECONDS = 10  # producer API: buffer at most this many seconds of the stream's writes


@dataclass
class RunSummary:
    api: str
    records: int
    seconds: float
    p50_ms: float
    p99_ms: float
    retries: int
    throttles: int
    failed: int = 0
    interrupted: bool = False

    @property
    def records_per_s(self) -> float:
        return self.records / self.seconds if self.seconds > 0 else 0.0

    def line(self) -> str:
        return (
            f"{self.api}: {self.records:,} records in {self.seconds:.1f}s "
            f"({self.records_per_s:,.0f} records/s), latency p50 {self.p50_ms:.2f} ms "
            f"p99 {self.p99_ms:.2f} ms, {self.retries} retries, {self.throttles} throttles"
            + (f", {self.failed} failed" if self.failed else "")
            + (" (interrupted)" if self.interrupted else "")
        )


class _Pacer:
    """Stops after ``count`` records or ``duration`` seconds; sleeps to hold ``rate``/s."""

    def __init__(
        self,
        rate: float | None,
        count: int | None,
        duration: float | None,
        stop: threading.Event | None,
    ):
        self.rate, self.count, self.duration = rate, count, duration
        self.stop = stop or threading.Event()
        self.started = time.monotonic()
        self.n = 0

    def delay(self) -> float | None:
        """None: stop now; else seconds to wait before the next record."""
        if self.stop.is_set() or (self.count is not None and self.n >= self.count):
            return None
        now = time.monotonic()
        if self.duration is not None and now - self.started >= self.duration:
            return None
        if self.rate:
            return max(0.0, self.started + self.n / self.rate - now)
        return 0.0

    def burst(self) -> int:
        """Records to send before the next ``delay`` check: one when paced, else up to BURST
        (the clock and the status line are then read once per burst, not once per record)."""
        if self.rate:
            return 1
        return BURST if self.count is None else max(1, min(BURST, self.count - self.n))


def _events(events: Iterable[TaxiEvent] | None, seed: int | None) -> Iterator[TaxiEvent]:
    return iter(events) if events is not None else iter(TaxiTrips(seed=seed))


def run_producer(
    stream_name: str,
    *,
    api: str = "producer",
    events: Iterable[TaxiEvent] | None = None,
    seed: int | None = None,
    rate: float | None = None,
    count: int | None = None,
    duration: float | None = None,
    endpoint_url: str | None = None,
    region: str | None = None,
    session: Any = None,
    producer_config: ProducerConfig | None = None,
    verbose: bool = False,
    echo: Callable[[str], None] | None = None,
    status: Callable[[str], None] | None = None,
    stop: threading.Event | None = None,
) -> RunSummary:
    """Write taxi trips until ``count``/``duration``/``stop``; returns what was written.

    ``echo`` gets the lab's per-record lines (with ``verbose``) and ``status`` the live status
    line about once a second. A KeyboardInterrupt stops the run cleanly after a flush.
    """
    if api not in APIS:
        raise ValueError(f"api must be one of {', '.join(APIS)}")
    run = _Run(
        stream_name,
        _events(events, seed),
        _Pacer(rate, count, duration, stop),
        endpoint_url,
        region,
        session,
        echo if verbose else None,
        status,
    )
    if api == "producer":
        return asyncio.run(_run_library(run, producer_config or ProducerConfig()))
    return _run_put_record(run) if api == "put-record" else _run_put_records(run)


@dataclass
class _Run:
    """What every write mode needs: the stream, the events, the pacing, where and how to report."""

    stream_name: str
    source: Iterator[TaxiEvent]
    pacer: _Pacer
    endpoint_url: str | None
    region: str | None
    session: Any
    lab: Callable[[str], None] | None  # the lab's per-record lines (verbose), or None
    status: Callable[[str], None] | None

    def client(self, config: Any) -> Any:
        return kinesis_client(
            endpoint_url=self.endpoint_url, region=self.region, session=self.session, config=config
        )


def _status_line(
    records: int, elapsed: float, window: list[float], retries: int, throttles: int
) -> str:
    return (
        f"{records:>10,} records  {records / max(elapsed, 1e-9):>9,.0f} records/s  "
        f"p50 {percentile(window, 0.5) * 1e3:6.2f} ms  p99 {percentile(window, 0.99) * 1e3:6.2f} ms"
        f"  retries {retries}  throttles {throttles}"
    )


def _lab_line(total: int, response: dict[str, Any]) -> str:
    """The lab's per-record line: total ingested, request id, HTTP status."""
    meta = response["ResponseMetadata"]
    request_id, http_status = meta["RequestId"], meta["HTTPStatusCode"]
    return f"Total ingested:{total},ReqID:{request_id},HTTPStatusCode:{http_status}"


class _StatusTicker:
    """Calls ``status`` with the live line about once a second (the three APIs share it)."""

    def __init__(self, status: Callable[[str], None] | None, pacer: _Pacer) -> None:
        self.status = status
        self.pacer = pacer
        self.next_at = time.monotonic() + STATUS_INTERVAL_S

    def tick(self, records: int, latencies: Iterable[float], retries: int, throttles: int) -> None:
        if self.status is None or time.monotonic() < self.next_at:
            return
        self.next_at += STATUS_INTERVAL_S
        window = list(latencies)[-2000:]
        elapsed = time.monotonic() - self.pacer.started
        self.status(_status_line(records, elapsed, window, retries, throttles))


def _run_put_record(run: _Run) -> RunSummary:
    client = run.client(latency_client_config())
    writer = PutRecordWriter(client, run.stream_name)
    pacer = run.pacer
    ticker = _StatusTicker(run.status, pacer)
    interrupted = False
    try:
        while (wait := pacer.delay()) is not None:
            if wait:
                time.sleep(wait)
            event = next(run.source)
            response = writer.put(event.data, event.partition_key)
            pacer.n += 1
            if run.lab:
                run.lab(_lab_line(pacer.n, response))
            s = writer.stats
            ticker.tick(s.records, s.latencies, s.retries, s.throttles)
    except KeyboardInterrupt:
        interrupted = True
    return _summary("put-record", writer.stats, pacer, interrupted)


def _run_put_records(run: _Run) -> RunSummary:
    client = run.client(batch_client_config())
    writer = PutRecordsWriter(client, run.stream_name)
    pacer = run.pacer
    written = 0
    ticker = _StatusTicker(run.status, pacer)

    def report(results: list[tuple[Any, dict[str, Any]]]) -> None:
        nonlocal written
        for _, result in results:
            written += 1
            if run.lab:
                run.lab(_lab_line(written, result))

    interrupted = False
    try:
        while (wait := pacer.delay()) is not None:
            if wait > 0.001 and writer.due():
                report(writer.send())
                continue
            if wait:
                time.sleep(wait)
            event = next(run.source)
            report(writer.add(event.data, event.partition_key))
            pacer.n += 1
            s = writer.stats
            ticker.tick(s.records, s.latencies, s.retries, s.throttles)
    except KeyboardInterrupt:
        interrupted = True
    try:
        report(writer.flush())
    except KeyboardInterrupt:
        interrupted = True
    return _summary("put-records", writer.stats, pacer, interrupted)


def _summary(api: str, stats: Any, pacer: _Pacer, interrupted: bool) -> RunSummary:
    lat = list(stats.latencies)
    return RunSummary(
        api=api,
        records=stats.records,
        seconds=time.monotonic() - pacer.started,
        p50_ms=percentile(lat, 0.5) * 1e3,
        p99_ms=percentile(lat, 0.99) * 1e3,
        retries=stats.retries,
        throttles=stats.throttles,
        interrupted=interrupted,
    )


async def _buffer_for_stream(client: Any, stream: str, config: ProducerConfig) -> ProducerConfig:
    """``config`` buffering at most what the stream's open shards write in BUFFERED_SECONDS at
    their byte limit: unpaced, the command puts faster than a small stream takes, and what is
    still buffered when it stops must be written within the records' TTL. Unchanged if the
    shards cannot be listed (the producer's start then reports why)."""

    async def call(operation: str, **kwargs: Any) -> Any:
        return getattr(client, operation)(**kwargs)

    try:
        shards = len(ShardMap.from_list_shards(await list_shards(call, stream)))
    except Exception:
        return config
    cap = max(1, shards) * config.shard_bytes_per_s * BUFFERED_SECONDS
    return dataclasses.replace(config, max_buffered_bytes=min(config.max_buffered_bytes, cap))


async def _run_library(run: _Run, config: ProducerConfig) -> RunSummary:
    client = run.client(client_config(config))
    config = await _buffer_for_stream(client, run.stream_name, config)
    producer = AsyncProducer(run.stream_name, client=client, config=config)
    pacer, lab = run.pacer, run.lab
    await producer.start()
    written = 0

    def on_done(fut: Any) -> None:
        nonlocal written
        if fut.exception() is None:
            written += 1
            if lab:
                r = fut.result()
                lab(
                    f"Total ingested:{written},ShardId:{r.shard_id},"
                    f"SequenceNumber:{r.sequence_number},SubSequence:{r.subsequence_number}"
                )

    interrupted = False
    ticker = _StatusTicker(run.status, pacer)
    try:
        source, put, put_many = run.source, producer.put, producer.put_many_nowait
        while (wait := pacer.delay()) is not None:
            if wait:
                await asyncio.sleep(wait)
            events = list(itertools.islice(source, pacer.burst()))
            if not events:
                break  # the events ran out
            try:  # one call for the burst; a record at a time only while the buffer is full
                futures = put_many(events)
            except BufferFullError:
                futures = [await put(e.data, e.partition_key) for e in events]
            if lab:
                for fut in futures:
                    fut.add_done_callback(on_done)
            pacer.n += len(events)
            if pacer.n & -YIELD_EVERY != (pacer.n - len(events)) & -YIELD_EVERY:
                await asyncio.sleep(0)  # the sender runs at least every YIELD_EVERY records
            m = producer.metrics
            ticker.tick(m.user_records_put, m.request_times, m.retries, m.throttles)
    except (KeyboardInterrupt, asyncio.CancelledError):
        interrupted = True
    finally:
        await producer.close()
    m = producer.metrics
    times = list(m.request_times)
    return RunSummary(
        api="producer",
        records=m.user_records_put,
        seconds=time.monotonic() - pacer.started,
        p50_ms=percentile(times, 0.5) * 1e3,
        p99_ms=percentile(times, 0.99) * 1e3,
        retries=m.retries,
        throttles=m.throttles,
        failed=m.user_records_failed + m.user_records_expired,
        interrupted=interrupted,
    )
