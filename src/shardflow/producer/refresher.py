"""The shard-map refresher: reloads the shard map and the distribution strategy when a record
lands on a shard the producer did not expect (resharded, or the stream now places records
itself), every ``strategy_refresh`` seconds, and settles misplaced aggregates.

The queues of shards that changed are held, and their calls in flight answered, before their
records move to the new shards' queues: so no record of a key is in flight to the old shard
while a newer one goes to the new shard. Misplaced aggregated records are settled here and
resent ahead of everything else of their keys.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable

from shardflow.model.distribution import AUTO
from shardflow.model.limits import record_size
from shardflow.producer.accumulator import Accumulator
from shardflow.producer.batch import Entry
from shardflow.producer.buffer import RecordBuffer
from shardflow.producer.config import ProducerConfig
from shardflow.producer.future import RecordFuture
from shardflow.producer.shardmap import ShardMap, StrategyReader, list_shards
from shardflow.producer.transport import Transport

log = logging.getLogger("shardflow.producer")

MAX_STRAYS = 64  # records on an unexpected shard kept until the next refresh looks at them

_Resend = tuple[str, bytes, str | None, RecordFuture, float, float]


def note_auto(stream_name: str, ordered: bool) -> None:
    """Log that the stream places records itself (and what that costs ``ordered``)."""
    log.info("%s: RecordDistributionStrategy AUTO: the stream places records", stream_name)
    if ordered:
        log.warning(
            "%s uses RecordDistributionStrategy AUTO: records of a key go to any shard, so"
            " their order cannot be kept; ordered=True sends as unordered there",
            stream_name,
        )


class ShardMapRefresher:
    """Refreshes the accumulator's shard map and strategy, at most every
    ``shard_map_min_refresh`` seconds, and settles what landed on unexpected shards."""

    def __init__(
        self,
        config: ProducerConfig,
        stream_name: str,
        accumulator: Accumulator,
        transport: Transport,
        buffer: RecordBuffer,
        strategy: StrategyReader,
        now: float,
    ) -> None:
        self.config = config
        self.stream_name = stream_name
        self._acc = accumulator
        self._transport = transport
        self._buffer = buffer
        self._strategy = strategy
        self._last_refresh = now
        self._refreshing = False
        self._again = False
        self._task: asyncio.Task[None] | None = None
        self._tasks: set[asyncio.Task[None]] = set()
        self._watcher: asyncio.Task[None] | None = None
        self._call_done = asyncio.Event()  # set whenever a call's outcome has been handled
        #: Aggregates written to a shard other than the one predicted, with that shard and the
        #: sequence number: settled once a fresh shard map shows that shard's range.
        self._misplaced: list[tuple[Entry, str, str]] = []
        #: Entries written to an unexpected shard, with that shard (a sample, for
        #: ``_placed_by_service`` when DescribeStreamSummary cannot be called).
        self._strays: list[tuple[Entry, str]] = []
        #: Wakes the sender (a refresh changes what is ready); set by the producer.
        self.wake: Callable[[], None] = lambda: None
        #: Whether the sender still runs (else records no longer wait on a refresh).
        self.sending: Callable[[], bool] = lambda: True

    # -- what the sender reports ----------------------------------------------------------------

    def note_stray(self, entry: Entry, shard_id: str) -> None:
        if len(self._strays) < MAX_STRAYS:
            self._strays.append((entry, shard_id))

    def note_misplaced(self, entry: Entry, shard_id: str, sequence: str) -> None:
        self._misplaced.append((entry, shard_id, sequence))

    def call_answered(self) -> None:
        self._call_done.set()

    # -- scheduling -----------------------------------------------------------------------------

    def schedule(self) -> None:
        """Refresh the shard map now, or once ``shard_map_min_refresh`` has passed."""
        if self._refreshing:
            self._again = True
            return
        self._refreshing = True
        delay = self._last_refresh + self.config.shard_map_min_refresh - time.monotonic()
        task = asyncio.get_running_loop().create_task(self._refresh(max(0.0, delay)))
        self._task = task
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    def watch(self, interval: float) -> None:
        """Refresh every ``interval`` seconds: nothing else tells a producer on an AUTO stream
        that it routes by key again, or that it grew."""
        self._watcher = asyncio.get_running_loop().create_task(self._watch(interval))

    async def _watch(self, interval: float) -> None:
        while True:
            await asyncio.sleep(interval)
            self.schedule()

    async def close(self) -> None:
        """Stop watching and refreshing (everything is written: no map is needed any more)."""
        if self._watcher is not None:
            self._watcher.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._watcher
        if self._task is not None:
            self._task.cancel()
        if self._tasks:
            await asyncio.gather(*self._tasks, return_exceptions=True)

    # -- the refresh ----------------------------------------------------------------------------

    async def _refresh(self, delay: float) -> None:
        acc = self._acc
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
            strategy = await self._strategy.read()
            if strategy is None:
                by_service = acc.by_service or self._placed_by_service(ranges)
            else:
                by_service = strategy == AUTO
            while acc.hold_changing(shard_map, by_service):
                self._call_done.clear()
                await self._call_done.wait()
            if any(shard not in ranges for _, shard, _ in self._misplaced):
                self._again = True  # written to a shard newer than this listing
                return
            now = time.monotonic()
            resend = self._settle_misplaced(ranges)
            switched = by_service != acc.by_service
            moved = acc.remap(shard_map, now, by_service)
            self._strays = []
            for key, data, ehk, fut, created, deadline in resend:
                acc.append_at(key, data, ehk, fut, created, deadline)
            for entry in moved:
                acc.reroute(entry)
            if switched and by_service:
                note_auto(self.stream_name, self.config.ordered)
            elif switched:
                log.info("%s: routing by partition key again", self.stream_name)
            log.info("shard map refreshed: %d open shards", len(acc.shard_map))
        except Exception as exc:
            log.warning("shard map refresh failed: %s", exc)
            self._again = True
            self._expire_waiting(time.monotonic())
        finally:
            self._last_refresh = time.monotonic()
            self._refreshing = False
            self._task = None
            waiting = self._misplaced or acc.any_held()
            if self._again and waiting and self.sending():
                self.schedule()  # records wait on it
            self._again = False
            self.wake()

    def _placed_by_service(self, ranges: dict[str, tuple[int, int]]) -> bool:
        """Whether a record landed on a shard whose hash-key range lacks its hash key. A shard's
        range never changes, so only a stream that places records itself (AUTO) does that."""
        acc = self._acc
        for entry, shard_id in self._strays:
            got = ranges.get(shard_id)
            h = acc.hash_of(entry.partition_key, entry.explicit_hash_key)
            if got is not None and not got[0] <= h <= got[1]:
                return True
        return False

    def _expire_waiting(self, now: float) -> None:
        """Fail records waiting on a refresh past their TTL (the shard map cannot be loaded).

        A misplaced aggregate fails whole, though part of it is written: its outcome is unknown.
        """
        misplaced, self._misplaced = self._misplaced, []
        for item in misplaced:
            entry = item[0]
            if entry.expired(now):
                entry.expire()
                self._buffer.failed(entry, expired=True)
            else:
                self._misplaced.append(item)
        for entry in self._acc.expire_held(now):
            entry.expire()
            self._buffer.failed(entry, expired=True)

    def _settle_misplaced(self, ranges: dict[str, tuple[int, int]]) -> list[_Resend]:
        """Succeed the user records of misplaced aggregates that are in their shard's range;
        return the others, in order, to be written again."""
        acc = self._acc
        m = self._buffer.metrics
        resend: list[_Resend] = []
        for entry, shard_id, sequence in self._misplaced:
            low, high = ranges[shard_id]
            placed: set[int] = set()
            nbytes = 0
            users = entry.user_records()
            for i, ((key, data, ehk), fut) in enumerate(zip(users, entry.futures, strict=True)):
                if low <= acc.hash_of(key, ehk) <= high:
                    placed.add(i)
                    nbytes += record_size(data, key)
                else:
                    resend.append((key, data, ehk, fut, entry.created, entry.deadline))
            entry.succeed(shard_id, sequence, placed)
            m.user_records_put += len(placed)
            m.user_records_data_put += nbytes
            m.retries += len(users) - len(placed)
            self._buffer.release(len(placed), nbytes)
        self._misplaced = []
        return resend
