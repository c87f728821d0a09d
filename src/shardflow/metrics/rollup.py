"""Engine events into figures: the open second per stream, the request counters, the gauges.

Events are folded in batches (``fold``), never one by one on the request path. The two events
every write makes (CallDone, RecordsIn) are first summed per key in one tight loop: per event, a
dict lookup and a few additions. The sums then go into the second's metrics once per key; the
rarer events go one by one (``_apply``).

Shard-level figures (enhanced monitoring) are kept only for the metrics enabled on the stream
(EnableEnhancedMonitoring), as CloudWatch receives them only then; the setting is read once per
stream and fold, never per event.
"""

from __future__ import annotations

from bisect import bisect_left
from collections.abc import Callable, Collection, Mapping
from typing import Any, Protocol

from shardflow.engine.events import (
    CallDone,
    Event,
    PutRecordsOutcome,
    QueueDepth,
    QueueRecordsMoved,
    RecordsIn,
    RecordsOut,
    RecordsPushed,
    SubscribeOutcome,
    Throttled,
)
from shardflow.metrics import table
from shardflow.metrics.bounds import SeriesBudget
from shardflow.metrics.points import (
    CONSUMER_LEVEL,
    QUEUE_LEVEL,
    STREAM_LEVEL,
    Metrics,
    Point,
    add,
    add_fresh,
    add_stat,
    level_of,
)
from shardflow.metrics.stat import Stat

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
# (stream, operation, success, error type, dry run): one outcome of one operation
_CallKey = tuple[str | None, str, bool, str | None, bool]


_EVERY_SHARD_METRIC = tuple(sorted(table.SHARD_BY_NAME))


def every_shard_metric(_stream: str) -> Collection[str]:
    """For a recorder with no streams to ask (benchmarks, unit tests): keep every metric."""
    return _EVERY_SHARD_METRIC


class _Monitored(Protocol):
    shard_level_metrics: list[str]


def enabled_on(streams: Mapping[str, _Monitored]) -> ShardMetrics:
    """A server's lookup: each stream's enhanced monitoring setting, read live by name."""

    def lookup(stream: str) -> Collection[str]:
        found = streams.get(stream)
        return found.shard_level_metrics if found is not None else ()

    return lookup


