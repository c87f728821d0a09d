"""RecordBuffer: the user records put and not yet settled, for backpressure and flush.

put() adds to it and waits while it is full; the sender and the shard-map refresher settle
records out of it (written, failed or expired) through ``written``/``failed``, which also keep
the KPL metrics; flush waits until it is empty.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Callable

from shardflow.producer.batch import Entry
from shardflow.producer.config import ProducerConfig
from shardflow.producer.errors import BufferFullError
from shardflow.producer.metrics import ProducerMetrics


class RecordBuffer:
    """Counts of user records and bytes buffered, with the put() and flush() waiters."""

    def __init__(self, config: ProducerConfig, metrics: ProducerMetrics) -> None:
        self.config = config
        self.metrics = metrics
        self.records = 0
        self.nbytes = 0
        self._max_records = config.max_buffered_records
        self._max_bytes = config.max_buffered_bytes
        self._room_waiters: list[asyncio.Future[None]] = []
        self._empty_waiters: list[asyncio.Future[None]] = []

    def has_room(self, records: int = 1, nbytes: int = 0) -> bool:
        return (
            self.records + records <= self._max_records and self.nbytes + nbytes <= self._max_bytes
        ) or (records == 1 and self.records == 0)  # one oversized record still goes

    def add(self, nbytes: int, records: int = 1) -> None:
        """User records put (``nbytes`` in all)."""
        self.records += records
        self.nbytes += nbytes
        self.metrics.user_records_received += records

    def full_error(self, after: float | None = None) -> BufferFullError:
        held = f"{self.records} records, {self.nbytes} bytes buffered"
        if after is None:
            return BufferFullError(f"producer buffer full ({held})")
        return BufferFullError(
            f"producer buffer still full after {after}s ({held}): the stream is not keeping up"
        )

    async def wait_for_room(
        self, records: int, nbytes: int, put_timeout: float | None, check_open: Callable[[], None]
    ) -> None:
        """Wait until the buffer can take this much; BufferFullError after ``put_timeout``."""
        deadline = None if put_timeout is None else time.monotonic() + put_timeout
        loop = asyncio.get_running_loop()
        while not self.has_room(records, nbytes):
            check_open()
            fut = loop.create_future()
            self._room_waiters.append(fut)
            timeout = None if deadline is None else deadline - time.monotonic()
            if timeout is not None and timeout <= 0:
                raise self.full_error(put_timeout)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(fut, timeout)

    async def wait_empty(self) -> None:
        """Wait until every record put has an outcome."""
        while self.records:
            fut = asyncio.get_running_loop().create_future()
            self._empty_waiters.append(fut)
            await fut

    # -- settling -------------------------------------------------------------------------------

    def written(self, entry: Entry) -> None:
        """Every user record of a written entry is settled."""
        m = self.metrics
        n = len(entry.futures)
        m.user_records_put += n
        m.user_records_data_put += entry.user_bytes
        self.release(n, entry.user_bytes)

    def failed(self, entry: Entry, expired: bool = False) -> None:
        """Every user record of an entry failed (its futures already hold the error)."""
        n = len(entry.futures)
        if expired:
            self.metrics.user_records_expired += n
        else:
            self.metrics.user_records_failed += n
        self.release(n, entry.user_bytes)

    def release(self, records: int, nbytes: int) -> None:
        """Records settled: wake put() callers waiting for room, flush() waiting for none."""
        self.records -= records
        self.nbytes -= nbytes
        if self._room_waiters and self.has_room():
            waiters, self._room_waiters = self._room_waiters, []
            for w in waiters:
                if not w.done():
                    w.set_result(None)
        if not self.records and self._empty_waiters:
            waiters, self._empty_waiters = self._empty_waiters, []
            for w in waiters:
                if not w.done():
                    w.set_result(None)
