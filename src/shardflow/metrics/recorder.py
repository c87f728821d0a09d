"""Per-second figures per stream and per shard, under the CloudWatch names, from engine events.

On the request path the recorder costs one ``list.append`` per event: it subscribes the append
of its pending list to the engine's event bus. The pending events are folded into the open
second when that second closes (a tick on the event loop just after each second boundary) and
whenever someone reads (a scrape, the dashboard, the CLI), so a read is exact to the last call.

History: the last hour at 1 s and the last day at 1 min, in memory, and persisted to
``metrics.sqlite3`` in the data dir by one background thread every few seconds, so a restart
keeps it. Prometheus counters are cumulative since the process started, as Prometheus expects.

Shard-level figures (enhanced monitoring) are kept only for the metrics enabled on the stream
(EnableEnhancedMonitoring), as CloudWatch receives them only then; the setting is read once per
stream each time events are folded, never per event. What was kept while a metric was enabled
stays in the history after it is disabled.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from bisect import bisect_left
from collections import deque
from collections.abc import Callable, Collection, Iterable, Mapping
from concurrent.futures import ThreadPoolExecutor
from itertools import takewhile
from pathlib import Path
from typing import Any, Protocol, cast

from shardflow.engine.events import (
    CallDone,
    Event,
    EventBus,
    PutRecordsOutcome,
    RecordsIn,
    RecordsOut,
    RecordsPushed,
    SubscribeOutcome,
    Subscriber,
    Throttled,
)
from shardflow.metrics import names, series
from shardflow.metrics.bounds import MAX_SERIES, Exists, SeriesBudget, any_stream
from shardflow.metrics.catalogue import Catalogue, Listing
from shardflow.metrics.points import (
    CONSUMER_LEVEL,
    STREAM_LEVEL,
    add,
    add_stat,
    copy_point,
    level_of,
    merge,
)
from shardflow.metrics.series import RANGES, QueryView
from shardflow.metrics.snapshot import Snapshot, StreamInfo
from shardflow.metrics.store import Metrics, MetricsStore, Point, Row

log = logging.getLogger(__name__)

SECOND_HISTORY_S = 3600  # the last hour at 1 s resolution
MINUTE_HISTORY_S = 86400  # the last day at 1 min resolution
PERSIST_INTERVAL_S = 5.0  # a kill -9 loses at most this much history
TICK_SLACK_S = 0.002  # tick just after the boundary, so the second has really ended
# Prometheus histogram buckets for request durations, in seconds.
DURATION_BUCKETS_S = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5)

_LATENCY = {op: f"{op}.Latency" for op in ("PutRecord", "PutRecords", "GetRecords")}
_SUCCESS = {op: f"{op}.Success" for op in ("PutRecord", "PutRecords", "GetRecords")}
_PUT_BYTES = {"PutRecord": "PutRecord.Bytes", "PutRecords": "PutRecords.Bytes"}
_THROTTLE = {
    "write": "WriteProvisionedThroughputExceeded",
    "read": "ReadProvisionedThroughputExceeded",
}


# stream name -> the shard-level metrics enabled on it now (EnableEnhancedMonitoring's setting)
ShardMetrics = Callable[[str], Collection[str]]


def every_shard_metric(_stream: str) -> Collection[str]:
    """For a recorder with no streams to ask (benchmarks, unit tests): keep every metric."""
    return names.SHARD_BY_NAME.keys()


class _Monitored(Protocol):
    shard_level_metrics: list[str]


def enabled_on(streams: Mapping[str, _Monitored]) -> ShardMetrics:
    """A server's lookup: each stream's enhanced monitoring setting, read live by name."""

    def lookup(stream: str) -> Collection[str]:
        found = streams.get(stream)
        return found.shard_level_metrics if found is not None else ()

    return lookup


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
        self.budget = SeriesBudget(exists, max_series)
        self.catalogue = Catalogue()  # what ListMetrics lists
        self._shard_metrics = shard_metrics
        # each stream's enabled shard-level metrics, asked once per fold (see _enabled)
        self._enabled_now: dict[str, Collection[str]] = {}
        self._pending: list[Event] = []
        # EventBus calls subscribers positionally, so the bare append satisfies the protocol.
        self.subscriber = cast(Subscriber, self._pending.append)
        now = int(clock())
        self.started_at = clock()
        self._second = now  # the open (in-progress) second
        self._open: dict[str, Point] = {}
        # the open second as a previous process left it (a restart within one second):
        # history, but not this process's Prometheus counters
        self._carried: dict[str, Point] = {}
        self._minute = now - now % 60  # the open minute
        self._open_minute: dict[str, Point] = {}
        self._seconds: dict[str, deque[tuple[int, Point]]] = {}
        self._minutes: dict[str, deque[tuple[int, Point]]] = {}
        self._totals: dict[str, Point] = {}  # since start, for Prometheus
        self._calls: dict[tuple[str, str, str], int] = {}  # (stream, operation, outcome)
        # (stream, operation) -> counts per bucket (the last is +Inf), then the sum
        self._durations: dict[tuple[str, str], list[float]] = {}
        # (stream, shard) -> MillisBehindLatest of the shard's last GetRecords, in ms: every
        # read for the stream-level gauge, only reads while IteratorAgeMilliseconds is enabled
        # for the shard-level one
        self._last_age: dict[tuple[str, str], int] = {}
        self._shard_age: dict[tuple[str, str], int] = {}
        # (stream, consumer, shard) -> MillisBehindLatest of the last event pushed, in ms
        self._behind: dict[tuple[str, str, str], int] = {}
        self._unsaved: list[Row] = []
        self._store = MetricsStore(path) if path is not None else None
        self._executor: ThreadPoolExecutor | None = None
        self._task: asyncio.Task[None] | None = None
        self._bus: EventBus | None = None

    # -- lifecycle -------------------------------------------------------------------------

    async def start(self, bus: EventBus) -> None:
        """Load the persisted history, subscribe to ``bus`` and start ticking."""
        if self._store is not None:
            self._executor = ThreadPoolExecutor(1, thread_name_prefix="shardflow-metrics")
            loop = asyncio.get_running_loop()
            await loop.run_in_executor(self._executor, self._store.open)
            now = int(self._clock())
            rows = await loop.run_in_executor(
                self._executor,
                self._store.load,
                now - SECOND_HISTORY_S,
                now - now % 60 - MINUTE_HISTORY_S,
            )
            self._restore(rows)
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
        self.roll(max(int(self._clock()), self._second + 1))
        if self._store is not None and self._executor is not None:
            await self._save()
            await asyncio.get_running_loop().run_in_executor(self._executor, self._store.close)
            self._executor.shutdown()

    async def _tick_forever(self) -> None:
        last_save = time.monotonic()
        while True:
            await asyncio.sleep(1.0 - self._clock() % 1.0 + TICK_SLACK_S)
            try:
                self.roll()
                if self._store is not None and time.monotonic() - last_save >= PERSIST_INTERVAL_S:
                    last_save = time.monotonic()
                    await self._save()
            except Exception:  # keep ticking: a failed write is retried with the next one
                log.exception("metrics tick failed")

    async def _save(self) -> None:
        assert self._store is not None and self._executor is not None
        rows, self._unsaved = self._unsaved, []
        now = int(self._clock())
        try:
            await asyncio.get_running_loop().run_in_executor(
                self._executor,
                self._store.save,
                rows,
                now - SECOND_HISTORY_S,
                now - now % 60 - MINUTE_HISTORY_S,
            )
        except Exception:
            self._unsaved = rows + self._unsaved
            raise

    def _restore(self, rows: list[Row]) -> None:
        """Rebuild the history from disk; minutes never closed are rebuilt from their seconds."""
        minutes: dict[str, dict[int, Point]] = {}
        for resolution, stream, ts, point in rows:
            if resolution == 60:
                minutes.setdefault(stream, {})[ts] = point
        rebuilt: dict[str, dict[int, Point]] = {}
        for resolution, stream, ts, point in rows:
            if resolution != 1:
                continue
            if ts >= self._second:
                # a restart within the second the last server stopped in: carry on with it
                merge(self._carried.setdefault(stream, {}), point)
                continue
            self._seconds.setdefault(stream, deque()).append((ts, point))
            minute = ts - ts % 60
            if minute in minutes.get(stream, {}):
                continue
            if minute == self._minute:
                merge(self._open_minute.setdefault(stream, {}), point)
            else:
                merge(rebuilt.setdefault(stream, {}).setdefault(minute, {}), point)
        for stream, points in rebuilt.items():
            for minute, point in points.items():
                minutes.setdefault(stream, {})[minute] = point
                self._unsaved.append((60, stream, minute, point))
        for stream, points in minutes.items():
            self._minutes[stream] = deque(sorted(points.items()))
        for resolution, stream, ts, point in rows:
            self.budget.restore(stream, point.keys())
            self.catalogue.note(stream, point, ts - ts % 60 if resolution == 1 else ts)

    # -- folding events in -----------------------------------------------------------------

    def roll(self, now_s: int | None = None) -> None:
        """Fold pending events into the open second; close it if its time is over."""
        now = int(self._clock()) if now_s is None else now_s
        self._drain()
        if now <= self._second:
            return
        self._close_second()
        self._second = now
        minute = now - now % 60
        if minute != self._minute:
            self._close_minute()
            self._minute = minute

    def _close_second(self) -> None:
        ts = self._second
        for stream, point in self._open.items():
            merge(self._totals.setdefault(stream, {}), point)
        carried, self._carried = self._carried, {}
        for stream, point in carried.items():
            merge(self._open.setdefault(stream, {}), point)
        for stream, point in self._open.items():
            self._seconds.setdefault(stream, deque()).append((ts, point))
            merge(self._open_minute.setdefault(stream, {}), point)
            self._unsaved.append((1, stream, ts, point))
        self._open = {}
        oldest = ts - SECOND_HISTORY_S
        for history in self._seconds.values():
            while history and history[0][0] < oldest:
                history.popleft()

    def _close_minute(self) -> None:
        ts = self._minute
        for stream, point in self._open_minute.items():
            self._minutes.setdefault(stream, deque()).append((ts, point))
            self._unsaved.append((60, stream, ts, point))
            self.catalogue.note(stream, point, ts)
        self._open_minute = {}
        oldest = ts - MINUTE_HISTORY_S
        for history in self._minutes.values():
            while history and history[0][0] < oldest:
                history.popleft()
        self._prune()

    def _prune(self) -> None:
        """Forget streams that are gone: their gauges at once, the rest after the history.

        A deleted stream's figures stay readable (dashboard, Prometheus counters) as long as its
        history keeps any point: a day at 1 min. Then every trace of it goes.
        """
        gone = [name for name in self.budget.kept if not self.budget.exists(name)]
        if not gone:
            return
        gone_set = set(gone)
        gauges: list[dict[Any, int]] = [self._last_age, self._shard_age, self._behind]
        for gauge in gauges:
            for key in [key for key in gauge if key[0] in gone_set]:
                del gauge[key]
        for name in gone:
            if self._has_history(name):
                continue
            self.budget.forget(name)
            self.catalogue.forget(name)
            for table in (self._seconds, self._minutes, self._totals):
                table.pop(name, None)
            for call in [call for call in self._calls if call[0] == name]:
                del self._calls[call]
            for key in [key for key in self._durations if key[0] == name]:
                del self._durations[key]

    def _has_history(self, stream: str) -> bool:
        if stream in self._open or stream in self._open_minute or stream in self._carried:
            return True
        return bool(self._seconds.get(stream)) or bool(self._minutes.get(stream))

    def _drain(self) -> None:
        """Fold the pending events into the open second.

        The two events every write makes (CallDone, RecordsIn) are first summed per key in one
        tight loop: per event, a dict lookup and a few additions. The sums then go into the
        second's metrics once per key. The rarer events go one by one (``_apply``).
        """
        pending = self._pending
        n = len(pending)
        if not n:
            return
        batch = pending[:n]
        del pending[:n]
        self._enabled_now = {}  # ask again: the settings may have changed since the last fold
        # (stream, shard, operation) -> [events, records, min, max, bytes, min, max]
        stored: dict[tuple[str, str, str], list[Any]] = {}
        # (stream, operation, success, error type, dry run) -> [calls, seconds, min, max,
        # histogram]
        calls: dict[tuple[str | None, str, bool, str | None, bool], list[Any]] = {}
        buckets = DURATION_BUCKETS_S
        for event in batch:
            kind = type(event)
            if kind is RecordsIn:
                assert isinstance(event, RecordsIn)
                records, size = event.records, event.bytes
                key = (event.stream, event.shard_id, event.operation)
                acc = stored.get(key)
                if acc is None:
                    stored[key] = [1, records, records, records, size, size, size]
                    continue
                acc[0] += 1
                acc[1] += records
                acc[4] += size
                if records < acc[2]:
                    acc[2] = records
                elif records > acc[3]:
                    acc[3] = records
                if size < acc[5]:
                    acc[5] = size
                elif size > acc[6]:
                    acc[6] = size
            elif kind is CallDone:
                assert isinstance(event, CallDone)
                latency = event.latency_s
                call_key = (
                    event.stream,
                    event.operation,
                    event.success,
                    event.error_type,
                    event.dry_run,
                )
                acc = calls.get(call_key)
                if acc is None:
                    acc = calls[call_key] = [0, 0.0, latency, latency, [0] * (len(buckets) + 1)]
                acc[0] += 1
                acc[1] += latency
                if latency < acc[2]:
                    acc[2] = latency
                elif latency > acc[3]:
                    acc[3] = latency
                acc[4][bisect_left(buckets, latency)] += 1
            else:
                self._apply(event)
        for (stream, shard, operation), acc in stored.items():
            point = self._point(stream)
            records_stat = [acc[0], acc[1], acc[2], acc[3]]
            bytes_stat = [acc[0], acc[4], acc[5], acc[6]]
            m = level_of(point, STREAM_LEVEL)
            add_stat(m, "IncomingRecords", records_stat)
            add_stat(m, "IncomingBytes", bytes_stat)
            add_stat(m, _PUT_BYTES[operation], bytes_stat)
            enabled = self._enabled(stream)
            if "IncomingRecords" in enabled:
                add_stat(self._at(stream, point, shard), "IncomingRecords", records_stat)
            if "IncomingBytes" in enabled:
                add_stat(self._at(stream, point, shard), "IncomingBytes", bytes_stat)
        for (maybe_stream, operation, success, error_type, dry_run), acc in calls.items():
            self._calls_done(maybe_stream, operation, success, error_type, dry_run, acc)

    def _calls_done(
        self,
        maybe_stream: str | None,
        operation: str,
        success: bool,
        error_type: str | None,
        dry_run: bool,
        acc: list[Any],
    ) -> None:
        """Add ``acc[0]`` calls of one outcome to the counters, histograms and the second.

        Dry runs count as requests (``shardflow_requests_total`` and the durations) but not in
        the CloudWatch figures of the stream: they store and read nothing.
        """
        count, seconds, fastest, slowest, histogram = acc
        # a stream that does not exist is counted under the account, as CloudWatch does
        stream = maybe_stream if maybe_stream and self.budget.stream(maybe_stream) else ""
        outcome = "success" if success else (error_type or "Unknown")
        key = (stream, operation, outcome)
        self._calls[key] = self._calls.get(key, 0) + count
        durations = self._durations.get((stream, operation))
        if durations is None:
            durations = self._durations[(stream, operation)] = [0] * (len(histogram) + 1)
        for i, n in enumerate(histogram):
            durations[i] += n
        durations[-1] += seconds
        latency_name = _LATENCY.get(operation)
        if latency_name is None or not stream or dry_run:
            return
        m = level_of(self._point(stream), STREAM_LEVEL)
        add_stat(m, latency_name, [count, seconds * 1000.0, fastest * 1000.0, slowest * 1000.0])
        # A PutRecords call's success comes with its outcome (at least one record stored).
        if operation != "PutRecords" or not success:
            value = 1 if success else 0
            add_stat(m, _SUCCESS[operation], [count, value * count, value, value])

    def _enabled(self, stream: str) -> Collection[str]:
        """The stream's enabled shard-level metrics, asked once per fold."""
        enabled = self._enabled_now.get(stream)
        if enabled is None:
            enabled = self._enabled_now[stream] = self._shard_metrics(stream)
        return enabled

    def _point(self, stream: str) -> Point:
        """The open second's figures of ``stream``; a throwaway if it is not kept (bounds)."""
        point = self._open.get(stream)
        if point is None:
            point = {}
            if self.budget.stream(stream):
                self._open[stream] = point
        return point

    def _at(self, stream: str, point: Point, level: str) -> Metrics:
        """A shard's or consumer's figures in ``point``; a throwaway if it is not kept."""
        metrics = point.get(level)
        if metrics is None:
            metrics = {}
            if self.budget.level(stream, level):
                point[level] = metrics
        return metrics

    def _apply(self, event: Event) -> None:
        """One of the events a call makes at most once: PutRecords outcome, reads, throttles."""
        if isinstance(event, PutRecordsOutcome):
            m = level_of(self._point(event.stream), STREAM_LEVEL)
            add(m, "PutRecords.TotalRecords", event.total)
            add(m, "PutRecords.SuccessfulRecords", event.successful)
            add(m, "PutRecords.Records", event.successful)
            # CloudWatch's FailedRecords counts internal failures; throttles have their own.
            add(m, "PutRecords.FailedRecords", event.failed - event.throttled)
            add(m, "PutRecords.ThrottledRecords", event.throttled)
            add(m, "PutRecords.Success", 1 if event.successful else 0)
        elif isinstance(event, RecordsOut):
            point = self._point(event.stream)
            m = level_of(point, STREAM_LEVEL)
            add(m, "GetRecords.Records", event.records)
            add(m, "GetRecords.Bytes", event.bytes)
            add(m, "GetRecords.IteratorAgeMilliseconds", event.iterator_age_ms)
            if event.stream not in self.budget.kept:
                return
            key = (event.stream, event.shard_id)
            self._last_age[key] = event.iterator_age_ms
            enabled = self._enabled(event.stream)
            if "OutgoingRecords" in enabled:
                add(self._at(event.stream, point, event.shard_id), "OutgoingRecords", event.records)
            if "OutgoingBytes" in enabled:
                add(self._at(event.stream, point, event.shard_id), "OutgoingBytes", event.bytes)
            if "IteratorAgeMilliseconds" in enabled:
                shard = self._at(event.stream, point, event.shard_id)
                add(shard, "IteratorAgeMilliseconds", event.iterator_age_ms)
                self._shard_age[key] = event.iterator_age_ms
        elif isinstance(event, Throttled):
            point = self._point(event.stream)
            name = _THROTTLE[event.direction]
            add(level_of(point, STREAM_LEVEL), name, event.records)
            if event.shard_id is not None and name in self._enabled(event.stream):
                add(self._at(event.stream, point, event.shard_id), name, event.records)
        elif isinstance(event, RecordsPushed):
            self._pushed(event)
        elif isinstance(event, SubscribeOutcome):
            level = CONSUMER_LEVEL + event.consumer
            m = self._at(event.stream, self._point(event.stream), level)
            add(m, "SubscribeToShard.Success", 1 if event.success else 0)
            add(m, "SubscribeToShard.RateExceeded", 1 if event.rate_exceeded else 0)

    def _pushed(self, event: RecordsPushed) -> None:
        """One SubscribeToShardEvent: the consumer's figures, and the shard's outgoing ones."""
        point = self._point(event.stream)
        if event.stream not in self.budget.kept:
            return
        m = self._at(event.stream, point, CONSUMER_LEVEL + event.consumer)
        add(m, "SubscribeToShardEvent.Success", 1)
        add(m, "SubscribeToShardEvent.Records", event.records)
        add(m, "SubscribeToShardEvent.Bytes", event.bytes)
        add(m, "SubscribeToShardEvent.MillisBehindLatest", event.millis_behind_latest)
        key = (event.stream, event.consumer, event.shard_id)
        self._behind[key] = event.millis_behind_latest
        # CloudWatch's OutgoingRecords/OutgoingBytes count what SubscribeToShard pushes too.
        enabled = self._enabled(event.stream)
        if "OutgoingRecords" in enabled:
            add(self._at(event.stream, point, event.shard_id), "OutgoingRecords", event.records)
        if "OutgoingBytes" in enabled:
            add(self._at(event.stream, point, event.shard_id), "OutgoingBytes", event.bytes)

    # -- reading ---------------------------------------------------------------------------

    def streams(self) -> list[str]:
        """Streams with any figure in memory."""
        self.roll()
        return sorted(
            set(self._seconds) | set(self._minutes) | set(self._open) | set(self._carried)
        )

    def totals(self) -> dict[str, Point]:
        """Everything since the process started (a fresh copy), per stream."""
        self.roll()
        out: dict[str, Point] = {}
        for stream in set(self._totals) | set(self._open):
            point: Point = {}
            merge(point, self._totals.get(stream, {}))
            merge(point, self._open.get(stream, {}))
            out[stream] = point
        return out

    def calls(self) -> dict[tuple[str, str, str], int]:
        self.roll()
        return dict(self._calls)

    def durations(self) -> dict[tuple[str, str], list[float]]:
        self.roll()
        return {key: list(hist) for key, hist in self._durations.items()}

    def iterator_ages(self) -> dict[str, int]:
        """Per stream, the largest MillisBehindLatest of its shards' last GetRecords calls."""
        self.roll()
        out: dict[str, int] = {}
        for (stream, _shard), ms in self._last_age.items():
            out[stream] = max(ms, out.get(stream, ms))
        return out

    def consumer_lags(self) -> dict[tuple[str, str, str], int]:
        """(stream, consumer, shard) -> MillisBehindLatest of the last SubscribeToShardEvent."""
        self.roll()
        return dict(self._behind)

    def shard_iterator_ages(self) -> dict[tuple[str, str], int]:
        """(stream, shard) -> MillisBehindLatest of the last GetRecords while it was enabled."""
        self.roll()
        return dict(self._shard_age)

    def shard_metrics(self, stream: str) -> list[str]:
        """The shard-level metrics enabled on ``stream`` now, in the setting's order."""
        return [name for name in self._shard_metrics(stream) if name in names.SHARD_BY_NAME]

    def recent_parts(self, stream: str, seconds: int = 60) -> list[Point]:
        """The points that make ``recent``: closed ones shared (never changed once closed),
        open ones copied, so another thread may merge them."""
        self.roll()
        parts: list[Point] = []
        since = self._second - seconds
        for ts, sample in reversed(self._seconds.get(stream, ())):
            if ts < since:
                break
            parts.append(sample)
        for open_ in (self._open, self._carried):
            found = open_.get(stream)
            if found:
                parts.append(copy_point(found))
        return parts

    def recent(self, stream: str, seconds: int = 60) -> Point:
        """The stream's figures over the last ``seconds`` closed seconds and the open one."""
        point: Point = {}
        for part in self.recent_parts(stream, seconds):
            merge(point, part)
        return point

    def query_view(self, stream: str, range_name: str, shard_ids: Iterable[str] = ()) -> QueryView:
        """What ``query`` reads, taken on the event loop: cheap, and safe to compute elsewhere."""
        step, count = RANGES[range_name]
        self.roll()
        if step == 1:
            end = self._second
            history = self._seconds.get(stream, deque())
            opens = [self._open, self._carried]
        else:
            end = self._minute
            history = self._minutes.get(stream, deque())
            opens = [self._open_minute, self._open, self._carried]
        start = end - step * count
        points = list(takewhile(lambda entry: entry[0] >= start, reversed(history)))
        extras = [copy_point(found) for found in (o.get(stream) for o in opens) if found]
        return QueryView(
            stream,
            range_name,
            step,
            count,
            end,
            points,
            extras,
            self.shard_metrics(stream),
            list(shard_ids),
        )

    def query(self, stream: str, range_name: str, shard_ids: Iterable[str] = ()) -> dict[str, Any]:
        """Chart-ready series of one stream over a time range (see ``series.compute``)."""
        return series.compute(self.query_view(stream, range_name, shard_ids))

    def snapshot(self, streams: list[StreamInfo]) -> Snapshot:
        """Everything a scrape shows, copied on the event loop so it renders in a thread."""
        self.roll()
        totals = {stream: copy_point(point) for stream, point in self._totals.items()}
        for stream, point in self._open.items():
            merge(totals.setdefault(stream, {}), point)
        return Snapshot(
            totals=totals,
            calls=dict(self._calls),
            durations={key: list(hist) for key, hist in self._durations.items()},
            iterator_ages=self.iterator_ages(),
            shard_iterator_ages=dict(self._shard_age),
            consumer_lags=dict(self._behind),
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
        out = self.catalogue.copy()
        now = self._minute
        for opens in (self._open_minute, self._open, self._carried):
            for stream, point in opens.items():
                levels = out.setdefault(stream, {})
                for level, metrics in point.items():
                    seen = levels.setdefault(level, {})
                    for name in metrics:
                        seen[name] = now
        return out

    def points(self, stream: str, start: int, end: int, resolution: int) -> list[tuple[int, Point]]:
        """``stream``'s points at 1 s or 60 s with ``start <= ts < end``, the open one included
        (merged and copied); closed ones are shared, so the list may be read in another thread."""
        self.roll()
        opens: tuple[dict[str, Point], ...]
        if resolution == 1:
            history = self._seconds.get(stream, deque())
            open_ts, opens = self._second, (self._open, self._carried)
        else:
            history = self._minutes.get(stream, deque())
            open_ts, opens = self._minute, (self._open_minute, self._open, self._carried)
        out = [
            entry
            for entry in takewhile(lambda entry: entry[0] >= start, reversed(history))
            if entry[0] < end
        ]
        if start <= open_ts < end:
            current: Point = {}
            for found in (o.get(stream) for o in opens):
                if found:
                    merge(current, found)
            if current:
                out.append((open_ts, current))
        return out
