"""SyncProducer: the same AsyncProducer for threaded code, its event loop running in a thread.

put() hands records to the loop through a deque (one wake-up per burst, not per record) and blocks
only while the buffer is full; the record's future answers ``result(timeout)``.
"""

from __future__ import annotations

import asyncio
import collections
import threading
from typing import Any

from shardflow.model.limits import record_size
from shardflow.producer.config import ProducerConfig
from shardflow.producer.errors import BufferFullError, ProducerClosedError
from shardflow.producer.future import RecordFuture, RecordResult
from shardflow.producer.producer import AsyncProducer

_Item = tuple[bytes, str, str | None, RecordFuture]


class SyncProducer:
    """Blocking front-end of :class:`AsyncProducer`; same arguments. Use as a context manager."""

    def __init__(self, stream_name: str, *, config: ProducerConfig | None = None, **kwargs: Any):
        self.producer = AsyncProducer(stream_name, config=config, **kwargs)
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(
            target=self._loop.run_forever, name="shardflow-producer-loop", daemon=True
        )
        self._inbox: collections.deque[_Item] = collections.deque()
        self._scheduled = False
        self._sent_records = 0  # written by callers
        self._moved_records = 0  # written by the loop
        self._closed = False
        self._thread.start()
        try:
            self._call(self.producer.start())
        except BaseException:
            self._stop_loop()
            raise

    @property
    def metrics(self) -> Any:
        return self.producer.metrics

    @property
    def record_distribution(self) -> str:
        return self.producer.record_distribution

    def _call(self, coro: Any, timeout: float | None = None) -> Any:
        return asyncio.run_coroutine_threadsafe(coro, self._loop).result(timeout)

    def put(
        self, data: bytes | str, partition_key: str, explicit_hash_key: str | None = None
    ) -> RecordFuture:
        """Buffer a record; blocks while the buffer is full (BufferFullError after put_timeout)."""
        if self._closed:
            raise ProducerClosedError("the producer is closed")
        if isinstance(data, str):
            data = data.encode()
        in_inbox = self._sent_records - self._moved_records
        size = record_size(data, partition_key)
        if not self.producer.has_room(in_inbox + 1, size):
            self._call(self._wait_for_room(size))
        fut = RecordFuture()
        self._inbox.append((data, partition_key, explicit_hash_key, fut))
        self._sent_records += 1
        if not self._scheduled:
            self._scheduled = True
            self._loop.call_soon_threadsafe(self._move)
        return fut

    def put_and_wait(
        self,
        data: bytes | str,
        partition_key: str,
        explicit_hash_key: str | None = None,
        timeout: float | None = None,
    ) -> RecordResult:
        return self.put(data, partition_key, explicit_hash_key).result(timeout)

    async def _wait_for_room(self, nbytes: int) -> None:
        self._move()
        await self.producer.wait_for_room(1, nbytes)

    def _move(self) -> None:
        """On the loop: move the inbox into the producer, keeping each record's future."""
        self._scheduled = False
        inbox = self._inbox
        producer = self.producer
        while inbox:
            data, key, ehk, fut = inbox.popleft()
            self._moved_records += 1
            try:
                inner = producer.put_nowait(data, key, ehk)
            except BufferFullError:
                # Counted room before queueing, so this is a race with another thread: skip the
                # check rather than drop the record.
                inner = producer.put_nowait(data, key, ehk, check_room=False)
            except Exception as exc:
                fut._set_exception(exc)
                continue
            fut.follow(inner)

    def flush(self, timeout: float | None = None) -> None:
        """Block until every record put so far has an outcome."""
        self._call(self._flush(), timeout)

    async def _flush(self) -> None:
        self._move()
        await self.producer.flush()

    def close(self, timeout: float | None = None) -> None:
        """Flush everything, stop the producer and its thread."""
        if self._closed:
            return
        self._closed = True
        try:
            self._call(self._close(), timeout)
        finally:
            self._stop_loop()

    async def _close(self) -> None:
        self._move()
        await self.producer.close()

    def _stop_loop(self) -> None:
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join()
        self._loop.close()

    def stats(self) -> dict[str, Any]:
        return self.producer.stats()

    def __enter__(self) -> SyncProducer:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
