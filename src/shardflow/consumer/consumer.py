"""The asyncio consumer: leases, one reader per shard, parents before children, checkpoints.

    coordinator (every lease_duration/3)     readers (one task per leased shard)
      ListShards → lease rows                  GetRecords loop → Batch ─┐
      renew own leases (counter + 1), drop lost ones                    ▼
      take free/expired/stolen leases      application: async for batch in consumer
      of shards whose parents are done         (asking for the next batch marks this one done)
    flusher (every checkpoint_interval) ◄──── processed positions → store.checkpoint

A shard read to its end is checkpointed SHARD_END once the application has processed all of
it; only then do its children become ready, in this process or any other sharing the store.
Another worker's lease is expired once its counter has stood still for ``lease_duration`` on this
worker's monotonic clock (``expiry``); this worker stops reading a shard whose lease it could not
renew for that long, before anyone may take it.
Delivery is at least once: after a crash or a lost lease, records after the last checkpoint
come again.

Aggregated user records outside their shard's hash-key range are dropped (copies left by a
split), except on shards the consumer has seen the stream place records itself
(RecordDistributionStrategy AUTO), where every record lands outside its key's range.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
import time
from collections.abc import AsyncIterator, Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace
from types import TracebackType
from typing import Any, TypeVar

from botocore.config import Config as BotoConfig

from shardflow.aws import ClientSetupError, endpoint_override, kinesis_client
from shardflow.consumer import fanout
from shardflow.consumer.config import ConsumerConfig
from shardflow.consumer.coordination import LeaseCoordination
from shardflow.consumer.errors import ConsumerError, LeaseLost, SetupError, translate
from shardflow.consumer.expiry import LeaseExpiry
from shardflow.consumer.initial_response import tolerate_missing_initial_response
from shardflow.consumer.limits import Backoff, ReadPacer, Unpaced
from shardflow.consumer.reader import AT_TIP, ShardReader
from shardflow.consumer.records import SHARD_END, Batch, Record
from shardflow.consumer.shard_state import ShardState, Stop
from shardflow.consumer.shards import ShardInfo
from shardflow.consumer.store import CheckpointStore, Lease
from shardflow.model.distribution import USER_PARTITION_KEY, record_distribution

log = logging.getLogger("shardflow.consumer")
T = TypeVar("T")

API_THREADS = 32  # blocking botocore calls run here; one in flight per shard reader
EVENT_THREADS = 1024  # fan-out: one per subscription, each blocked until its next event
STARTUP_ATTEMPTS = 4  # retriable failures of the first ListShards before giving up


class AsyncConsumer(LeaseCoordination):
    """Reads every shard of ``stream`` (or its share of them, beside other workers).

    ``async for batch in consumer`` yields :class:`Batch` objects; ``consumer.records()`` yields
    single records. Options are :class:`ConsumerConfig` fields.
    """

    def __init__(
        self,
        stream: str,
        config: ConsumerConfig | None = None,
        *,
        store: CheckpointStore | None = None,
        client: Any = None,
        endpoint_url: str | None = None,
        region: str | None = None,
        **options: Any,
    ) -> None:
        self.stream = stream
        self.config = replace(config, **options) if config else ConsumerConfig(**options)
        self._own_store = store is None
        self._store: CheckpointStore | None = store
        self._client = client
        self._endpoint_url = endpoint_url
        self._region = region
        self.endpoint = endpoint_override(endpoint_url)
        self.scope = ""
        self.shards: list[ShardInfo] = []
        #: The stream's RecordDistributionStrategy as last read (DescribeStreamSummary).
        self.record_distribution = USER_PARTITION_KEY
        #: Shards listed while the stream was AUTO: they may hold records of any key, so their
        #: records are never dropped by hash-key range, even after a switch back.
        self._auto_shards: set[str] = set()
        self._distribution_read = 0.0  # time.monotonic() of the last DescribeStreamSummary
        self._states: dict[str, ShardState] = {}
        self._expiry = LeaseExpiry(self.config.lease_duration)
        self._caught_up: set[str] = set()
        self._queue: asyncio.Queue[tuple[ShardState, Batch] | Stop] = asyncio.Queue()
        self._slots = asyncio.Semaphore(self.config.max_pending_batches)
        self._wake = asyncio.Event()
        self._tasks: list[asyncio.Task[None]] = []
        self._api_pool: ThreadPoolExecutor | None = None
        self._store_pool: ThreadPoolExecutor | None = None
        self._events_pool: ThreadPoolExecutor | None = None  # fan-out: event streams are read here
        #: The ARN of the stream consumer reading with enhanced fan-out (``fan_out``).
        self.consumer_arn: str | None = None
        self._last: tuple[ShardState, Batch] | None = None
        self._failure: BaseException | None = None
        self._stopped = False
        self._started = False
        self.records_delivered = 0

    # --- plumbing --------------------------------------------------------------------------

    async def _api(self, operation: str, **params: Any) -> dict[str, Any]:
        loop = asyncio.get_running_loop()
        fn = getattr(self._client, operation)
        result: dict[str, Any] = await loop.run_in_executor(
            self._api_pool, functools.partial(fn, **params)
        )
        return result

    async def _db(self, fn: Callable[..., T], *args: Any) -> T:
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._store_pool, functools.partial(fn, *args))

    @property
    def store(self) -> CheckpointStore:
        assert self._store is not None, "the consumer is not started"
        return self._store

    # --- lifecycle -------------------------------------------------------------------------

    async def start(self) -> None:
        """Check the stream, list its shards and start taking leases."""
        if self._started:
            return
        self._started = True
        try:
            await self._start()
        except BaseException:
            await self.close(processed_last=False)
            raise

    async def _start(self) -> None:
        self._api_pool = ThreadPoolExecutor(API_THREADS, thread_name_prefix="shardflow-get")
        self._store_pool = ThreadPoolExecutor(1, thread_name_prefix="shardflow-store")
        if self._client is None:
            try:
                self._client = kinesis_client(
                    endpoint_url=self._endpoint_url,
                    region=self._region,
                    config=BotoConfig(
                        retries={"total_max_attempts": 1, "mode": "standard"},
                        max_pool_connections=API_THREADS,
                        tcp_keepalive=True,
                    ),
                )
            except ClientSetupError as exc:
                raise SetupError(str(exc)) from exc
        if self._store is None:
            from shardflow.consumer.sqlite_store import SQLiteCheckpointStore

            self._store = await self._db(SQLiteCheckpointStore)
        summary = await self._startup_call("describe_stream_summary", StreamName=self.stream)
        if self.config.fan_out is not None:
            self._events_pool = ThreadPoolExecutor(
                EVENT_THREADS, thread_name_prefix="shardflow-sub"
            )
            arn = summary["StreamDescriptionSummary"]["StreamARN"]
            tolerate_missing_initial_response(self._client)
            self.consumer_arn = await fanout.stream_consumer(self._api, arn, self.config.fan_out)
        created = summary["StreamDescriptionSummary"].get("StreamCreationTimestamp")
        stamp = int(created.timestamp() * 1000) if created is not None else 0
        # A stream deleted and created again under the same name starts from scratch.
        self.scope = f"{self.config.application}/{self.stream}@{stamp}"
        self.shards = await self._list_shards(startup=True)
        self._distribution_read = time.monotonic()
        self._set_distribution(record_distribution(summary["StreamDescriptionSummary"]))
        await self._round()
        self._tasks = [
            asyncio.create_task(self._coordinate(), name="shardflow-coordinator"),
            asyncio.create_task(self._flush_loop(), name="shardflow-checkpointer"),
        ]

    async def _startup_call(self, operation: str, **params: Any) -> dict[str, Any]:
        backoff = Backoff()
        for attempt in range(STARTUP_ATTEMPTS):
            try:
                return await self._api(operation, **params)
            except Exception as exc:
                err = translate(exc, stream=self.stream, endpoint=self.endpoint)
                if not err.retriable or attempt == STARTUP_ATTEMPTS - 1:
                    raise err from None
            await asyncio.sleep(backoff.next())
        raise AssertionError("unreachable")

    async def close(self, *, processed_last: bool = True) -> None:
        """Stop reading, checkpoint what was processed and hand the leases back.

        ``processed_last``: the batch handed out last counts as processed (auto_checkpoint).
        """
        if self._stopped or not self._started:
            return
        self._stopped = True
        self._wake.set()
        if processed_last and self.config.auto_checkpoint and self._last is not None:
            state, batch = self._last
            state.mark_processed(batch.last)
        self._last = None
        tasks = list(self._tasks) + [s.task for s in self._states.values() if s.task]
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        if self._store is not None:
            with contextlib.suppress(Exception):
                await self._flush()
            for state in list(self._states.values()):
                with contextlib.suppress(Exception):
                    await self._release(state)
            if self._own_store:
                await self._db(self.store.close)
        if self.config.deregister_on_close and self.consumer_arn is not None:
            with contextlib.suppress(Exception):
                await self.deregister_stream_consumer()
        self._queue.put_nowait(Stop())
        for pool in (self._api_pool, self._store_pool, self._events_pool):
            if pool is not None:
                pool.shutdown(wait=False, cancel_futures=True)

    async def deregister_stream_consumer(self) -> None:
        """Deregister the fan-out stream consumer (``fan_out``): its subscriptions end, and
        every worker reading as it stops receiving. Never done unless asked."""
        if self.consumer_arn is None:
            raise ConsumerError("this consumer does not read with enhanced fan-out")
        await fanout.deregister(self._api, self.consumer_arn)

    async def __aenter__(self) -> AsyncConsumer:
        await self.start()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        # An exception inside the loop body means the last batch was not processed.
        await self.close(processed_last=exc is None)

    # --- what the application sees ---------------------------------------------------------

    def __aiter__(self) -> AsyncConsumer:
        return self

    async def __anext__(self) -> Batch:
        if not self._started:
            await self.start()
        if self._last is not None:
            state, batch = self._last
            self._last = None
            if self.config.auto_checkpoint:
                state.mark_processed(batch.last)
        if self._failure is not None:
            raise self._failure
        item = await self._queue.get()
        if isinstance(item, Stop):
            self._queue.put_nowait(item)  # later calls stop too
            if self._failure is not None:
                raise self._failure
            raise StopAsyncIteration
        self._slots.release()
        self._last = item
        self.records_delivered += len(item[1].records)
        return item[1]

    async def records(self) -> AsyncIterator[Record]:
        """Every record, one at a time (a batch counts as processed once all of it was read)."""
        async for batch in self:
            for record in batch.records:
                yield record

    async def checkpoint(self, record: Record | Batch | None = None) -> None:
        """Checkpoint now: at ``record`` (or the batch's last record), else at what was processed.

        With ``auto_checkpoint=False`` this is the only way positions advance.
        """
        if record is not None:
            position = record.last if isinstance(record, Batch) else record.position
            state = self._states.get(record.shard_id)
            if state is None or state.lost:
                raise LeaseLost(f"{record.shard_id} is no longer leased by this worker")
            state.mark_processed(position)
        await self._flush()

    @property
    def millis_behind_latest(self) -> dict[str, int | None]:
        """Per leased shard: how far behind the tip the last GetRecords call was (0: caught up)."""
        return {
            shard: state.reader.millis_behind_latest if state.reader else None
            for shard, state in sorted(self._states.items())
        }

    @property
    def owned_shards(self) -> list[str]:
        return sorted(s for s, state in self._states.items() if not state.lost)

    # --- readers ---------------------------------------------------------------------------

    async def _deliver(self, state: ShardState, batch: Batch) -> None:
        await self._slots.acquire()
        if state.lost or time.monotonic() - state.renewed >= self.config.lease_duration:
            # Another worker may own the shard by now (the lease table was out of reach, or
            # the loop too busy to renew): hand nothing more out; the reader is cancelled.
            self._slots.release()
            if not state.lost:
                self._lose(state.lease.shard_id, "not renewed within the lease duration")
            return
        state.delivered = batch.last
        state.settled.clear()
        self._queue.put_nowait((state, batch))

    def _start_reader(self, lease: Lease) -> None:
        state = ShardState(lease)
        state.reader = self._reader(state, lease)
        state.task = asyncio.create_task(self._read(state), name=f"shardflow-{lease.shard_id}")
        self._states[lease.shard_id] = state
        log.info(
            "%s: reading %s from %s",
            self.config.worker_id,
            lease.shard_id,
            lease.checkpoint or self.config.start,
        )

    def _reader(self, state: ShardState, lease: Lease) -> ShardReader | fanout.FanOutReader:
        """A GetRecords reader, or a SubscribeToShard one with ``fan_out``."""
        info = next((s for s in self.shards if s.shard_id == lease.shard_id), None)
        common: dict[str, Any] = dict(
            stream=self.stream,
            shard_id=lease.shard_id,
            checkpoint=lease.checkpoint,
            call=self._api,
            deliver=functools.partial(self._deliver, state),
            config=self.config,
            endpoint=self.endpoint,
            hash_range=info.hash_range if info is not None and self._by_key(info) else None,
        )
        if self.consumer_arn is not None:
            assert self._events_pool is not None
            return fanout.FanOutReader(
                consumer_arn=self.consumer_arn, events_pool=self._events_pool, **common
            )
        pacer = ReadPacer() if self.config.read_limits else Unpaced()
        return ShardReader(pacer=pacer, **common)

    async def _read(self, state: ShardState) -> str:
        assert state.reader is not None
        try:
            outcome = await state.reader.run()
        except asyncio.CancelledError:
            raise
        except BaseException as exc:
            self._fail(exc)
            raise
        if outcome == AT_TIP:
            self._caught_up.add(state.lease.shard_id)
            self._wake.set()
            return outcome
        # Shard end: children may start once the application has processed all of this one.
        await state.settled.wait()
        state.processed = SHARD_END
        await self._flush_one(state)
        await self._release(state)
        state.lost = True  # nothing more to do with it
        if self._states.get(state.lease.shard_id) is state:
            del self._states[state.lease.shard_id]
        self._wake.set()
        return outcome

    def _fail(self, exc: BaseException) -> None:
        if self._failure is None:
            self._failure = exc
            self._queue.put_nowait(Stop())

    def _lose(self, shard_id: str, why: str) -> None:
        state = self._states.pop(shard_id, None)
        if state is None:
            return
        state.lost = True
        if state.task is not None:
            state.task.cancel()
        log.warning("%s: lost lease on %s (%s)", self.config.worker_id, shard_id, why)
