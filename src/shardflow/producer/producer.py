"""AsyncProducer (asyncio): put() records, get futures; a sender writes them with PutRecords.

Shape (aiokafka's), each part in its own module: ``Accumulator`` (per-shard queues, aggregation,
linger, drain_ready; the only writer of queue state) → ``Sender`` (calls in flight, send, handle
the response or the error, back off; retries decided in one place) → a ``Transport`` (botocore
in a thread pool, or an async client). ``ShardMapRefresher`` reloads the shard map and the
distribution strategy when records land where they were not expected; ``RecordBuffer`` counts
what is put and not yet settled (backpressure, flush). This class is the front that wires them.

The stream's RecordDistributionStrategy (DescribeStreamSummary, with the shard map) decides the
routing: by key onto per-shard queues, or, on an AUTO stream that places records itself, onto one
queue whose results are taken wherever they land (``Accumulator.by_service``).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Sequence
from typing import Any

from botocore.config import Config as BotoConfig

from shardflow.aws import endpoint_override, kinesis_client
from shardflow.model.distribution import AUTO, USER_PARTITION_KEY
from shardflow.model.limits import MAX_RECORD_BYTES, record_size
from shardflow.producer.accumulator import Accumulator, KeyedRecord
from shardflow.producer.buffer import RecordBuffer
from shardflow.producer.config import ProducerConfig
from shardflow.producer.errors import (
    ProducerClosedError,
    ProducerError,
    RecordTooLargeError,
    classify,
)
from shardflow.producer.future import RecordFuture, RecordResult
from shardflow.producer.metrics import ProducerMetrics
from shardflow.producer.refresher import ShardMapRefresher, note_auto
from shardflow.producer.sender import Sender
from shardflow.producer.shardmap import ShardMap, StrategyReader, list_shards
from shardflow.producer.transport import Transport

YIELD_EVERY = 512  # a power of two; put() lets the sender run at least this often in a tight loop


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


class AsyncProducer:
    """Writes records to one Kinesis stream through batched, aggregated PutRecords calls.

    Use as ``async with AsyncProducer("stream", endpoint_url=...) as p:``, then
    ``fut = await p.put(data, key)``.
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
        self._buffer = RecordBuffer(self.config, self.metrics)
        self._transport: Transport | None = None
        self._acc: Accumulator | None = None
        self._sender: Sender | None = None
        self._refresher: ShardMapRefresher | None = None
        self._sender_task: asyncio.Task[None] | None = None
        self._closed = False
        self._started = False
        self._puts = 0
        self._ttl = self.config.record_ttl
        self._linger = self.config.linger

    # -- lifecycle ------------------------------------------------------------------------------

    async def start(self) -> None:
        """Build the client if needed and load the shard map (fails early on a wrong stream)."""
        if self._started:
            return
        client = self._client
        if client is None:
            client = await self._make_client()
        transport = self._transport = Transport(client, self.config.max_inflight)
        try:
            shards = await list_shards(transport.call, self.stream_name)
        except Exception as exc:
            transport.close()
            raise classify(exc) from exc
        strategy = StrategyReader(transport.call, self.stream_name)
        by_service = await strategy.read() == AUTO
        now = time.monotonic()
        acc = self._acc = Accumulator(
            self.config, ShardMap.from_list_shards(shards), now, by_service
        )
        refresher = self._refresher = ShardMapRefresher(
            self.config, self.stream_name, acc, transport, self._buffer, strategy, now
        )
        sender = self._sender = Sender(
            self.config, self.stream_name, acc, transport, self._buffer, refresher
        )
        acc.on_full = sender.wake
        refresher.wake = sender.wake
        refresher.sending = self._sending
        if by_service:
            note_auto(self.stream_name, self.config.ordered)
        self._started = True
        self._sender_task = asyncio.get_running_loop().create_task(sender.run())
        if self.config.strategy_refresh is not None:
            refresher.watch(self.config.strategy_refresh)

    def _sending(self) -> bool:
        return self._sender_task is not None and not self._sender_task.done()

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

    async def __aenter__(self) -> AsyncProducer:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    async def flush(self) -> None:
        """Send everything buffered now and wait until every record has an outcome."""
        sender = self._sender
        if sender is None:
            return
        sender.begin_flush()
        try:
            await self._buffer.wait_empty()
        finally:
            sender.end_flush()

    async def close(self) -> None:
        """Stop accepting records, flush them all, stop the sender. Loses nothing."""
        if self._closed:
            return
        self._closed = True
        if not self._started:
            return
        await self.flush()
        assert self._sender is not None and self._refresher is not None
        assert self._transport is not None
        self._sender.close()
        if self._sender_task is not None:
            await self._sender_task
        await self._refresher.close()
        await self._sender.wait_tasks()
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
        return self._buffer.records

    def has_room(self, records: int = 1, nbytes: int = 0) -> bool:
        return self._buffer.has_room(records, nbytes)

    def put_nowait(
        self,
        data: bytes | str,
        partition_key: str,
        explicit_hash_key: str | None = None,
        *,
        check_room: bool = True,
    ) -> RecordFuture:
        """Buffer a record now, or raise BufferFullError if there is no room.

        ``check_room=False`` buffers it even past the limits: for a caller that counted room
        itself before committing to the record (the sync front's inbox).
        """
        if isinstance(data, str):
            data = data.encode()
        size = record_size(data, partition_key)
        if check_room and not self._buffer.has_room(1, size):
            raise self._buffer.full_error()
        return self._append(data, partition_key, explicit_hash_key, size)

    def put_many_nowait(self, records: Sequence[KeyedRecord]) -> list[RecordFuture]:
        """Buffer several records (each with ``partition_key`` and ``data`` bytes, no explicit
        hash key) in order, all or none: BufferFullError if they do not all fit now,
        RecordTooLargeError if one is too large. One call for a burst costs less per record
        than a ``put_nowait`` each (``produce taxi`` puts its events this way)."""
        sizes = [record_size(r.data, r.partition_key) for r in records]
        total = sum(sizes)
        buffer = self._buffer
        if not buffer.has_room(len(sizes), total):
            raise buffer.full_error()
        sender = self._sender
        if self._closed or sender is None or sender.fatal is not None:
            self._check_open()
        assert sender is not None and self._acc is not None
        if sizes and max(sizes) > MAX_RECORD_BYTES:
            raise RecordTooLargeError(f"record of {max(sizes)} bytes (data + key) exceeds 1 MiB")
        futures, started = self._acc.append_many(records, sizes, time.monotonic, self._ttl)
        buffer.add(total, len(sizes))
        if started is not None:
            sender.wake_by(started + self._linger)  # a new linger deadline: maybe earlier
        return futures

    async def put(
        self, data: bytes | str, partition_key: str, explicit_hash_key: str | None = None
    ) -> RecordFuture:
        """Buffer a record, waiting while the buffer is full (up to ``put_timeout``).

        Returns at once with the record's future; ``await`` that for the shard and sequence number.
        """
        if isinstance(data, str):
            data = data.encode()
        size = record_size(data, partition_key)
        buffer = self._buffer
        if not buffer.has_room(1, size):
            await buffer.wait_for_room(1, size, self.config.put_timeout, self._check_open)
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
        await self._buffer.wait_for_room(records, nbytes, self.config.put_timeout, self._check_open)

    def _check_open(self) -> None:
        if self._closed:
            raise ProducerClosedError("the producer is closed")
        if self._sender is not None and self._sender.fatal is not None:
            raise self._sender.fatal
        if not self._started:
            raise ProducerError("the producer is not started: use `async with` or start()")

    def _append(
        self, data: bytes, partition_key: str, explicit_hash_key: str | None, size: int
    ) -> RecordFuture:
        sender = self._sender
        if self._closed or sender is None or sender.fatal is not None:
            self._check_open()
        assert sender is not None
        if size > MAX_RECORD_BYTES:
            raise RecordTooLargeError(f"record of {size} bytes (data + key) exceeds 1 MiB")
        acc = self._acc
        assert acc is not None
        fut = RecordFuture()
        started = acc.append(
            partition_key, data, explicit_hash_key, fut, size, time.monotonic, self._ttl
        )
        self._buffer.add(size)
        if started is not None:
            sender.wake_by(started + self._linger)  # a new linger deadline: maybe earlier
        return fut

    def stats(self) -> dict[str, Any]:
        return self.metrics.snapshot(pending=self._buffer.records)
