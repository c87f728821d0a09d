"""ON_DEMAND capacity: streams that double their shards under sustained load, as on AWS.

An ON_DEMAND stream starts with 4 shards (4 MiB/s, 4,000 records/s of writes). When its write
rate stays above half of its capacity for a whole observation window, it doubles its open shards
with the same uniform splits UpdateShardCount makes, so consumers see ordinary resharding
(closed parents, children, ChildShards at the end of a parent).

The window is ``serve --on-demand-window-s`` (default 60 s); capacities follow the throughput
limits, including ``--limits-scale``.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections import deque
from typing import TYPE_CHECKING

from shardflow.engine.events import Event, RecordsIn
from shardflow.engine.limits import WRITE_BYTES_PER_S, WRITE_RECORDS_PER_S

if TYPE_CHECKING:
    from shardflow.engine.engine import Engine

log = logging.getLogger(__name__)

SCALE_UP_THRESHOLD = 0.5  # of the stream's write capacity, held for the whole window
TICK_S = 1.0


class OnDemandScaler:
    def __init__(self, engine: Engine, window_s: float) -> None:
        self.engine = engine
        self.window = max(1, round(window_s / TICK_S))
        # Per stream: the current tick's (records, bytes) and the recent ticks' utilisation.
        self._current: dict[str, list[int]] = {}
        self._history: dict[str, deque[float]] = {}
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        self.engine.events.subscribe(self._observe)
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
        scale = self.engine.limits.scale
        for stream in self.engine.live_streams():
            if stream.mode != "ON_DEMAND":
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
            if busy and stream.current_status() == "ACTIVE":
                history.clear()
                log.info(
                    "on-demand stream %s: scaling from %d to %d shards",
                    stream.name,
                    shards,
                    2 * shards,
                )
                await self.engine.resharder.scale(stream, 2 * shards)