class Rollup:
    """The open second's figures, with the counters and gauges ``GET /metrics`` shows."""

    def __init__(self, budget: SeriesBudget, shard_metrics: ShardMetrics) -> None:
        self.budget = budget
        self._shard_metrics = shard_metrics
        # each stream's enabled shard-level metrics, asked once per fold (see _enabled)
        self._enabled_now: dict[str, Collection[str]] = {}
        self.open: dict[str, Point] = {}  # the open (in-progress) second, per stream
        self.calls: dict[tuple[str, str, str], int] = {}  # (stream, operation, outcome)
        # (stream, operation) -> counts per bucket (the last is +Inf), then the sum
        self.durations: dict[tuple[str, str], list[float]] = {}
        # (stream, shard) -> MillisBehindLatest of the shard's last GetRecords, in ms: every
        # read for the stream-level gauge, only reads while IteratorAgeMilliseconds is enabled
        # for the shard-level one
        self.last_age: dict[tuple[str, str], int] = {}
        self.shard_age: dict[tuple[str, str], int] = {}
        # (stream, consumer, shard) -> MillisBehindLatest of the last event pushed, in ms
        self.behind: dict[tuple[str, str, str], int] = {}
        # (stream, queue level) -> the last sampled (visible, in flight, dead letters visible)
        self.queue_depths: dict[tuple[str, str], tuple[int, int, int]] = {}

    def take(self) -> dict[str, Point]:
        """The open second's figures, leaving a fresh one open."""
        closed, self.open = self.open, {}
        return closed

    def shard_metrics(self, stream: str) -> list[str]:
        """The shard-level metrics enabled on ``stream`` now, in the setting's order."""
        return [name for name in self._shard_metrics(stream) if name in table.SHARD_BY_NAME]

    def forget_gauges(self, gone: Collection[str]) -> None:
        """A deleted stream's gauges go at once: nothing will update them."""
        gauges: list[dict[Any, Any]] = [
            self.last_age,
            self.shard_age,
            self.behind,
            self.queue_depths,
        ]
        for gauge in gauges:
            for key in [key for key in gauge if key[0] in gone]:
                del gauge[key]

    def forget_counters(self, stream: str) -> None:
        for call in [call for call in self.calls if call[0] == stream]:
            del self.calls[call]
        for key in [key for key in self.durations if key[0] == stream]:
            del self.durations[key]

    def fold(self, batch: list[Event]) -> None:
        """Fold ``batch`` into the open second, the counters and the gauges."""
        self._enabled_now = {}  # ask again: the settings may have changed since the last fold
        # (stream, shard, operation) -> (records per event, bytes per event)
        stored: dict[tuple[str, str, str], tuple[Stat, Stat]] = {}
        # one outcome -> (latency in seconds, calls per duration bucket)
        calls: dict[_CallKey, tuple[Stat, list[int]]] = {}
        buckets = DURATION_BUCKETS_S
        for event in batch:
            kind = type(event)
            if kind is RecordsIn:
                assert isinstance(event, RecordsIn)
                records, size = event.records, event.bytes
                key = (event.stream, event.shard_id, event.operation)
                found = stored.get(key)
                if found is None:
                    stored[key] = (Stat(1, records, records, records), Stat(1, size, size, size))
                    continue
                counted, sized = found
                counted.count += 1
                counted.sum += records
                if records < counted.min:
                    counted.min = records
                elif records > counted.max:
                    counted.max = records
                sized.count += 1
                sized.sum += size
                if size < sized.min:
                    sized.min = size
                elif size > sized.max:
                    sized.max = size
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
                outcome = calls.get(call_key)
                if outcome is None:
                    outcome = calls[call_key] = (
                        Stat(0, 0.0, latency, latency),
                        [0] * (len(buckets) + 1),
                    )
                timed = outcome[0]
                timed.count += 1
                timed.sum += latency
                if latency < timed.min:
                    timed.min = latency
                elif latency > timed.max:
                    timed.max = latency
                outcome[1][bisect_left(buckets, latency)] += 1
            else:
                self._apply(event)
        for (stream, shard, operation), (records_stat, bytes_stat) in stored.items():
            point = self._point(stream)
            m = level_of(point, STREAM_LEVEL)
            add_fresh(m, "IncomingRecords", records_stat)  # the others copy them
            add_fresh(m, "IncomingBytes", bytes_stat)
            add_stat(m, _PUT_BYTES[operation], bytes_stat)
            enabled = self._enabled(stream)
            if "IncomingRecords" in enabled:
                add_stat(self._at(stream, point, shard), "IncomingRecords", records_stat)
            if "IncomingBytes" in enabled:
                add_stat(self._at(stream, point, shard), "IncomingBytes", bytes_stat)
        for (maybe_stream, operation, success, error_type, dry_run), (timed, hist) in calls.items():
            self._calls_done(maybe_stream, operation, success, error_type, dry_run, timed, hist)

    def _calls_done(
        self,
        maybe_stream: str | None,
        operation: str,
        success: bool,
        error_type: str | None,
        dry_run: bool,
        timed: Stat,
        histogram: list[int],
    ) -> None:
        """Add ``timed.count`` calls of one outcome to the counters, histograms and the second.

        Dry runs count as requests (``shardflow_requests_total`` and the durations) but not in
        the CloudWatch figures of the stream: they store and read nothing.
        """
        count = int(timed.count)
        # a stream that does not exist is counted under the account, as CloudWatch does
        stream = maybe_stream if maybe_stream and self.budget.stream(maybe_stream) else ""
        outcome = "success" if success else (error_type or "Unknown")
        key = (stream, operation, outcome)
        self.calls[key] = self.calls.get(key, 0) + count
        durations = self.durations.get((stream, operation))
        if durations is None:
            durations = self.durations[(stream, operation)] = [0] * (len(histogram) + 1)
        for i, n in enumerate(histogram):
            durations[i] += n
        durations[-1] += timed.sum
        latency_name = _LATENCY.get(operation)
        if latency_name is None or not stream or dry_run:
            return
        m = level_of(self._point(stream), STREAM_LEVEL)
        ms = Stat(count, timed.sum * 1000.0, timed.min * 1000.0, timed.max * 1000.0)
        add_fresh(m, latency_name, ms)
        # A PutRecords call's success comes with its outcome (at least one record stored).
        if operation != "PutRecords" or not success:
            value = 1 if success else 0
            add_fresh(m, _SUCCESS[operation], Stat(count, value * count, value, value))

    def _enabled(self, stream: str) -> Collection[str]:
        """The stream's enabled shard-level metrics, asked once per fold."""
        enabled = self._enabled_now.get(stream)
        if enabled is None:
            enabled = self._enabled_now[stream] = self._shard_metrics(stream)
        return enabled

    def _point(self, stream: str) -> Point:
        """The open second's figures of ``stream``; a throwaway if it is not kept (bounds)."""
        point = self.open.get(stream)
        if point is None:
            point = {}
            if self.budget.stream(stream):
                self.open[stream] = point
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
            self.last_age[key] = event.iterator_age_ms
            enabled = self._enabled(event.stream)
            if "OutgoingRecords" in enabled:
                add(self._at(event.stream, point, event.shard_id), "OutgoingRecords", event.records)
            if "OutgoingBytes" in enabled:
                add(self._at(event.stream, point, event.shard_id), "OutgoingBytes", event.bytes)
            if "IteratorAgeMilliseconds" in enabled:
                shard = self._at(event.stream, point, event.shard_id)
                add(shard, "IteratorAgeMilliseconds", event.iterator_age_ms)
                self.shard_age[key] = event.iterator_age_ms
        elif isinstance(event, Throttled):
            point = self._point(event.stream)
            name = _THROTTLE[event.direction]
            add(level_of(point, STREAM_LEVEL), name, event.records)
            if event.shard_id is not None and name in self._enabled(event.stream):
                add(self._at(event.stream, point, event.shard_id), name, event.records)
        elif isinstance(event, RecordsPushed):
            self._pushed(event)
        elif isinstance(event, QueueRecordsMoved | QueueDepth):
            self._queue(event)
        elif isinstance(event, SubscribeOutcome):
            level = CONSUMER_LEVEL + event.consumer
            m = self._at(event.stream, self._point(event.stream), level)
            add(m, "SubscribeToShard.Success", 1 if event.success else 0)
            add(m, "SubscribeToShard.RateExceeded", 1 if event.rate_exceeded else 0)

    def _queue(self, event: QueueRecordsMoved | QueueDepth) -> None:
        """A queue's figures, at its level of its stream's point."""
        level = f"{QUEUE_LEVEL}{event.queue_id}/{event.queue_name}"
        m = self._at(event.stream, self._point(event.stream), level)
        if isinstance(event, QueueRecordsMoved):
            add(m, "ReceivedQueueRecords", event.received)
            add(m, "AcknowledgedQueueRecords", event.acknowledged)
            add(m, "EmptyReceives", event.empty_receives)
            return
        add(m, "VisibleQueueRecords", event.visible)
        add(m, "InFlightQueueRecords", event.in_flight)
        add(m, "VisibleDeadLetterQueueRecords", event.dead_letters_visible)
        self.queue_depths[(event.stream, level)] = (
            event.visible,
            event.in_flight,
            event.dead_letters_visible,
        )

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
        self.behind[key] = event.millis_behind_latest
        # CloudWatch's OutgoingRecords/OutgoingBytes count what SubscribeToShard pushes too.
        enabled = self._enabled(event.stream)
        if "OutgoingRecords" in enabled:
            add(self._at(event.stream, point, event.shard_id), "OutgoingRecords", event.records)
        if "OutgoingBytes" in enabled:
            add(self._at(event.stream, point, event.shard_id), "OutgoingBytes", event.bytes)
