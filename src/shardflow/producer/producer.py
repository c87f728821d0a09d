"""The asyncio Producer: put() records, get futures; one sender loop writes them with PutRecords.

Shape (aiokafka's): ``Accumulator`` (per-shard queues, aggregation, linger, drain_ready) → the
sender loop here (build a request, send it, handle the response or the error, back off) → a
``Transport`` (botocore in a thread pool, or an async client). Retries are decided in one place,
``_handle_failed``, from the error's class attributes.

The stream's RecordDistributionStrategy (DescribeStreamSummary, with the shard map) decides the
routing: by key onto per-shard queues, or, on an AUTO stream that places records itself, onto one
queue whose results are taken wherever they land (``Accumulator.by_service``).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import time
from typing import Any

from botocore.config import Config as BotoConfig

from shardflow.aws import endpoint_override, kinesis_client
from shardflow.model.distribution import AUTO, USER_PARTITION_KEY
from shardflow.producer.accumulator import ANY_SHARD, Accumulator
from shardflow.producer.batch import Entry
from shardflow.producer.config import MAX_RECORD_BYTES, ProducerConfig
from shardflow.producer.errors import (
    BufferFullError,
    ProducerClosedError,
    ProducerError,
    RecordTooLargeError,
    StreamNotFoundError,
    classify,
    from_code,
)
from shardflow.producer.future import RecordFuture, RecordResult
from shardflow.producer.metrics import ProducerMetrics
from shardflow.producer.shardmap import ShardMap, describe_distribution, list_shards
from shardflow.producer.transport import Transport

log = logging.getLogger("shardflow.producer")

YIELD_EVERY = 512  # a power of two; put() lets the sender run at least this often in a tight loop
MAX_STRAYS = 64  # records on an unexpected shard kept until the next refresh looks at them


def client_config(config: ProducerConfig) -> BotoConfig:
    """botocore settings for the producer: pool as wide as the requests in flight, no retries
    of its own (the producer decides retries, so that it can keep order), and no client-side
    parameter validation: the producer builds every entry within the limits itself, the service
    validates anyway, and checking 500 entries per call costs CPU the sender needs."""
    return BotoConfig(
        max_pool_connections=config.max_inflight + 2,
        parameter_validation=False,
        tcp_keepalive=True,
        connect_timeout=config.connect_timeout,
        read_timeout=config.request_timeout,
        retries={"total_max_attempts": 1, "mode": "standard"},
    )


class Producer:
    """Writes records to one Kinesis stream through batched, aggregated PutRecords calls.

    Use as ``async with Producer("stream", endpoint_url=...) as p: fut = await p.put(data, key)``.
    ``client`` may be a botocore/boto3 client or an aiobotocore client; ``session`` a boto3 or
    aiobotocore session. Without either, the standard AWS settings apply (nothing here assumes a
    local server).
    """

    def __init__(
        self,
        stream_name: str,
        *,
        config: ProducerConfig | None = None,
        client: Any = None,
        session: Any = None,
        endpoint_url: str | None = None,
        region: str | None = None,
    ) -> None:
        self.stream_name = stream_name
        self.config = config or ProducerConfig()
        self.metrics = ProducerMetrics()
        self._client = client
        self._session = session
        self._endpoint_url = endpoint_url
        self._region = region
        self._client_ctx: Any = None
        self._transport: Transport | None = None
        self._acc: Accumulator | None = None
        self._sender: asyncio.Task[None] | None = None
        self._tasks: set[asyncio.Task[Any]] = set()
        self._inflight = 0
        self._buffered_records = 0
        self._buffered_bytes = 0
        self._room_waiters: list[asyncio.Future[None]] = []
        self._empty_waiters: list[asyncio.Future[None]] = []
        self._waker: asyncio.Future[None] | None = None
        self._sleep_until = 0.0
        self._flushing = 0
        self._closed = False
        self._started = False
        self._puts = 0
        self._last_refresh = 0.0
        self._refreshing = False
        self._refresh_again = False
        self._refresh_task: asyncio.Task[None] | None = None
        self._watcher: asyncio.Task[None] | None = None
        #: Aggregates written to a shard other than the one predicted, with that shard and the
        #: sequence number: settled once a fresh shard map shows that shard's range.
        self._misplaced: list[tuple[Entry, str, str]] = []
        #: Entries written to an unexpected shard, with that shard (a sample, for
        #: ``_placed_by_service`` when DescribeStreamSummary cannot be called).
        self._strays: list[tuple[Entry, str]] = []
        self._describe_failed = False
        self._call_done = asyncio.Event()  # set whenever a call's outcome has been handled
        self._fatal: ProducerError | None = None
        self._ttl = self.config.record_ttl
        self._linger = self.config.linger
        self._max_records = self.config.max_buffered_records
        self._max_bytes = self.config.max_buffered_bytes

    # -- lifecycle ------------------------------------------------------------------------------

    async def start(self) -> None:
        """Build the client if needed and load the shard map (fails early on a wrong stream)."""
        if self._started:
            return
        client = self._client
        if client is None:
            client = await self._make_client()
        self._transport = Transport(client, self.config.max_inflight)
        try:
            shards = await list_shards(self._transport.call, self.stream_name)
        except Exception as exc:
            self._transport.close()
            raise classify(exc) from exc
        by_service = await self._distribution() == AUTO
        now = time.monotonic()
        self._acc = Accumulator(self.config, ShardMap.from_list_shards(shards), now, by_service)
        self._acc.on_full = self._wake
        if by_service:
            self._note_auto()
        self._last_refresh = now
        self._started = True
        loop = asyncio.get_running_loop()
        self._sender = loop.create_task(self._run_sender())
        if self.config.strategy_refresh is not None:
            self._watcher = loop.create_task(self._watch(self.config.strategy_refresh))

    async def _make_client(self) -> Any:
        session = self._session
        cfg = client_config(self.config)
        if session is not None and not hasattr(session, "client"):
            # botocore or aiobotocore session: create_client (aiobotocore's is a context manager).
            made = session.create_client(
                "kinesis",
                region_name=self._region or session.get_config_variable("region"),
                endpoint_url=endpoint_override(self._endpoint_url),
                config=cfg,
            )
            if hasattr(made, "__aenter__"):
                self._client_ctx = made
                return await made.__aenter__()
            return made
        return kinesis_client(
            endpoint_url=self._endpoint_url, region=self._region, session=session, config=cfg
        )

    async def __aenter__(self) -> Producer:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    async def flush(self) -> None:
        """Send everything buffered now and wait until every record has an outcome."""
        if not self._started:
            return
        self._flushing += 1
        try:
            self._wake()
            while self._buffered_records:
                fut = asyncio.get_running_loop().create_future()
                self._empty_waiters.append(fut)
                await fut
        finally:
            self._flushing -= 1

    async def close(self) -> None:
        """Stop accepting records, flush them all, stop the sender. Loses nothing."""
        if self._closed:
            return
        self._closed = True
        if not self._started:
            return
        await self.flush()
        self._wake()
        if self._sender is not None:
            await self._sender
        if self._watcher is not None:
            self._watcher.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._watcher
        if self._refresh_task is not None:
            self._refresh_task.cancel()  # everything is written: no map needed any more
        if self._tasks:
            await asyncio.gather(*self._tasks, return_exceptions=True)
        assert self._transport is not None
        self._transport.close()
        if self._client_ctx is not None:
            await self._client_ctx.__aexit__(None, None, None)

    # -- putting --------------------------------------------------------------------------------

    @property
    def record_distribution(self) -> str:
        """The strategy the producer routes by: AUTO (the stream places records) or
        USER_PARTITION_KEY (by key, onto per-shard queues)."""
        acc = self._acc
        return AUTO if acc is not None and acc.by_service else USER_PARTITION_KEY

    @property
    def buffered_records(self) -> int:
        """User records put and not yet written or failed (KPL: UserRecordsPending)."""
        return self._buffered_records

    def has_room(self, records: int = 1, nbytes: int = 0) -> bool:
        cfg = self.config
        return (
            self._buffered_records + records <= cfg.max_buffered_records
            and self._buffered_bytes + nbytes <= cfg.max_buffered_bytes
        ) or (records == 1 and self._buffered_records == 0)  # one oversized record still goes

    def put_nowait(
        self, data: bytes | str, partition_key: str, explicit_hash_key: str | None = None
    ) -> RecordFuture:
        """Buffer a record now, or raise BufferFullError if there is no room."""
        if isinstance(data, str):
            data = data.encode()
        size = len(data) + (
            len(partition_key) if partition_key.isascii() else len(partition_key.encode())
        )
        if not self.has_room(1, size):
            raise BufferFullError(
                f"producer buffer full ({self._buffered_records} records, "
                f"{self._buffered_bytes} bytes buffered)"
            )
        return self._append(data, partition_key, explicit_hash_key, size)

    async def put(
        self, data: bytes | str, partition_key: str, explicit_hash_key: str | None = None
    ) -> RecordFuture:
        """Buffer a record, waiting while the buffer is full (up to ``put_timeout``).

        Returns at once with the record's future; ``await`` that for the shard and sequence number.
        """
        if isinstance(data, str):
            data = data.encode()
        size = len(data) + (
            len(partition_key) if partition_key.isascii() else len(partition_key.encode())
        )
        full = self._buffered_records >= self._max_records
        if (full or self._buffered_bytes + size > self._max_bytes) and not self.has_room(1, size):
            await self.wait_for_room(1, size)
        fut = self._append(data, partition_key, explicit_hash_key, size)
        self._puts += 1
        if not self._puts & (YIELD_EVERY - 1):
            await asyncio.sleep(0)  # a tight put() loop must not starve the sender
        return fut

    async def put_and_wait(
        self, data: bytes | str, partition_key: str, explicit_hash_key: str | None = None
    ) -> RecordResult:
        return await (await self.put(data, partition_key, explicit_hash_key))

    async def wait_for_room(self, records: int = 1, nbytes: int = 0) -> None:
        """Wait until the buffer can take this much; BufferFullError after ``put_timeout``."""
        deadline = None
        if self.config.put_timeout is not None:
            deadline = time.monotonic() + self.config.put_timeout
        loop = asyncio.get_running_loop()
        while not self.has_room(records, nbytes):
            self._check_open()
            fut = loop.create_future()
            self._room_waiters.append(fut)
            timeout = None if deadline is None else deadline - time.monotonic()
            if timeout is not None and timeout <= 0:
                raise BufferFullError(
                    f"producer buffer still full after {self.config.put_timeout}s "
                    f"({self._buffered_records} records, {self._buffered_bytes} bytes buffered): "
                    "the stream is not keeping up"
                )
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(fut, timeout)

    def _check_open(self) -> None:
        if self._closed:
            raise ProducerClosedError("the producer is closed")
        if self._fatal is not None:
            raise self._fatal
        if not self._started:
            raise ProducerError("the producer is not started: use `async with` or start()")

    def _append(
        self, data: bytes, partition_key: str, explicit_hash_key: str | None, size: int
    ) -> RecordFuture:
        if self._closed or self._fatal is not None or not self._started:
            self._check_open()
        if size > MAX_RECORD_BYTES:
            raise RecordTooLargeError(f"record of {size} bytes (data + key) exceeds 1 MiB")
        acc = self._acc
        assert acc is not None
        fut = RecordFuture()
        started = acc.append(
            partition_key, data, explicit_hash_key, fut, size, time.monotonic, self._ttl
        )
        self._buffered_records += 1
        self._buffered_bytes += size
        self.metrics.user_records_received += 1
        if started is not None and started + self._linger < self._sleep_until:
            self._wake()  # a new linger deadline, earlier than the sender's next wake-up
        return fut

    def _release(self, records: int, nbytes: int) -> None:
        self._buffered_records -= records
        self._buffered_bytes -= nbytes
        if self._room_waiters and self.has_room():
            waiters, self._room_waiters = self._room_waiters, []
            for w in waiters:
                if not w.done():
                    w.set_result(None)
        if not self._buffered_records and self._empty_waiters:
            waiters, self._empty_waiters = self._empty_waiters, []
            for w in waiters:
                if not w.done():
                    w.set_result(None)

    # -- the sender -----------------------------------------------------------------------------

    def _wake(self) -> None:
        waker = self._waker
        if waker is not None and not waker.done():
            waker.set_result(None)

    async def _sleep(self, until: float | None) -> None:
        loop = asyncio.get_running_loop()
        self._waker = loop.create_future()
        self._sleep_until = float("inf") if until is None else until
        handle = None
        if until is not None:
            handle = loop.call_at(loop.time() + max(0.0, until - time.monotonic()), self._wake)
        try:
            await self._waker
        finally:
            self._sleep_until = 0.0
            if handle is not None:
                handle.cancel()

    async def _run_sender(self) -> None:
        acc = self._acc
        assert acc is not None
        cfg = self.config
        loop = asyncio.get_running_loop()
        while True:
            now = time.monotonic()
            flushing = bool(self._flushing) or self._closed
            while self._inflight < cfg.max_inflight:
                entries, expired = acc.drain_ready(now, flushing)
                for e in expired:
                    self._finish_failed(e, e.expire(), expired=True)
                if not entries:
                    break
                self._inflight += 1
                for sid in {e.shard_id for e in entries}:
                    acc.queues[sid].inflight += 1
                task = loop.create_task(self._send(entries, now))
                self._tasks.add(task)
                task.add_done_callback(self._tasks.discard)
            if self._closed and not self._buffered_records and not self._inflight:
                return
            until = None if self._inflight >= cfg.max_inflight else acc.next_wake(now, flushing)
            await self._sleep(until)

    async def _send(self, entries: list[Entry], now: float) -> None:
        assert self._transport is not None
        m = self.metrics
        for e in entries:
            if e.attempts == 0:
                m.buffering_time_sum += now - e.created
                m.buffering_time_count += 1
            else:
                m.retries += len(e.futures)
            e.attempts += 1
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
            acc = self._acc
            assert acc is not None
            for sid in {e.shard_id for e in entries}:
                q = acc.queues.get(sid)
                if q is not None:
                    q.inflight -= 1
            self._call_done.set()
            self._wake()

    def _handle_response(self, entries: list[Entry], response: dict[str, Any]) -> None:
        m = self.metrics
        acc = self._acc
        assert acc is not None
        results = response.get("Records", [])
        failed: list[tuple[Entry, ProducerError]] = []
        unexpected = False
        for entry, result in zip(entries, results, strict=False):
            code = result.get("ErrorCode")
            if code:
                failed.append((entry, from_code(code, result.get("ErrorMessage", ""))))
                continue
            shard_id = result["ShardId"]
            if shard_id != entry.shard_id and entry.shard_id != ANY_SHARD:
                unexpected = True
                if len(self._strays) < MAX_STRAYS:
                    self._strays.append((entry, shard_id))
                if entry.aggregated:
                    # The stream was resharded: user records of keys outside that shard's
                    # range are in the wrong shard (a KCL-style reader drops them). Hold their
                    # shard's queue; the refresh resends them before anything newer.
                    self._misplaced.append((entry, shard_id, result["SequenceNumber"]))
                    q = acc.queues.get(entry.shard_id)
                    if q is not None:
                        q.held = True
                    m.kinesis_records_put += 1
                    m.kinesis_records_data_put += entry.size
                    continue
            entry.succeed(shard_id, result["SequenceNumber"])
            n = len(entry.futures)
            m.user_records_put += n
            m.user_records_data_put += entry.user_bytes
            m.kinesis_records_put += 1
            m.kinesis_records_data_put += entry.size
            self._succeeded_shard(entry.shard_id)
            self._release(n, entry.user_bytes)
        if len(results) < len(entries):  # a malformed response: treat the rest as unknown
            for entry in entries[len(results) :]:
                failed.append((entry, from_code("InternalFailure", "missing in response", 500)))
        if failed:
            self._handle_failed(failed)
        if unexpected:
            self._schedule_refresh()

    def _handle_call_error(self, entries: list[Entry], err: ProducerError) -> None:
        if isinstance(err, StreamNotFoundError):
            self._fatal = err  # the stream is gone: nothing more can be written
        self._handle_failed([(e, err) for e in entries])

    def _handle_failed(self, failed: list[tuple[Entry, ProducerError]]) -> None:
        """Retry what the error's class allows, before anything newer; fail the rest."""
        acc = self._acc
        assert acc is not None
        now = time.monotonic()
        cfg = self.config
        retry: list[Entry] = []
        for entry, err in failed:
            self.metrics.errors_by_code[err.code] += 1
            entry.last_error = err
            if err.throttle:
                self.metrics.throttles += 1
            if err.retriable and self._fatal is None and not entry.expired(now):
                retry.append(entry)
                q = acc.queues.get(entry.shard_id)
                if q is not None:
                    q.failures += 1
                    backoff = min(cfg.backoff_max, cfg.backoff_base * 2 ** min(q.failures, 16))
                    q.backoff_until = max(q.backoff_until, now + random.uniform(0, backoff))
            elif entry.expired(now):
                self._finish_failed(entry, entry.expire(), expired=True)
            else:
                entry.fail(err)
                self._finish_failed(entry, err)
        if retry:
            for orphan in acc.requeue_front(retry):
                self._reroute(orphan, now)
            self._schedule_refresh_if_orphans(retry)

    def _succeeded_shard(self, shard_id: str) -> None:
        acc = self._acc
        assert acc is not None
        q = acc.queues.get(shard_id)
        if q is not None:
            q.failures = 0

    def _finish_failed(self, entry: Entry, err: ProducerError, expired: bool = False) -> None:
        n = len(entry.futures)
        if expired:
            self.metrics.user_records_expired += n
        else:
            self.metrics.user_records_failed += n
        self._release(n, entry.user_bytes)

    # -- the shard map --------------------------------------------------------------------------

    def _schedule_refresh_if_orphans(self, entries: list[Entry]) -> None:
        acc = self._acc
        assert acc is not None
        if any(e.shard_id not in acc.queues for e in entries):
            self._schedule_refresh()

    def _schedule_refresh(self) -> None:
        """Refresh the shard map now, or once ``shard_map_min_refresh`` has passed."""
        if self._refreshing:
            self._refresh_again = True
            return
        self._refreshing = True
        delay = self._last_refresh + self.config.shard_map_min_refresh - time.monotonic()
        task = asyncio.get_running_loop().create_task(self._refresh(max(0.0, delay)))
        self._refresh_task = task
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _refresh(self, delay: float) -> None:
        """Reload the shard map and the strategy (a record landed on a shard we did not expect:
        resharded, or the stream now places records itself; or ``strategy_refresh`` passed).

        The queues of shards that changed are held, and their calls in flight answered, before
        their records move to the new shards' queues: so no record of a key is in flight to the
        old shard while a newer one goes to the new shard. Misplaced aggregated records are
        settled here and resent ahead of everything else of their keys.
        """
        acc = self._acc
        assert self._transport is not None and acc is not None
        try:
            if delay:
                await asyncio.sleep(delay)
            shards = await list_shards(self._transport.call, self.stream_name)
            shard_map = ShardMap.from_list_shards(shards, acc.shard_map.version + 1)
            ranges = {
                s["ShardId"]: (
                    int(s["HashKeyRange"]["StartingHashKey"]),
                    int(s["HashKeyRange"]["EndingHashKey"]),
                )
                for s in shards
            }
            strategy = await self._distribution()
            if strategy is None:
                by_service = acc.by_service or self._placed_by_service(ranges)
            else:
                by_service = strategy == AUTO
            while True:
                changing = acc.changing(shard_map, by_service)
                for q in changing:
                    q.held = True
                if not any(q.inflight for q in changing):
                    break
                self._call_done.clear()
                await self._call_done.wait()
            if any(shard not in ranges for _, shard, _ in self._misplaced):
                self._refresh_again = True  # written to a shard newer than this listing
                return
            now = time.monotonic()
            resend = self._settle_misplaced(ranges)
            switched = by_service != acc.by_service
            moved = acc.remap(shard_map, now, by_service)
            self._strays = []
            for key, data, ehk, fut, created, deadline in resend:
                acc.append_at(key, data, ehk, fut, created, deadline)
            for entry in moved:
                self._reroute(entry, now)
            if switched and by_service:
                self._note_auto()
            elif switched:
                log.info("%s: routing by partition key again", self.stream_name)
            log.info("shard map refreshed: %d open shards", len(acc.shard_map))
        except Exception as exc:
            log.warning("shard map refresh failed: %s", exc)
            self._refresh_again = True
            self._expire_waiting(time.monotonic())
        finally:
            self._last_refresh = time.monotonic()
            self._refreshing = False
            self._refresh_task = None
            waiting = self._misplaced or any(q.held for q in acc.queues.values())
            sending = self._sender is not None and not self._sender.done()
            if self._refresh_again and waiting and sending:
                self._schedule_refresh()  # records wait on it
            self._refresh_again = False
            self._wake()

    async def _distribution(self) -> str | None:
        """The stream's RecordDistributionStrategy; None when DescribeStreamSummary fails (on
        AWS, for one, without the kinesis:DescribeStreamSummary permission)."""
        assert self._transport is not None
        try:
            strategy = await describe_distribution(self._transport.call, self.stream_name)
        except Exception as exc:
            level = logging.DEBUG if self._describe_failed else logging.WARNING
            self._describe_failed = True
            log.log(
                level,
                "%s: DescribeStreamSummary failed (%s): RecordDistributionStrategy unknown;"
                " routing by key unless records land outside their shard's range",
                self.stream_name,
                classify(exc),
            )
            return None
        self._describe_failed = False
        return strategy

    def _placed_by_service(self, ranges: dict[str, tuple[int, int]]) -> bool:
        """Whether a record landed on a shard whose hash-key range lacks its hash key. A shard's
        range never changes, so only a stream that places records itself (AUTO) does that."""
        acc = self._acc
        assert acc is not None
        for entry, shard_id in self._strays:
            got = ranges.get(shard_id)
            h = acc.hash_of(entry.partition_key, entry.explicit_hash_key)
            if got is not None and not got[0] <= h <= got[1]:
                return True
        return False

    def _note_auto(self) -> None:
        log.info("%s: RecordDistributionStrategy AUTO: the stream places records", self.stream_name)
        if self.config.ordered:
            log.warning(
                "%s uses RecordDistributionStrategy AUTO: records of a key go to any shard, so"
                " their order cannot be kept; ordered=True sends as unordered there",
                self.stream_name,
            )

    async def _watch(self, interval: float) -> None:
        """Refresh the strategy and the shard map every ``interval`` seconds: nothing else tells
        a producer on an AUTO stream that it routes by key again, or that it grew."""
        while True:
            await asyncio.sleep(interval)
            self._schedule_refresh()

    def _expire_waiting(self, now: float) -> None:
        """Fail records waiting on a refresh past their TTL (the shard map cannot be loaded).

        A misplaced aggregate fails whole, though part of it is written: its outcome is unknown.
        """
        acc = self._acc
        assert acc is not None
        misplaced, self._misplaced = self._misplaced, []
        for item in misplaced:
            entry = item[0]
            if entry.expired(now):
                self._finish_failed(entry, entry.expire(), expired=True)
            else:
                self._misplaced.append(item)
        for entry in acc.expire_held(now):
            self._finish_failed(entry, entry.expire(), expired=True)

    def _settle_misplaced(
        self, ranges: dict[str, tuple[int, int]]
    ) -> list[tuple[str, bytes, str | None, RecordFuture, float, float]]:
        """Succeed the user records of misplaced aggregates that are in their shard's range;
        return the others, in order, to be written again."""
        acc = self._acc
        assert acc is not None
        m = self.metrics
        resend = []
        for entry, shard_id, sequence in self._misplaced:
            low, high = ranges[shard_id]
            placed: set[int] = set()
            nbytes = 0
            users = entry.user_records()
            for i, ((key, data, ehk), fut) in enumerate(zip(users, entry.futures, strict=True)):
                if low <= acc.hash_of(key, ehk) <= high:
                    placed.add(i)
                    nbytes += len(data) + len(key.encode())
                else:
                    resend.append((key, data, ehk, fut, entry.created, entry.deadline))
            entry.succeed(shard_id, sequence, placed)
            m.user_records_put += len(placed)
            m.user_records_data_put += nbytes
            m.retries += len(users) - len(placed)
            self._release(len(placed), nbytes)
        self._misplaced = []
        return resend

    def _reroute(self, entry: Entry, now: float) -> None:
        """Send an entry's user records through routing again (their shard changed)."""
        acc = self._acc
        assert acc is not None
        for (key, data, ehk), fut in zip(entry.user_records(), entry.futures, strict=True):
            acc.append_at(key, data, ehk, fut, entry.created, entry.deadline)

    def stats(self) -> dict[str, Any]:
        return self.metrics.snapshot(pending=self._buffered_records)
