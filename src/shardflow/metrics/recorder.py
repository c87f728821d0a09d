"""Per-second figures per stream and per shard, under the CloudWatch names, from engine events.

The coordinator of the metrics package. On the request path it costs one ``list.append`` per
event: it subscribes the append of its pending list to the engine's event bus. The pending events
are folded (``rollup``) into the open second when that second closes (a tick on the event loop
just after each second boundary) and whenever someone reads (a scrape, the dashboard, the CLI),
so a read is exact to the last call.

History (``history``): the last hour at 1 s and the last day at 1 min, in memory, and persisted
to ``metrics.sqlite3`` in the data dir by one background thread every few seconds (``persist``),
so a restart keeps it. Prometheus counters are cumulative since the process started, as
Prometheus expects. Reads are taken by ``query`` and computed off the loop (``render``).

What was kept while a shard-level metric was enabled stays in the history after it is disabled.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any, cast

from shardflow.engine.events import Event, EventBus, Subscriber
from shardflow.metrics import query, series
from shardflow.metrics.bounds import MAX_SERIES, Exists, SeriesBudget, any_stream
from shardflow.metrics.catalogue import Catalogue, Listing
from shardflow.metrics.history import MINUTE_HISTORY_S, SECOND_HISTORY_S, History
from shardflow.metrics.persist import Persister
from shardflow.metrics.points import Point, plain
from shardflow.metrics.rollup import (
    DURATION_BUCKETS_S,
    Rollup,
    ShardMetrics,
    enabled_on,
    every_shard_metric,
)
from shardflow.metrics.series import RANGES, QueryView
from shardflow.metrics.snapshot import Snapshot, StreamInfo

__all__ = [
    "DURATION_BUCKETS_S",
    "MINUTE_HISTORY_S",
    "RANGES",
    "SECOND_HISTORY_S",
    "MetricsRecorder",
    "enabled_on",
]

log = logging.getLogger(__name__)

PERSIST_INTERVAL_S = 5.0  # a kill -9 loses at most this much history
TICK_SLACK_S = 0.002  # tick just after the boundary, so the second has really ended


class MetricsRecorder:
    """Subscribes to the engine's events; answers the dashboard, the CLI and Prometheus."""

    def __init__(
        self,
        path: Path | None = None,
        clock: Callable[[], float] = time.time,
        shard_metrics: ShardMetrics = every_shard_metric,
        exists: Exists = any_stream,
        max_series: int = MAX_SERIES,
    ) -> None:
        self._clock = clock
        self._path = path
        self.budget = SeriesBudget(exists, max_series)
        self.catalogue = Catalogue()  # what ListMetrics lists
        self._rollup = Rollup(self.budget, shard_metrics)
        self._pending: list[Event] = []
        # EventBus calls subscribers positionally, so the bare append satisfies the protocol.
        self.subscriber = cast(Subscriber, self._pending.append)
        self.started_at = clock()
        self._history = History(int(self.started_at))
        self._persister: Persister | None = None
        self._task: asyncio.Task[None] | None = None
        self._bus: EventBus | None = None

    # -- lifecycle -------------------------------------------------------------------------

    async def start(self, bus: EventBus) -> None:
        """Load the persisted history, subscribe to ``bus`` and start ticking."""
        if self._path is not None:
            self._persister = Persister(self._path)
            rows = await self._persister.open(int(self._clock()))
            self._history.restore(rows)
            for resolution, stream, ts, point in rows:
                self.budget.restore(stream, point.keys())
                self.catalogue.note(stream, point, ts - ts % 60 if resolution == 1 else ts)
        bus.subscribe(self.subscriber)
        self._bus = bus
        self._task = asyncio.create_task(self._tick_forever(), name="shardflow-metrics")

    async def stop(self) -> None:
        """Unsubscribe, close the open second and write what is not on disk yet."""
        if self._bus is not None:
            self._bus.unsubscribe(self.subscriber)
            self._bus = None
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
        self.roll(max(int(self._clock()), self._history.second + 1))
        if self._persister is not None:
            await self._save()
            await self._persister.close()
            self._persister = None

    async def _tick_forever(self) -> None:
        last_save = time.monotonic()
        while True:
            await asyncio.sleep(1.0 - self._clock() % 1.0 + TICK_SLACK_S)
            try:
                self.roll()
                if (
                    self._persister is not None
                    and time.monotonic() - last_save >= PERSIST_INTERVAL_S
                ):
                    last_save = time.monotonic()
                    await self._save()
            except Exception:  # keep ticking: a failed write is retried with the next one
                log.exception("metrics tick failed")

    async def _save(self) -> None:
        assert self._persister is not None
        history = self._history
        rows, history.unsaved = history.unsaved, []
        try:
            await self._persister.save(rows, int(self._clock()))
        except Exception:
            history.unsaved = rows + history.unsaved
            raise

    # -- folding events in -----------------------------------------------------------------

    def roll(self, now_s: int | None = None) -> None:
        """Fold pending events into the open second; close it if its time is over."""
        now = int(self._clock()) if now_s is None else now_s
        pending = self._pending
        n = len(pending)
        if n:
            batch = pending[:n]
            del pending[:n]
            self._rollup.fold(batch)
        history = self._history
        if now <= history.second:
            return
        history.close_second(self._rollup.take())
        history.second = now
        minute = now - now % 60
        if minute != history.minute:
            ts = history.minute
            for stream, point in history.close_minute().items():
                self.catalogue.note(stream, point, ts)
            history.minute = minute
            self._prune()

    def _prune(self) -> None:
        """Forget streams that are gone: their gauges at once, the rest after the history.

        A deleted stream's figures stay readable (dashboard, Prometheus counters) as long as its
        history keeps any point: a day at 1 min. Then every trace of it goes.
        """
        gone = [name for name in self.budget.kept if not self.budget.exists(name)]
        if not gone:
            return
        self._rollup.forget_gauges(set(gone))
        for name in gone:
            if name in self._rollup.open or self._history.has(name):
                continue
            self.budget.forget(name)
            self.catalogue.forget(name)
            self._history.forget(name)
            self._rollup.forget_counters(name)

    # -- reading ---------------------------------------------------------------------------

    def streams(self) -> list[str]:
        """Streams with any figure in memory."""
        self.roll()
        return sorted(self._history.streams() | set(self._rollup.open))

    def totals(self) -> dict[str, dict[str, dict[str, list[float]]]]:
        """Everything since the process started, per stream, each stat as the plain list
        ``[samples, sum, min, max]`` (as on disk)."""
        self.roll()
        return {
            stream: plain(point)
            for stream, point in query.totals(self._history, self._rollup.open).items()
        }

    def calls(self) -> dict[tuple[str, str, str], int]:
        self.roll()
        return dict(self._rollup.calls)

    def durations(self) -> dict[tuple[str, str], list[float]]:
        self.roll()
        return {key: list(hist) for key, hist in self._rollup.durations.items()}

    def iterator_ages(self) -> dict[str, int]:
        """Per stream, the largest MillisBehindLatest of its shards' last GetRecords calls."""
        self.roll()
        out: dict[str, int] = {}
        for (stream, _shard), ms in self._rollup.last_age.items():
            out[stream] = max(ms, out.get(stream, ms))
        return out

    def consumer_lags(self) -> dict[tuple[str, str, str], int]:
        """(stream, consumer, shard) -> MillisBehindLatest of the last SubscribeToShardEvent."""
        self.roll()
        return dict(self._rollup.behind)

    def shard_iterator_ages(self) -> dict[tuple[str, str], int]:
        """(stream, shard) -> MillisBehindLatest of the last GetRecords while it was enabled."""
        self.roll()
        return dict(self._rollup.shard_age)

    def shard_metrics(self, stream: str) -> list[str]:
        """The shard-level metrics enabled on ``stream`` now, in the setting's order."""
        return self._rollup.shard_metrics(stream)

    def recent_parts(self, stream: str, seconds: int = 60) -> list[Point]:
        """The points that make ``recent``: closed ones shared (never changed once closed),
        open ones copied, so another thread may merge them."""
        self.roll()
        return query.recent_parts(self._history, self._rollup.open, stream, seconds)

    def query_view(self, stream: str, range_name: str, shard_ids: Iterable[str] = ()) -> QueryView:
        """What ``query`` reads, taken on the event loop: cheap, and safe to compute elsewhere."""
        self.roll()
        return query.view(
            self._history,
            self._rollup.open,
            stream,
            range_name,
            self.shard_metrics(stream),
            shard_ids,
        )

    def query(self, stream: str, range_name: str, shard_ids: Iterable[str] = ()) -> dict[str, Any]:
        """Chart-ready series of one stream over a time range (see ``series.compute``)."""
        return series.compute(self.query_view(stream, range_name, shard_ids))

    def snapshot(self, streams: list[StreamInfo]) -> Snapshot:
        """Everything a scrape shows, copied on the event loop so it renders in a thread."""
        self.roll()
        totals = query.totals(self._history, self._rollup.open)
        rollup = self._rollup
        return Snapshot(
            totals=totals,
            calls=dict(rollup.calls),
            durations={key: list(hist) for key, hist in rollup.durations.items()},
            iterator_ages=self.iterator_ages(),
            shard_iterator_ages=dict(rollup.shard_age),
            consumer_lags=dict(rollup.behind),
            queue_depths=dict(rollup.queue_depths),
            shard_metrics={stream: self.shard_metrics(stream) for stream in totals},
            streams=streams,
            series=self.budget.count,
            max_series=self.budget.max_series,
            series_refused=self.budget.refused,
        )

    # -- CloudWatch's API (shardflow.cloudwatch) ----------------------------------------------

    def listing(self) -> Listing:
        """Every metric with data and the last minute it had some, the open minute included."""
        self.roll()
        return query.listing(self.catalogue, self._history, self._rollup.open)

    def points(self, stream: str, start: int, end: int, resolution: int) -> list[tuple[int, Point]]:
        """``stream``'s points at 1 s or 60 s with ``start <= ts < end``, the open one included
        (merged and copied); closed ones are shared, so the list may be read in another thread."""
        self.roll()
        return query.points(self._history, self._rollup.open, stream, start, end, resolution)
