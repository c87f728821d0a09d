"""ON_DEMAND capacity: streams that double their shards under sustained load, as on AWS.

An ON_DEMAND stream starts with 4 shards (4 MiB/s, 4,000 records/s of writes). When its write
rate stays above half of its capacity for a whole observation window, it doubles its open shards
with the same uniform splits UpdateShardCount makes, so consumers see ordinary resharding
(closed parents, children, ChildShards at the end of a parent).

The window is ``serve --on-demand-window-s`` (default 60 s); capacities follow the throughput
limits, including ``--limits-scale``.

A warm throughput (CreateStream, UpdateStreamMode, UpdateStreamWarmThroughput) pre-scales the
stream the same way, at once, to one shard per MiB/s (never below the 4 an ON_DEMAND stream starts
with); a call at or below the previous warm throughput releases the excess by merges. One shard
per MiB/s is AWS's write capacity of a shard: ``--limits-scale`` changes what a shard takes, not
how many shards a MiB/s means.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import math
from collections import deque
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING

from shardflow import errors
from shardflow.engine.events import Event, EventBus, RecordsIn
from shardflow.engine.limits import WRITE_BYTES_PER_S, WRITE_RECORDS_PER_S
from shardflow.engine.tenancy import account_or
from shardflow.model.enums import StreamMode, StreamStatus

if TYPE_CHECKING:
    from shardflow.engine.streams import Stream

log = logging.getLogger(__name__)

SCALE_UP_THRESHOLD = 0.5  # of the stream's write capacity, held for the whole window
TICK_S = 1.0
INITIAL_SHARDS = 4  # AWS: an ON_DEMAND stream starts with 4 MiB/s and 4,000 records/s of writes
MIB_PER_SHARD = 1  # AWS: a shard takes 1 MiB/s of writes; warm throughput counts in these
MAX_WARM_THROUGHPUT_MIBPS = 10_240  # AWS: an on-demand stream warms to at most 10 GiBps


def warm_shards(mibps: int) -> int:
    """Open shards an ON_DEMAND stream needs to take ``mibps`` of writes at once."""
    return max(INITIAL_SHARDS, math.ceil(mibps / MIB_PER_SHARD))


def current_mibps(stream: Stream) -> int:
    """What the stream is scaled to take now (WarmThroughput.CurrentMiBps): its open shards."""
    return stream.open_shard_count * MIB_PER_SHARD


class OnDemandScaler:
    """Grows busy ON_DEMAND streams and applies warm throughputs, through ``scale`` (the
    resharder's uniform rescale)."""

    def __init__(
        self,
        *,
        account_id: str,
        window_s: float,
        limits_scale: float,
        events: EventBus,
        live_streams: Callable[[], list[Stream]],
        scale: Callable[[Stream, int], Awaitable[None]],
        check_shard_limit: Callable[[int], None],
    ) -> None:
        self._account_id = account_id
        self._limits_scale = limits_scale
        self._events = events
        self._live_streams = live_streams
        self._scale = scale
        self._check_shard_limit = check_shard_limit
        self.window = max(1, round(window_s / TICK_S))
        # Per stream: the current tick's (records, bytes) and the recent ticks' utilisation.
        self._current: dict[str, list[int]] = {}
        self._history: dict[str, deque[float]] = {}
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        self._events.subscribe(self._observe)
        self._task = asyncio.create_task(self._run())

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task

    def _observe(self, event: Event) -> None:
        if isinstance(event, RecordsIn):
            counts = self._current.setdefault(event.stream, [0, 0])
            counts[0] += event.records
            counts[1] += event.bytes

    async def _run(self) -> None:
        while True:
            await asyncio.sleep(TICK_S)
            try:
                await self.tick()
            except Exception:  # keep watching; a failed scale-up is retried next tick
                log.exception("on-demand scaling failed")

    async def tick(self) -> None:
        """Fold the last tick into each ON_DEMAND stream's history; double where it is due."""
        current, self._current = self._current, {}
        scale = self._limits_scale
        for stream in self._live_streams():
            if stream.mode != StreamMode.ON_DEMAND:
                self._history.pop(stream.name, None)
                continue
            records, size = current.get(stream.name, (0, 0))
            shards = stream.open_shard_count
            utilisation = max(
                records / (shards * WRITE_RECORDS_PER_S * scale * TICK_S),
                size / (shards * WRITE_BYTES_PER_S * scale * TICK_S),
            )
            history = self._history.setdefault(stream.name, deque(maxlen=self.window))
            history.append(utilisation)
            busy = len(history) == self.window and min(history) > SCALE_UP_THRESHOLD
            if busy and stream.current_status() == StreamStatus.ACTIVE:
                history.clear()
                log.info(
                    "on-demand stream %s: scaling from %d to %d shards",
                    stream.name,
                    shards,
                    2 * shards,
                )
                await self._scale(stream, 2 * shards)

    def check_warm_throughput(self, stream_name: str, mibps: int, open_shards: int) -> int:
        """The open shards ``mibps`` needs; AWS's LimitExceededException over 10 GiBps or when
        the extra shards would exceed the account's shard limit (nothing changes then)."""
        if mibps > MAX_WARM_THROUGHPUT_MIBPS:
            raise errors.LimitExceededException(
                f"Warm throughput of {mibps} MiBps for stream {stream_name} under account"
                f" {account_or(self._account_id)} exceeds the limit of {MAX_WARM_THROUGHPUT_MIBPS}"
                " MiBps for an on-demand stream."
            )
        target = warm_shards(mibps)
        if target > open_shards:
            self._check_shard_limit(target - open_shards)
        return target

    async def warm(self, stream: Stream, target_shards: int, *, release: bool) -> None:
        """Rescale uniformly up to ``target_shards`` open shards, or down to it with ``release``
        (a warm throughput at or below the previous one releases the excess)."""
        shards = stream.open_shard_count
        if target_shards > shards or (release and target_shards < shards):
            log.info(
                "on-demand stream %s: warm throughput, from %d to %d shards",
                stream.name,
                shards,
                target_shards,
            )
            await self._scale(stream, target_shards)
